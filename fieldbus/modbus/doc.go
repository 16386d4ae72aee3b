// Package modbus is the fieldbus driver for Modbus: endpoints and transports (TCP,
// TLS, RTU over TCP, RTU and ASCII over serial lines), a connection pool (Conns),
// request planning (PlanReads), exception names (ExceptionError) and SunSpec
// discovery. It registers the schemes "" (plain host:port), tcp, tls, tcp+tls,
// rtuovertcp, rtu and ascii with fieldbus.Register in its init function; programs
// link it in with a blank import. Devices are then polled and written through the
// protocol-neutral fieldbus.Poller and fieldbus.Writer, which own retries, the
// circuit breaker, quality and the write checks.
//
// # Reading and writing
//
// Conns holds one connection per endpoint (devices behind one gateway or on one
// serial bus share it and are addressed by unit id; a Poller and a Writer share a
// pool with WithConns). Open plans a device's reads once (PlanReads merges the
// profile's points into few requests; WithPlanOptions tunes it). A read is resumed
// where a failed attempt stopped; SERVER DEVICE BUSY and ACKNOWLEDGE are retried on
// the same connection within the poller's retry budget; any other exception makes
// the points of that request bad and the rest of the device is still read. Timeouts
// match both ErrTimeout and fieldbus.ErrTimeout. A write encodes the value into the
// point's registers (holding: one or several registers; coil), writes it and reads
// the same registers back.
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
// (2 with parity N), 8 data bits for RTU and 7 for ASCII. site validation checks the
// syntax and parameters through the registry (Driver.CheckEndpoint);
// fieldbus.CheckSite (gridd config check) also checks that the TLS files load
// (Driver.VerifyEndpoint).
//
// # SunSpec
//
// DiscoverSunSpec finds the "SunS" marker at holding register 40000, 50000 or 0,
// walks the model chain and decodes the models in SunSpecModels (common 1, inverters
// 101-103, storage 124, meters 201-204) with their scale factors; other models are
// listed and skipped. ProbeSunSpec does that over Modbus TCP (`gridd probe`), and
// SunSpecDevice.Semantic maps the result to vocabulary names. EncodeSunSpec lays out
// a map for the simulator (sim.ServeRegisters).
package modbus
