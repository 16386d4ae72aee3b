// Package memstore is an in-memory storage.Store for replay: it passes the same
// contract suite (storage/storetest) as the SQLite and TimescaleDB backends, so a
// replay exercises the production dispatch path against a store with the same
// semantics, without the cost of disk I/O per cycle. Prune drops old records so a
// year-long replay runs in bounded memory. Nothing is persisted.
package memstore
