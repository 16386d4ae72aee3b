// Package sim is a site simulator: it serves every device of a site config over
// Modbus TCP (or RTU over TCP, or Modbus/TCP Security after SetTLS, as the device's
// endpoint says), or as a substation RTU over IEC 60870-5-104 for iec104:// (and,
// after SetTLS, iec104+tls://) endpoints (rtu104.go), on the device's endpoint, using the same profiles and codec as the
// poller, with simple physics. `gridd sim` and the demo run it; tests use it as the
// real device on the other end of the wire.
//
// Devices that share an endpoint are served by one server and told apart by unit id;
// an unknown unit id gets a GATEWAY TARGET DEVICE FAILED TO RESPOND exception. A read
// that touches no point of the profile gets ILLEGAL DATA ADDRESS; unmapped registers
// inside a read that does touch points read 0. A write must cover whole rw points
// (else ILLEGAL DATA ADDRESS) with values inside the profile limits (else ILLEGAL DATA
// VALUE).
//
// # Physics
//
// The devices' physics is package plant, the one model the replay field drives too
// (see plant's doc for the equations). State is evaluated lazily: on every request,
// write and State call the simulator integrates the plant from the last update to
// clk.Now() with the setpoints that were in force, split at every hour (series
// knots) and every event (a battery reaching an SoC limit, PV crossing 0 or its cap,
// a session plugging in or out, a vehicle full or at its V2G budget, a watchdog
// running out). Each piece is integrated exactly, so an accelerated run on clock.Sim
// gives the same result however often it is polled. In short:
//
//   - bess: power follows setpoint_kw limited by bess.max_charge_kw/max_discharge_kw;
//     SoC integrates with charge/discharge efficiency and power drops to 0 the moment
//     SoC reaches min_soc_pct or max_soc_pct. Initial SoC is sim.initial_soc_pct
//     (0 means 50). Zero efficiencies count as 1.
//   - pv: generation = the series (never below 0) capped by power_limit_kw (initially
//     pv.capacity_kw); active_power_kw = -generation.
//   - load: active_power_kw = the series.
//   - ev_charger: replays one user's sessions. While plugged in, connected = 1,
//     session_energy_request_kwh is the session's energy and session_departure_unix its
//     plug-out time. The setpoint resets to ev_charger.max_charge_kw at plug-in
//     (uncontrolled charging until dispatch writes one); power = min(setpoint,
//     max_charge_kw) until the requested energy is delivered. Negative setpoints
//     discharge (V2G) only if ev_charger.max_discharge_kw > 0. session_energy_kwh
//     counts at the charger's meter as the optimiser does: charging adds its energy,
//     V2G takes 1/(ηc·ηd) times its energy (the vehicles' ev.charge_efficiency and
//     ev.discharge_efficiency), down to -v2g_budget_kwh/ηc, where the vehicle's
//     battery has given up v2g_budget_kwh. Power is 0 while unplugged; session energy
//     restarts at every plug-in.
//   - meter: active_power_kw = sum over every non-meter device on the meter's node and
//     the nodes below it (a root meter reads grid import); reactive power 0.1 × active;
//     voltage 400 V and frequency 50 Hz with a tiny deterministic wobble.
//   - every device integrates its own energy_import_kwh and energy_export_kwh.
//   - a profile's command watchdog: with no write for that long a battery falls back
//     to 0 kW, a charger to max_charge_kw and a PV plant to its capacity.
//
// # Series
//
// device.sim.series selects what drives a pv, load or ev_charger device (scaled by
// sim.scale, default 1):
//
//	cambridge:b9 cambridge:b57 cambridge:b36 cambridge:b40   building load, kW
//	konstanz:load                                            household load, kW
//	konstanz:pv     PV per unit of the year's peak × pv.capacity_kw (default for pv)
//	trondheim       EV sessions of user sim.user (default for ev_charger)
//	file:PATH       column sim.column of an hourly CSV (PATH relative to the config)
//
// A load without a series uses konstanz:load. Sim time t maps to the same day of year
// and time of day (UTC) in the series' year; values label the start of their hour and
// are interpolated linearly, blanks from their neighbours, wrapping at the year's end.
// EV sessions keep their length and move to the same day of year and time of day in
// the simulated year. A charger without sim.user replays the k-th most active user
// (k-th such charger in config order), skipping users other chargers name.
//
// # Faults
//
// SetFault injects per-device faults at run time: FaultNoAnswer, FaultSlow,
// FaultException, FaultGarbage and FaultIgnoreWrites; FaultNone clears. ParseFaults
// reads the same as text ("pv=no-answer,load=slow:250ms,bess=exception", what
// `gridd sim --faults` takes) and ApplyFaults sets it; a slow fault may carry its own
// delay.
//
// # Framing
//
// simonvetter/modbus serves Modbus TCP and TLS. ServeRTU and ServeASCII serve any
// modbus.RequestHandler (a Registers, say) with RTU or ASCII framing over a byte
// stream, such as the master side of a pseudo-terminal standing in for a serial line;
// ListenRTUOverTCP does RTU over TCP. ServeRegisters and ServeRegistersTLS serve a
// fixed register image (SunSpec maps, benchmarks).
package sim
