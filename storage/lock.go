package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockFile is the name of the lock file in a data directory.
const LockFile = "gridd.lock"

// ErrLocked is returned (wrapped) by LockDir when another process holds the lock.
var ErrLocked = errors.New("data directory is in use")

// DirLock is an exclusive lock on a data directory, held by the process that writes
// it (gridd run or demo) and taken by gridd restore, so that a store is never replaced
// under a running gridd and two gridd processes never share one data directory.
type DirLock struct{ f *os.File }

// LockDir takes the lock of dir (created 0700 if needed) without waiting. The lock is
// an flock(2) on DIR/gridd.lock, released by Unlock or when the process ends (also by
// SIGKILL). When another process holds it the error wraps ErrLocked and names that
// process's ID.
func LockDir(dir string) (*DirLock, error) {
	if _, err := SecureDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := strings.TrimSpace(string(b))
			if _, perr := strconv.Atoi(holder); perr != nil {
				holder = "unknown"
			}
			return nil, fmt.Errorf("%w: %s is locked by gridd process %s", ErrLocked, dir, holder)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f}, nil
}

// Unlock releases the lock.
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
