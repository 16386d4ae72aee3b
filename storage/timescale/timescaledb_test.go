package timescale

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/storetest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// These tests run against the TimescaleDB server of scripts/lib/timescale.sh
// (GRIDD_TEST_TS_DSN): Debian's postgresql-17-timescaledb, the Apache-2 edition.

func freshTimescale(tb testing.TB) string { return pgtest.FreshTimescaleDatabase(tb) }

// openTimescale opens a fresh database on the TimescaleDB server and checks that it got hypertables.
func openTimescale(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), freshTimescale(tb), quietLog())
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	if !s.Hypertables() {
		s.Close()
		tb.Fatal("Open on the TimescaleDB server did not lay out hypertables")
	}
	return s
}

func TestTimescaleContract(t *testing.T) {
	pgtest.TimescaleDSN(t)
	storetest.Run(t, func(t *testing.T) storage.Store { return openTimescale(t) })
}

func TestTimescaleLayout(t *testing.T) {
	ctx := t.Context()
	var logs bytes.Buffer
	s, err := Open(ctx, freshTimescale(t), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkLayout(t, s)
	rows, err := s.pool.Query(ctx, `SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	hyper, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"cycle_runs", "forecasts", "setpoint_writes", "telemetry"}; !slices.Equal(hyper, want) {
		t.Fatalf("timescaledb_information.hypertables lists %v, want %v", hyper, want)
	}
	var license string
	if err := s.pool.QueryRow(ctx, `SHOW timescaledb.license`).Scan(&license); err != nil {
		t.Fatal(err)
	}
	if got, want := s.Features(), decideFeatures(license, true); got != want {
		t.Fatalf("Features() = %+v, want %+v for license %q", got, want, license)
	}
	if license != LicenseApache {
		t.Logf("server license is %q: TestTimescaleApacheRefuses does not apply", license)
		return
	}
	for _, want := range []string{"compression: off", "plain views telemetry_5m", "license is apache", "retention: keep forever"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
	// The dashboard views stayed plain views.
	for _, v := range []string{"telemetry_5m", "telemetry_1h", "cycle_runs_1h"} {
		var plain bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_views WHERE schemaname = current_schema() AND viewname = $1)`, v).Scan(&plain); err != nil || !plain {
			t.Errorf("%s is not a plain view (%v)", v, err)
		}
	}
}

// TestTimescaleApacheRefuses runs the community edition's setup statements on the Apache
// edition: every one is refused for its license (so the statements parse and name existing
// functions and arguments, and the license gate is needed). Each runs in a transaction that is
// rolled back.
func TestTimescaleApacheRefuses(t *testing.T) {
	ctx := t.Context()
	s := openTimescale(t)
	defer s.Close()
	if s.Features().License != LicenseApache {
		t.Skipf("server license is %q, not apache", s.Features().License)
	}
	opts, err := Options{Retention: 30 * 24 * time.Hour}.validate()
	if err != nil {
		t.Fatal(err)
	}
	stmts := featureSQL(decideFeatures(LicenseCommunity, true), dbState{continuous: map[string]bool{}}, opts)
	if len(stmts) < 10 {
		t.Fatalf("only %d community statements", len(stmts))
	}
	refused := 0
	for _, stmt := range stmts {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, stmt)
		if rerr := tx.Rollback(ctx); rerr != nil {
			t.Fatal(rerr)
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, `"apache" license`) {
			t.Errorf("%s:\nerror = %v, want a refusal for the apache license (SQLSTATE 0A000)", firstLine(stmt), err)
			continue
		}
		refused++
	}
	if refused != len(stmts) {
		t.Fatalf("%d of %d statements refused", refused, len(stmts))
	}
	// time_bucket is in the Apache edition: the aggregates' queries, as plain views, give what
	// the migration's views give, on the same data.
	checkViews(t, s)
	for _, a := range aggregates {
		if _, err := s.pool.Exec(ctx, `CREATE VIEW `+a.name+`_tb AS `+a.query); err != nil {
			t.Fatalf("%s as a plain view: %v", a.name, err)
		}
		var differ int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM ((TABLE `+a.name+` EXCEPT ALL TABLE `+a.name+`_tb) UNION ALL (TABLE `+a.name+`_tb EXCEPT ALL TABLE `+a.name+`)) d`).Scan(&differ); err != nil {
			t.Fatalf("compare %s with its continuous-aggregate query: %v", a.name, err)
		}
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM `+a.name).Scan(&n); err != nil || n < 1 {
			t.Fatalf("%s has %d rows (%v); want some to compare", a.name, n, err)
		}
		if differ != 0 {
			t.Errorf("%s and its continuous-aggregate query differ in %d rows", a.name, differ)
		}
	}
}

func TestTimescaleViews(t *testing.T) {
	s := openTimescale(t)
	defer s.Close()
	checkViews(t, s)
}

func TestTimescaleRetentionJob(t *testing.T) {
	pgtest.TimescaleDSN(t)
	checkRetention(t, freshTimescale)
}

// TestTimescaleConcurrentOpen opens one new database from several processes' worth of stores
// at once: one creates the extension and hypertables, all work on them.
func TestTimescaleConcurrentOpen(t *testing.T) {
	ctx := t.Context()
	const openers = 3
	stores := openConcurrently(t, freshTimescale(t), openers)
	for i, s := range stores {
		if !s.Hypertables() {
			t.Fatalf("store %d: no hypertables", i)
		}
	}
	if got, want := appliedMigrations(t, stores[0]), wantMigrations(t, true); !slices.Equal(got, want) {
		t.Fatalf("applied migrations %v, want %v", got, want)
	}
	// Concurrent writers on the hypertable through all stores.
	t0 := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	errs := make([]error, openers)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			var batch []storage.Sample
			for k := range 500 {
				batch = append(batch, storage.Sample{Time: t0.Add(time.Duration(k) * time.Minute), DeviceID: "d", Point: "p", Value: float64(i), Quality: storage.QualityGood})
			}
			errs[i] = s.WriteTelemetry(ctx, batch)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("store %d: WriteTelemetry: %v", i, err)
		}
	}
	if n, err := stores[1].CountTelemetry(ctx, "d"); err != nil || n != 500 {
		t.Fatalf("CountTelemetry = %d, %v; want 500 (idempotent on time, device, point)", n, err)
	}
}
