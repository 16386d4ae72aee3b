package timescale

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/storetest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func serverDSN(tb testing.TB) string { return pgtest.ServerDSN(tb) }

func freshDatabase(tb testing.TB) string { return pgtest.FreshDatabase(tb) }

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openFresh(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), freshDatabase(tb), quietLog())
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	serverDSN(t)
	storetest.Run(t, func(t *testing.T) storage.Store { return openFresh(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storage.Store { return openFresh(b) })
}

func appliedMigrations(t *testing.T, s *Store) []string {
	t.Helper()
	rows, err := s.pool.Query(t.Context(), `SELECT format('%s_%s', version, name) FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func wantMigrations(t *testing.T, hypertables bool) []string {
	t.Helper()
	versions, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, alts := range versions {
		m := alts[0]
		if len(alts) == 2 && hypertables {
			m = alts[1]
		}
		out = append(out, fmt.Sprintf("%d_%s", m.version, m.name))
	}
	return out
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	ctx := t.Context()
	dsn := freshDatabase(t)
	s1, err := Open(ctx, dsn, quietLog())
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	want := wantMigrations(t, s1.Hypertables())
	if got := appliedMigrations(t, s1); !slices.Equal(got, want) {
		t.Fatalf("applied migrations %v, want %v", got, want)
	}
	x := storage.Sample{Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC), DeviceID: "d", Point: "p", Value: 1.5, Quality: storage.QualityGood}
	if err := s1.WriteTelemetry(ctx, []storage.Sample{x}); err != nil {
		t.Fatal(err)
	}
	s1.Close()

	s2, err := Open(ctx, dsn, quietLog())
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s2.Close()
	if got := appliedMigrations(t, s2); !slices.Equal(got, want) {
		t.Fatalf("after reopening, applied migrations %v, want %v", got, want)
	}
	if n, err := s2.CountTelemetry(ctx, ""); err != nil || n != 1 {
		t.Fatalf("after reopening, CountTelemetry = %d, %v; want 1", n, err)
	}
	// Migrate on an up-to-date database is a no-op too.
	if err := Migrate(ctx, s2.pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if got := appliedMigrations(t, s2); !slices.Equal(got, want) {
		t.Fatalf("after Migrate, applied migrations %v, want %v", got, want)
	}
}

// openConcurrently opens n stores on dsn at once; they are closed when the test ends.
func openConcurrently(t *testing.T, dsn string, n int) []*Store {
	t.Helper()
	ctx := t.Context()
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, dsn, quietLog()) })
	}
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent Open %d: %v", i, err)
		}
	}
	return stores
}

func TestConcurrentOpen(t *testing.T) {
	ctx := t.Context()
	const openers = 3
	stores := openConcurrently(t, freshDatabase(t), openers)
	if got, want := appliedMigrations(t, stores[0]), wantMigrations(t, stores[0].Hypertables()); !slices.Equal(got, want) {
		t.Fatalf("applied migrations %v, want %v", got, want)
	}
	// Every opener works on the one schema.
	for i, s := range stores {
		if _, err := s.AppendAudit(ctx, storage.AuditEvent{Time: time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC), Actor: "system", Action: "test"}); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
	got, err := stores[0].ListAudit(ctx, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(got) != openers {
		t.Fatalf("ListAudit: %d events, %v; want %d", len(got), err, openers)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	ctx := t.Context()
	dsn := freshDatabase(t)
	s, err := Open(ctx, dsn, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, dsn, quietLog()); err == nil || !strings.Contains(err.Error(), "999") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a database with schema version 999: error = %v, want one naming 999", err)
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{"postgres://%zz", "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"} {
		if s, err := Open(ctx, dsn, quietLog()); err == nil {
			s.Close()
			t.Fatalf("Open(%q) succeeded, want an error", dsn)
		}
	}
}

func TestLayout(t *testing.T) {
	s := openFresh(t)
	defer s.Close()
	checkLayout(t, s)
}

// checkLayout checks that the time-series tables are hypertables (listed in
// timescaledb_information.hypertables) exactly when timescaledb is installed, and plain tables
// with one BRIN index otherwise.
func checkLayout(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	var hyper bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')`).Scan(&hyper)
	if err != nil {
		t.Fatal(err)
	}
	if hyper != s.Hypertables() {
		t.Fatalf("Hypertables() = %v, but timescaledb installed = %v", s.Hypertables(), hyper)
	}
	for _, table := range []string{"telemetry", "forecasts", "setpoint_writes", "cycle_runs"} {
		if hyper {
			var ok bool
			if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = $1)`, table).Scan(&ok); err != nil || !ok {
				t.Errorf("%s is not a hypertable (%v)", table, err)
			}
			continue
		}
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = $1 AND indexdef LIKE '%USING brin%'`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("%s has %d BRIN indexes (%v), want 1", table, n, err)
		}
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	ctx := t.Context()
	s := openFresh(t)
	defer s.Close()
	id, err := s.AppendAudit(ctx, storage.AuditEvent{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "system", Action: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET actor = 'mallory' WHERE id = $1`,
		`DELETE FROM audit_events WHERE id = $1`,
		`TRUNCATE audit_events`,
	} {
		var args []any
		if strings.Contains(stmt, "$1") {
			args = append(args, id)
		}
		if _, err := s.pool.Exec(ctx, stmt, args...); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error = %v, want append-only refusal", stmt, err)
		}
	}
	got, err := s.ListAudit(ctx, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(got) != 1 || got[0].Actor != "system" {
		t.Fatalf("audit after refused changes: %+v, %v", got, err)
	}
}

// TestMigrateOnSharedPool runs Migrate with a caller's pool, as the migrate command does.
func TestMigrateOnSharedPool(t *testing.T) {
	ctx := t.Context()
	dsn := freshDatabase(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(wantMigrations(t, false)) {
		t.Fatalf("schema_migrations has %d rows (%v), want %d", n, err, len(wantMigrations(t, false)))
	}
	// The advisory lock was released: taking it again does not block.
	var locked bool
	if err := pool.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, migrateLockKey).Scan(&locked); err != nil || !locked {
		t.Fatalf("migration lock still held after Migrate (%v)", err)
	}
}

func TestLoadMigrations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		wantErr string
	}{
		{"single files", []string{"0002_b.sql", "0001_a.sql"}, ""},
		{"alternatives", []string{"0001_a.sql", "0002_timescale.sql", "0002_plain.sql"}, ""},
		{"suffixed alternatives", []string{"0001_x_plain.sql", "0001_x_timescale.sql"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "without gaps"},
		{"two plain files", []string{"0001_a.sql", "0001_b.sql"}, "want one file"},
		{"lone alternative", []string{"0001_timescale.sql"}, "want one file"},
		{"bad name", []string{"0001_a.sql", "2_b.sql"}, "NNNN_name.sql"},
		{"version zero", []string{"0000_a.sql"}, "not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			versions, err := loadMigrations(fsys)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				for i, alts := range versions {
					if alts[0].version != i+1 {
						t.Fatalf("version %d holds migration %d", i+1, alts[0].version)
					}
					if len(alts) == 2 && !(isPlain(alts[0].name) && isTimescale(alts[1].name)) {
						t.Fatalf("alternatives %v are not ordered plain, timescale", names(alts))
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestViews checks that the dashboard views agree with the store's own queries.
func TestViews(t *testing.T) {
	s := openFresh(t)
	defer s.Close()
	checkViews(t, s)
}

func checkViews(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	t0 := time.Date(2025, 5, 1, 10, 2, 0, 0, time.UTC)
	var batch []storage.Sample
	for i := range 200 {
		q := storage.QualityGood
		if i%9 == 4 {
			q = storage.QualityStale
		}
		batch = append(batch, storage.Sample{Time: t0.Add(time.Duration(i) * 37 * time.Second), DeviceID: "meter-root",
			Point: "active_power_kw", Value: float64(i%23) - 7, Quality: q})
	}
	if err := s.WriteTelemetry(ctx, batch); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		view  string
		width time.Duration
	}{{"telemetry_5m", 5 * time.Minute}, {"telemetry_1h", time.Hour}} {
		want, err := s.TelemetryBuckets(ctx, "meter-root", "active_power_kw", storage.Epoch, t0.Add(24*time.Hour), v.width)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := s.pool.Query(ctx, `SELECT bucket, mean, min, max, samples FROM `+v.view+`
			WHERE device_id = 'meter-root' AND point = 'active_power_kw' ORDER BY bucket`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := collectBuckets(rows)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 2 || !slices.Equal(got, want) {
			t.Fatalf("%s:\n got  %+v\n want %+v", v.view, got, want)
		}
	}
	// docs/DATA.md's peak query from the 5-minute rollup gives the 15-minute means of the raw rows.
	var fromRollup, fromRaw float64
	if err := s.pool.QueryRow(ctx, `SELECT max(mean_kw) FROM (
			SELECT date_bin(interval '15 minutes', bucket, timestamptz '1970-01-01') AS b15, sum(mean * samples) / sum(samples) AS mean_kw
			FROM telemetry_5m WHERE device_id = 'meter-root' AND point = 'active_power_kw' GROUP BY 1) q`).Scan(&fromRollup); err != nil {
		t.Fatal(err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT max(mean) FROM (
			SELECT date_bin(interval '15 minutes', time, timestamptz '1970-01-01') AS b15, avg(value) AS mean
			FROM telemetry WHERE device_id = 'meter-root' AND point = 'active_power_kw' AND quality = 'good' GROUP BY 1) q`).Scan(&fromRaw); err != nil {
		t.Fatal(err)
	}
	if math.Abs(fromRollup-fromRaw) > 1e-9 {
		t.Fatalf("15-minute peak from telemetry_5m %v, from telemetry %v", fromRollup, fromRaw)
	}
	id, err := s.InsertSchedule(ctx, &storage.Schedule{CreatedAt: t0, Start: t0, StepMinutes: 15, Steps: 1, Status: storage.StatusProposed,
		CostBreakdown: map[string]float64{"energy": 12.5, "demand": 3}})
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	var terms int
	if err := s.pool.QueryRow(ctx, `SELECT sum(value), count(*) FROM schedule_costs WHERE schedule_id = $1`, id).Scan(&total, &terms); err != nil || total != 15.5 || terms != 2 {
		t.Fatalf("schedule_costs: sum %v over %d terms (%v), want 15.5 over 2", total, terms, err)
	}
	for _, c := range []storage.CycleRun{{Started: t0, TotalMS: 100, Devices: 3}, {Started: t0.Add(time.Minute), TotalMS: 300, Devices: 3, StaleDevices: 1, Error: "solve"}} {
		if _, err := s.RecordCycle(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var cycles, failed, stale int
	var mean float64
	if err := s.pool.QueryRow(ctx, `SELECT cycles, failed_cycles, mean_total_ms, max_stale_devices FROM cycle_runs_1h`).Scan(&cycles, &failed, &mean, &stale); err != nil ||
		cycles != 2 || failed != 1 || mean != 200 || stale != 1 {
		t.Fatalf("cycle_runs_1h: %d cycles, %d failed, mean %v ms, %d stale (%v); want 2, 1, 200, 1", cycles, failed, mean, stale, err)
	}
}
