package timescale

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The community-edition tests run against GRIDD_TEST_TS_COMMUNITY_DSN: a server whose
// SHOW timescaledb.license is "timescale" and that may take only one connection at a time
// (scripts/lib/timescale.sh serves PGlite with TimescaleDB over TCP). Each test works in a
// schema of its own, through a pool of one connection.

// communityPool returns a one-connection pool on a fresh schema of the community server.
func communityPool(t *testing.T) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := os.Getenv("GRIDD_TEST_TS_COMMUNITY_DSN")
	if dsn == "" {
		t.Skip("GRIDD_TEST_TS_COMMUNITY_DSN is unset; skipping the TimescaleDB community-edition tests")
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "gridd_test_" + hex.EncodeToString(b[:])
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse GRIDD_TEST_TS_COMMUNITY_DSN: %v", err)
	}
	cfg.MaxConns = 1
	// A PGlite server keeps one session for all its clients: start each connection clean
	// (prepared statements, temporary tables, settings).
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `DISCARD ALL`); err != nil {
			return err
		}
		_, err := c.Exec(ctx, `SET search_path TO `+schema+`, public`)
		return err
	}
	ctx := t.Context()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		pool.Close()
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		defer pool.Close()
		if _, err := pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return pool, schema
}

// migrateOneConn applies the migrations (TimescaleDB alternatives) statement by statement, as
// migrate does, without a second connection.
func migrateOneConn(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	versions, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	for _, alts := range versions {
		m := alts[len(alts)-1]
		if _, err := pool.Exec(t.Context(), m.sql); err != nil {
			t.Fatalf("migration %04d_%s: %v", m.version, m.name, err)
		}
	}
}

func jobCounts(t *testing.T, pool *pgxpool.Pool, schema string) map[string]int {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT proc_name, count(*)::int FROM timescaledb_information.jobs
		WHERE hypertable_schema = $1 OR hypertable_name IN (
			SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates WHERE view_schema = $1)
		GROUP BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameBucketsApprox compares the rows of view for one series with want, means to 1e-9.
func sameBucketsApprox(t *testing.T, pool *pgxpool.Pool, view string, want []storage.Bucket) {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT bucket, mean, min, max, samples FROM `+view+`
		WHERE device_id = 'meter-root' AND point = 'active_power_kw' ORDER BY bucket`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := collectBuckets(rows)
	if err != nil {
		t.Fatal(err)
	}
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		g, w := got[i], want[i]
		ok = g.Time.Equal(w.Time) && g.Min == w.Min && g.Max == w.Max && g.Count == w.Count && math.Abs(g.Mean-w.Mean) <= 1e-9*math.Max(1, math.Abs(w.Mean))
	}
	if !ok {
		t.Fatalf("%s:\n got  %+v\n want %+v", view, got, want)
	}
}

// TestCommunityEdition sets the features up on a community-licensed TimescaleDB and checks
// them: compression, continuous aggregates and retention policies are created, the setup is
// idempotent, the aggregates agree with the store's own queries before and after refresh, and
// gridd's writes into compressed chunks stay idempotent.
func TestCommunityEdition(t *testing.T) {
	ctx := t.Context()
	pool, schema := communityPool(t)
	license, err := readLicense(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if license != LicenseCommunity {
		t.Fatalf("GRIDD_TEST_TS_COMMUNITY_DSN: license %q, want %q", license, LicenseCommunity)
	}
	migrateOneConn(t, pool)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	opts, err := Options{Retention: 90 * 24 * time.Hour}.validate()
	if err != nil {
		t.Fatal(err)
	}
	f, err := setUpFeatures(ctx, pool, true, opts, log)
	if err != nil {
		t.Fatalf("setUpFeatures: %v", err)
	}
	if want := (Features{License: LicenseCommunity, Hypertables: true, Compression: true, ContinuousAggregates: true, RetentionPolicy: true}); f != want {
		t.Fatalf("Features = %+v, want %+v", f, want)
	}
	for _, want := range []string{"compression: TimescaleDB policy", "continuous aggregates (real-time)", "retention: TimescaleDB retention policies"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, logs.String())
		}
	}
	st, err := readState(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if !st.compressionEnabled || len(st.continuous) != len(aggregates) {
		t.Fatalf("after setup: %+v, want compression and %d continuous aggregates", st, len(aggregates))
	}
	wantJobs := map[string]int{"policy_compression": 1, "policy_refresh_continuous_aggregate": len(aggregates), "policy_retention": len(retained)}
	if got := jobCounts(t, pool, schema); !equalCounts(got, wantJobs) {
		t.Fatalf("jobs %v, want %v", got, wantJobs)
	}
	// Again (the next start), with no retention: same aggregates, retention policies gone.
	opts.Retention = 0
	if _, err := setUpFeatures(ctx, pool, true, opts, log); err != nil {
		t.Fatalf("second setUpFeatures: %v", err)
	}
	wantJobs["policy_retention"] = 0
	if got := jobCounts(t, pool, schema); !equalCounts(got, wantJobs) {
		t.Fatalf("after the second setup: jobs %v, want %v", got, wantJobs)
	}

	s := &Store{pool: pool, log: log, hypertables: true, features: f, opts: opts}
	// Telemetry across two days (several chunks), some of it not good.
	day := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	var samples []storage.Sample
	for i := range 600 {
		q := storage.QualityGood
		if i%9 == 4 {
			q = storage.QualityStale
		}
		samples = append(samples, storage.Sample{Time: day.Add(time.Duration(i)*293*time.Second + 17*time.Millisecond), DeviceID: "meter-root",
			Point: "active_power_kw", Value: float64(i%23) - 7.25, Quality: q})
	}
	upsertOneConn(t, pool, samples)
	for _, c := range []storage.CycleRun{{Started: day, TotalMS: 100, Devices: 3}, {Started: day.Add(time.Minute), TotalMS: 300, Devices: 3, StaleDevices: 1, Error: "solve"}} {
		if _, err := s.RecordCycle(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	bucketsOf := func(w time.Duration) []storage.Bucket {
		b, err := s.TelemetryBuckets(ctx, "meter-root", "active_power_kw", storage.Epoch, day.Add(72*time.Hour), w)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 10 {
			t.Fatalf("only %d buckets of %v", len(b), w)
		}
		return b
	}
	checkCycles := func() {
		t.Helper()
		var cycles, failed, stale int
		var mean float64
		if err := pool.QueryRow(ctx, `SELECT cycles, failed_cycles, mean_total_ms, max_stale_devices FROM cycle_runs_1h`).Scan(&cycles, &failed, &mean, &stale); err != nil ||
			cycles != 2 || failed != 1 || mean != 200 || stale != 1 {
			t.Fatalf("cycle_runs_1h: %d cycles, %d failed, mean %v ms, %d stale (%v); want 2, 1, 200, 1", cycles, failed, mean, stale, err)
		}
	}
	// Real-time aggregates, nothing materialized yet, then materialized: the same rows as the
	// store's own bucket query.
	for refreshed := range 2 {
		if refreshed == 1 {
			refreshAll(t, pool)
		}
		sameBucketsApprox(t, pool, "telemetry_5m", bucketsOf(5*time.Minute))
		sameBucketsApprox(t, pool, "telemetry_1h", bucketsOf(time.Hour))
		checkCycles()
	}

	// Compress every telemetry chunk, then write into them.
	var compressed int
	if err := pool.QueryRow(ctx, `SELECT count(compress_chunk(c)) FROM show_chunks('telemetry') c`).Scan(&compressed); err != nil || compressed < 2 {
		t.Fatalf("compressed %d chunks (%v), want at least 2", compressed, err)
	}
	before, err := s.CountTelemetry(ctx, "")
	if err != nil || before != int64(len(samples)) {
		t.Fatalf("CountTelemetry = %d, %v; want %d", before, err, len(samples))
	}
	changed := samples[1]
	changed.Value += 1000
	added := storage.Sample{Time: samples[1].Time.Add(time.Second), DeviceID: "meter-root", Point: "active_power_kw", Value: 1, Quality: storage.QualityGood}
	for range 2 { // a retried batch
		upsertOneConn(t, pool, []storage.Sample{changed, added})
	}
	if n, err := s.CountTelemetry(ctx, ""); err != nil || n != before+1 {
		t.Fatalf("CountTelemetry = %d, %v; want %d (one new sample, one replaced)", n, err, before+1)
	}
	got, err := s.TelemetryRange(ctx, "meter-root", "active_power_kw", changed.Time, changed.Time.Add(time.Microsecond))
	if err != nil || len(got) != 1 || got[0].Value != changed.Value {
		t.Fatalf("replaced sample reads back as %+v, %v; want value %v", got, err, changed.Value)
	}
	// The change reaches the aggregates on their next refresh.
	refreshAll(t, pool)
	sameBucketsApprox(t, pool, "telemetry_5m", bucketsOf(5*time.Minute))
	sameBucketsApprox(t, pool, "telemetry_1h", bucketsOf(time.Hour))
}

func refreshAll(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for _, a := range aggregates {
		if _, err := pool.Exec(t.Context(), `CALL refresh_continuous_aggregate($1::regclass, NULL, NULL)`, a.name); err != nil {
			t.Fatalf("refresh %s: %v", a.name, err)
		}
	}
}

// upsertOneConn writes samples with the statement the store merges retried batches with
// (INSERT ... ON CONFLICT DO UPDATE), from arrays instead of a COPY: PGlite served over TCP
// does not survive COPY FROM STDIN reliably (its WASM traps), so the store's COPY path cannot
// run there.
func upsertOneConn(t *testing.T, pool *pgxpool.Pool, samples []storage.Sample) {
	t.Helper()
	var tm []time.Time
	var dev, pt, q []string
	var val []float64
	for _, x := range samples {
		tm, dev, pt, val, q = append(tm, ts(x.Time)), append(dev, x.DeviceID), append(pt, x.Point), append(val, x.Value), append(q, string(x.Quality))
	}
	if _, err := pool.Exec(t.Context(), `INSERT INTO telemetry (time, device_id, point, value, quality)
		SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::float8[], $5::text[])
		ON CONFLICT (time, device_id, point) DO UPDATE SET value = excluded.value, quality = excluded.quality`, tm, dev, pt, val, q); err != nil {
		t.Fatalf("upsert %d samples: %v", len(samples), err)
	}
}

func equalCounts(got, want map[string]int) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	return true
}
