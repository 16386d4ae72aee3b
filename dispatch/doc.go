// Package dispatch owns the dispatch cycle and the schedule workflow: poll the field,
// store telemetry, forecast load and PV, build and solve the optimisation scenario,
// propose a schedule, apply the approval policy, and write the setpoints of the current
// step through the safety envelope (package safety) to the devices with read-back.
// Every step is stored; every state change is a hash-chained audit event (dispatch/audit).
// Every proposal records the hashes of the site config and of each device's profile in
// force (ConfigHashes, HashConfig, HashProfile) in its plan and its schedule.propose event.
//
// Schedule lifecycle: a schedule is proposed, then approved (by a person or by the
// auto-approve policy), rejected, expired (its approval deadline or horizon passed) or
// superseded (by a newer proposal, or by a newer approval). The policy compares a
// proposal with the schedule in force: cost increase and largest setpoint change within
// the configured bounds, no setpoint outside a device's limits, solver optimal, kill
// switch released. Its verdict is stored with the plan. The approved schedule stays in
// force while it covers the current step; after that the site's safe state applies
// (hold or zero). A pin fixes one battery or charger at a power for a period and
// re-solves at once: a pinned battery stays in the optimisation with its power fixed
// over the pin (its SoC carried through, planned as usual after it); a pinned charger
// is a fixed load over the pin and out of the optimisation. The proposal is compared
// with the plan before the pin (pinned plan vs unpinned plan). Explain gives each schedule's cost against the previous one, prices
// and binding constraints per step, and reason texts per asset.
//
// The scenario (BuildScenario) prices a demand charge as the utility bills it: the
// peak so far is the billing period's highest closed demand-interval mean of net
// import at the root meter (site.PointImportAvgKW samples, else the means of the polls
// per interval), a billing period that begins inside the horizon is charged on its own
// (optimizer.Grid.PeakPeriodStarts), and each step keeps a margin for forecast error under the plan's
// peak target (tariff.peak_margin_factor × √Σ of the loads' P90−P50 and the PV's
// P50−P10 squared); with tariff.expected_peak a kW above the peak so far costs what
// it is expected to (peakCostSteps: the demand charge × the chance that the days left would not reach
// it anyway, from the last four weeks' daily peaks). A battery's lower SoC bound is the higher of min_soc_pct and its
// reserve; sessions carry the site's V2G wear and vehicle losses (SessionCosts).
//
// What is written per device, in order: the comms-loss action of a lost device
// (hold, last safe value or zero), a manual override lease, the schedule in force,
// the safe state. The envelope clamps each value (ratings, configured min/max, ramp,
// SoC guard bands, reserve interlock); a clamp is stored as the write's requested vs
// written value and audited as safety.clamp. The site kill switch stops automated
// writes and auto-approval. A write whose read-back does not match raises an alarm
// (device.write_mismatch); repeated mismatches turn the device's comms state to
// not_following. A schedule shaped by a propose-only pin (a planner's) is never
// auto-approved.
//
// Forecasts: each load and PV device by the Forecaster (default forecast.Auto: a
// model chosen once per series and day, updated every cycle by the latest
// measurement), given its stored history (as much as the forecaster asks for), the
// site's hourly weather (weather.file at start, SetWeather from the API; held in
// memory; a feed must cover the horizon) and, for PV on a site with latitude and
// longitude, the array for the clear-sky model. Forecasts are floored at 0 and
// refused if not finite.
//
// Charging operators report sessions (ReportSession), which feed the next cycle, and
// follow setpoint writes with Subscribe. The kill switch, overrides, pins and sessions
// live in memory and are rebuilt from the audit log by RestoreState at start, from
// exactly the events the hash chain is verified over; a chain that does not verify
// restores nothing and starts with the kill switch engaged (audit.chain_broken).
//
// While the scenario is solved, the cycle stores its forecasts and encodes the scenario
// (the schedule's input hash) on other goroutines, and it encodes the plan while the
// approval policy runs: a Solver must not modify the scenario, nor the policy the plan.
//
// The cycle is driven by a cron spec (robfig/cron, parsed by site.ParseCycle) in real time, or step by step in
// simulated time (RunSimulated) for the demo, replay and tests. All time comes from an
// injected clock.Clock.
//
// dispatch consumes small interfaces (Poller, Writer, Forecaster, Solver) that the
// fieldbus, forecast and optimizer packages satisfy; it imports safety, storage, site
// and clock. Only cmd/gridd, api and replay import dispatch.
package dispatch
