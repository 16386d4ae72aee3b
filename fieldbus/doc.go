// Package fieldbus is the protocol-neutral core of communication with field devices:
// readings with quality, write results with read-back, the Poller (telemetry: per-device
// intervals, priority, retries with backoff, the circuit breaker) and the Writer
// (setpoints: rw points only, inside the limits, quantised, read back), device profiles
// (YAML point maps), the semantic vocabulary and the codec between registers and
// engineering values, and a registry of protocol drivers keyed by endpoint scheme.
// The Modbus driver (TCP, TLS, RTU over TCP, RTU and ASCII; request planning; SunSpec)
// is fieldbus/modbus, the IEC 60870-5-104 driver for substation RTUs fieldbus/iec104;
// the simulator that serves a whole site lives in fieldbus/sim.
//
// # Drivers
//
// A driver package registers the endpoint schemes it serves from its init function:
//
//	func init() { fieldbus.Register("iec104", Driver{}) } // "" serves plain host:port
//
// and a program links it in with a blank import (gridd: cmd/gridd/drivers.go). A Driver
// checks endpoints (CheckEndpoint, VerifyEndpoint) and opens a device as a Session,
// which reads the device's points in attempts (Read into a ReadAttempt, resumable
// through ReadAttempt.Next) and writes one checked, quantised value and reads it back
// (Write; failures are *WriteError with their stage). Everything else is the core's,
// the same for every protocol. Drivers share per-endpoint resources (a connection
// pool) through Shared; a Poller and a Writer share one set with WithShared. The first
// Register installs CheckEndpoint as site's endpoint check, so site validation, CheckSite
// (gridd config check), the Poller and the Writer all use one list of schemes
// (Schemes).
//
// # Profiles
//
// A profile describes one device model's register map:
//
//	name: bess-generic
//	kind: bess                 # meter | bess | pv | ev_charger | load
//	description: ...
//	byte_order: big            # big (default) | little: byte order inside a register
//	word_order: high_first     # high_first (default) | low_first: register order of 32/64-bit values
//	points:
//	  - name: soc_pct          # semantic name from Vocabulary
//	    register: input        # holding | input | coil | discrete
//	    address: 30            # 0-based protocol address
//	    type: u16              # u16 i16 u32 i32 u64 i64 f32 f64 string; bool for coil/discrete (the default there)
//	    scale: 0.1             # engineering value = raw * scale + offset (defaults 1 and 0)
//	    offset: 0
//	    unit: "%"              # optional; must equal the vocabulary unit of name
//	    access: r              # r (default) | rw (holding and coil only)
//	    min: 0                 # limits in engineering units: required for rw points,
//	    max: 100               # optional plausibility limits otherwise
//	    word_order: low_first  # optional per-point override (byte_order too)
//	    enum: {1: off, 7: fault}  # status words: names of values (integer types) ...
//	    bits: {0: ground_fault}   # ... or of bits (unsigned types); string points take length:
//
// A profile with "protocol: iec104" maps points to an RTU's information objects
// instead (ioa, an IEC 104 type such as M_ME_NC_1, and for rw points command and
// command_ioa; profile_iec104.go, docs/PROFILES.md). A driver that serves one kind of
// profile implements ProfileChecker and CheckSite refuses the other.
//
// Unknown fields, names, types, tables and access modes are errors, as are duplicate
// names, overlapping points in one table, rw on input/discrete, limits that the type
// cannot hold after scale and offset, scale 0 and points that run past address 65535.
// Every error names the file, line, field path and bad value, e.g.
//
//	bess.yaml:12: points[3].type: "u17": unknown data type (want one of u16, ...)
//
// Every value is in the unit of its vocabulary entry, with one sign convention:
// positive power is drawn from the site bus. Builtin profiles (BuiltinProfiles) are
// referenced as "builtin:NAME" in the site config; anything else is a file path
// relative to the config file. RequiredPoints and CheckSite say what each device kind
// needs.
//
// # Codec
//
// Value.Text carries a string point's text (DecodeText, EncodeText) and the name of an
// enum value or of the set bits of a bitfield (Point.Symbol).
//
// Point.Decode and Point.Encode convert between registers and engineering values.
// Decoding NaN/Inf floats, 64-bit integers beyond ±2^53 and values outside a point's
// limits fails (quality bad). Encoding refuses values outside the type's range and
// values that do not survive the round trip within half a scale step; nothing is
// clamped.
//
// # Polling and writing
//
// NewPoller and NewWriter open every device with the driver of its endpoint's scheme.
// Poller.Poll reads every device concurrently, higher
// Device.Priority first, each request bounded by the device's timeout; a device that
// does not answer is reported Stale with its last good values. Poller.PollDue reads
// only the devices whose Device.PollInterval has elapsed on the poller's clock
// (NextDue says when the next one is due). Inside a poll, a device whose connection
// failed is retried after a backoff (Retry, WithRetry: every failure but timeouts by
// default, timeouts (ErrTimeout) on request, never past the device's interval; the
// Modbus driver also retries BUSY / ACKNOWLEDGE exceptions on the same connection
// within that budget). A circuit breaker (Breaker, WithBreaker) stops sending requests to a
// device that failed several polls in a row and retries it after a backoff on the
// poller's clock; while open, the device is reported Stale with ErrCircuitOpen at no
// cost to the rest, and one answer closes it again.
// Writer.Write writes only rw points inside their limits, quantises, and reads back.
package fieldbus
