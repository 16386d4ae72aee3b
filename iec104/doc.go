// Package iec104 is gridd's IEC 60870-5-104 controlled station (server) for the
// dispatch room's SCADA: it shows the site's measured values and states (general
// interrogation and spontaneous sends on a deadband) and takes the grid operator's
// import and export limits (C_SE_NC_1, through dispatch.Service.SetLimit), pause and
// resume (C_SC_NA_1) and clock sync (C_CS_NA_1) as the site config allows. Masters
// not on the allow-list are refused at connect; TLS (IEC 62351-3) is optional; every
// command is audited with the master's address and answered with a positive or
// negative confirmation.
//
// The APCI/ASDU subset and the link layer (package iec104/apdu: U, S and I frames;
// the ASDU header with two-octet cause and common address and three-octet IOAs; the
// sequence numbers, windows and timers) are implemented without a dependency, shared
// with the RTU driver fieldbus/iec104 and the simulator, and fuzzed.
// The point table (the default, or iec104.points from the site config) is in
// docs/IEC104.md.
package iec104
