// Package timescale owns the PostgreSQL/TimescaleDB storage backend: a storage.Store on a
// pgx v5 connection pool.
//
// # Migrations
//
// The schema lives in embedded, versioned migrations (migrations/NNNN_name.sql) recorded in
// the schema_migrations table (version, name, applied_at). Open and Migrate apply the pending
// ones, each in its own transaction, while holding a pg_advisory_lock, so several processes
// may start at once. A version may come as two alternatives, NNNN_plain.sql and
// NNNN_timescale.sql: if the timescaledb extension is installed or can be created (it is
// listed in pg_available_extensions), the timescale one is applied, otherwise the plain one.
// Open logs which layout the database uses; Store.Hypertables reports it. A database laid out
// plain stays plain when TimescaleDB is installed later.
//
// With TimescaleDB, telemetry (1-day chunks), forecasts (on valid_at), setpoint_writes and
// cycle_runs (7-day chunks) are hypertables. Without it they are plain tables with a BRIN
// index on their time column.
//
// Migration 0003 adds plain views for dashboards (telemetry_5m, telemetry_1h, schedule_costs,
// cycle_runs_1h); docs/DATA.md documents the schema, the views and example queries.
//
// Migration 0004 makes telemetry's primary key a covering index (INCLUDE (value, quality)),
// so reads of one series over a time range (TelemetryRange, TelemetryBuckets, the telemetry
// views) are index-only scans instead of one heap page per sample, and has autovacuum vacuum
// telemetry (every chunk, on a hypertable) after every 10 000 inserted rows, which keeps the
// visibility map those scans rely on set.
//
// # Features by license
//
// After migrating, OpenWith reads SHOW timescaledb.license and enables each TimescaleDB
// feature only where the license allows it (Features, decided by the license alone): on the
// community edition ("timescale") telemetry compression with a policy, real-time continuous
// aggregates replacing the telemetry_5m, telemetry_1h and cycle_runs_1h views (same names and
// columns) with refresh policies, and retention policies when Options.Retention is set. On the
// Apache-2 edition ("apache") and on plain PostgreSQL the views stay plain views, nothing is
// compressed, and retention is gridd's own job (Store.EnforceRetention every
// Options.RetentionEvery: drop_chunks on hypertables, DELETE on plain tables). The setup runs
// under the migration lock, and the log says which path was chosen for each feature.
//
// # Site leases
//
// AcquireLease takes a site's lease: a session-level advisory lock (key LeaseKey(site)) on a
// connection of its own, with short server-side TCP keep-alives so a vanished owner is noticed.
// It tries once and fails with ErrLeaseHeld while another session owns the site; a standby
// calls it every cycle. The owner calls Lease.Check every cycle and stops acting for the site on
// ErrLeaseLost.
//
// # Writes
//
// Telemetry and forecasts are copied (COPY) into a per-connection temporary staging table
// and merged with INSERT ... ON CONFLICT ... DO UPDATE in one transaction, so a retried batch
// replaces rather than duplicates. A batch aborted by a deadlock is retried.
//
// # Schema
//
// Times are timestamptz (microsecond precision; gridd reads them back in UTC). Power is in
// kW (_kw columns), durations in milliseconds (_ms columns). Text is compared byte-wise
// (COLLATE "C") wherever order is part of the contract.
//
//	telemetry           one value per (time, device_id, point); primary key (device_id, point, time)
//	                    INCLUDE (value, quality)
//	  time              timestamptz       sample time
//	  device_id         text              device ID from the site configuration
//	  point             text              semantic point name with unit, e.g. active_power_kw
//	  value             double precision  value in the point's unit; power: positive = drawn from the site bus
//	  quality           text              good | stale | bad
//
//	telemetry_latest    newest row of telemetry per (device_id, point); same columns
//
//	forecasts           unique (series, quantile, valid_at, issued_at)
//	  issued_at         timestamptz       when the forecast was made
//	  valid_at          timestamptz       the time the value is for
//	  series            text              e.g. load:building-1, pv:roof
//	  quantile          double precision  0..1; 0.5 is the median
//	  value             double precision  in the series' unit (kW for load and PV)
//	  method            text              forecasting method
//
//	schedules           one optimised dispatch plan
//	  id                bigint identity
//	  created_at        timestamptz
//	  start_time        timestamptz       start of step 0
//	  step_minutes      integer           step length
//	  steps             integer           number of steps
//	  status            text              proposed | approved | rejected | expired | superseded
//	  input_hash        text              hash of the optimiser inputs
//	  objective         double precision  optimiser objective value
//	  cost_breakdown    jsonb             object: cost term -> value; NULL when empty
//	  solver_status     text
//	  approver          text              who decided, e.g. user:alice, policy:auto
//	  decided_at        timestamptz       NULL while proposed
//	  reason            text
//	  plan              bytea             full optimiser output (JSON bytes); NULL when empty
//
//	schedule_setpoints  primary key (schedule_id, step, device_id)
//	  schedule_id       bigint            references schedules (on delete cascade)
//	  step              integer           0 .. steps-1
//	  device_id         text
//	  time              timestamptz       start of the step
//	  power_kw          double precision  planned power; positive = drawn from the site bus
//
//	setpoint_writes     one setpoint sent to a device; primary key (id, time)
//	  id                bigint identity
//	  time              timestamptz
//	  schedule_id       bigint            references schedules; NULL for none
//	  device_id, point  text
//	  requested_kw      double precision
//	  written_kw        double precision
//	  read_back_kw      double precision
//	  status            text              ok | mismatch | failed
//	  error             text
//
//	cycle_runs          one dispatch cycle; primary key (id, started)
//	  id                bigint identity
//	  started           timestamptz       cycle time
//	  poll_ms, forecast_ms, solve_ms, write_ms, total_ms   double precision
//	  devices           integer           devices polled
//	  stale_devices     integer           devices that did not answer
//	  solver_status     text
//	  iterations        integer           solver iterations
//	  schedule_id       bigint            references schedules; NULL for none
//	  error             text
//
//	audit_events        append-only (a trigger rejects UPDATE, DELETE and TRUNCATE)
//	  id                bigint identity
//	  time              timestamptz
//	  actor             text              user:alice, policy:auto, system
//	  action            text              e.g. schedule.approve
//	  subject           text              e.g. schedule:12
//	  detail            text
//
//	assets              the asset registry
//	  id                text primary key
//	  kind, node, endpoint, owner, location   text
package timescale
