// Package sqlite owns the embedded storage backend: a storage.Store on one SQLite file
// (dir/gridd.db) through the pure-Go modernc.org/sqlite driver, with no server to run.
//
// The database runs in WAL mode (synchronous=FULL) with a busy timeout and foreign keys on;
// write transactions take the write lock at BEGIN, so several connections and processes may
// share the file.
// The schema lives in embedded, versioned migrations (migrations/NNNN_name.sql) recorded in
// the schema_migrations table; Open applies the pending ones, each in its own transaction.
//
// Times are stored as INTEGER unix microseconds (UTC) in columns with a _us suffix and read
// back as UTC time.Time; finer parts are truncated (storage.TimePrecision). Power is in kW
// (_kw columns), durations in milliseconds (_ms columns). The cost breakdown is a JSON object
// in TEXT, the plan a BLOB. The telemetry_latest table holds the newest sample of every
// (device_id, point) and is maintained with each telemetry write. audit_events is
// append-only: triggers reject UPDATE and DELETE.
package sqlite
