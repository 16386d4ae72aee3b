// Package control is the arithmetic of gridd's real-time layer: given what the meters
// measure now and what the plan intends for the step in force, it corrects the
// controllable assets' setpoints so that every node limit, the grid limits, external
// limits and the plan's peak target hold, using battery and EV charging headroom (and
// PV curtailment against export), and keeps each battery inside the energy it may use
// until the next correction. Limits are hard: every kW of flexibility serves them. The
// peak target is economic: it never costs a vehicle the energy it needs by its
// departure (Asset.MinChargeKW).
//
// It does no I/O and keeps no state: dispatch polls, calls Correct every
// control interval, and writes the result through the safety envelope with read-back.
package control
