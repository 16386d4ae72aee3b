// Package replay owns closed-loop backtests and what-if studies: it runs the
// production dispatch cycle (dispatch.Service.RunCycle: poll, store, forecast,
// optimise, propose, approve, write with read-back) in simulated time over a past
// period, with the devices driven by recorded actuals, and scores the outcome.
//
// # Field
//
// Field is an in-process site that satisfies dispatch.Poller and dispatch.Writer
// over package plant, the device physics fieldbus/sim serves (battery SoC with
// efficiencies and SoC limits, PV capped by power_limit_kw, EV sessions that plug in
// at their recorded time, charge uncontrolled at full power until dispatch writes a
// setpoint, stop when the recorded energy is delivered, and pay V2G's round trip
// with the vehicles' losses), integrated in whole steps, each exactly (split at
// every sample of the recorded traces and every event). Polls return instantaneous
// values at the clock's time, as the simulator's registers do; the per-step records
// hold step means. TestSimAndReplayAgree checks that the simulator and the field
// follow the same trajectory for the same data and setpoints.
//
// # History
//
// LoadHistory reads a directory: DEVICE_ID.csv per load or PV plant (recorded power,
// used at its own timestamps) and ev_sessions.csv, else the bundled series a device's
// sim section names, mapped by day of year onto the replayed period as fieldbus/sim
// does. HistoryFromStore reads what a running site recorded. Both refuse a period the
// data does not cover. Before the first cycle the recorded load and PV of the
// forecast.AutoHistory before the period are written to the store, so forecasts
// see what production would have seen and nothing later.
//
// # Strategies
//
// optimize uses optimizer.Solve on dispatch's forecast scenario (production).
// baseline and rule replace only the solver: batteries idle, or a peak-shaving and
// self-consumption rule; EVs at full power on arrival. hindsight solves the whole
// period with the actual load, PV and EV sessions in day-long windows with a day of
// look-ahead, chained by battery SoC, delivered EV energy and the peak so far (with
// a demand charge, the billed peak searched over the whole period), and hands
// dispatch that plan. Its EV plan is what the field can execute: the minutes
// after a plug-in inside a step at full power, the minutes before a plug-out inside a
// step at the setpoint that delivers what is still missing, and setpoints at the
// 0.1 kW resolution dispatch writes, rounded so that by the end of every step the
// vehicle has at least the energy the LP planned. Every strategy runs through the same cycle, store and
// field, so the KPIs compare like with like.
//
// # Speed
//
// The forecaster is production's (forecast.Auto): it fits once per series and day
// and updates every cycle, reading only the day's telemetry after the fit.
// Options.SkipForecastBand leaves the forecasts' P10/P90 band out (no strategy or
// KPI uses it; the report is the same). Options.ForecastEvery computes each
// forecast only every N cycles (the cycles between take theirs from it, without
// the nowcast of the latest measurement), so its median differs from production's.
//
// # Reports
//
// Result.WriteReport writes kpis.json, steps.csv, report.html and the plots as SVG;
// the same inputs give byte-identical files. Compare puts several reports side by
// side and derives the cost of forecast error (optimize minus hindsight).
//
// # Hooks
//
// Options.Hooks lets a caller take part in every cycle without changing it: wrap
// the strategy's solver, receive the site's dispatch service, and act after each
// RunCycle before the real-time layer's ticks. Package replay/dreplay runs a
// district's sites in lock-step through them (the district's caps for a cycle are
// fixed in the solver hook and put in force as an external limit after it).
//
// replay imports dispatch, optimizer, forecast, storage, site and clock; only
// cmd/gridd, bench/replay and replay/dreplay import it. Subpackage memstore is
// the in-memory store a replay uses by default.
package replay
