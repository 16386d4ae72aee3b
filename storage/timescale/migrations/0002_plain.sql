-- Time layout without TimescaleDB: plain tables with BRIN indexes on their time column.
CREATE INDEX telemetry_time_brin ON telemetry USING brin (time);
CREATE INDEX forecasts_valid_at_brin ON forecasts USING brin (valid_at);
CREATE INDEX setpoint_writes_time_brin ON setpoint_writes USING brin (time);
CREATE INDEX cycle_runs_started_brin ON cycle_runs USING brin (started);
