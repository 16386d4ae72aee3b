// Package iec104 is the fieldbus driver for substation RTUs and other IEC
// 60870-5-104 controlled stations: gridd is the controlling station (client).
//
// Endpoints:
//
//	iec104://host:port                          (port defaults to 2404)
//	iec104+tls://host:port?ca=A&cert=C&key=K    TLS (IEC 62351-3): ca authenticates the
//	                                            RTU; cert and key (together, optional)
//	                                            are gridd's client certificate
//
// Devices at one endpoint share one connection and are told apart by their ASDU
// common address, the device's unit_id. Their profiles are protocol iec104 profiles
// (docs/PROFILES.md): each point names the IOA and type of its monitored value and,
// if it is rw, the IOA and type of the command that sets it.
//
// The connection is made on the first read or write and kept: STARTDT, then a
// general interrogation of every common address in use; spontaneous, periodic and
// interrogated values are kept as the latest per IOA, and a read serves them (no
// request goes to the RTU). A value with IV, NT or OV set, of another type than the
// profile names, or never received, is bad. When the link is lost every read fails
// until it is back (the poller reports the device stale; between connection attempts
// at once, so a dead RTU does not hold up a control tick) and the driver reconnects
// with a backoff from 0.5 s doubling to 30 s, interrogating again.
//
// A write sends the point's command (act, direct execute) and waits for its
// positive ACTCON (a negative one fails the write); the read-back is the monitored
// value, once the RTU reports it within half a step of the command or, at the
// device's timeout, whatever it reports then.
//
// The APCI/ASDU codec and link layer are package iec104/apdu, shared with gridd's
// controlled station (package iec104) and the simulator's RTUs.
package iec104
