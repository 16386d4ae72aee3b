// Package plant is the one model of a site's device physics: batteries, PV plants,
// loads, EV chargers with their sessions, and meters. fieldbus/sim serves it over
// Modbus (`gridd sim`, `gridd demo`) and replay.Field drives it in process (`gridd
// replay`); both integrate it with Plant.Advance, so the same inputs and setpoints
// give the same trajectory in both (TestSimAndReplayAgree in package replay).
//
// Positive power is drawn from the site bus. Energies are in kWh, powers in kW.
//
//   - Battery: power follows the setpoint limited by max_charge_kw and
//     max_discharge_kw, and drops to 0 the moment the stored energy reaches the SoC
//     limit in the setpoint's direction. Stored energy moves by ηc·p·dt while
//     charging and p·dt/ηd while discharging (bess.charge_efficiency and
//     discharge_efficiency; 0 counts as 1).
//   - PV: generation is the available power (never below 0) capped by
//     power_limit_kw; power = −generation.
//   - Load: power = the trace.
//   - EV charger: while a vehicle is plugged in the charger follows its setpoint
//     limited by max_charge_kw and max_discharge_kw; at plug-in the setpoint resets to
//     max_charge_kw (uncontrolled charging) unless one was written at or after the
//     plug-in. The session's energy counts at the charger's meter, as the optimiser
//     counts it (optimizer/doc.go): charging credits p·dt; V2G discharge debits
//     |p|·dt/(ηc·ηd), the charging it takes to put back, with the vehicle's
//     efficiencies from the site's ev section (ev.charge_efficiency,
//     ev.discharge_efficiency). Charging stops when the session has its requested
//     energy; discharge needs max_discharge_kw > 0 and stops when the vehicle's
//     battery has given up v2g_budget_kwh (a session energy of −v2g_budget_kwh/ηc).
//     Power is 0 while unplugged.
//   - Meter: the sum over the devices it measures (its node and the nodes below).
//   - Watchdog: a device with a command watchdog falls back when no command came for
//     that long: a battery to 0 kW, a charger to max_charge_kw, a PV plant to its
//     capacity.
//
// Between events every power is constant or, for loads and PV, linear between the
// knots of its trace. Advance splits an interval at every knot and every event (a
// battery reaching an SoC limit, PV crossing 0 or its cap, a vehicle plugging in or
// out or becoming full or reaching its V2G budget, a watchdog running out) and
// integrates each piece exactly, so the result does not depend on how often it is
// called. Every device accumulates the energy it drew (ImportKWh) and fed in
// (ExportKWh).
package plant
