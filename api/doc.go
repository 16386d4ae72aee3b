// Package api owns gridd's HTTP interface: the JSON API under /api/v1, /healthz and the
// web console embedded in the binary (api/console). It reads through storage.Store and
// acts through dispatch.Service; it holds no state of its own.
//
// Errors are JSON: {"error": "...", "field": "..."} with 400 for a bad payload, 404 for
// an unknown id and 409 for a state conflict (approving a schedule that is no longer
// proposed).
package api
