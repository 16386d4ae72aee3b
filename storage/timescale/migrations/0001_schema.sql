-- Initial schema. Times are timestamptz (microsecond precision), power in kW, durations in ms.

CREATE TABLE telemetry (
    time      timestamptz      NOT NULL,
    device_id text             NOT NULL,
    point     text             NOT NULL,
    value     double precision NOT NULL,
    quality   text             NOT NULL CHECK (quality IN ('good', 'stale', 'bad')),
    PRIMARY KEY (device_id, point, time)
);

-- Newest sample of every (device_id, point), maintained on every telemetry write.
CREATE TABLE telemetry_latest (
    device_id text             NOT NULL,
    point     text             NOT NULL,
    time      timestamptz      NOT NULL,
    value     double precision NOT NULL,
    quality   text             NOT NULL CHECK (quality IN ('good', 'stale', 'bad')),
    PRIMARY KEY (device_id, point)
);

CREATE TABLE forecasts (
    issued_at timestamptz      NOT NULL,
    valid_at  timestamptz      NOT NULL,
    series    text             NOT NULL,
    quantile  double precision NOT NULL CHECK (quantile >= 0 AND quantile <= 1),
    value     double precision NOT NULL,
    method    text             NOT NULL,
    CONSTRAINT forecasts_key UNIQUE (series, quantile, valid_at, issued_at)
);

CREATE TABLE schedules (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at     timestamptz      NOT NULL,
    start_time     timestamptz      NOT NULL,
    step_minutes   integer          NOT NULL CHECK (step_minutes > 0),
    steps          integer          NOT NULL CHECK (steps > 0),
    status         text             NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'expired', 'superseded')),
    input_hash     text             NOT NULL,
    objective      double precision NOT NULL,
    cost_breakdown jsonb            CHECK (jsonb_typeof(cost_breakdown) = 'object'),
    solver_status  text             NOT NULL,
    approver       text             NOT NULL,
    decided_at     timestamptz,
    reason         text             NOT NULL,
    plan           bytea
);
CREATE INDEX schedules_created_idx ON schedules (created_at, id);
CREATE INDEX schedules_status_created_idx ON schedules (status, created_at, id);

CREATE TABLE schedule_setpoints (
    schedule_id bigint           NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    step        integer          NOT NULL CHECK (step >= 0),
    device_id   text             NOT NULL,
    time        timestamptz      NOT NULL,
    power_kw    double precision NOT NULL,
    PRIMARY KEY (schedule_id, step, device_id)
);

CREATE TABLE setpoint_writes (
    id           bigint GENERATED ALWAYS AS IDENTITY,
    time         timestamptz      NOT NULL,
    schedule_id  bigint           REFERENCES schedules (id),
    device_id    text             NOT NULL,
    point        text             NOT NULL,
    requested_kw double precision NOT NULL,
    written_kw   double precision NOT NULL,
    read_back_kw double precision NOT NULL,
    status       text             NOT NULL CHECK (status IN ('ok', 'mismatch', 'failed')),
    error        text             NOT NULL,
    PRIMARY KEY (id, time)
);
CREATE INDEX setpoint_writes_schedule_idx ON setpoint_writes (schedule_id, time, id);

CREATE TABLE cycle_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY,
    started       timestamptz      NOT NULL,
    poll_ms       double precision NOT NULL,
    forecast_ms   double precision NOT NULL,
    solve_ms      double precision NOT NULL,
    write_ms      double precision NOT NULL,
    total_ms      double precision NOT NULL,
    devices       integer          NOT NULL,
    stale_devices integer          NOT NULL,
    solver_status text             NOT NULL,
    iterations    integer          NOT NULL,
    schedule_id   bigint           REFERENCES schedules (id),
    error         text             NOT NULL,
    PRIMARY KEY (id, started)
);
CREATE INDEX cycle_runs_started_idx ON cycle_runs (started DESC, id DESC);

CREATE TABLE audit_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time    timestamptz NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL,
    detail  text        NOT NULL
);
CREATE INDEX audit_events_time_idx ON audit_events (time, id);

-- The audit log is append-only.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE assets (
    id       text PRIMARY KEY,
    kind     text NOT NULL,
    node     text NOT NULL,
    endpoint text NOT NULL,
    owner    text NOT NULL,
    location text NOT NULL
);
