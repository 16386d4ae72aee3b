package timescale

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gridd/gridd/storage"

	"github.com/jackc/pgx/v5"
)

// WriteTelemetry implements storage.Store. The batch is sorted by key and copied (COPY) straight
// into telemetry under a savepoint; if a key already exists (a retried or overlapping batch),
// that copy is rolled back and the batch is instead copied into a per-connection staging table
// and merged with ON CONFLICT DO UPDATE. Either way it is one transaction and never duplicates.
// telemetry_latest is upserted from the newest sample of every key in the batch.
func (s *Store) WriteTelemetry(ctx context.Context, samples []storage.Sample) error {
	if err := storage.ValidateSamples(samples); err != nil {
		return fmt.Errorf("timescale: write telemetry: %w", err)
	}
	samples = dedupeSamples(samples)
	if len(samples) == 0 {
		return nil
	}
	// Key order: concurrent writers take row locks in the same order.
	sorted := make([]storage.Sample, len(samples))
	copy(sorted, samples)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.DeviceID != b.DeviceID {
			return a.DeviceID < b.DeviceID
		}
		if a.Point != b.Point {
			return a.Point < b.Point
		}
		return a.Time.UnixMicro() < b.Time.UnixMicro()
	})
	samples = sorted
	cols := []string{"time", "device_id", "point", "value", "quality"}
	source := func() pgx.CopyFromSource {
		return pgx.CopyFromSlice(len(samples), func(i int) ([]any, error) {
			x := samples[i]
			return []any{ts(x.Time), x.DeviceID, x.Point, x.Value, string(x.Quality)}, nil
		})
	}
	// The newest sample of every key (samples are sorted by key, then time).
	var ldev, lpt, lq []string
	var ltime []time.Time
	var lval []float64
	for i, x := range samples {
		if i+1 < len(samples) && samples[i+1].DeviceID == x.DeviceID && samples[i+1].Point == x.Point {
			continue
		}
		ldev, lpt, ltime, lval, lq = append(ldev, x.DeviceID), append(lpt, x.Point), append(ltime, ts(x.Time)), append(lval, x.Value), append(lq, string(x.Quality))
	}
	err := retryIdempotent(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
				_, err := sp.CopyFrom(ctx, pgx.Identifier{"telemetry"}, cols, source())
				return err
			})
			if err != nil && pgCode(err) != codeUniqueViolation {
				return fmt.Errorf("copy: %w", err)
			}
			if err != nil {
				if err := mergeTelemetry(ctx, tx, cols, source()); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO telemetry_latest (device_id, point, time, value, quality)
				SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::float8[], $5::text[])
				ON CONFLICT (device_id, point) DO UPDATE
				SET time = excluded.time, value = excluded.value, quality = excluded.quality
				WHERE excluded.time >= telemetry_latest.time`, ldev, lpt, ltime, lval, lq); err != nil {
				return fmt.Errorf("latest: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("timescale: write telemetry: %w", err)
	}
	return nil
}

// mergeTelemetry copies rows into a per-connection staging table and merges them into
// telemetry, replacing the value and quality of existing keys.
func mergeTelemetry(ctx context.Context, tx pgx.Tx, cols []string, src pgx.CopyFromSource) error {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS telemetry_staging (
			time      timestamptz      NOT NULL,
			device_id text             NOT NULL,
			point     text             NOT NULL,
			value     double precision NOT NULL,
			quality   text             NOT NULL
		) ON COMMIT DELETE ROWS`); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"telemetry_staging"}, cols, src); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	// Rows go in key order, so concurrent writers lock them in the same order.
	if _, err := tx.Exec(ctx, `INSERT INTO telemetry (time, device_id, point, value, quality)
		SELECT time, device_id, point, value, quality FROM telemetry_staging
		ORDER BY device_id, point, time
		ON CONFLICT (time, device_id, point) DO UPDATE SET value = excluded.value, quality = excluded.quality`); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	return nil
}

// dedupeSamples keeps the last sample of every (Time, DeviceID, Point) key at microsecond precision.
func dedupeSamples(in []storage.Sample) []storage.Sample {
	type key struct {
		us            int64
		device, point string
	}
	last := make(map[key]int, len(in))
	for i, x := range in {
		last[key{x.Time.UnixMicro(), x.DeviceID, x.Point}] = i
	}
	if len(last) == len(in) {
		return in
	}
	out := make([]storage.Sample, 0, len(last))
	for i, x := range in {
		if last[key{x.Time.UnixMicro(), x.DeviceID, x.Point}] == i {
			out = append(out, x)
		}
	}
	return out
}

func collectSamples(rows pgx.Rows) ([]storage.Sample, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Sample, error) {
		var x storage.Sample
		var q string
		err := r.Scan(&x.DeviceID, &x.Point, &x.Time, &x.Value, &q)
		x.Time, x.Quality = x.Time.UTC(), storage.Quality(q)
		return x, err
	})
}

// LatestTelemetry implements storage.Store.
func (s *Store) LatestTelemetry(ctx context.Context, deviceID string) ([]storage.Sample, error) {
	if err := storage.ValidateFilter("deviceID", deviceID); err != nil {
		return nil, fmt.Errorf("timescale: latest telemetry: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT device_id, point, time, value, quality FROM telemetry_latest
		WHERE $1 = '' OR device_id = $1 ORDER BY device_id COLLATE "C", point COLLATE "C"`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("timescale: latest telemetry: %w", err)
	}
	out, err := collectSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("timescale: latest telemetry: %w", err)
	}
	return out, nil
}

// The console's reads of one series. Every column they use is in telemetry's primary key index
// (migration 0004), so they are index-only scans.
const (
	// telemetryRangeSQL takes device_id, point, from, to.
	telemetryRangeSQL = `SELECT device_id, point, time, value, quality FROM telemetry
		WHERE device_id = $1 AND point = $2 AND time >= $3 AND time < $4 ORDER BY time`
	// telemetryBucketsSQL takes the bucket width in microseconds, device_id, point, from, to.
	telemetryBucketsSQL = `SELECT date_bin($1::bigint * interval '1 microsecond', time, timestamptz '1970-01-01 00:00:00+00') AS bucket,
			avg(value), min(value), max(value), count(*)
		FROM telemetry
		WHERE device_id = $2 AND point = $3 AND time >= $4 AND time < $5 AND quality = 'good'
		GROUP BY bucket ORDER BY bucket`
)

// TelemetryRange implements storage.Store.
func (s *Store) TelemetryRange(ctx context.Context, deviceID, point string, from, to time.Time) ([]storage.Sample, error) {
	if err := storage.ValidateTelemetryQuery(deviceID, point, from, to); err != nil {
		return nil, fmt.Errorf("timescale: telemetry range: %w", err)
	}
	rows, err := s.pool.Query(ctx, telemetryRangeSQL, deviceID, point, ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("timescale: telemetry range: %w", err)
	}
	out, err := collectSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("timescale: telemetry range: %w", err)
	}
	return out, nil
}

// TelemetryBuckets implements storage.Store. date_bin works on plain PostgreSQL and TimescaleDB alike.
func (s *Store) TelemetryBuckets(ctx context.Context, deviceID, point string, from, to time.Time, width time.Duration) ([]storage.Bucket, error) {
	if err := storage.ValidateBucketQuery(deviceID, point, from, to, width); err != nil {
		return nil, fmt.Errorf("timescale: telemetry buckets: %w", err)
	}
	rows, err := s.pool.Query(ctx, telemetryBucketsSQL, width.Microseconds(), deviceID, point, ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("timescale: telemetry buckets: %w", err)
	}
	out, err := collectBuckets(rows)
	if err != nil {
		return nil, fmt.Errorf("timescale: telemetry buckets: %w", err)
	}
	return out, nil
}

// collectBuckets reads rows of (bucket, mean, min, max, count), as telemetryBucketsSQL and the
// rollup views return them.
func collectBuckets(rows pgx.Rows) ([]storage.Bucket, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Bucket, error) {
		var b storage.Bucket
		err := r.Scan(&b.Time, &b.Mean, &b.Min, &b.Max, &b.Count)
		b.Time = b.Time.UTC()
		return b, err
	})
}

// CountTelemetry implements storage.Store.
func (s *Store) CountTelemetry(ctx context.Context, deviceID string) (int64, error) {
	if err := storage.ValidateFilter("deviceID", deviceID); err != nil {
		return 0, fmt.Errorf("timescale: count telemetry: %w", err)
	}
	var n int64
	var err error
	if deviceID == "" {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM telemetry`).Scan(&n)
	} else {
		err = s.pool.QueryRow(ctx, `SELECT count(*) FROM telemetry WHERE device_id = $1`, deviceID).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("timescale: count telemetry: %w", err)
	}
	return n, nil
}

// WriteForecasts implements storage.Store, through a staging table like WriteTelemetry.
func (s *Store) WriteForecasts(ctx context.Context, points []storage.ForecastPoint) error {
	if err := storage.ValidateForecasts(points); err != nil {
		return fmt.Errorf("timescale: write forecasts: %w", err)
	}
	points = dedupeForecasts(points)
	if len(points) == 0 {
		return nil
	}
	err := retryIdempotent(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS forecasts_staging (
					issued_at timestamptz      NOT NULL,
					valid_at  timestamptz      NOT NULL,
					series    text             NOT NULL,
					quantile  double precision NOT NULL,
					value     double precision NOT NULL,
					method    text             NOT NULL
				) ON COMMIT DELETE ROWS`); err != nil {
				return fmt.Errorf("staging table: %w", err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"forecasts_staging"},
				[]string{"issued_at", "valid_at", "series", "quantile", "value", "method"},
				pgx.CopyFromSlice(len(points), func(i int) ([]any, error) {
					p := points[i]
					return []any{ts(p.IssuedAt), ts(p.ValidAt), p.Series, p.Quantile, p.Value, p.Method}, nil
				})); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO forecasts (issued_at, valid_at, series, quantile, value, method)
				SELECT issued_at, valid_at, series, quantile, value, method FROM forecasts_staging
				ORDER BY series, quantile, valid_at, issued_at
				ON CONFLICT (series, quantile, valid_at, issued_at) DO UPDATE SET value = excluded.value, method = excluded.method`); err != nil {
				return fmt.Errorf("merge: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("timescale: write forecasts: %w", err)
	}
	return nil
}

// dedupeForecasts keeps the last point of every (IssuedAt, ValidAt, Series, Quantile) key.
func dedupeForecasts(in []storage.ForecastPoint) []storage.ForecastPoint {
	type key struct {
		issued, valid int64
		series        string
		quantile      float64
	}
	k := func(p storage.ForecastPoint) key {
		return key{p.IssuedAt.UnixMicro(), p.ValidAt.UnixMicro(), p.Series, p.Quantile}
	}
	last := make(map[key]int, len(in))
	for i, p := range in {
		last[k(p)] = i
	}
	if len(last) == len(in) {
		return in
	}
	out := make([]storage.ForecastPoint, 0, len(last))
	for i, p := range in {
		if last[k(p)] == i {
			out = append(out, p)
		}
	}
	return out
}

// ForecastAsOf implements storage.Store.
func (s *Store) ForecastAsOf(ctx context.Context, series string, quantile float64, asOf, from, to time.Time) ([]storage.ForecastPoint, error) {
	if err := storage.ValidateForecastQuery(series, quantile, asOf, from, to); err != nil {
		return nil, fmt.Errorf("timescale: forecast as of: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (valid_at) issued_at, valid_at, value, method FROM forecasts
		WHERE series = $1 AND quantile = $2 AND issued_at <= $3 AND valid_at >= $4 AND valid_at < $5
		ORDER BY valid_at, issued_at DESC`,
		series, quantile, ts(asOf), ts(from), ts(to))
	if err != nil {
		return nil, fmt.Errorf("timescale: forecast as of: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ForecastPoint, error) {
		p := storage.ForecastPoint{Series: series, Quantile: quantile}
		err := r.Scan(&p.IssuedAt, &p.ValidAt, &p.Value, &p.Method)
		p.IssuedAt, p.ValidAt = p.IssuedAt.UTC(), p.ValidAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("timescale: forecast as of: %w", err)
	}
	return out, nil
}

// encodeBreakdown returns the JSON text for the cost_breakdown column, or nil (NULL) when empty.
func encodeBreakdown(m map[string]float64) (any, error) {
	b, err := storage.EncodeCostBreakdown(m)
	if b == "" || err != nil {
		return nil, err
	}
	return b, nil
}

// InsertSchedule implements storage.Store. sc.ID is ignored; the new ID is returned.
func (s *Store) InsertSchedule(ctx context.Context, sc *storage.Schedule) (int64, error) {
	if err := sc.Validate(); err != nil {
		return 0, fmt.Errorf("timescale: insert schedule: %w", err)
	}
	breakdown, err := encodeBreakdown(sc.CostBreakdown)
	if err != nil {
		return 0, fmt.Errorf("timescale: insert schedule: %w", err)
	}
	var id int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO schedules (created_at, start_time, step_minutes, steps, status,
				input_hash, objective, cost_breakdown, solver_status, approver, decided_at, reason, plan)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13) RETURNING id`,
			ts(sc.CreatedAt), ts(sc.Start), sc.StepMinutes, sc.Steps, string(sc.Status),
			sc.InputHash, sc.Objective, breakdown, sc.SolverStatus, sc.Approver, nullTime(sc.DecidedAt), sc.Reason,
			storage.NilIfEmpty(sc.Plan)).Scan(&id); err != nil {
			return err
		}
		if len(sc.Setpoints) == 0 {
			return nil
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"schedule_setpoints"},
			[]string{"schedule_id", "step", "device_id", "time", "power_kw"},
			pgx.CopyFromSlice(len(sc.Setpoints), func(i int) ([]any, error) {
				sp := sc.Setpoints[i]
				return []any{id, sp.Step, sp.DeviceID, ts(sp.Time), sp.PowerKW}, nil
			}))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("timescale: insert schedule: %w", err)
	}
	return id, nil
}

const scheduleColumns = `id, created_at, start_time, step_minutes, steps, status, input_hash, objective,
	cost_breakdown, solver_status, approver, decided_at, reason`

// scanSchedule scans scheduleColumns plus the extra destinations.
func scanSchedule(r pgx.Row, extra ...any) (storage.Schedule, error) {
	var sc storage.Schedule
	var status string
	var breakdown []byte
	var decided *time.Time
	dest := append([]any{&sc.ID, &sc.CreatedAt, &sc.Start, &sc.StepMinutes, &sc.Steps, &status, &sc.InputHash, &sc.Objective,
		&breakdown, &sc.SolverStatus, &sc.Approver, &decided, &sc.Reason}, extra...)
	if err := r.Scan(dest...); err != nil {
		return sc, err
	}
	sc.CreatedAt, sc.Start = sc.CreatedAt.UTC(), sc.Start.UTC()
	if decided != nil {
		sc.DecidedAt = decided.UTC()
	}
	sc.Status = storage.ScheduleStatus(status)
	m, err := storage.DecodeCostBreakdown(breakdown)
	if err != nil {
		return sc, fmt.Errorf("schedule %d: %w", sc.ID, err)
	}
	sc.CostBreakdown = m
	return sc, nil
}

// GetSchedule implements storage.Store.
func (s *Store) GetSchedule(ctx context.Context, id int64) (*storage.Schedule, error) {
	var sc storage.Schedule
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var plan []byte
		var err error
		sc, err = scanSchedule(tx.QueryRow(ctx, `SELECT `+scheduleColumns+`, plan FROM schedules WHERE id = $1`, id), &plan)
		if err != nil {
			return err
		}
		sc.Plan = storage.NilIfEmpty(plan)
		rows, err := tx.Query(ctx, `SELECT device_id, step, time, power_kw FROM schedule_setpoints
			WHERE schedule_id = $1 ORDER BY step, device_id COLLATE "C"`, id)
		if err != nil {
			return fmt.Errorf("setpoints: %w", err)
		}
		sps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.ScheduleSetpoint, error) {
			var sp storage.ScheduleSetpoint
			err := r.Scan(&sp.DeviceID, &sp.Step, &sp.Time, &sp.PowerKW)
			sp.Time = sp.Time.UTC()
			return sp, err
		})
		if err != nil {
			return fmt.Errorf("setpoints: %w", err)
		}
		if len(sps) > 0 {
			sc.Setpoints = sps
		}
		return nil
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("timescale: get schedule %d: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("timescale: get schedule %d: %w", id, err)
	}
	return &sc, nil
}

// ListSchedules implements storage.Store.
func (s *Store) ListSchedules(ctx context.Context, from, to time.Time, status storage.ScheduleStatus) ([]storage.Schedule, error) {
	if err := storage.ValidateRange(from, to); err != nil {
		return nil, fmt.Errorf("timescale: list schedules: %w", err)
	}
	if err := storage.ValidateStatusFilter(status); err != nil {
		return nil, fmt.Errorf("timescale: list schedules: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+scheduleColumns+` FROM schedules
		WHERE created_at >= $1 AND created_at < $2 AND ($3 = '' OR status = $3)
		ORDER BY created_at DESC, id DESC`, ts(from), ts(to), string(status))
	if err != nil {
		return nil, fmt.Errorf("timescale: list schedules: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Schedule, error) { return scanSchedule(r) })
	if err != nil {
		return nil, fmt.Errorf("timescale: list schedules: %w", err)
	}
	return out, nil
}

// SetScheduleStatus implements storage.Store. It sets Status, Approver (actor), Reason and DecidedAt (at).
func (s *Store) SetScheduleStatus(ctx context.Context, id int64, from, to storage.ScheduleStatus, actor, reason string, at time.Time) error {
	if err := storage.ValidateStatusChange(id, from, to, actor, reason, at); err != nil {
		return fmt.Errorf("timescale: set schedule %d status: %w", id, err)
	}
	// One statement: the update, or else the current status (NULL if the schedule does not exist).
	var updated bool
	var cur *string
	err := s.pool.QueryRow(ctx, `WITH upd AS (
			UPDATE schedules SET status = $3, approver = CASE WHEN $7 THEN approver ELSE $4 END,
				reason = CASE WHEN $7 THEN reason ELSE $5 END, decided_at = CASE WHEN $7 THEN decided_at ELSE $6 END
			WHERE id = $1 AND status = $2 RETURNING id)
		SELECT EXISTS (SELECT 1 FROM upd), (SELECT status FROM schedules WHERE id = $1)`,
		id, string(from), string(to), actor, reason, ts(at), storage.KeepsDecision(from, to)).Scan(&updated, &cur)
	if err != nil {
		return fmt.Errorf("timescale: set schedule %d status: %w", id, err)
	}
	switch {
	case updated:
		return nil
	case cur == nil:
		return fmt.Errorf("timescale: set schedule %d status: %w", id, storage.ErrNotFound)
	default:
		return fmt.Errorf("timescale: set schedule %d status to %s: it is %s, not %s: %w", id, to, *cur, from, storage.ErrConflict)
	}
}

// RecordSetpointWrite implements storage.Store. A ScheduleID that does not exist gives ErrNotFound.
func (s *Store) RecordSetpointWrite(ctx context.Context, w storage.SetpointWrite) (int64, error) {
	if err := w.Validate(); err != nil {
		return 0, fmt.Errorf("timescale: record setpoint write: %w", err)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO setpoint_writes (time, schedule_id, device_id, point,
			requested_kw, written_kw, read_back_kw, status, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		ts(w.Time), nullID(w.ScheduleID), w.DeviceID, w.Point, w.RequestedKW, w.WrittenKW, w.ReadBackKW,
		string(w.Status), w.Error).Scan(&id)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, fmt.Errorf("timescale: record setpoint write: schedule %d: %w", w.ScheduleID, storage.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("timescale: record setpoint write: %w", err)
	}
	return id, nil
}

// ListSetpointWrites implements storage.Store.
func (s *Store) ListSetpointWrites(ctx context.Context, scheduleID int64) ([]storage.SetpointWrite, error) {
	if err := storage.ValidateScheduleFilter(scheduleID); err != nil {
		return nil, fmt.Errorf("timescale: list setpoint writes: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, time, coalesce(schedule_id, 0), device_id, point,
			requested_kw, written_kw, read_back_kw, status, error
		FROM setpoint_writes WHERE $1 = 0 OR schedule_id = $1 ORDER BY time, id`, scheduleID)
	if err != nil {
		return nil, fmt.Errorf("timescale: list setpoint writes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.SetpointWrite, error) {
		var w storage.SetpointWrite
		var status string
		err := r.Scan(&w.ID, &w.Time, &w.ScheduleID, &w.DeviceID, &w.Point,
			&w.RequestedKW, &w.WrittenKW, &w.ReadBackKW, &status, &w.Error)
		w.Time, w.Status = w.Time.UTC(), storage.WriteStatus(status)
		return w, err
	})
	if err != nil {
		return nil, fmt.Errorf("timescale: list setpoint writes: %w", err)
	}
	return out, nil
}

// RecordCycle implements storage.Store. A ScheduleID that does not exist gives ErrNotFound.
func (s *Store) RecordCycle(ctx context.Context, c storage.CycleRun) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, fmt.Errorf("timescale: record cycle: %w", err)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO cycle_runs (started, poll_ms, forecast_ms, solve_ms, write_ms, total_ms,
			devices, stale_devices, solver_status, iterations, schedule_id, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		ts(c.Started), c.PollMS, c.ForecastMS, c.SolveMS, c.WriteMS, c.TotalMS,
		c.Devices, c.StaleDevices, c.SolverStatus, c.Iterations, nullID(c.ScheduleID), c.Error).Scan(&id)
	if pgCode(err) == codeForeignKeyViolation {
		return 0, fmt.Errorf("timescale: record cycle: schedule %d: %w", c.ScheduleID, storage.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("timescale: record cycle: %w", err)
	}
	return id, nil
}

// sqlLimit maps limit 0 (no limit) to NULL, which LIMIT reads as no limit.
func sqlLimit(limit int) *int {
	if limit == 0 {
		return nil
	}
	return &limit
}

// ListCycles implements storage.Store.
func (s *Store) ListCycles(ctx context.Context, limit int) ([]storage.CycleRun, error) {
	if err := storage.ValidateLimit(limit); err != nil {
		return nil, fmt.Errorf("timescale: list cycles: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, started, poll_ms, forecast_ms, solve_ms, write_ms, total_ms,
			devices, stale_devices, solver_status, iterations, coalesce(schedule_id, 0), error
		FROM cycle_runs ORDER BY started DESC, id DESC LIMIT $1`, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("timescale: list cycles: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.CycleRun, error) {
		var c storage.CycleRun
		err := r.Scan(&c.ID, &c.Started, &c.PollMS, &c.ForecastMS, &c.SolveMS, &c.WriteMS, &c.TotalMS,
			&c.Devices, &c.StaleDevices, &c.SolverStatus, &c.Iterations, &c.ScheduleID, &c.Error)
		c.Started = c.Started.UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("timescale: list cycles: %w", err)
	}
	return out, nil
}

// AppendAudit implements storage.Store.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("timescale: append audit: %w", err)
	}
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO audit_events (time, actor, action, subject, detail)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, ts(e.Time), e.Actor, e.Action, e.Subject, e.Detail).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("timescale: append audit: %w", err)
	}
	return id, nil
}

// ListAudit implements storage.Store.
func (s *Store) ListAudit(ctx context.Context, from, to time.Time, limit int) ([]storage.AuditEvent, error) {
	if err := storage.ValidateRange(from, to); err != nil {
		return nil, fmt.Errorf("timescale: list audit: %w", err)
	}
	if err := storage.ValidateLimit(limit); err != nil {
		return nil, fmt.Errorf("timescale: list audit: %w", err)
	}
	return s.queryAudit(ctx, "list audit", `SELECT id, time, actor, action, subject, detail FROM audit_events
		WHERE time >= $1 AND time < $2 ORDER BY time, id LIMIT $3`, ts(from), ts(to), sqlLimit(limit))
}

// queryAudit runs a query of audit events (id, time, actor, action, subject, detail);
// op names it in errors.
func (s *Store) queryAudit(ctx context.Context, op, query string, args ...any) ([]storage.AuditEvent, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("timescale: %s: %w", op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		err := r.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Subject, &e.Detail)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("timescale: %s: %w", op, err)
	}
	return out, nil
}

// ListAuditAll implements storage.Store. A time PostgreSQL holds but Go cannot
// represent (such as 'infinity') is an error: nothing is skipped silently.
func (s *Store) ListAuditAll(ctx context.Context) ([]storage.AuditEvent, error) {
	return s.queryAudit(ctx, "list all audit", `SELECT id, time, actor, action, subject, detail FROM audit_events ORDER BY id`)
}

// UpsertAssets implements storage.Store. The whole batch is stored in one transaction; a later
// entry with the same ID wins.
func (s *Store) UpsertAssets(ctx context.Context, assets []storage.Asset) error {
	if err := storage.ValidateAssets(assets); err != nil {
		return fmt.Errorf("timescale: upsert assets: %w", err)
	}
	if len(assets) == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, a := range assets {
			b.Queue(`INSERT INTO assets (id, kind, node, endpoint, owner, location) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, node = excluded.node, endpoint = excluded.endpoint,
					owner = excluded.owner, location = excluded.location`,
				a.ID, a.Kind, a.Node, a.Endpoint, a.Owner, a.Location)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("timescale: upsert assets: %w", err)
	}
	return nil
}

// ListAssets implements storage.Store.
func (s *Store) ListAssets(ctx context.Context) ([]storage.Asset, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, kind, node, endpoint, owner, location FROM assets ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("timescale: list assets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Asset, error) {
		var a storage.Asset
		err := r.Scan(&a.ID, &a.Kind, &a.Node, &a.Endpoint, &a.Owner, &a.Location)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("timescale: list assets: %w", err)
	}
	return out, nil
}
