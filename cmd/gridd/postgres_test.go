package main

import (
	"context"
	"io"
	"log/slog"
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
