package timescale

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/gridd/gridd/clock"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Licenses reported by SHOW timescaledb.license.
const (
	// LicenseApache is the Apache-2 edition: hypertables, time_bucket and drop_chunks, but no
	// compression, continuous aggregates or background policies.
	LicenseApache = "apache"
	// LicenseCommunity is the Timescale License (community) edition, which has them all.
	LicenseCommunity = "timescale"
)

// Features says which TimescaleDB features a store uses. Each is enabled only where the
// server's license allows it; the fallback keeps the same tables, views and columns.
type Features struct {
	// License is SHOW timescaledb.license ("apache" or "timescale"); "" without TimescaleDB.
	License string
	// Hypertables: telemetry, forecasts, setpoint_writes and cycle_runs are hypertables
	// (otherwise plain tables with BRIN time indexes).
	Hypertables bool
	// Compression: telemetry chunks older than Options.CompressAfter are compressed by a
	// TimescaleDB policy (otherwise they stay uncompressed).
	Compression bool
	// ContinuousAggregates: telemetry_5m, telemetry_1h and cycle_runs_1h are real-time
	// continuous aggregates (otherwise plain views with the same columns).
	ContinuousAggregates bool
	// RetentionPolicy: Options.Retention is enforced by TimescaleDB retention policies
	// (otherwise by gridd's own retention job, see Store.EnforceRetention).
	RetentionPolicy bool
}

// decideFeatures enables each feature where license allows it.
func decideFeatures(license string, hypertables bool) Features {
	f := Features{License: license, Hypertables: hypertables}
	if hypertables && license == LicenseCommunity {
		f.Compression, f.ContinuousAggregates, f.RetentionPolicy = true, true, true
	}
	return f
}

// Options tune OpenWith. The zero value is what Open uses.
type Options struct {
	// Retention is how long telemetry, forecasts (by valid_at) and cycle runs are kept; 0 keeps
	// them forever. Schedules, setpoint writes, audit events and assets are never removed.
	// With TimescaleDB whole chunks are dropped, so rows up to one chunk older may remain.
	// Continuous aggregates keep their buckets after the raw rows are gone.
	Retention time.Duration
	// CompressAfter is the age at which telemetry chunks are compressed where the license
	// allows compression; 0 means DefaultCompressAfter.
	CompressAfter time.Duration
	// RetentionEvery is how often gridd's own retention job runs when the server has no
	// retention policies; 0 means DefaultRetentionEvery.
	RetentionEvery time.Duration
	// Clock gives the retention job its time; nil means clock.Real.
	Clock clock.Clock
}

// Defaults for Options.
const (
	DefaultCompressAfter  = 7 * 24 * time.Hour
	DefaultRetentionEvery = time.Hour
	// MinRetention is the shortest Options.Retention accepted.
	MinRetention = time.Hour
)

// validate checks o and fills in defaults.
func (o Options) validate() (Options, error) {
	if o.Retention < 0 || (o.Retention > 0 && o.Retention < MinRetention) {
		return o, fmt.Errorf("timescale: Options.Retention %v: want 0 (keep forever) or at least %v", o.Retention, MinRetention)
	}
	if o.CompressAfter < 0 || (o.CompressAfter > 0 && o.CompressAfter < time.Hour) {
		return o, fmt.Errorf("timescale: Options.CompressAfter %v: want 0 (default %v) or at least 1h", o.CompressAfter, DefaultCompressAfter)
	}
	if o.RetentionEvery < 0 || (o.RetentionEvery > 0 && o.RetentionEvery < time.Minute) {
		return o, fmt.Errorf("timescale: Options.RetentionEvery %v: want 0 (default %v) or at least 1m", o.RetentionEvery, DefaultRetentionEvery)
	}
	if o.CompressAfter == 0 {
		o.CompressAfter = DefaultCompressAfter
	}
	if o.RetentionEvery == 0 {
		o.RetentionEvery = DefaultRetentionEvery
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return o, nil
}

// retained lists the tables retention applies to, with their time column.
var retained = []struct{ table, column string }{
	{"telemetry", "time"},
	{"forecasts", "valid_at"},
	{"cycle_runs", "started"},
}

// aggregate is a dashboard view that becomes a continuous aggregate where licensed. Its
// plain form is in migration 0003; both have the same columns, and buckets aligned to the Unix
// epoch (time_bucket's default origin, 2000-01-03, is a whole number of hours after it).
type aggregate struct {
	name   string
	query  string        // the SELECT, with time_bucket
	bucket time.Duration // bucket width: the refresh policy's end offset and schedule
}

var aggregates = []aggregate{
	{"telemetry_5m", telemetryAggregate("5 minutes"), 5 * time.Minute},
	{"telemetry_1h", telemetryAggregate("1 hour"), time.Hour},
	{"cycle_runs_1h", `SELECT time_bucket(INTERVAL '1 hour', started) AS bucket,
       count(*) AS cycles,
       sum(CASE WHEN error <> '' THEN 1 ELSE 0 END)::bigint AS failed_cycles,
       avg(total_ms) AS mean_total_ms, max(total_ms) AS max_total_ms,
       max(stale_devices) AS max_stale_devices
FROM cycle_runs
GROUP BY 1`, time.Hour},
}

func telemetryAggregate(width string) string {
	return `SELECT time_bucket(INTERVAL '` + width + `', time) AS bucket,
       device_id, point,
       avg(value) AS mean, min(value) AS min, max(value) AS max, count(*) AS samples
FROM telemetry
WHERE quality = 'good'
GROUP BY 1, 2, 3`
}

// dbState is what the community-edition setup needs to know about the database.
type dbState struct {
	compressionEnabled bool            // telemetry has compression settings
	continuous         map[string]bool // names of existing continuous aggregates
}

// interval renders d as an SQL interval literal.
func interval(d time.Duration) string {
	return fmt.Sprintf("INTERVAL '%d seconds'", int64(d/time.Second))
}

// featureSQL returns the statements that bring a database in state st to features f under
// options o. Every statement is idempotent given st; they run one by one, each in its own
// (implicit) transaction. Nothing is generated for a feature the license does not allow.
func featureSQL(f Features, st dbState, o Options) []string {
	var out []string
	if f.Compression {
		if !st.compressionEnabled {
			out = append(out, `ALTER TABLE telemetry SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id, point', timescaledb.compress_orderby = 'time DESC')`)
		}
		out = append(out,
			`SELECT remove_compression_policy('telemetry', if_exists => true)`,
			fmt.Sprintf(`SELECT add_compression_policy('telemetry', compress_after => %s)`, interval(o.CompressAfter)))
	}
	if f.ContinuousAggregates {
		for _, a := range aggregates {
			if !st.continuous[a.name] {
				// One statement string, so one implicit transaction: the plain view is never
				// lost when its replacement cannot be created.
				out = append(out, `DROP VIEW IF EXISTS `+a.name+`;
CREATE MATERIALIZED VIEW `+a.name+` WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
`+a.query+`
WITH NO DATA`)
			}
			// Without retention the policy refreshes whatever changed, however old; with it,
			// only the retained window, so dropped raw chunks never empty aggregated buckets.
			start := "NULL"
			if o.Retention > 0 {
				start = interval(o.Retention)
			}
			out = append(out,
				fmt.Sprintf(`SELECT remove_continuous_aggregate_policy('%s', if_exists => true)`, a.name),
				fmt.Sprintf(`SELECT add_continuous_aggregate_policy('%s', start_offset => %s, end_offset => %s, schedule_interval => %s)`,
					a.name, start, interval(a.bucket), interval(a.bucket)))
		}
	}
	if f.RetentionPolicy {
		for _, r := range retained {
			out = append(out, fmt.Sprintf(`SELECT remove_retention_policy('%s', if_exists => true)`, r.table))
			if o.Retention > 0 {
				out = append(out, fmt.Sprintf(`SELECT add_retention_policy('%s', drop_after => %s)`, r.table, interval(o.Retention)))
			}
		}
	}
	return out
}

// querier is a pool or one connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readLicense returns SHOW timescaledb.license.
func readLicense(ctx context.Context, q querier) (string, error) {
	var license string
	if err := q.QueryRow(ctx, `SHOW timescaledb.license`).Scan(&license); err != nil {
		return "", fmt.Errorf("show timescaledb.license: %w", err)
	}
	return license, nil
}

// readState reads the compression and continuous-aggregate state of the current schema.
func readState(ctx context.Context, q querier) (dbState, error) {
	st := dbState{continuous: map[string]bool{}}
	err := q.QueryRow(ctx, `SELECT coalesce(bool_or(compression_enabled), false) FROM timescaledb_information.hypertables
		WHERE hypertable_schema = current_schema() AND hypertable_name = 'telemetry'`).Scan(&st.compressionEnabled)
	if err != nil {
		return st, fmt.Errorf("read compression state: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT view_name FROM timescaledb_information.continuous_aggregates WHERE view_schema = current_schema()`)
	if err != nil {
		return st, fmt.Errorf("read continuous aggregates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return st, fmt.Errorf("read continuous aggregates: %w", err)
		}
		st.continuous[name] = true
	}
	if err := rows.Err(); err != nil {
		return st, fmt.Errorf("read continuous aggregates: %w", err)
	}
	return st, nil
}

// setUpFeatures decides the features from the server's license, applies them under the
// migration lock (so concurrent Opens do not race) and logs the path chosen for each.
func setUpFeatures(ctx context.Context, pool *pgxpool.Pool, hypertables bool, o Options, log *slog.Logger) (Features, error) {
	license := ""
	if hypertables {
		var err error
		if license, err = readLicense(ctx, pool); err != nil {
			return Features{}, err
		}
	}
	f := decideFeatures(license, hypertables)
	if f.Compression || f.ContinuousAggregates || f.RetentionPolicy {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return f, fmt.Errorf("acquire connection: %w", err)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
			conn.Release()
			return f, fmt.Errorf("take migration lock: %w", err)
		}
		err = func() error {
			st, err := readState(ctx, conn)
			if err != nil {
				return err
			}
			for _, stmt := range featureSQL(f, st, o) {
				if _, err := conn.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("set up TimescaleDB features: %s: %w", firstLine(stmt), err)
				}
			}
			return nil
		}()
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey); uerr != nil {
			conn.Hijack().Close(context.WithoutCancel(ctx))
		} else {
			conn.Release()
		}
		if err != nil {
			return f, err
		}
	}
	logFeatures(log, f, o)
	return f, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// logFeatures says which path was chosen for each feature and why.
func logFeatures(log *slog.Logger, f Features, o Options) {
	why := "needs the TimescaleDB community license; server license is " + f.License
	if !f.Hypertables {
		why = "needs TimescaleDB"
	}
	if f.Compression {
		log.Info("storage: compression: TimescaleDB policy compresses telemetry chunks", "license", f.License, "compress_after", o.CompressAfter)
	} else {
		log.Info("storage: compression: off", "why", why)
	}
	if f.ContinuousAggregates {
		log.Info("storage: dashboard rollups: continuous aggregates (real-time) telemetry_5m, telemetry_1h, cycle_runs_1h", "license", f.License)
	} else {
		log.Info("storage: dashboard rollups: plain views telemetry_5m, telemetry_1h, cycle_runs_1h", "why", why)
	}
	switch {
	case o.Retention == 0:
		log.Info("storage: retention: keep forever (no retention configured)")
	case f.RetentionPolicy:
		log.Info("storage: retention: TimescaleDB retention policies", "retention", o.Retention)
	case f.Hypertables:
		log.Info("storage: retention: gridd's own job drops old chunks (drop_chunks)", "retention", o.Retention, "every", o.RetentionEvery, "why", why)
	default:
		log.Info("storage: retention: gridd's own job deletes old rows", "retention", o.Retention, "every", o.RetentionEvery, "why", why)
	}
}

// Features reports which TimescaleDB features the store uses.
func (s *Store) Features() Features { return s.features }

// EnforceRetention removes telemetry, forecasts and cycle runs older than Options.Retention
// before now: whole chunks with drop_chunks on hypertables, rows with DELETE on plain tables.
// It does nothing when no retention is configured or TimescaleDB policies enforce it. gridd's
// own retention job calls it every Options.RetentionEvery; it is safe to call at any time.
func (s *Store) EnforceRetention(ctx context.Context, now time.Time) error {
	if s.opts.Retention == 0 || s.features.RetentionPolicy {
		return nil
	}
	cutoff := ts(now.Add(-s.opts.Retention))
	for _, r := range retained {
		if s.features.Hypertables {
			var dropped int
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM drop_chunks($1::regclass, older_than => $2::timestamptz)`, r.table, cutoff).Scan(&dropped); err != nil {
				return fmt.Errorf("timescale: retention: drop %s chunks older than %s: %w", r.table, cutoff.Format(time.RFC3339), err)
			}
			if dropped > 0 {
				s.log.Info("storage: retention dropped chunks", "table", r.table, "chunks", dropped, "older_than", cutoff)
			}
			continue
		}
		tag, err := s.pool.Exec(ctx, `DELETE FROM `+r.table+` WHERE `+r.column+` < $1`, cutoff)
		if err != nil {
			return fmt.Errorf("timescale: retention: delete %s rows older than %s: %w", r.table, cutoff.Format(time.RFC3339), err)
		}
		if n := tag.RowsAffected(); n > 0 {
			s.log.Info("storage: retention deleted rows", "table", r.table, "rows", n, "older_than", cutoff)
		}
	}
	return nil
}

// retentionLoop is gridd's own retention job: EnforceRetention now and every RetentionEvery
// until ctx ends.
func (s *Store) retentionLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.RetentionEvery)
	defer t.Stop()
	for {
		if err := s.EnforceRetention(ctx, s.opts.Clock.Now()); err != nil && ctx.Err() == nil {
			s.log.Error("storage: retention job failed; retrying next round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
