package timescale

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/storage"
)

func TestDecideFeatures(t *testing.T) {
	for _, tc := range []struct {
		license     string
		hypertables bool
		want        Features
	}{
		{"", false, Features{}},
		{LicenseApache, true, Features{License: LicenseApache, Hypertables: true}},
		{LicenseCommunity, true, Features{License: LicenseCommunity, Hypertables: true, Compression: true, ContinuousAggregates: true, RetentionPolicy: true}},
		// A database laid out plain stays plain, whatever the server could do.
		{LicenseCommunity, false, Features{License: LicenseCommunity}},
		// An unknown license gets nothing beyond hypertables.
		{"enterprise-2030", true, Features{License: "enterprise-2030", Hypertables: true}},
	} {
		t.Run(fmt.Sprintf("%s/%v", tc.license, tc.hypertables), func(t *testing.T) {
			if got := decideFeatures(tc.license, tc.hypertables); got != tc.want {
				t.Fatalf("decideFeatures(%q, %v) = %+v, want %+v", tc.license, tc.hypertables, got, tc.want)
			}
		})
	}
}

// countMatching counts the statements matching re.
func countMatching(stmts []string, re string) int {
	n := 0
	for _, s := range stmts {
		if regexp.MustCompile(re).MatchString(s) {
			n++
		}
	}
	return n
}

func TestFeatureSQL(t *testing.T) {
	community := decideFeatures(LicenseCommunity, true)
	fresh := dbState{continuous: map[string]bool{}}
	done := dbState{compressionEnabled: true, continuous: map[string]bool{"telemetry_5m": true, "telemetry_1h": true, "cycle_runs_1h": true}}
	month := 30 * 24 * time.Hour
	for _, tc := range []struct {
		name  string
		f     Features
		st    dbState
		opts  Options
		count map[string]int // regexp -> number of statements matching it
	}{
		{"plain PostgreSQL", decideFeatures("", false), fresh, Options{Retention: month}, map[string]int{`.`: 0}},
		{"apache", decideFeatures(LicenseApache, true), fresh, Options{Retention: month}, map[string]int{`.`: 0}},
		{"community, fresh, no retention", community, fresh, Options{}, map[string]int{
			`^ALTER TABLE telemetry SET \(timescaledb\.compress, timescaledb\.compress_segmentby = 'device_id, point', timescaledb\.compress_orderby = 'time DESC'\)$`:                                                                1,
			`^SELECT remove_compression_policy\('telemetry', if_exists => true\)$`:                                                                                                                                                    1,
			`^SELECT add_compression_policy\('telemetry', compress_after => INTERVAL '604800 seconds'\)$`:                                                                                                                             1,
			`(?s)^DROP VIEW IF EXISTS telemetry_5m;\nCREATE MATERIALIZED VIEW telemetry_5m WITH \(timescaledb\.continuous, timescaledb\.materialized_only = false\) AS\n.*time_bucket\(INTERVAL '5 minutes', time\).*WITH NO DATA$`:   1,
			`(?s)^DROP VIEW IF EXISTS telemetry_1h;\nCREATE MATERIALIZED VIEW telemetry_1h WITH \(timescaledb\.continuous, timescaledb\.materialized_only = false\) AS\n.*time_bucket\(INTERVAL '1 hour', time\).*WITH NO DATA$`:      1,
			`(?s)^DROP VIEW IF EXISTS cycle_runs_1h;\nCREATE MATERIALIZED VIEW cycle_runs_1h WITH \(timescaledb\.continuous, timescaledb\.materialized_only = false\) AS\n.*time_bucket\(INTERVAL '1 hour', started\).*WITH NO DATA$`: 1,
			`^SELECT add_continuous_aggregate_policy\('telemetry_5m', start_offset => NULL, end_offset => INTERVAL '300 seconds', schedule_interval => INTERVAL '300 seconds'\)$`:                                                     1,
			`^SELECT add_continuous_aggregate_policy\('telemetry_1h', start_offset => NULL, end_offset => INTERVAL '3600 seconds', schedule_interval => INTERVAL '3600 seconds'\)$`:                                                   1,
			`^SELECT add_continuous_aggregate_policy\('cycle_runs_1h', start_offset => NULL, end_offset => INTERVAL '3600 seconds', schedule_interval => INTERVAL '3600 seconds'\)$`:                                                  1,
			`^SELECT remove_continuous_aggregate_policy\('(telemetry_5m|telemetry_1h|cycle_runs_1h)', if_exists => true\)$`:                                                                                                           3,
			`^SELECT remove_retention_policy\('(telemetry|forecasts|cycle_runs)', if_exists => true\)$`:                                                                                                                               3,
			`add_retention_policy`: 0,
		}},
		{"community, set up, 30 days retention, compress after 2 days", community, done, Options{Retention: month, CompressAfter: 48 * time.Hour}, map[string]int{
			`^ALTER TABLE`: 0,
			`DROP VIEW`:    0,
			`^CREATE`:      0,
			`^SELECT add_compression_policy\('telemetry', compress_after => INTERVAL '172800 seconds'\)$`:                                                                                               1,
			`^SELECT add_continuous_aggregate_policy\('telemetry_5m', start_offset => INTERVAL '2592000 seconds', end_offset => INTERVAL '300 seconds', schedule_interval => INTERVAL '300 seconds'\)$`: 1,
			`^SELECT add_retention_policy\('(telemetry|forecasts|cycle_runs)', drop_after => INTERVAL '2592000 seconds'\)$`:                                                                             3,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts, err := tc.opts.validate()
			if err != nil {
				t.Fatal(err)
			}
			stmts := featureSQL(tc.f, tc.st, opts)
			for re, want := range tc.count {
				if got := countMatching(stmts, re); got != want {
					t.Errorf("%d statements match %s, want %d; statements:\n%s", got, re, want, strings.Join(stmts, "\n"))
				}
			}
			// A view is dropped only in the statement that creates its replacement.
			for i, s := range stmts {
				if strings.Contains(s, "DROP VIEW") && !strings.Contains(s, "CREATE MATERIALIZED VIEW") {
					t.Errorf("statement %d drops a view without recreating it: %s", i, s)
				}
			}
		})
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	for _, tc := range []struct {
		opts    Options
		mention string
	}{
		{Options{Retention: -time.Hour}, "Options.Retention -1h0m0s"},
		{Options{Retention: time.Minute}, "Options.Retention 1m0s"},
		{Options{CompressAfter: -1}, "Options.CompressAfter -1ns"},
		{Options{CompressAfter: time.Second}, "Options.CompressAfter 1s"},
		{Options{RetentionEvery: time.Second}, "Options.RetentionEvery 1s"},
	} {
		t.Run(tc.mention, func(t *testing.T) {
			// Rejected before connecting: the DSN does not matter.
			s, err := OpenWith(t.Context(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1", quietLog(), tc.opts)
			if err == nil {
				s.Close()
				t.Fatalf("OpenWith(%+v) succeeded, want an error", tc.opts)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %q does not name %q", err, tc.mention)
			}
		})
	}
	o, err := Options{}.validate()
	if err != nil || o.CompressAfter != DefaultCompressAfter || o.RetentionEvery != DefaultRetentionEvery || o.Clock == nil {
		t.Fatalf("zero Options validate to %+v, %v; want the defaults", o, err)
	}
}

// retentionData writes one telemetry sample, forecast and cycle run per hour for the 30 days
// before end.
func retentionData(t *testing.T, s storage.Store, end time.Time) {
	t.Helper()
	ctx := t.Context()
	var samples []storage.Sample
	var fcs []storage.ForecastPoint
	for h := 1; h <= 30*24; h++ {
		at := end.Add(-time.Duration(h) * time.Hour)
		samples = append(samples, storage.Sample{Time: at, DeviceID: "meter-root", Point: "active_power_kw", Value: float64(h), Quality: storage.QualityGood})
		fcs = append(fcs, storage.ForecastPoint{IssuedAt: at.Add(-time.Hour), ValidAt: at, Series: "load:building-1", Quantile: 0.5, Value: 1, Method: "test"})
		if _, err := s.RecordCycle(ctx, storage.CycleRun{Started: at, TotalMS: 10, Devices: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.WriteTelemetry(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteForecasts(ctx, fcs); err != nil {
		t.Fatal(err)
	}
}

// oldestRows returns, per retained table, the oldest time left and the number of rows.
func oldestRows(t *testing.T, s *Store) map[string]struct {
	oldest time.Time
	rows   int
} {
	t.Helper()
	out := map[string]struct {
		oldest time.Time
		rows   int
	}{}
	for _, r := range retained {
		var v struct {
			oldest time.Time
			rows   int
		}
		if err := s.pool.QueryRow(t.Context(), `SELECT coalesce(min(`+r.column+`), 'epoch'), count(*) FROM `+r.table).Scan(&v.oldest, &v.rows); err != nil {
			t.Fatal(err)
		}
		v.oldest = v.oldest.UTC()
		out[r.table] = v
	}
	return out
}

// checkRetention checks gridd's own retention job and EnforceRetention on the database that
// fresh returns: rows older than the retention are gone (on hypertables, up to one chunk of
// slack), newer ones kept.
func checkRetention(t *testing.T, fresh func(testing.TB) string) {
	ctx := t.Context()
	dsn := fresh(t)
	end := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	const retention = 10 * 24 * time.Hour
	{
		s, err := Open(ctx, dsn, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		retentionData(t, s, end)
		s.Close()
	}
	// The job runs when the store opens, then every RetentionEvery: its clock says "end".
	s, err := OpenWith(ctx, dsn, quietLog(), Options{Retention: retention, Clock: clock.NewSim(end)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Features().RetentionPolicy {
		t.Fatalf("Features() = %+v: a retention policy on a server that does not allow it", s.Features())
	}
	cutoff := end.Add(-retention)
	slack := map[string]time.Duration{"telemetry": 0, "forecasts": 0, "cycle_runs": 0}
	if s.Hypertables() {
		slack = map[string]time.Duration{"telemetry": 24 * time.Hour, "forecasts": 7 * 24 * time.Hour, "cycle_runs": 7 * 24 * time.Hour}
	}
	check := func() error {
		for table, v := range oldestRows(t, s) {
			// Hourly rows from end-30d+... : every row at or after the cutoff is kept.
			kept := int(end.Sub(v.oldest) / time.Hour)
			if v.oldest.Before(cutoff.Add(-slack[table])) || v.oldest.After(cutoff) || v.rows != kept {
				return fmt.Errorf("%s: oldest row %s, %d rows; want the oldest in [%s, %s] and one row per hour from it",
					table, v.oldest.Format(time.RFC3339), v.rows, cutoff.Add(-slack[table]).Format(time.RFC3339), cutoff.Format(time.RFC3339))
			}
		}
		return nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for err := check(); err != nil; err = check() {
		if time.Now().After(deadline) {
			t.Fatalf("the retention job did not remove old rows: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A second run has nothing left to remove.
	before := oldestRows(t, s)
	if err := s.EnforceRetention(ctx, end); err != nil {
		t.Fatal(err)
	}
	if after := oldestRows(t, s); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a second EnforceRetention changed %v to %v", before, after)
	}
	// Later, more goes.
	if err := s.EnforceRetention(ctx, end.Add(40*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for table, v := range oldestRows(t, s) {
		if v.rows != 0 {
			t.Errorf("%s: %d rows left after EnforceRetention past every row", table, v.rows)
		}
	}
	// Without retention configured, EnforceRetention removes nothing.
	keep, err := Open(ctx, dsn, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	retentionData(t, keep, end)
	if err := keep.EnforceRetention(ctx, end.Add(365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	for table, v := range oldestRows(t, keep) {
		if v.rows != 30*24 {
			t.Errorf("%s: %d rows after EnforceRetention without retention, want %d", table, v.rows, 30*24)
		}
	}
}

func TestRetentionJob(t *testing.T) {
	serverDSN(t)
	checkRetention(t, func(tb testing.TB) string { return freshDatabase(tb) })
}

func TestFeaturesPlain(t *testing.T) {
	s := openFresh(t)
	defer s.Close()
	if s.Hypertables() {
		t.Skip("the PostgreSQL server has timescaledb; TestTimescale covers it")
	}
	if got := s.Features(); got != (Features{}) {
		t.Fatalf("Features() on plain PostgreSQL = %+v, want none", got)
	}
	for _, v := range []string{"telemetry_5m", "telemetry_1h", "cycle_runs_1h", "schedule_costs"} {
		var ok bool
		if err := s.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_views WHERE viewname = $1)`, v).Scan(&ok); err != nil || !ok {
			t.Errorf("%s is not a plain view (%v)", v, err)
		}
	}
}
