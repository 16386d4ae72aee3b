package spool

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// TestSpoolFilesOwnerOnly: the spool directory is 0700 and its files 0600, also when
// an earlier run left them looser.
func TestSpoolFilesOwnerOnly(t *testing.T) {
	for _, loose := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "spool")
		if loose {
			os.MkdirAll(dir, 0o755)
			os.WriteFile(filepath.Join(dir, LogFile), nil, 0o644)
			os.Chmod(filepath.Join(dir, LogFile), 0o644)
		}
		inner := newInner(t)
		inner.set(true)
		s := open(t, inner, dir, Options{})
		if err := s.WriteTelemetry(t.Context(), cycle(0)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AppendAudit(t.Context(), storage.AuditEvent{Time: time.Now(), Actor: "system", Action: "test", Detail: "x"}); err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
			t.Errorf("loose=%v: spool dir mode %v, want 0700", loose, fi.Mode().Perm())
		}
		if fi, _ := os.Stat(filepath.Join(dir, LogFile)); fi.Mode().Perm() != 0o600 {
			t.Errorf("loose=%v: %s mode %v, want 0600", loose, LogFile, fi.Mode().Perm())
		}
	}
}
