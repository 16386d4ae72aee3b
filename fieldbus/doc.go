// Package fieldbus owns communication with field devices over Modbus (TCP, TLS,
// RTU over TCP, RTU and ASCII over serial lines): endpoints, device profiles (YAML register maps), the codec between registers and engineering values,
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
// # Endpoints
//
// ParseEndpoint reads a device's endpoint: plain host:port is Modbus TCP; the other
// transports take a URL:
//
//	tls://host:802?cert=client.pem&key=client.key&ca=ca.pem   Modbus/TCP Security (also tcp+tls://)
//	rtuovertcp://host:4001                                      RTU framing over TCP (serial gateways)
//	rtu:///dev/ttyUSB0?baud=19200&parity=N                      RTU over a serial line
//	ascii:///dev/ttyUSB0?baud=9600&parity=E&data_bits=7        Modbus ASCII (goburrow/modbus)
//
// TLS requires a client certificate and key and the CA (or pinned server certificate)
// that authenticates the server, as PEM files; relative paths are taken from the
// working directory. Serial lines default to 19200 baud, even parity, 1 stop bit
// (2 with parity N), 8 data bits for RTU and 7 for ASCII. site validation accepts the
// URL forms; CheckSite (gridd config check) checks their parameters and that the TLS
// files load.
//
// # Polling and writing
//
// Conns holds one connection per endpoint (devices behind one gateway or on one
// serial bus share it and are addressed by unit id). PlanReads merges each device's
// points into few requests. Poller.Poll reads every device concurrently, higher
// Device.Priority first, each request bounded by the device's timeout; a device that
// does not answer is reported Stale with its last good values. Poller.PollDue reads
// only the devices whose Device.PollInterval has elapsed on the poller's clock
// (NextDue says when the next one is due). Inside a poll, a device whose connection
// failed is retried after a backoff (Retry, WithRetry: connection errors and BUSY /
// ACKNOWLEDGE exceptions by default, timeouts on request, never past the device's
// interval). A circuit breaker (Breaker, WithBreaker) stops sending requests to a
// device that failed several polls in a row and retries it after a backoff on the
// poller's clock; while open, the device is reported Stale with ErrCircuitOpen at no
// cost to the rest, and one answer closes it again.
// Writer.Write writes only rw points inside their limits, quantises, and reads back.
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
