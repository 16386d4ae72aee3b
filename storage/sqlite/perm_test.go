package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// TestDataFilesOwnerOnly: the data directory Open creates is 0700, the database and
// its WAL 0600; an existing store left 0644 in a 0755 directory has its files
// tightened (the directory is the operator's: it is reported by gridd, not changed).
func TestDataFilesOwnerOnly(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"new directory", func(t *testing.T, dir string) {}},
		{"existing world-readable store", func(t *testing.T, dir string) {
			st, err := Open(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			for _, f := range []string{FileName, FileName + "-wal", FileName + "-shm"} {
				os.Chmod(filepath.Join(dir, f), 0o644)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tc.setup(t, dir)
			st, err := Open(t.Context(), dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := st.AppendAudit(t.Context(), storage.AuditEvent{Time: time.Now(), Actor: "system", Action: "test", Detail: "x"}); err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(dir); err != nil || (tc.name == "new directory" && fi.Mode().Perm() != 0o700) {
				t.Errorf("data dir mode %v (%v), want 0700", fi.Mode().Perm(), err)
			}
			for _, f := range []string{FileName, FileName + "-wal"} {
				fi, err := os.Stat(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v, want 0600", f, fi.Mode().Perm())
				}
			}
		})
	}
}
