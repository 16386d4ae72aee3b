package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
	"github.com/gridd/gridd/storage/timescale"
)

func TestBackupRestoreEmbedded(t *testing.T) {
	src := t.TempDir()
	if err := os.Chmod(src, 0o700); err != nil { // else the demo rightly warns about the directory
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "demo", "--cycles", "2", "--data-dir", src); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	} else if strings.Contains(errOut, "level=WARN") || strings.Contains(errOut, "level=ERROR") {
		// Stopping is not a fault: the OCPP stations and the IEC 104 link that
		// go away as the demo ends are not comms losses.
		t.Errorf("demo --cycles 2 warned:\n%s", errOut)
	}
	backup := filepath.Join(t.TempDir(), "gridd-backup.db")
	code, out, errOut := runCLI(t, "backup", "--data-dir", src, "--out", backup)
	if code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "backup", "--data-dir", src, "--out", backup); code == 0 {
		t.Error("backup overwrote an existing file")
	}
	dst := t.TempDir()
	if code, out, errOut := runCLI(t, "restore", "--data-dir", dst, "--from", backup); code != 0 {
		t.Fatalf("restore: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "restore", "--data-dir", dst, "--from", backup); code == 0 || !strings.Contains(errOut, "--force") {
		t.Errorf("restore over an existing store without --force: exit %d, %s", code, errOut)
	}
	garbage := filepath.Join(t.TempDir(), "not-a-backup.db")
	os.WriteFile(garbage, []byte("hello"), 0o644)
	if code, _, _ := runCLI(t, "restore", "--data-dir", t.TempDir(), "--from", garbage); code == 0 {
		t.Error("restore accepted a file that is not a backup")
	}
	ctx := context.Background()
	a, err := sqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sqlite.Open(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	same(t, ctx, a, b)
}

// same checks two stores hold the same telemetry, schedules, writes and audit log.
func same(t *testing.T, ctx context.Context, a, b storage.Store) {
	t.Helper()
	na, _ := a.CountTelemetry(ctx, "")
	nb, _ := b.CountTelemetry(ctx, "")
	if na == 0 || na != nb {
		t.Errorf("telemetry: %d vs %d", na, nb)
	}
	end := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	sa, _ := a.ListSchedules(ctx, storage.Epoch, end, "")
	sb, _ := b.ListSchedules(ctx, storage.Epoch, end, "")
	if len(sa) == 0 || len(sa) != len(sb) {
		t.Fatalf("schedules: %d vs %d", len(sa), len(sb))
	}
	for i := range sa {
		if sa[i].ID != sb[i].ID || sa[i].Status != sb[i].Status || sa[i].InputHash != sb[i].InputHash {
			t.Errorf("schedule %d differs after restore", sa[i].ID)
		}
	}
	wa, _ := a.ListSetpointWrites(ctx, 0)
	wb, _ := b.ListSetpointWrites(ctx, 0)
	if len(wa) != len(wb) {
		t.Errorf("setpoint writes: %d vs %d", len(wa), len(wb))
	}
	aa, _ := a.ListAudit(ctx, storage.Epoch, end, 0)
	ab, _ := b.ListAudit(ctx, storage.Epoch, end, 0)
	if len(aa) == 0 || len(aa) != len(ab) {
		t.Errorf("audit: %d vs %d", len(aa), len(ab))
	}
}

// TestPgDumpRestore follows docs/SECURITY.md's backup guidance: pg_dump -Fc, then
// pg_restore into a new database, and gridd opens it with everything in place.
func TestPgDumpRestore(t *testing.T) {
	bin := os.Getenv("GRIDD_TEST_PG_BIN")
	srcDSN := pgtest.FreshDatabase(t)
	if bin == "" {
		t.Skip("GRIDD_TEST_PG_BIN unset (run through ./scripts/test)")
	}
	if code, out, errOut := runCLI(t, "demo", "--cycles", "2", "--data-dir", t.TempDir(), "--db", srcDSN); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	dump := filepath.Join(t.TempDir(), "gridd.dump")
	if out, err := exec.Command(filepath.Join(bin, "pg_dump"), "-Fc", "-f", dump, "-d", srcDSN).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	dstDSN := pgtest.FreshDatabase(t)
	if out, err := exec.Command(filepath.Join(bin, "pg_restore"), "--no-owner", "-d", dstDSN, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	ctx := context.Background()
	a, err := timescale.Open(ctx, srcDSN, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := timescale.Open(ctx, dstDSN, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	same(t, ctx, a, b)
}
