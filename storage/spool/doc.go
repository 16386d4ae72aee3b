// Package spool owns gridd's outage buffer: Store wraps a storage.Store and, while the
// database cannot be reached, appends telemetry batches and audit events to a bounded
// on-disk spool file under the data directory instead of failing the dispatch cycle.
//
// # Behaviour
//
// A write is validated first; invalid input is rejected exactly as the inner store would
// reject it and is never spooled. While the spool is empty, writes go straight to the inner
// store; if that fails for any reason other than invalid input or the caller's own context
// ending, the record is appended to the spool (fsync'd before the call returns) and the call
// succeeds. While the spool holds records, every new write is appended behind them, so the
// database receives telemetry and audit events in the order they were written. Each write
// first tries to flush the spool (at most once per RetryInterval); Flush and Run flush it
// explicitly. Records are replayed oldest first, and the spool file is truncated once empty.
//
// Reads and all other writes pass through to the inner store. While records are spooled,
// reads do not see them.
//
// # Bounds and alarms
//
// The spool never drops data silently. It holds at most MaxBytes. When a telemetry batch
// would not fit, the write is refused with an error wrapping ErrFull, an error is logged, the
// Full and Refused fields of Stats are set, and one "storage.spool_full" audit event is
// appended to a small reserve kept for audit events. The alarm re-arms once the spool has
// been flushed empty.
//
// # File format and recovery
//
// dir/spool.log holds one record per line: the CRC-32 (IEEE) of the JSON payload in eight
// hex digits, a space, the JSON payload, a newline. dir/spool.offset holds the byte offset of
// the first record not yet flushed. New opens the existing spool and resumes from the offset,
// so records survive a restart of gridd. A torn last line (a crash during an append, before
// the write returned) is cut off; a line that fails its checksum, or a record the inner
// store rejects as invalid, is moved to dir/spool.rejected and logged, not dropped.
//
// Telemetry replay is idempotent (the store merges on time, device and point). An audit event
// whose flush was interrupted by a crash between the database commit and the offset update is
// replayed once more and so may appear twice; it is never lost.
package spool
