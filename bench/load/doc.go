// Package load holds gridd's load tests, each a command under this directory, run by
// ./scripts/load (docs/RELIABILITY.md, docs/BENCHMARKS.md):
//
//   - api: an open-loop HTTP load generator for the API of a running gridd (rate,
//     duration, latency percentiles measured from each request's scheduled start, so a
//     stalled server cannot hide its queueing);
//   - devices: polls a large simulated site (served by `gridd sim`) every second with
//     gridd's fieldbus poller for a long time and compares heap and goroutine counts
//     (and pprof heap profiles) at the start and the end.
package load
