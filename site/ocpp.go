package site

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// OCPP configures gridd as the CSMS (central system) its charging stations connect
// to over OCPP 2.0.1 or 1.6J (package fieldbus/ocpp, docs/OCPP.md). A charger device
// refers to a station as endpoint ocpp://STATION-ID or ocpp://STATION-ID/EVSE-ID.
// Without an ocpp section no CSMS runs and ocpp:// devices stay comms-lost.
type OCPP struct {
	// Listen is the WebSocket server's TCP address, default ":9000". Stations
	// connect to ws://HOST:PORT/ocpp/STATION-ID (wss:// with TLS).
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey (PEM files, both or neither) turn on TLS: OCPP Security
	// Profile 2. Without them the server speaks plain WebSocket with basic auth
	// (Security Profile 1). Relative paths are relative to the config file.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// SafeLimitKW is the TxDefaultProfile limit gridd sets on every (re)connect: what
	// a station may draw per EVSE once gridd's own profiles have expired. Default 0.
	SafeLimitKW float64 `yaml:"safe_limit_kw"`
	// MaxFrameBytes bounds one WebSocket message; a larger one closes the connection
	// (1009). Default 65536.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// CallsPerSecond bounds the calls a station may make (burst twice that); calls
	// beyond it get a CALLERROR and a sustained flood closes the connection.
	// Default 10.
	CallsPerSecond float64 `yaml:"calls_per_second"`
	// CallTimeout bounds how long gridd waits for a station's answer. Default 10s.
	CallTimeout Duration `yaml:"call_timeout"`
	// ProfileValidFor is how long a charging profile gridd sends stays valid
	// (validTo) when the device's profile has no watchdog: longer than the cycle,
	// which rewrites every setpoint. Default 30m, from 1m to 24h.
	ProfileValidFor Duration `yaml:"profile_valid_for"`
	// Stations lists the stations allowed to connect; any other id is refused at
	// the upgrade.
	Stations []OCPPStation `yaml:"stations"`
}

// OCPPStation is one charging station allowed to connect.
type OCPPStation struct {
	// ID is the station's identity (the last path segment of its connection URL
	// and its basic-auth user name).
	ID string `yaml:"id"`
	// PasswordHash is the bcrypt hash of the station's basic-auth password
	// (gridd ocpp hash-password prints one).
	PasswordHash string `yaml:"password_hash"`
	// ChargingRateUnit is W (default) or A: the unit of the station's charging
	// profiles. With A, gridd converts kW at VoltageV and Phases.
	ChargingRateUnit string `yaml:"charging_rate_unit"`
	// VoltageV is the phase voltage for A profiles, default 230.
	VoltageV float64 `yaml:"voltage_v"`
	// Phases is the number of phases for A profiles, default 3.
	Phases int `yaml:"phases"`
}

// OCPP defaults.
const (
	DefaultOCPPListen         = ":9000"
	DefaultOCPPMaxFrameBytes  = 64 << 10
	DefaultOCPPCallsPerSecond = 10
	DefaultOCPPCallTimeout    = 10 * time.Second
	DefaultOCPPProfileValid   = 30 * time.Minute
)

// Station returns the configured station with that id.
func (x *OCPP) Station(id string) (OCPPStation, bool) {
	if x == nil {
		return OCPPStation{}, false
	}
	for _, s := range x.Stations {
		if s.ID == id {
			return s, true
		}
	}
	return OCPPStation{}, false
}

func (c *Config) applyOCPPDefaults() {
	x := c.OCPP
	if x == nil {
		return
	}
	if x.Listen == "" {
		x.Listen = DefaultOCPPListen
	}
	if x.MaxFrameBytes == 0 {
		x.MaxFrameBytes = DefaultOCPPMaxFrameBytes
	}
	if x.CallsPerSecond == 0 {
		x.CallsPerSecond = DefaultOCPPCallsPerSecond
	}
	if x.CallTimeout.D == 0 {
		x.CallTimeout.D = DefaultOCPPCallTimeout
	}
	if x.ProfileValidFor.D == 0 {
		x.ProfileValidFor.D = DefaultOCPPProfileValid
	}
	for i := range x.Stations {
		s := &x.Stations[i]
		if s.ChargingRateUnit == "" {
			s.ChargingRateUnit = "W"
		}
		if s.VoltageV == 0 {
			s.VoltageV = 230
		}
		if s.Phases == 0 {
			s.Phases = 3
		}
	}
}

// ValidOCPPStationID reports whether id can name a station: 1 to 48 characters of
// letters, digits, '-', '_' and '.' (no ':' since it is the basic-auth user name,
// no '/' since it is a path segment).
func ValidOCPPStationID(id string) bool {
	if id == "" || len(id) > 48 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// OCPPScheme is the endpoint scheme of chargers served over OCPP.
const OCPPScheme = "ocpp://"

func (c *Config) validateOCPP(v *validator) {
	x := c.OCPP
	for i, d := range c.Devices {
		rest, ok := strings.CutPrefix(d.Endpoint, OCPPScheme)
		if !ok {
			continue
		}
		id, _, _ := strings.Cut(rest, "/")
		p := "devices[" + strconv.Itoa(i) + "].endpoint"
		switch {
		case d.Kind != KindEVCharger:
			v.add(p, d.Endpoint, "OCPP serves ev_charger devices only, not %s", d.Kind)
		case x == nil:
			v.add(p, d.Endpoint, "needs an ocpp section listing station %q", id)
		case ValidOCPPStationID(id):
			if _, ok := x.Station(id); !ok {
				v.add(p, d.Endpoint, "station %q is not in ocpp.stations", id)
			}
		}
	}
	if x == nil {
		return
	}
	if host, port, err := net.SplitHostPort(x.Listen); err != nil {
		v.add("ocpp.listen", x.Listen, "want host:port such as :9000 or 127.0.0.1:9000")
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.add("ocpp.listen", x.Listen, "port must be a number from 0 to 65535")
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		v.add("ocpp.listen", x.Listen, "host must be an IP address, localhost or empty (all interfaces)")
	}
	if (x.TLSCert == "") != (x.TLSKey == "") {
		v.add("ocpp.tls_cert", x.TLSCert, "ocpp.tls_cert and ocpp.tls_key go together (tls_key %q)", x.TLSKey)
	}
	if v.finite("ocpp.safe_limit_kw", x.SafeLimitKW) && (x.SafeLimitKW < 0 || x.SafeLimitKW > 1000) {
		v.add("ocpp.safe_limit_kw", fmtF(x.SafeLimitKW), "must be in [0, 1000]")
	}
	if x.MaxFrameBytes < 1024 || x.MaxFrameBytes > 16<<20 {
		v.add("ocpp.max_frame_bytes", strconv.Itoa(x.MaxFrameBytes), "must be from 1024 to 16777216")
	}
	if v.finite("ocpp.calls_per_second", x.CallsPerSecond) && (x.CallsPerSecond <= 0 || x.CallsPerSecond > 1000) {
		v.add("ocpp.calls_per_second", fmtF(x.CallsPerSecond), "must be in (0, 1000]")
	}
	if x.CallTimeout.D < 100*time.Millisecond || x.CallTimeout.D > 5*time.Minute {
		v.add("ocpp.call_timeout", x.CallTimeout.D.String(), "must be between 100ms and 5m")
	}
	if x.ProfileValidFor.D < time.Minute || x.ProfileValidFor.D > 24*time.Hour {
		v.add("ocpp.profile_valid_for", x.ProfileValidFor.D.String(), "must be between 1m and 24h")
	}
	seen := map[string]bool{}
	for i, s := range x.Stations {
		p := "ocpp.stations[" + strconv.Itoa(i) + "]."
		if !ValidOCPPStationID(s.ID) {
			v.add(p+"id", s.ID, "want 1 to 48 letters, digits, '-', '_' or '.'")
		} else if seen[s.ID] {
			v.add(p+"id", s.ID, "duplicate station id")
		}
		seen[s.ID] = true
		if !validBcrypt(s.PasswordHash) {
			v.add(p+"password_hash", redactHash(s.PasswordHash), "want a bcrypt hash ($2a$/$2b$/$2y$, 60 characters; gridd ocpp hash-password makes one)")
		}
		switch s.ChargingRateUnit {
		case "W", "A":
		default:
			v.add(p+"charging_rate_unit", s.ChargingRateUnit, "want W or A")
		}
		if v.finite(p+"voltage_v", s.VoltageV) && (s.VoltageV < 100 || s.VoltageV > 1000) {
			v.add(p+"voltage_v", fmtF(s.VoltageV), "must be in [100, 1000]")
		}
		if s.Phases < 1 || s.Phases > 3 {
			v.add(p+"phases", strconv.Itoa(s.Phases), "must be 1, 2 or 3")
		}
	}
}

func validBcrypt(h string) bool {
	if len(h) != 60 {
		return false
	}
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

// redactHash keeps a bad password_hash out of error messages beyond its first
// characters (it may be a plain password pasted by mistake).
func redactHash(h string) string {
	if len(h) <= 4 {
		return strings.Repeat("*", len(h))
	}
	return h[:4] + "…"
}
