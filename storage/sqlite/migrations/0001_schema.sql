-- Initial schema. Times are INTEGER unix microseconds (UTC), named with a _us suffix.

CREATE TABLE telemetry (
    device_id TEXT    NOT NULL,
    point     TEXT    NOT NULL,
    time_us   INTEGER NOT NULL,
    value     REAL    NOT NULL,
    quality   TEXT    NOT NULL CHECK (quality IN ('good', 'stale', 'bad')),
    PRIMARY KEY (device_id, point, time_us)
) STRICT, WITHOUT ROWID;

-- Newest sample of every (device_id, point), maintained on every telemetry write.
CREATE TABLE telemetry_latest (
    device_id TEXT    NOT NULL,
    point     TEXT    NOT NULL,
    time_us   INTEGER NOT NULL,
    value     REAL    NOT NULL,
    quality   TEXT    NOT NULL CHECK (quality IN ('good', 'stale', 'bad')),
    PRIMARY KEY (device_id, point)
) STRICT, WITHOUT ROWID;

CREATE TABLE forecasts (
    series       TEXT    NOT NULL,
    quantile     REAL    NOT NULL CHECK (quantile >= 0 AND quantile <= 1),
    valid_at_us  INTEGER NOT NULL,
    issued_at_us INTEGER NOT NULL,
    value        REAL    NOT NULL,
    method       TEXT    NOT NULL,
    PRIMARY KEY (series, quantile, valid_at_us, issued_at_us)
) STRICT, WITHOUT ROWID;

CREATE TABLE schedules (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at_us  INTEGER NOT NULL,
    start_us       INTEGER NOT NULL,
    step_minutes   INTEGER NOT NULL CHECK (step_minutes > 0),
    steps          INTEGER NOT NULL CHECK (steps > 0),
    status         TEXT    NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'expired', 'superseded')),
    input_hash     TEXT    NOT NULL,
    objective      REAL    NOT NULL,
    cost_breakdown TEXT,              -- JSON object: cost term -> value; NULL when empty
    solver_status  TEXT    NOT NULL,
    approver       TEXT    NOT NULL,
    decided_at_us  INTEGER,           -- NULL while proposed
    reason         TEXT    NOT NULL,
    plan           BLOB               -- optimiser output (JSON bytes); NULL when empty
) STRICT;
CREATE INDEX schedules_created_idx ON schedules (created_at_us, id);
CREATE INDEX schedules_status_created_idx ON schedules (status, created_at_us, id);

CREATE TABLE schedule_setpoints (
    schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    step        INTEGER NOT NULL CHECK (step >= 0),
    device_id   TEXT    NOT NULL,
    time_us     INTEGER NOT NULL,
    power_kw    REAL    NOT NULL,
    PRIMARY KEY (schedule_id, step, device_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE setpoint_writes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us      INTEGER NOT NULL,
    schedule_id  INTEGER REFERENCES schedules (id), -- NULL when the write belongs to no schedule
    device_id    TEXT    NOT NULL,
    point        TEXT    NOT NULL,
    requested_kw REAL    NOT NULL,
    written_kw   REAL    NOT NULL,
    read_back_kw REAL    NOT NULL,
    status       TEXT    NOT NULL CHECK (status IN ('ok', 'mismatch', 'failed')),
    error        TEXT    NOT NULL
) STRICT;
CREATE INDEX setpoint_writes_time_idx ON setpoint_writes (time_us, id);
CREATE INDEX setpoint_writes_schedule_idx ON setpoint_writes (schedule_id, time_us, id);

CREATE TABLE cycle_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    started_us    INTEGER NOT NULL,
    poll_ms       REAL    NOT NULL,
    forecast_ms   REAL    NOT NULL,
    solve_ms      REAL    NOT NULL,
    write_ms      REAL    NOT NULL,
    total_ms      REAL    NOT NULL,
    devices       INTEGER NOT NULL,
    stale_devices INTEGER NOT NULL,
    solver_status TEXT    NOT NULL,
    iterations    INTEGER NOT NULL,
    schedule_id   INTEGER REFERENCES schedules (id), -- NULL when the cycle made no schedule
    error         TEXT    NOT NULL
) STRICT;
CREATE INDEX cycle_runs_started_idx ON cycle_runs (started_us, id);

CREATE TABLE audit_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    time_us INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    detail  TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_events_time_idx ON audit_events (time_us, id);

-- The audit log is append-only.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TABLE assets (
    id       TEXT NOT NULL PRIMARY KEY,
    kind     TEXT NOT NULL,
    node     TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    owner    TEXT NOT NULL,
    location TEXT NOT NULL
) STRICT, WITHOUT ROWID;
