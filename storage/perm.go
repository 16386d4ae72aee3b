package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// DirMode and FileMode are the permissions of gridd's data: the data directory, the
// embedded database with its WAL, the spool, backups and the accounts file hold
// telemetry, EV sessions, the audit log and password hashes, readable by the owner only.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// SecureDir creates dir (and its parents) with DirMode if it does not exist. It
// reports whether an existing dir lets its group or others in (a caller warns: the
// directory may be one the operator chose and shares on purpose).
func SecureDir(dir string) (loose bool, err error) {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return false, fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return false, err
	}
	return fi.Mode().Perm()&0o077 != 0, nil
}

// SecureFile makes sure path, if it exists, is readable by the owner only, tightening
// looser permissions; with create it also creates an empty file with FileMode when none
// exists, so that whatever fills it later never creates it world-readable.
func SecureFile(path string, create bool) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !create {
			return nil
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
		if errors.Is(err, fs.ErrExist) {
			return SecureFile(path, false)
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		return f.Close()
	case err != nil:
		return err
	case fi.Mode().Perm()&0o077 != 0:
		if err := os.Chmod(path, FileMode); err != nil {
			return fmt.Errorf("tighten %s to %o: %w", path, FileMode, err)
		}
	}
	return nil
}
