// Package safety owns the safety envelope: the layer between a dispatch plan and the
// fieldbus writer that decides what may actually be written to a device.
//
// For every controllable device the Envelope holds its limits (min/max kW from the
// ratings or the site config, a ramp limit, SoC guard bands and a discharge reserve for
// batteries) and its live state (last value written and read back, measured SoC,
// comms state). Limit turns a requested setpoint into a Decision: the value to write,
// whether it was clamped and why. Interlocks (no discharge at or below the reserve or
// inside the guard band) win over the ramp limit. A site kill switch pauses automated
// writes; manual overrides are leases that expire. Each device runs a comms-loss state
// machine (online → suspect → lost → online) whose lost action is hold, last safe value
// or zero, by device class. A safe action — the device's zero written as the
// comms-loss action or as the safe state — is exempt from the ramp limit (never from
// the static limits or the interlocks): stopping a device must always be writable.
//
// Guard wraps a writer and refuses any value outside the envelope, so nothing reaches a
// device outside it even if a caller skips Limit.
//
// safety imports site and fieldbus (for the writer's result type); callers pass the
// time in (it keeps no clock of its own).
package safety
