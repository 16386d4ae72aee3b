package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

// cmdBackup writes a consistent copy of the embedded store, safe while gridd runs:
// SQLite's VACUUM INTO reads one snapshot of the database.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("backup", flag.ContinueOnError)
	cliFlags(fl, stderr)
	dataDir := fl.String("data-dir", "./gridd-data", "directory of the embedded store")
	out := fl.String("out", "", "backup file to write (must not exist)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	src := filepath.Join(*dataDir, sqlite.FileName)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("--data-dir %s: no embedded store: %w", *dataDir, err)
	}
	if _, err := os.Stat(*out); err == nil {
		return fmt.Errorf("--out %s: file exists; gridd never overwrites a backup", *out)
	}
	abs, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	// VACUUM INTO fills an existing empty file: create it owner-only first.
	if err := storage.SecureFile(abs, true); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		os.Remove(abs)
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		os.Remove(abs)
		return fmt.Errorf("backup %s: %w", src, err)
	}
	counts, err := storeCounts(ctx, filepath.Dir(abs), filepath.Base(abs))
	if err != nil {
		os.Remove(abs)
		return fmt.Errorf("verify backup: %w", err)
	}
	fmt.Fprintf(stdout, "backup %s: %s\n", abs, counts)
	return nil
}

// cmdRestore puts a backup in place as the embedded store of a data dir, after checking
// that it opens as a gridd store. It refuses while a gridd holds the data dir's lock.
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("restore", flag.ContinueOnError)
	cliFlags(fl, stderr)
	dataDir := fl.String("data-dir", "./gridd-data", "directory of the embedded store to restore into")
	in := fl.String("from", "", "backup file written by gridd backup")
	force := fl.Bool("force", false, "replace an existing store (it is kept as gridd.db.before-restore-TIME)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *in == "" {
		return usageError{errors.New("--from is required")}
	}
	// A running gridd holds the data directory's lock: replacing its store under it
	// would lose everything it writes after the restore.
	lock, err := storage.LockDir(*dataDir)
	if errors.Is(err, storage.ErrLocked) {
		return fmt.Errorf("refusing to restore while gridd is running: %w; stop it first", err)
	}
	if err != nil {
		return err
	}
	defer func() { _ = lock.Unlock() }() // released by the process exit at the latest
	abs, err := filepath.Abs(*in)
	if err != nil {
		return err
	}
	counts, err := storeCounts(ctx, filepath.Dir(abs), filepath.Base(abs))
	if err != nil {
		return fmt.Errorf("--from %s is not a usable gridd backup: %w", *in, err)
	}
	if _, err := storage.SecureDir(*dataDir); err != nil {
		return err
	}
	dst := filepath.Join(*dataDir, sqlite.FileName)
	if _, err := os.Stat(dst); err == nil {
		if !*force {
			return fmt.Errorf("--data-dir %s already holds a store; stop gridd and pass --force to replace it", *dataDir)
		}
		keep := dst + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(dst, keep); err != nil {
			return err
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			_ = os.Rename(dst+suffix, keep+suffix) // the WAL and shared-memory files may not exist
		}
		if err := storage.SecureFile(keep, false); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restore: previous store kept as %s\n", keep)
	}
	tmp := dst + ".restoring"
	if err := copyFile(abs, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restore %s into %s: %s\n", abs, dst, counts)
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, storage.FileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

// storeCounts opens the database file dir/name read-only as a gridd store (in a
// scratch copy, so the file itself is never migrated) and summarises it.
func storeCounts(ctx context.Context, dir, name string) (string, error) {
	scratch, err := os.MkdirTemp("", "gridd-verify-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	if err := copyFile(filepath.Join(dir, name), filepath.Join(scratch, sqlite.FileName)); err != nil {
		return "", err
	}
	st, err := sqlite.Open(ctx, scratch)
	if err != nil {
		return "", err
	}
	defer st.Close()
	n, err := st.CountTelemetry(ctx, "")
	if err != nil {
		return "", err
	}
	scheds, err := st.ListSchedules(ctx, storage.Epoch, storage.End, "")
	if err != nil {
		return "", err
	}
	audit, err := st.ListAudit(ctx, storage.Epoch, storage.End, 0)
	if err != nil {
		return "", err
	}
	return strings.Join([]string{
		fmt.Sprintf("%d telemetry samples", n),
		fmt.Sprintf("%d schedules", len(scheds)),
		fmt.Sprintf("%d audit events", len(audit)),
	}, ", "), nil
}
