package timescale

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"

	"github.com/jackc/pgx/v5/pgxpool"
)

// planNode is the part of EXPLAIN (FORMAT JSON) a scan check needs.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	HeapFetches  *float64   `json:"Heap Fetches"`
	Plans        []planNode `json:"Plans"`
}

// scans lists the scan nodes of a plan (not the ChunkAppend custom scan over them).
func scans(n planNode) []planNode {
	var out []planNode
	if strings.HasSuffix(n.NodeType, "Scan") && n.NodeType != "Custom Scan" {
		out = append(out, n)
	}
	for _, c := range n.Plans {
		out = append(out, scans(c)...)
	}
	return out
}

// vacuumAllVisible vacuums telemetry until the visibility map marks every page of it (and of
// its chunks) all-visible, as autovacuum eventually does, and analyzes it. VACUUM can mark a
// page only once the commits that inserted its rows are flushed (the test servers commit
// asynchronously; CHECKPOINT flushes the WAL) and older than every snapshot in the database
// (an autovacuum ANALYZE may hold one for a moment).
func vacuumAllVisible(t *testing.T, conn *pgxpool.Conn) {
	t.Helper()
	ctx := t.Context()
	deadline := time.Now().Add(20 * time.Second)
	for {
		for _, q := range []string{`CHECKPOINT`, `VACUUM telemetry`} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		var pages, visible int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(sum(relpages), 0), coalesce(sum(relallvisible), 0) FROM pg_class
			WHERE oid = 'telemetry'::regclass OR oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'telemetry'::regclass)`).Scan(&pages, &visible); err != nil {
			t.Fatal(err)
		}
		if pages > 0 && visible == pages {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after VACUUM, %d of %d telemetry pages are all-visible", visible, pages)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := conn.Exec(ctx, `ANALYZE telemetry`); err != nil {
		t.Fatal(err)
	}
}

// TestTelemetryReadsAreIndexOnly checks, on plain PostgreSQL and on TimescaleDB, that the
// console's one-series reads (the queries TelemetryRange and TelemetryBuckets send) read
// telemetry through index-only scans of its primary key and, once the table is vacuumed,
// fetch no heap page.
func TestTelemetryReadsAreIndexOnly(t *testing.T) {
	servers := []struct {
		name  string
		open  func(testing.TB) *Store
		hyper bool
	}{
		{"plain PostgreSQL", openFresh, false},
		{"TimescaleDB", openTimescale, true},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			s := srv.open(t)
			defer s.Close()
			if s.Hypertables() != srv.hyper {
				t.Fatalf("Hypertables() = %v, want %v", s.Hypertables(), srv.hyper)
			}
			// 100 series, one sample every 4 minutes over two days (two telemetry chunks on
			// TimescaleDB), written 10 cycles per batch as a dispatch loop would.
			const devices, points, cycles, perBatch = 10, 10, 720, 10
			t0 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
			step := 4 * time.Minute
			var batch []storage.Sample
			for c := range cycles {
				for d := range devices {
					for p := range points {
						q := storage.QualityGood
						if c%50 == 7 {
							q = storage.QualityStale
						}
						batch = append(batch, storage.Sample{Time: t0.Add(time.Duration(c) * step),
							DeviceID: fmt.Sprintf("dev-%02d", d), Point: fmt.Sprintf("p%d_kw", p), Value: float64(c*d - p), Quality: q})
					}
				}
				if (c+1)%perBatch == 0 {
					if err := s.WriteTelemetry(ctx, batch); err != nil {
						t.Fatal(err)
					}
					batch = batch[:0]
				}
			}
			conn, err := s.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			vacuumAllVisible(t, conn)
			from, to := t0.Add(3*time.Hour), t0.Add(time.Duration(cycles)*step)
			queries := []struct {
				name  string
				sql   string
				args  []any
				count func() (int, error)
				want  int
			}{
				{"TelemetryRange", telemetryRangeSQL, []any{"dev-07", "p3_kw", from, to},
					func() (int, error) {
						x, err := s.TelemetryRange(ctx, "dev-07", "p3_kw", from, to)
						return len(x), err
					}, int(to.Sub(from) / step)},
				{"TelemetryBuckets", telemetryBucketsSQL, []any{time.Hour.Microseconds(), "dev-07", "p3_kw", from, to},
					func() (int, error) {
						x, err := s.TelemetryBuckets(ctx, "dev-07", "p3_kw", from, to, time.Hour)
						return len(x), err
					}, int(to.Sub(from) / time.Hour)},
			}
			for _, q := range queries {
				if n, err := q.count(); err != nil || n != q.want {
					t.Fatalf("%s: %d rows (%v), want %d", q.name, n, err, q.want)
				}
				var raw []byte
				if err := conn.QueryRow(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+q.sql, q.args...).Scan(&raw); err != nil {
					t.Fatalf("%s: explain: %v", q.name, err)
				}
				var plan []struct {
					Plan planNode `json:"Plan"`
				}
				if err := json.Unmarshal(raw, &plan); err != nil || len(plan) != 1 {
					t.Fatalf("%s: explain output %s: %v", q.name, raw, err)
				}
				ss := scans(plan[0].Plan)
				if len(ss) == 0 {
					t.Fatalf("%s: no scan in the plan %s", q.name, raw)
				}
				if srv.hyper && len(ss) < 2 {
					t.Errorf("%s: %d scan(s), want one per chunk (2): %s", q.name, len(ss), raw)
				}
				for _, sc := range ss {
					if sc.NodeType != "Index Only Scan" || !strings.HasSuffix(sc.IndexName, "telemetry_pkey") {
						t.Errorf("%s: %s of %s (index %q), want an Index Only Scan of telemetry_pkey: %s", q.name, sc.NodeType, sc.RelationName, sc.IndexName, raw)
						continue
					}
					if sc.HeapFetches == nil || *sc.HeapFetches != 0 {
						t.Errorf("%s: index-only scan of %s fetched heap pages (%v) after VACUUM: %s", q.name, sc.RelationName, sc.HeapFetches, raw)
					}
				}
			}
		})
	}
}

// TestTelemetryAutovacuumOnInserts checks that telemetry (and, on TimescaleDB, every chunk)
// is vacuumed after a fixed number of inserts, so the visibility map that index-only scans
// rely on stays set on finished chunks.
func TestTelemetryAutovacuumOnInserts(t *testing.T) {
	servers := []struct {
		name string
		open func(testing.TB) *Store
	}{
		{"plain PostgreSQL", openFresh},
		{"TimescaleDB", openTimescale},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			s := srv.open(t)
			defer s.Close()
			t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
			var batch []storage.Sample
			for day := range 3 {
				batch = append(batch, storage.Sample{Time: t0.Add(time.Duration(day) * 24 * time.Hour), DeviceID: "meter", Point: "active_power_kw", Value: 1, Quality: storage.QualityGood})
			}
			if err := s.WriteTelemetry(ctx, batch); err != nil {
				t.Fatal(err)
			}
			rows, err := s.pool.Query(ctx, `SELECT c.relname, coalesce(array_to_string(c.reloptions, ','), '')
				FROM pg_class c
				WHERE c.oid = 'telemetry'::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'telemetry'::regclass)
				ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var rel, opts string
				if err := rows.Scan(&rel, &opts); err != nil {
					t.Fatal(err)
				}
				n++
				for _, want := range []string{"autovacuum_vacuum_insert_threshold=10000", "autovacuum_vacuum_insert_scale_factor=0"} {
					if !strings.Contains(opts, want) {
						t.Errorf("%s has reloptions %q, want %s", rel, opts, want)
					}
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 1, true: 4}[s.Hypertables()]; n != want {
				t.Errorf("telemetry and its chunks: %d relations, want %d", n, want)
			}
		})
	}
}

// TestCoveringKeyUpgrade opens a database migrated to version 3 that already holds telemetry:
// migration 0004 replaces the primary key by the covering one without losing or changing a
// row, and writes stay idempotent on (time, device_id, point) under the new key.
func TestCoveringKeyUpgrade(t *testing.T) {
	servers := []struct {
		name  string
		dsn   func(testing.TB) string
		hyper bool
	}{
		{"plain PostgreSQL", freshDatabase, false},
		{"TimescaleDB", freshTimescale, true},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			ctx := t.Context()
			dsn := srv.dsn(t)
			versions, err := loadMigrations(migrationFiles)
			if err != nil {
				t.Fatal(err)
			}
			if len(versions) < 4 {
				t.Fatalf("%d migrations, want at least 4", len(versions))
			}
			pool, err := pgxpool.New(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			// Versions 1-3 as an earlier gridd applied them.
			if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (
				version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				t.Fatal(err)
			}
			if srv.hyper {
				if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS timescaledb`); err != nil {
					t.Fatal(err)
				}
			}
			for _, alts := range versions[:3] {
				m := alts[0]
				if len(alts) == 2 && srv.hyper {
					m = alts[1]
				}
				if _, err := pool.Exec(ctx, m.sql); err != nil {
					t.Fatalf("migration %04d_%s: %v", m.version, m.name, err)
				}
				if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
					t.Fatal(err)
				}
			}
			// Three days of one sample per hour for two series, across chunks on TimescaleDB.
			if _, err := pool.Exec(ctx, `INSERT INTO telemetry (time, device_id, point, value, quality)
				SELECT timestamptz '2025-05-01 00:00:00+00' + h * interval '1 hour', d, 'active_power_kw', h * 0.5,
				       CASE WHEN h % 10 = 3 THEN 'stale' ELSE 'good' END
				FROM generate_series(0, 71) AS h, unnest(ARRAY['meter', 'bess']) AS d`); err != nil {
				t.Fatal(err)
			}
			const before = `SELECT count(*), sum(value), count(*) FILTER (WHERE quality = 'good') FROM telemetry`
			var n0, good0 int64
			var sum0 float64
			if err := pool.QueryRow(ctx, before).Scan(&n0, &sum0, &good0); err != nil {
				t.Fatal(err)
			}

			s, err := Open(ctx, dsn, quietLog())
			if err != nil {
				t.Fatalf("Open on a version-3 database: %v", err)
			}
			defer s.Close()
			if got, want := appliedMigrations(t, s), wantMigrations(t, srv.hyper); !slices.Equal(got, want) {
				t.Fatalf("applied migrations %v, want %v", got, want)
			}
			var n1, good1 int64
			var sum1 float64
			if err := s.pool.QueryRow(ctx, before).Scan(&n1, &sum1, &good1); err != nil {
				t.Fatal(err)
			}
			if n1 != n0 || sum1 != sum0 || good1 != good0 || n0 != 144 {
				t.Fatalf("after the upgrade: %d rows, sum %v, %d good; before: %d rows, sum %v, %d good (want 144 rows)", n1, sum1, good1, n0, sum0, good0)
			}
			var def string
			if err := s.pool.QueryRow(ctx, `SELECT pg_get_constraintdef(oid) FROM pg_constraint
				WHERE conrelid = 'telemetry'::regclass AND conname = 'telemetry_pkey'`).Scan(&def); err != nil {
				t.Fatal(err)
			}
			if want := `PRIMARY KEY (device_id, point, "time") INCLUDE (value, quality)`; def != want {
				t.Fatalf("telemetry_pkey is %q, want %q", def, want)
			}
			var indexes int
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'telemetry' AND indexdef LIKE '%(device_id, point%'`).Scan(&indexes); err != nil || indexes != 1 {
				t.Fatalf("%d indexes on telemetry (device_id, point, ...) (%v), want 1", indexes, err)
			}

			// A batch overlapping stored rows replaces them through the new key.
			t0 := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
			batch := []storage.Sample{
				{Time: t0.Add(5 * time.Hour), DeviceID: "meter", Point: "active_power_kw", Value: -7.25, Quality: storage.QualityGood},
				{Time: t0.Add(72 * time.Hour), DeviceID: "meter", Point: "active_power_kw", Value: 3, Quality: storage.QualityGood},
			}
			for range 2 {
				if err := s.WriteTelemetry(ctx, batch); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.TelemetryRange(ctx, "meter", "active_power_kw", t0.Add(4*time.Hour), t0.Add(6*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || got[0].Value != 2 || got[1].Value != -7.25 {
				t.Fatalf("TelemetryRange after the overlapping batch: %+v, want values 2 and -7.25", got)
			}
			if n, err := s.CountTelemetry(ctx, ""); err != nil || n != 145 {
				t.Fatalf("CountTelemetry = %d (%v), want 145", n, err)
			}
		})
	}
}
