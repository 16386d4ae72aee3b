// Package dispatch owns the dispatch cycle: poll the field, store telemetry, forecast
// load and PV, build and solve the optimisation scenario, propose a schedule, apply the
// approval policy, and write the approved setpoints of the current step to the devices
// with read-back. Every step is stored; every schedule state change is an audit event.
//
// The cycle is driven by a cron spec (robfig/cron) in real time, or step by step in
// simulated time (RunSimulated) for the demo, replay and tests. All time comes from an
// injected clock.Clock.
//
// dispatch consumes small interfaces (Poller, Writer, Forecaster, Solver) that the
// fieldbus, forecast and optimizer packages satisfy; it imports storage, site and
// clock. Only cmd/gridd and api import dispatch.
package dispatch
