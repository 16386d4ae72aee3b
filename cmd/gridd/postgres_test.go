package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"
)

// TestDemoPostgres runs the demo against PostgreSQL (--db) and checks what it stored.
func TestDemoPostgres(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "demo", "--cycles", "3", "--data-dir", dir, "--db", dsn)
	if code != 0 {
		t.Fatalf("demo --db exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	ctx := context.Background()
	st, err := timescale.Open(ctx, dsn, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scheds, err := st.ListSchedules(ctx, storage.Epoch, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(scheds) != 3 {
		t.Errorf("want 3 schedules in PostgreSQL, got %d", len(scheds))
	}
	assets, err := st.ListAssets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range assets {
		n, err := st.CountTelemetry(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("no telemetry in PostgreSQL for %s", a.ID)
		}
	}
	writes, err := st.ListSetpointWrites(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) == 0 {
		t.Error("no setpoint writes in PostgreSQL")
	}

	// migrate is idempotent on a migrated database.
	if code, out, errOut := runCLI(t, "migrate", "--db", dsn); code != 0 {
		t.Errorf("migrate exit %d: %s %s", code, out, errOut)
	}
}

// TestReplayFromPostgres replays history that the demo stored in PostgreSQL
// (--db) and checks that a read-only replay leaves nothing behind in the
// working directory (no write spool).
func TestReplayFromPostgres(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "demo", "--cycles", "6", "--start", "2019-06-03T00:00:00Z", "--data-dir", filepath.Join(dir, "data"), "--db", dsn); code != 0 {
		t.Fatalf("demo --db exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	config, err := filepath.Abs(filepath.Join("..", "..", "configs", "demo-site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	t.Chdir(work)
	code, out, errOut := runCLI(t, "replay", "--config", config, "--db", dsn,
		"--from", "2019-06-03T00:00:00Z", "--to", "2019-06-03T01:00:00Z", "--report", filepath.Join(dir, "report"))
	if code != 0 {
		t.Fatalf("replay --db exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "total cost") {
		t.Errorf("replay printed no KPIs:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "report", "report.html")); err != nil {
		t.Errorf("no report: %v", err)
	}
	if entries, err := os.ReadDir(work); err != nil || len(entries) != 0 {
		t.Errorf("replay left %v in its working directory (err %v)", entries, err)
	}
}
