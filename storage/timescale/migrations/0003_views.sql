-- Views for dispatchers and dashboards. They are plain views on both plain PostgreSQL and
-- TimescaleDB, so the same queries work on either; filter them on device_id and point.
-- Buckets are aligned to the Unix epoch, like Store.TelemetryBuckets, and count good samples only.

CREATE VIEW telemetry_5m AS
SELECT date_bin(interval '5 minutes', time, timestamptz '1970-01-01 00:00:00+00') AS bucket,
       device_id, point,
       avg(value) AS mean, min(value) AS min, max(value) AS max, count(*) AS samples
FROM telemetry
WHERE quality = 'good'
GROUP BY 1, 2, 3;

CREATE VIEW telemetry_1h AS
SELECT date_bin(interval '1 hour', time, timestamptz '1970-01-01 00:00:00+00') AS bucket,
       device_id, point,
       avg(value) AS mean, min(value) AS min, max(value) AS max, count(*) AS samples
FROM telemetry
WHERE quality = 'good'
GROUP BY 1, 2, 3;

-- One row per schedule and cost term.
CREATE VIEW schedule_costs AS
SELECT s.id AS schedule_id, s.created_at, s.start_time, s.status, s.approver,
       c.key AS term, c.value::double precision AS value
FROM schedules s, jsonb_each_text(s.cost_breakdown) AS c;

-- Cycle health per hour: how long cycles took and how many devices did not answer.
CREATE VIEW cycle_runs_1h AS
SELECT date_bin(interval '1 hour', started, timestamptz '1970-01-01 00:00:00+00') AS bucket,
       count(*) AS cycles,
       count(*) FILTER (WHERE error <> '') AS failed_cycles,
       avg(total_ms) AS mean_total_ms, max(total_ms) AS max_total_ms,
       max(stale_devices) AS max_stale_devices
FROM cycle_runs
GROUP BY 1;
