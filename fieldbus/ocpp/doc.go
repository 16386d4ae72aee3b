// Package ocpp is gridd's OCPP driver and central system (CSMS): EV chargers served
// over OCPP 2.0.1 or 1.6J are devices with endpoint ocpp://STATION-ID[/EVSE-ID] and
// kind ev_charger, read and written through the ordinary fieldbus Poller and Writer.
//
// # Server
//
// New and Start run a WebSocket server (the site's ocpp section: listen, default
// :9000; TLS with tls_cert/tls_key = Security Profile 2) that stations reach at
// /ocpp/STATION-ID with subprotocol ocpp2.0.1 or ocpp1.6. gridd owns the WebSocket
// and frame layer (gorilla/websocket) and runs the message stacks of
// lorenzodonini/ocpp-go behind it (ocpp-go's ws.WsServer is implemented per protocol
// by a facade). At the upgrade a station must be in ocpp.stations and present basic
// auth with its id as user and the password whose bcrypt hash is configured
// (Security Profile 1); unknown stations, wrong passwords and unsupported
// subprotocols are refused with HTTP 401 / 400 and an audit event. On a connection,
// a frame over ocpp.max_frame_bytes closes it with 1009, a binary frame with 1003;
// ParseFrame checks every message's envelope and a malformed one gets a CALLERROR
// (id "-1" when its id cannot be read), an action OCPP does not have gets
// NotImplemented, and calls beyond ocpp.calls_per_second (burst twice that; the
// MeterValues gridd triggers do not count) get a CALLERROR, a sustained flood closes
// the connection with 1008. Nothing from a refused frame reaches a station's state.
//
// # Telemetry and sessions
//
// MeterValues (Power.Active.Import minus Export, Energy.Active.Import.Register, SoC;
// totals or the sum of the phases; W/kW/Wh/kWh and multipliers) become the points of
// builtin:ocpp-ev-charger, StatusNotification the plug state and status,
// TransactionEvent (2.0.1) and Start/StopTransaction (1.6) open and close sessions
// (session energy from the transaction's start register), NotifyEVChargingNeeds
// (2.0.1) the departure time and energy request. A poll sends TriggerMessage
// (MeterValues) and waits for the answer within the device's timeout; a station that
// refuses triggers is read from its unprompted MeterValues while they are younger
// than two minutes. A disconnected station does not answer: the Poller reports it
// stale and the safety envelope counts it towards comms loss.
//
// # Setpoints
//
// Write of setpoint_kw sends SetChargingProfile: a TxProfile for the running
// transaction, else a TxDefaultProfile for the EVSE, stack level 1, one period from
// now, in W or (charging_rate_unit A) in A at the configured voltage and phases,
// with validTo = now + ocpp.profile_valid_for (default 30 min, renewed by every
// cycle), or + the device profile's watchdog when it has one (kept alive by the
// real-time layer). It then reads GetCompositeSchedule and returns
// the limit in force as the read-back, which the Writer compares and dispatch stores
// as ok / mismatch / failed like any write. Negative setpoints are refused: OCPP
// 1.6 and 2.0.1 profiles cannot discharge (V2G stays on Modbus chargers). On every
// (re)connect, after BootNotification, gridd sets a station-wide TxDefaultProfile at
// stack level 0 without end at ocpp.safe_limit_kw: what a station applies once
// gridd's own profiles expire.
//
// ocpp-go v0.19.0's 2.0.1 GetCompositeSchedule response type does not follow the
// schema (upstream issue 385): gridd sends that request itself on the same
// connection and reads both the schema's shape and the library's.
//
// Package ocppsim simulates stations for gridd sim, gridd demo and tests.
package ocpp
