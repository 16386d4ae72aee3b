// Package fieldbus owns communication with field devices over Modbus TCP: device
// profiles (YAML register maps), the codec between registers and engineering values,
// request planning, the Poller (telemetry) and the Writer (setpoints with read-back).
// The simulator that serves a whole site lives in fieldbus/sim.
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
//	    type: u16              # u16 i16 u32 i32 u64 i64 f32 f64; bool for coil/discrete (the default there)
//	    scale: 0.1             # engineering value = raw * scale + offset (defaults 1 and 0)
//	    offset: 0
//	    unit: "%"              # optional; must equal the vocabulary unit of name
//	    access: r              # r (default) | rw (holding and coil only)
//	    min: 0                 # limits in engineering units: required for rw points,
//	    max: 100               # optional plausibility limits otherwise
//	    word_order: low_first  # optional per-point override (byte_order too)
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
// Point.Decode and Point.Encode convert between registers and engineering values.
// Decoding NaN/Inf floats, 64-bit integers beyond ±2^53 and values outside a point's
// limits fails (quality bad). Encoding refuses values outside the type's range and
// values that do not survive the round trip within half a scale step; nothing is
// clamped.
//
// # Polling and writing
//
// Conns holds one TCP connection per endpoint (devices behind one gateway share it and
// are addressed by unit id). PlanReads merges each device's points into few requests.
// Poller.Poll reads every device concurrently, each request bounded by the device's
// timeout; a device that does not answer is reported Stale with its last good values.
// Writer.Write writes only rw points inside their limits, quantises, and reads back.
// A circuit breaker (Breaker, WithBreaker) stops sending requests to a device that
// failed several polls in a row and retries it after a backoff on the poller's clock;
// while open, the device is reported Stale with ErrCircuitOpen at no cost to the rest.
//
// # SunSpec
//
// DiscoverSunSpec finds the "SunS" marker at holding register 40000, 50000 or 0,
// walks the model chain and decodes the models in SunSpecModels (common 1, inverters
// 101-103, storage 124, meters 201-204) with their scale factors; other models are
// listed and skipped. ProbeSunSpec does that over Modbus TCP (`gridd probe`), and
// SunSpecDevice.Semantic maps the result to vocabulary names. EncodeSunSpec lays out
// a map for the simulator (sim.ServeRegisters).
package fieldbus
