// Package scengen generates reproducible optimisation scenarios
// (optimizer.Scenario) of any size from the real open data in gridd's
// data/ (see data/ATTRIBUTION.md): building loads from the
// Cambridge estates archive, PV from the Konstanz CoSSMic house, import
// prices from Octopus Agile, and EV sessions from the Trondheim housing
// cooperative. `gridd scenario gen` and the optimizer benchmarks use it.
//
// The same Params (seed included) and data always give the same scenario.
// What is drawn from the seed: the day, which building and PV scaling each
// feeder gets, which real EV sessions are replayed and where, and the
// battery sizes. See Generate for the construction.
package scengen
