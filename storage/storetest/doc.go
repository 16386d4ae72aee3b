// Package storetest owns the storage contract suite: Run checks that a storage.Store
// backend meets every promise of the interface (idempotent telemetry, latest-per-point,
// [from, to) ranges, epoch-aligned time buckets, forecast as-of semantics, schedule round trips and compare-and-set,
// setpoint writes, cycles, the audit log, the asset registry, input validation and
// microsecond time precision), and Bench measures the hot paths. Each backend's tests call
// both with a function that opens a fresh, empty store.
package storetest
