// Package storage owns the system of record: telemetry, forecasts (with issue time),
// schedules and their setpoints, setpoint writes, cycle runs, audit events and the
// asset registry.
//
// Store is the interface every consumer uses. Two backends implement it:
// storage/sqlite (embedded, the default, no server) and storage/timescale
// (PostgreSQL or TimescaleDB through pgx). storage/storetest holds the one
// contract suite both must pass. storage/spool wraps a Store with an on-disk outage spool
// for telemetry and audit events.
//
// The Go logic that does not depend on a SQL dialect lives here once and both backends call
// it: record and argument validation (validate.go), the stored form of a schedule's
// CostBreakdown and Plan (encode.go) and migration file names (migration.go).
//
// storage imports nothing else from gridd.
package storage
