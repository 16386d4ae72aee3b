// Package chaos holds gridd's chaos suite: tests that run the dispatch cycle against the
// Modbus simulator and a real PostgreSQL while devices, the network, the database, the
// clock and the gridd process itself fail, and then prove the invariants gridd promises:
//
//   - no telemetry row is lost or duplicated (rows == polls × points, unique keys);
//   - no setpoint is written twice for the same schedule step, and none outside the
//     device's profile limits and configured ratings;
//   - schedule state stays consistent (at most one approved schedule, no proposal older
//     than the approved one, every state change audited, the audit chain intact).
//
// Two subprocess scenarios (hardening_test.go) attack gridd from outside: an audit row
// forged while gridd is stopped must be refused at restart (safe state, alarm), and
// gridd restore must refuse to replace the store of a running gridd.
//
// The tests live in the package's _test files; ./scripts/chaos runs them with a throwaway
// PostgreSQL and writes the results table (GRIDD_CHAOS_REPORT) that docs/RELIABILITY.md
// shows.
package chaos
