package site

import (
	"net"
	"strconv"
	"time"
)

// IEC104 configures gridd as an IEC 60870-5-104 controlled station (server) for the
// dispatch room's SCADA (package iec104, docs/IEC104.md). Without an iec104 section
// no station runs.
type IEC104 struct {
	// Listen is the TCP address, default ":2404".
	Listen string `yaml:"listen"`
	// CommonAddress is the station's ASDU common address (1-65534), default 1.
	CommonAddress int `yaml:"common_address"`
	// Allow lists the masters (IP addresses or CIDR blocks) that may connect; any
	// other is refused at connect. At least one is required.
	Allow []string `yaml:"allow"`
	// LimitHold is how long a limit set by C_SE_NC_1 stands; repeating the command
	// refreshes it. Default 15m, at most 24h.
	LimitHold Duration `yaml:"limit_hold"`
	// AllowPause lets a master pause and resume automation (C_SC_NA_1 IOA 3101).
	AllowPause bool `yaml:"allow_pause"`
	// ClockSync is "accept" or "refuse" (default) for C_CS_NA_1. gridd never sets the
	// host clock: an accepted sync is confirmed and its offset logged and audited.
	ClockSync string `yaml:"clock_sync"`
	// DeadbandKW: a measured value is sent spontaneously when it moves at least this
	// far from the value last sent; default 1 (0 means the default). SoC uses the
	// same figure in %.
	DeadbandKW float64 `yaml:"deadband_kw"`
	// TLSCert and TLSKey (PEM files, both or neither) turn on TLS (IEC 62351-3).
	// TLSClientCA, if set, requires every master to present a certificate it signed.
	// Relative paths are relative to the config file.
	TLSCert     string `yaml:"tls_cert"`
	TLSKey      string `yaml:"tls_key"`
	TLSClientCA string `yaml:"tls_client_ca"`
}

// IEC 104 defaults.
const (
	DefaultIEC104Listen     = ":2404"
	DefaultIEC104LimitHold  = 15 * time.Minute
	DefaultIEC104DeadbandKW = 1.0
	IEC104ClockAccept       = "accept"
	IEC104ClockRefuse       = "refuse"
)

func (c *Config) applyIEC104Defaults() {
	x := c.IEC104
	if x == nil {
		return
	}
	if x.Listen == "" {
		x.Listen = DefaultIEC104Listen
	}
	if x.CommonAddress == 0 {
		x.CommonAddress = 1
	}
	if x.LimitHold.D == 0 {
		x.LimitHold.D = DefaultIEC104LimitHold
	}
	if x.ClockSync == "" {
		x.ClockSync = IEC104ClockRefuse
	}
	if x.DeadbandKW == 0 {
		x.DeadbandKW = DefaultIEC104DeadbandKW
	}
}

func (c *Config) validateIEC104(v *validator) {
	x := c.IEC104
	if x == nil {
		return
	}
	if host, port, err := net.SplitHostPort(x.Listen); err != nil {
		v.add("iec104.listen", x.Listen, "want host:port such as :2404 or 127.0.0.1:2404")
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.add("iec104.listen", x.Listen, "port must be a number from 0 to 65535")
	} else if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		v.add("iec104.listen", x.Listen, "host must be an IP address, localhost or empty (all interfaces)")
	}
	if x.CommonAddress < 1 || x.CommonAddress > 65534 {
		v.add("iec104.common_address", strconv.Itoa(x.CommonAddress), "must be from 1 to 65534 (65535 is the broadcast address)")
	}
	if len(x.Allow) == 0 {
		v.add("iec104.allow", "[]", "list at least one master address or CIDR block; every other master is refused")
	}
	for i, a := range x.Allow {
		if net.ParseIP(a) != nil {
			continue
		}
		if _, _, err := net.ParseCIDR(a); err != nil {
			v.add("iec104.allow["+strconv.Itoa(i)+"]", a, "want an IP address or a CIDR block such as 10.0.0.0/24")
		}
	}
	if x.LimitHold.D < time.Minute || x.LimitHold.D > 24*time.Hour {
		v.add("iec104.limit_hold", x.LimitHold.D.String(), "must be between 1m and 24h")
	}
	if x.ClockSync != IEC104ClockAccept && x.ClockSync != IEC104ClockRefuse {
		v.add("iec104.clock_sync", x.ClockSync, "want accept or refuse")
	}
	if v.finite("iec104.deadband_kw", x.DeadbandKW) && (x.DeadbandKW < 0 || x.DeadbandKW > 1000) {
		v.add("iec104.deadband_kw", fmtF(x.DeadbandKW), "must be in [0, 1000]")
	}
	if (x.TLSCert == "") != (x.TLSKey == "") {
		v.add("iec104.tls_cert", x.TLSCert, "iec104.tls_cert and iec104.tls_key go together (tls_key %q)", x.TLSKey)
	}
	if x.TLSClientCA != "" && x.TLSCert == "" {
		v.add("iec104.tls_client_ca", x.TLSClientCA, "needs iec104.tls_cert and iec104.tls_key")
	}
}
