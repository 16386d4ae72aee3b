package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gridd/gridd/storage"
)

// WriteTelemetry implements storage.Store. The whole batch is stored in one transaction.
func (s *Store) WriteTelemetry(ctx context.Context, samples []storage.Sample) error {
	if err := storage.ValidateSamples(samples); err != nil {
		return fmt.Errorf("sqlite: write telemetry: %w", err)
	}
	if len(samples) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO telemetry (device_id, point, time_us, value, quality)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (device_id, point, time_us) DO UPDATE SET value = excluded.value, quality = excluded.quality`)
		if err != nil {
			return err
		}
		defer ins.Close()
		latest, err := tx.PrepareContext(ctx, `INSERT INTO telemetry_latest (device_id, point, time_us, value, quality)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (device_id, point) DO UPDATE
			SET time_us = excluded.time_us, value = excluded.value, quality = excluded.quality
			WHERE excluded.time_us >= telemetry_latest.time_us`)
		if err != nil {
			return err
		}
		defer latest.Close()
		for _, x := range samples {
			args := []any{x.DeviceID, x.Point, toUS(x.Time), x.Value, string(x.Quality)}
			if _, err := ins.ExecContext(ctx, args...); err != nil {
				return err
			}
			if _, err := latest.ExecContext(ctx, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: write telemetry: %w", err)
	}
	return nil
}

func scanSamples(rows *sql.Rows) ([]storage.Sample, error) {
	defer rows.Close()
	var out []storage.Sample
	for rows.Next() {
		var x storage.Sample
		var us int64
		var q string
		if err := rows.Scan(&x.DeviceID, &x.Point, &us, &x.Value, &q); err != nil {
			return nil, err
		}
		x.Time, x.Quality = fromUS(us), storage.Quality(q)
		out = append(out, x)
	}
	return out, rows.Err()
}

// LatestTelemetry implements storage.Store.
func (s *Store) LatestTelemetry(ctx context.Context, deviceID string) ([]storage.Sample, error) {
	if err := storage.ValidateFilter("deviceID", deviceID); err != nil {
		return nil, fmt.Errorf("sqlite: latest telemetry: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT device_id, point, time_us, value, quality FROM telemetry_latest
		WHERE ? = '' OR device_id = ? ORDER BY device_id, point`, deviceID, deviceID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest telemetry: %w", err)
	}
	out, err := scanSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: latest telemetry: %w", err)
	}
	return out, nil
}

// TelemetryRange implements storage.Store.
func (s *Store) TelemetryRange(ctx context.Context, deviceID, point string, from, to time.Time) ([]storage.Sample, error) {
	if err := storage.ValidateTelemetryQuery(deviceID, point, from, to); err != nil {
		return nil, fmt.Errorf("sqlite: telemetry range: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT device_id, point, time_us, value, quality FROM telemetry
		WHERE device_id = ? AND point = ? AND time_us >= ? AND time_us < ? ORDER BY time_us`,
		deviceID, point, toUS(from), toUS(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: telemetry range: %w", err)
	}
	out, err := scanSamples(rows)
	if err != nil {
		return nil, fmt.Errorf("sqlite: telemetry range: %w", err)
	}
	return out, nil
}

// TelemetryBuckets implements storage.Store.
func (s *Store) TelemetryBuckets(ctx context.Context, deviceID, point string, from, to time.Time, width time.Duration) ([]storage.Bucket, error) {
	if err := storage.ValidateBucketQuery(deviceID, point, from, to, width); err != nil {
		return nil, fmt.Errorf("sqlite: telemetry buckets: %w", err)
	}
	w := width.Microseconds()
	// Floor division, also before 1970: time_us - (time_us mod w) with a non-negative mod.
	rows, err := s.db.QueryContext(ctx, `SELECT time_us - ((time_us % ?1) + ?1) % ?1 AS bucket,
			avg(value), min(value), max(value), count(*)
		FROM telemetry
		WHERE device_id = ?2 AND point = ?3 AND time_us >= ?4 AND time_us < ?5 AND quality = 'good'
		GROUP BY bucket ORDER BY bucket`,
		w, deviceID, point, toUS(from), toUS(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: telemetry buckets: %w", err)
	}
	defer rows.Close()
	var out []storage.Bucket
	for rows.Next() {
		var b storage.Bucket
		var us int64
		if err := rows.Scan(&us, &b.Mean, &b.Min, &b.Max, &b.Count); err != nil {
			return nil, fmt.Errorf("sqlite: telemetry buckets: %w", err)
		}
		b.Time = fromUS(us)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: telemetry buckets: %w", err)
	}
	return out, nil
}

// CountTelemetry implements storage.Store.
func (s *Store) CountTelemetry(ctx context.Context, deviceID string) (int64, error) {
	if err := storage.ValidateFilter("deviceID", deviceID); err != nil {
		return 0, fmt.Errorf("sqlite: count telemetry: %w", err)
	}
	var n int64
	var err error
	if deviceID == "" {
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM telemetry`).Scan(&n)
	} else {
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM telemetry WHERE device_id = ?`, deviceID).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: count telemetry: %w", err)
	}
	return n, nil
}

// WriteForecasts implements storage.Store. The whole batch is stored in one transaction.
func (s *Store) WriteForecasts(ctx context.Context, points []storage.ForecastPoint) error {
	if err := storage.ValidateForecasts(points); err != nil {
		return fmt.Errorf("sqlite: write forecasts: %w", err)
	}
	if len(points) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO forecasts (series, quantile, valid_at_us, issued_at_us, value, method)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (series, quantile, valid_at_us, issued_at_us) DO UPDATE SET value = excluded.value, method = excluded.method`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, p := range points {
			if _, err := ins.ExecContext(ctx, p.Series, p.Quantile, toUS(p.ValidAt), toUS(p.IssuedAt), p.Value, p.Method); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: write forecasts: %w", err)
	}
	return nil
}

// ForecastAsOf implements storage.Store.
func (s *Store) ForecastAsOf(ctx context.Context, series string, quantile float64, asOf, from, to time.Time) ([]storage.ForecastPoint, error) {
	if err := storage.ValidateForecastQuery(series, quantile, asOf, from, to); err != nil {
		return nil, fmt.Errorf("sqlite: forecast as of: %w", err)
	}
	// For each valid_at, the newest issue at or before asOf. With max() as the only aggregate,
	// SQLite takes the bare columns (value, method) from the row holding the maximum.
	rows, err := s.db.QueryContext(ctx, `SELECT max(issued_at_us), valid_at_us, value, method FROM forecasts
		WHERE series = ? AND quantile = ? AND issued_at_us <= ? AND valid_at_us >= ? AND valid_at_us < ?
		GROUP BY valid_at_us ORDER BY valid_at_us`,
		series, quantile, toUS(asOf), toUS(from), toUS(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: forecast as of: %w", err)
	}
	defer rows.Close()
	var out []storage.ForecastPoint
	for rows.Next() {
		p := storage.ForecastPoint{Series: series, Quantile: quantile}
		var issued, valid int64
		if err := rows.Scan(&issued, &valid, &p.Value, &p.Method); err != nil {
			return nil, fmt.Errorf("sqlite: forecast as of: %w", err)
		}
		p.IssuedAt, p.ValidAt = fromUS(issued), fromUS(valid)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: forecast as of: %w", err)
	}
	return out, nil
}

func encodeBreakdown(m map[string]float64) (sql.NullString, error) {
	b, err := storage.EncodeCostBreakdown(m)
	return sql.NullString{String: b, Valid: b != ""}, err
}

func decodeBreakdown(v sql.NullString) (map[string]float64, error) {
	if !v.Valid {
		return nil, nil
	}
	return storage.DecodeCostBreakdown([]byte(v.String))
}

// InsertSchedule implements storage.Store. s.ID is ignored; the new ID is returned.
func (s *Store) InsertSchedule(ctx context.Context, sc *storage.Schedule) (int64, error) {
	if err := sc.Validate(); err != nil {
		return 0, fmt.Errorf("sqlite: insert schedule: %w", err)
	}
	breakdown, err := encodeBreakdown(sc.CostBreakdown)
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert schedule: %w", err)
	}
	var id int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO schedules (created_at_us, start_us, step_minutes, steps, status,
				input_hash, objective, cost_breakdown, solver_status, approver, decided_at_us, reason, plan)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			toUS(sc.CreatedAt), toUS(sc.Start), sc.StepMinutes, sc.Steps, string(sc.Status),
			sc.InputHash, sc.Objective, breakdown, sc.SolverStatus, sc.Approver, nullUS(sc.DecidedAt), sc.Reason, storage.NilIfEmpty(sc.Plan))
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		if len(sc.Setpoints) == 0 {
			return nil
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO schedule_setpoints (schedule_id, step, device_id, time_us, power_kw)
			VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, sp := range sc.Setpoints {
			if _, err := ins.ExecContext(ctx, id, sp.Step, sp.DeviceID, toUS(sp.Time), sp.PowerKW); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: insert schedule: %w", err)
	}
	return id, nil
}

const scheduleColumns = `id, created_at_us, start_us, step_minutes, steps, status, input_hash, objective,
	cost_breakdown, solver_status, approver, decided_at_us, reason`

type rowScanner interface{ Scan(dest ...any) error }

// scanSchedule scans scheduleColumns plus the extra destinations.
func scanSchedule(r rowScanner, extra ...any) (storage.Schedule, error) {
	var sc storage.Schedule
	var created, start int64
	var status string
	var breakdown sql.NullString
	var decided sql.NullInt64
	dest := append([]any{&sc.ID, &created, &start, &sc.StepMinutes, &sc.Steps, &status, &sc.InputHash, &sc.Objective,
		&breakdown, &sc.SolverStatus, &sc.Approver, &decided, &sc.Reason}, extra...)
	if err := r.Scan(dest...); err != nil {
		return sc, err
	}
	sc.CreatedAt, sc.Start, sc.DecidedAt = fromUS(created), fromUS(start), fromNullUS(decided)
	sc.Status = storage.ScheduleStatus(status)
	m, err := decodeBreakdown(breakdown)
	if err != nil {
		return sc, fmt.Errorf("schedule %d: %w", sc.ID, err)
	}
	sc.CostBreakdown = m
	return sc, nil
}

// GetSchedule implements storage.Store.
func (s *Store) GetSchedule(ctx context.Context, id int64) (*storage.Schedule, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite: get schedule %d: %w", id, err)
	}
	defer tx.Rollback()
	var plan []byte
	sc, err := scanSchedule(tx.QueryRowContext(ctx, `SELECT `+scheduleColumns+`, plan FROM schedules WHERE id = ?`, id), &plan)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: get schedule %d: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: get schedule %d: %w", id, err)
	}
	sc.Plan = storage.NilIfEmpty(plan)
	rows, err := tx.QueryContext(ctx, `SELECT device_id, step, time_us, power_kw FROM schedule_setpoints
		WHERE schedule_id = ? ORDER BY step, device_id`, id)
	if err != nil {
		return nil, fmt.Errorf("sqlite: get schedule %d: setpoints: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var sp storage.ScheduleSetpoint
		var us int64
		if err := rows.Scan(&sp.DeviceID, &sp.Step, &us, &sp.PowerKW); err != nil {
			return nil, fmt.Errorf("sqlite: get schedule %d: setpoints: %w", id, err)
		}
		sp.Time = fromUS(us)
		sc.Setpoints = append(sc.Setpoints, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: get schedule %d: setpoints: %w", id, err)
	}
	return &sc, nil
}

// ListSchedules implements storage.Store.
func (s *Store) ListSchedules(ctx context.Context, from, to time.Time, status storage.ScheduleStatus) ([]storage.Schedule, error) {
	if err := storage.ValidateRange(from, to); err != nil {
		return nil, fmt.Errorf("sqlite: list schedules: %w", err)
	}
	if err := storage.ValidateStatusFilter(status); err != nil {
		return nil, fmt.Errorf("sqlite: list schedules: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM schedules
		WHERE created_at_us >= ? AND created_at_us < ? AND (? = '' OR status = ?)
		ORDER BY created_at_us DESC, id DESC`, toUS(from), toUS(to), string(status), string(status))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list schedules: %w", err)
	}
	defer rows.Close()
	var out []storage.Schedule
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list schedules: %w", err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list schedules: %w", err)
	}
	return out, nil
}

// SetScheduleStatus implements storage.Store. It sets Status, Approver (actor), Reason and DecidedAt (at).
func (s *Store) SetScheduleStatus(ctx context.Context, id int64, from, to storage.ScheduleStatus, actor, reason string, at time.Time) error {
	if err := storage.ValidateStatusChange(id, from, to, actor, reason, at); err != nil {
		return fmt.Errorf("sqlite: set schedule %d status: %w", id, err)
	}
	keep := storage.KeepsDecision(from, to)
	res, err := s.db.ExecContext(ctx, `UPDATE schedules SET status = ?,
			approver = CASE WHEN ? THEN approver ELSE ? END, reason = CASE WHEN ? THEN reason ELSE ? END,
			decided_at_us = CASE WHEN ? THEN decided_at_us ELSE ? END
		WHERE id = ? AND status = ?`, string(to), keep, actor, keep, reason, keep, toUS(at), id, string(from))
	if err != nil {
		return fmt.Errorf("sqlite: set schedule %d status: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: set schedule %d status: %w", id, err)
	}
	if n == 1 {
		return nil
	}
	var cur string
	err = s.db.QueryRowContext(ctx, `SELECT status FROM schedules WHERE id = ?`, id).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: set schedule %d status: %w", id, storage.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlite: set schedule %d status: %w", id, err)
	}
	return fmt.Errorf("sqlite: set schedule %d status to %s: it is %s, not %s: %w", id, to, cur, from, storage.ErrConflict)
}

// RecordSetpointWrite implements storage.Store. A ScheduleID that does not exist gives ErrNotFound.
func (s *Store) RecordSetpointWrite(ctx context.Context, w storage.SetpointWrite) (int64, error) {
	if err := w.Validate(); err != nil {
		return 0, fmt.Errorf("sqlite: record setpoint write: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO setpoint_writes (time_us, schedule_id, device_id, point,
			requested_kw, written_kw, read_back_kw, status, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		toUS(w.Time), nullID(w.ScheduleID), w.DeviceID, w.Point, w.RequestedKW, w.WrittenKW, w.ReadBackKW, string(w.Status), w.Error)
	if isForeignKeyViolation(err) {
		return 0, fmt.Errorf("sqlite: record setpoint write: schedule %d: %w", w.ScheduleID, storage.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: record setpoint write: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("sqlite: record setpoint write: %w", err)
	}
	return id, nil
}

// ListSetpointWrites implements storage.Store.
func (s *Store) ListSetpointWrites(ctx context.Context, scheduleID int64) ([]storage.SetpointWrite, error) {
	if err := storage.ValidateScheduleFilter(scheduleID); err != nil {
		return nil, fmt.Errorf("sqlite: list setpoint writes: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, time_us, coalesce(schedule_id, 0), device_id, point,
			requested_kw, written_kw, read_back_kw, status, error
		FROM setpoint_writes WHERE ? = 0 OR schedule_id = ? ORDER BY time_us, id`, scheduleID, scheduleID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list setpoint writes: %w", err)
	}
	defer rows.Close()
	var out []storage.SetpointWrite
	for rows.Next() {
		var w storage.SetpointWrite
		var us int64
		var status string
		if err := rows.Scan(&w.ID, &us, &w.ScheduleID, &w.DeviceID, &w.Point,
			&w.RequestedKW, &w.WrittenKW, &w.ReadBackKW, &status, &w.Error); err != nil {
			return nil, fmt.Errorf("sqlite: list setpoint writes: %w", err)
		}
		w.Time, w.Status = fromUS(us), storage.WriteStatus(status)
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list setpoint writes: %w", err)
	}
	return out, nil
}

// RecordCycle implements storage.Store. A ScheduleID that does not exist gives ErrNotFound.
func (s *Store) RecordCycle(ctx context.Context, c storage.CycleRun) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, fmt.Errorf("sqlite: record cycle: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO cycle_runs (started_us, poll_ms, forecast_ms, solve_ms, write_ms, total_ms,
			devices, stale_devices, solver_status, iterations, schedule_id, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		toUS(c.Started), c.PollMS, c.ForecastMS, c.SolveMS, c.WriteMS, c.TotalMS,
		c.Devices, c.StaleDevices, c.SolverStatus, c.Iterations, nullID(c.ScheduleID), c.Error)
	if isForeignKeyViolation(err) {
		return 0, fmt.Errorf("sqlite: record cycle: schedule %d: %w", c.ScheduleID, storage.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: record cycle: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("sqlite: record cycle: %w", err)
	}
	return id, nil
}

// sqlLimit maps limit 0 (no limit) to SQLite's "no limit" (-1).
func sqlLimit(limit int) int {
	if limit == 0 {
		return -1
	}
	return limit
}

// ListCycles implements storage.Store.
func (s *Store) ListCycles(ctx context.Context, limit int) ([]storage.CycleRun, error) {
	if err := storage.ValidateLimit(limit); err != nil {
		return nil, fmt.Errorf("sqlite: list cycles: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, started_us, poll_ms, forecast_ms, solve_ms, write_ms, total_ms,
			devices, stale_devices, solver_status, iterations, coalesce(schedule_id, 0), error
		FROM cycle_runs ORDER BY started_us DESC, id DESC LIMIT ?`, sqlLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: list cycles: %w", err)
	}
	defer rows.Close()
	var out []storage.CycleRun
	for rows.Next() {
		var c storage.CycleRun
		var us int64
		if err := rows.Scan(&c.ID, &us, &c.PollMS, &c.ForecastMS, &c.SolveMS, &c.WriteMS, &c.TotalMS,
			&c.Devices, &c.StaleDevices, &c.SolverStatus, &c.Iterations, &c.ScheduleID, &c.Error); err != nil {
			return nil, fmt.Errorf("sqlite: list cycles: %w", err)
		}
		c.Started = fromUS(us)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list cycles: %w", err)
	}
	return out, nil
}

// AppendAudit implements storage.Store.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("sqlite: append audit: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit_events (time_us, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`,
		toUS(e.Time), e.Actor, e.Action, e.Subject, e.Detail)
	if err != nil {
		return 0, fmt.Errorf("sqlite: append audit: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("sqlite: append audit: %w", err)
	}
	return id, nil
}

// ListAudit implements storage.Store.
func (s *Store) ListAudit(ctx context.Context, from, to time.Time, limit int) ([]storage.AuditEvent, error) {
	if err := storage.ValidateRange(from, to); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	if err := storage.ValidateLimit(limit); err != nil {
		return nil, fmt.Errorf("sqlite: list audit: %w", err)
	}
	return s.queryAudit(ctx, "list audit", `SELECT id, time_us, actor, action, subject, detail FROM audit_events
		WHERE time_us >= ? AND time_us < ? ORDER BY time_us, id LIMIT ?`, toUS(from), toUS(to), sqlLimit(limit))
}

// queryAudit runs a query of audit events (id, time_us, actor, action, subject,
// detail); op names it in errors.
func (s *Store) queryAudit(ctx context.Context, op, query string, args ...any) ([]storage.AuditEvent, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		var us int64
		if err := rows.Scan(&e.ID, &us, &e.Actor, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: %s: %w", op, err)
		}
		e.Time = fromUS(us)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return out, nil
}

// ListAuditAll implements storage.Store.
func (s *Store) ListAuditAll(ctx context.Context) ([]storage.AuditEvent, error) {
	return s.queryAudit(ctx, "list all audit", `SELECT id, time_us, actor, action, subject, detail FROM audit_events ORDER BY id`)
}

// UpsertAssets implements storage.Store. The whole batch is stored in one transaction; a later
// entry with the same ID wins.
func (s *Store) UpsertAssets(ctx context.Context, assets []storage.Asset) error {
	if err := storage.ValidateAssets(assets); err != nil {
		return fmt.Errorf("sqlite: upsert assets: %w", err)
	}
	if len(assets) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO assets (id, kind, node, endpoint, owner, location)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, node = excluded.node, endpoint = excluded.endpoint,
				owner = excluded.owner, location = excluded.location`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, a := range assets {
			if _, err := ins.ExecContext(ctx, a.ID, a.Kind, a.Node, a.Endpoint, a.Owner, a.Location); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: upsert assets: %w", err)
	}
	return nil
}

// ListAssets implements storage.Store.
func (s *Store) ListAssets(ctx context.Context) ([]storage.Asset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, kind, node, endpoint, owner, location FROM assets ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list assets: %w", err)
	}
	defer rows.Close()
	var out []storage.Asset
	for rows.Next() {
		var a storage.Asset
		if err := rows.Scan(&a.ID, &a.Kind, &a.Node, &a.Endpoint, &a.Owner, &a.Location); err != nil {
			return nil, fmt.Errorf("sqlite: list assets: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list assets: %w", err)
	}
	return out, nil
}

// inTx runs fn in a write transaction and commits it if fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
