// Command storage-bench measures the PostgreSQL store: ingest rate through gridd's telemetry
// writer against psql's \copy of the same rows into the same table, and the latency of the
// console's main queries on a large telemetry table. Run it through bench/storage/run.sh.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"

	"github.com/jackc/pgx/v5"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const points = 10

func main() {
	dsn := flag.String("dsn", os.Getenv("GRIDD_TEST_PG_DSN"), "server DSN (a database is created and dropped)")
	psql := flag.String("psql", "psql", "psql binary")
	ingestRows := flag.Int("ingest-rows", 1_000_000, "rows for the ingest comparison")
	batch := flag.Int("batch", 10_000, "rows per WriteTelemetry call")
	rounds := flag.Int("rounds", 2, "ingest rounds per tool (the best is reported)")
	queryRows := flag.Int("query-rows", 10_000_000, "rows in the table for the query latencies (0 = skip)")
	queries := flag.Int("queries", 200, "runs of each query")
	flag.Parse()
	if err := run(context.Background(), *dsn, *psql, *ingestRows, *batch, *rounds, *queryRows, *queries); err != nil {
		fmt.Fprintln(os.Stderr, "storage-bench:", err)
		os.Exit(1)
	}
}

// rows returns the i-th row of the generated data set: 100 devices x 10 points per 1-minute cycle.
func row(i int) storage.Sample {
	const devices = 100
	c, k := i/(devices*points), i%(devices*points)
	return storage.Sample{Time: t0.Add(time.Duration(c) * time.Minute), DeviceID: fmt.Sprintf("dev-%03d", k/points),
		Point: fmt.Sprintf("point_%d", k%points), Value: float64((i*7919)%100000) / 100, Quality: storage.QualityGood}
}

func withDB(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

func run(ctx context.Context, dsn, psql string, ingestRows, batch, rounds, queryRows, queries int) error {
	if dsn == "" {
		return fmt.Errorf("-dsn is empty (and GRIDD_TEST_PG_DSN unset)")
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	const name = "gridd_storage_bench"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	defer func() { _, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }()
	db, err := withDB(dsn, name)
	if err != nil {
		return err
	}
	st, err := timescale.Open(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer st.Close()
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	fmt.Printf("server: PostgreSQL %s, hypertables: %v\n", version, st.Hypertables())

	// Ingest: the same rows through psql \copy and through WriteTelemetry, into the same empty table.
	csv := filepath.Join(os.TempDir(), "gridd-storage-bench.csv")
	if err := writeCSV(csv, ingestRows); err != nil {
		return err
	}
	defer os.Remove(csv)
	truncate := func() error {
		_, err := conn.Exec(ctx, "TRUNCATE telemetry, telemetry_latest")
		return err
	}
	var bestCopy, bestGridd time.Duration
	for r := range rounds {
		if err := truncate(); err != nil {
			return err
		}
		start := time.Now()
		cmd := exec.CommandContext(ctx, psql, db, "-q", "-v", "ON_ERROR_STOP=1", "-c",
			fmt.Sprintf(`\copy telemetry (time, device_id, point, value, quality) FROM '%s' WITH (FORMAT csv)`, csv))
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("psql \\copy: %w\n%s", err, out)
		}
		d := time.Since(start)
		if err := checkCount(ctx, conn, ingestRows); err != nil {
			return fmt.Errorf("after psql: %w", err)
		}
		fmt.Printf("round %d: psql \\copy %d rows in %s (%.0f rows/s)\n", r+1, ingestRows, d.Round(time.Millisecond), float64(ingestRows)/d.Seconds())
		if bestCopy == 0 || d < bestCopy {
			bestCopy = d
		}

		if err := truncate(); err != nil {
			return err
		}
		start = time.Now()
		buf := make([]storage.Sample, 0, batch)
		for i := range ingestRows {
			buf = append(buf, row(i))
			if len(buf) == batch || i == ingestRows-1 {
				if err := st.WriteTelemetry(ctx, buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		d = time.Since(start)
		if err := checkCount(ctx, conn, ingestRows); err != nil {
			return fmt.Errorf("after WriteTelemetry: %w", err)
		}
		fmt.Printf("round %d: gridd WriteTelemetry %d rows (batches of %d) in %s (%.0f rows/s)\n", r+1, ingestRows, batch, d.Round(time.Millisecond), float64(ingestRows)/d.Seconds())
		if bestGridd == 0 || d < bestGridd {
			bestGridd = d
		}
	}
	fmt.Printf("INGEST best of %d: psql %.0f rows/s, gridd %.0f rows/s, ratio gridd/psql = %.2f (target >= 0.80)\n",
		rounds, float64(ingestRows)/bestCopy.Seconds(), float64(ingestRows)/bestGridd.Seconds(), bestCopy.Seconds()/bestGridd.Seconds())

	if queryRows == 0 {
		return nil
	}
	return queryLatency(ctx, conn, st, queryRows, queries)
}

func writeCSV(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := range n {
		x := row(i)
		fmt.Fprintf(w, "%s,%s,%s,%s,%s\n", x.Time.Format(time.RFC3339Nano), x.DeviceID, x.Point,
			strconv.FormatFloat(x.Value, 'g', -1, 64), x.Quality)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func checkCount(ctx context.Context, conn *pgx.Conn, want int) error {
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM telemetry").Scan(&n); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("telemetry has %d rows, want %d", n, want)
	}
	return nil
}

// queryLatency fills telemetry with n rows (the same generator, in SQL) and times the console's queries.
func queryLatency(ctx context.Context, conn *pgx.Conn, st *timescale.Store, n, runs int) error {
	if _, err := conn.Exec(ctx, "TRUNCATE telemetry, telemetry_latest"); err != nil {
		return err
	}
	start := time.Now()
	// A committed fill is flushed at once, as on a server with the default synchronous_commit
	// (the test servers commit asynchronously): VACUUM marks pages all-visible only once it is.
	if _, err := conn.Exec(ctx, "SET synchronous_commit = on"); err != nil {
		return err
	}
	// Same rows as row(i), generated in the server.
	if _, err := conn.Exec(ctx, `INSERT INTO telemetry (time, device_id, point, value, quality)
		SELECT $1::timestamptz + (i / 1000) * interval '1 minute',
		       'dev-' || lpad(((i % 1000) / 10)::text, 3, '0'),
		       'point_' || (i % 10)::text,
		       ((i::bigint * 7919) % 100000) / 100.0, 'good'
		FROM generate_series(0, $2::bigint - 1) AS i`, t0, n); err != nil {
		return fmt.Errorf("fill: %w", err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO telemetry_latest (device_id, point, time, value, quality)
		SELECT DISTINCT ON (device_id, point) device_id, point, time, value, quality FROM telemetry
		WHERE time >= $1 ORDER BY device_id, point, time DESC`, t0.Add(time.Duration(n/1000-1)*time.Minute)); err != nil {
		return fmt.Errorf("fill latest: %w", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE telemetry"); err != nil {
		return err
	}
	fmt.Printf("filled %d rows in %s\n", n, time.Since(start).Round(time.Second))
	// Index-only scans skip the heap only on all-visible pages. A snapshot held while VACUUM
	// runs (an autovacuum ANALYZE) can keep it from marking some; autovacuum marks them on a
	// later run, which a second VACUUM stands in for.
	for round := 1; ; round++ {
		var pages, visible int64
		if err := conn.QueryRow(ctx, `SELECT coalesce(sum(relpages), 0), coalesce(sum(relallvisible), 0) FROM pg_class
			WHERE oid = 'telemetry'::regclass OR oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'telemetry'::regclass)`).Scan(&pages, &visible); err != nil {
			return err
		}
		fmt.Printf("visibility map after VACUUM %d: %d of %d telemetry heap pages all-visible\n", round, visible, pages)
		if visible == pages || round == 3 {
			break
		}
		if _, err := conn.Exec(ctx, "VACUUM telemetry"); err != nil {
			return err
		}
	}
	end := t0.Add(time.Duration(n/1000) * time.Minute)
	// Forecasts: 48 h ahead at 15 min, issued hourly over the filled span.
	var fc []storage.ForecastPoint
	for iss := t0; iss.Before(end); iss = iss.Add(time.Hour) {
		for k := range 192 {
			fc = append(fc, storage.ForecastPoint{IssuedAt: iss, ValidAt: iss.Add(time.Duration(k) * 15 * time.Minute), Series: "load:site", Quantile: 0.5, Value: float64(k), Method: "bench"})
		}
	}
	if err := st.WriteForecasts(ctx, fc); err != nil {
		return err
	}
	last := end.Add(-time.Minute)
	type q struct {
		name string
		fn   func() (int, error)
	}
	qs := []q{
		{"LatestTelemetry(all devices)", func() (int, error) { x, err := st.LatestTelemetry(ctx, ""); return len(x), err }},
		{"LatestTelemetry(one device)", func() (int, error) { x, err := st.LatestTelemetry(ctx, "dev-042"); return len(x), err }},
		{"TelemetryRange(1 point, last 24 h)", func() (int, error) {
			x, err := st.TelemetryRange(ctx, "dev-042", "point_3", last.Add(-24*time.Hour), end)
			return len(x), err
		}},
		{"TelemetryBuckets(1 point, last 24 h, 15 min)", func() (int, error) {
			x, err := st.TelemetryBuckets(ctx, "dev-042", "point_3", last.Add(-24*time.Hour), end, 15*time.Minute)
			return len(x), err
		}},
		{"TelemetryBuckets(1 point, all, 1 h)", func() (int, error) {
			x, err := st.TelemetryBuckets(ctx, "dev-042", "point_3", t0, end, time.Hour)
			return len(x), err
		}},
		{"ForecastAsOf(48 h)", func() (int, error) {
			asOf := last.Add(-6 * time.Hour)
			x, err := st.ForecastAsOf(ctx, "load:site", 0.5, asOf, asOf, asOf.Add(48*time.Hour))
			return len(x), err
		}},
		{"ListSchedules(7 days)", func() (int, error) { x, err := st.ListSchedules(ctx, t0, end, ""); return len(x), err }},
	}
	fmt.Printf("QUERIES on %d telemetry rows, %d runs each (target p95 < 100 ms):\n", n, runs)
	for _, q := range qs {
		var lat []time.Duration
		var got int
		for range runs {
			s := time.Now()
			k, err := q.fn()
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			lat = append(lat, time.Since(s))
			got = k
		}
		slices.Sort(lat)
		p := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))] }
		fmt.Printf("  %-46s rows %6d  p50 %8s  p95 %8s  p99 %8s\n", q.name, got,
			p(0.5).Round(10*time.Microsecond), p(0.95).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond))
	}
	return nil
}
