-- Time layout with TimescaleDB: the time-series tables become hypertables.
SELECT create_hypertable('telemetry', 'time', chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('forecasts', 'valid_at', chunk_time_interval => INTERVAL '7 days', if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('setpoint_writes', 'time', chunk_time_interval => INTERVAL '7 days', if_not_exists => TRUE, migrate_data => TRUE);
SELECT create_hypertable('cycle_runs', 'started', chunk_time_interval => INTERVAL '7 days', if_not_exists => TRUE, migrate_data => TRUE,
    create_default_indexes => FALSE);
