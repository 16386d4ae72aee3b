package site

import (
	"fmt"
	"net"
	"strconv"
	"strings"
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
	// Points, when set, replaces the default point table (docs/IEC104.md): the
	// station serves exactly these points at these IOAs.
	Points []IEC104Point `yaml:"points"`
}

// IEC104Point is one entry of a configured point table.
type IEC104Point struct {
	// Point names what is served (IEC104PointNames): a measured value, a single
	// point or a command.
	Point string `yaml:"point"`
	// Of names the node (node_power_kw) or battery (battery_soc_pct,
	// battery_power_kw) the point is about; the other points take none.
	Of string `yaml:"of"`
	// IOA is the information object address, 1 to 16777215 (0 addresses the station).
	IOA int `yaml:"ioa"`
	// Deadband overrides iec104.deadband_kw for this measured value (in its unit).
	Deadband *float64 `yaml:"deadband"`
	// TimeTag: spontaneous sends carry a CP56Time2a (M_ME_TF_1, M_SP_TB_1) when
	// true (the default), none (M_ME_NC_1, M_SP_NA_1) when false.
	TimeTag *bool `yaml:"time_tag"`
}

// Point names of a configured IEC 104 point table.
const (
	IEC104SiteImportKW     = "site_import_kw"
	IEC104PlanImportKW     = "plan_import_kw"
	IEC104PeakTargetKW     = "peak_target_kw"
	IEC104NodePowerKW      = "node_power_kw"
	IEC104BatterySoCPct    = "battery_soc_pct"
	IEC104BatteryPowerKW   = "battery_power_kw"
	IEC104EVChargingKW     = "ev_charging_kw"
	IEC104Automation       = "automation_running"
	IEC104ScheduleInForce  = "schedule_in_force"
	IEC104CommsLost        = "comms_lost"
	IEC104LimitInForce     = "limit_in_force"
	IEC104ImportLimitKW    = "import_limit_kw"
	IEC104ExportLimitKW    = "export_limit_kw"
	IEC104PauseAutomation  = "pause"
	IEC104MaxIOA           = 1<<24 - 1
	iec104PointKindMeasure = "measured"
	iec104PointKindSingle  = "single"
	iec104PointKindCommand = "command"
)

// IEC104PointNames lists the point names a configured table may use, in the order
// of the default table.
var IEC104PointNames = []string{IEC104SiteImportKW, IEC104PlanImportKW, IEC104PeakTargetKW, IEC104NodePowerKW,
	IEC104BatterySoCPct, IEC104BatteryPowerKW, IEC104EVChargingKW, IEC104Automation, IEC104ScheduleInForce,
	IEC104CommsLost, IEC104LimitInForce, IEC104ImportLimitKW, IEC104ExportLimitKW, IEC104PauseAutomation}

// iec104PointKind says what a point name is: a measured value, a single point or a
// command ("" for an unknown name).
func iec104PointKind(name string) string {
	switch name {
	case IEC104SiteImportKW, IEC104PlanImportKW, IEC104PeakTargetKW, IEC104NodePowerKW, IEC104BatterySoCPct,
		IEC104BatteryPowerKW, IEC104EVChargingKW:
		return iec104PointKindMeasure
	case IEC104Automation, IEC104ScheduleInForce, IEC104CommsLost, IEC104LimitInForce:
		return iec104PointKindSingle
	case IEC104ImportLimitKW, IEC104ExportLimitKW, IEC104PauseAutomation:
		return iec104PointKindCommand
	}
	return ""
}

// IEC104PointIsCommand reports whether a point name is a command.
func IEC104PointIsCommand(name string) bool { return iec104PointKind(name) == iec104PointKindCommand }

// IEC104PointIsSingle reports whether a point name is a single point (M_SP_*).
func IEC104PointIsSingle(name string) bool { return iec104PointKind(name) == iec104PointKindSingle }

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
	c.validateIEC104Points(v)
}

// validateIEC104Points checks a configured point table: known names, the node or
// battery each per-node or per-battery point is about, IOAs in range and unique, and
// no point served twice.
func (c *Config) validateIEC104Points(v *validator) {
	nodes := map[string]bool{}
	for _, n := range c.Nodes {
		nodes[n.ID] = true
	}
	batteries := map[string]bool{}
	for _, d := range c.Devices {
		if d.Kind == KindBESS {
			batteries[d.ID] = true
		}
	}
	ioas := map[int]int{}
	served := map[string]int{}
	for i, p := range c.IEC104.Points {
		path := func(f string) string { return fmt.Sprintf("iec104.points[%d].%s", i, f) }
		kind := iec104PointKind(p.Point)
		switch {
		case p.Point == "":
			v.add(path("point"), "", "missing (want one of %s)", strings.Join(IEC104PointNames, ", "))
		case kind == "":
			v.add(path("point"), p.Point, "unknown point (want one of %s)", strings.Join(IEC104PointNames, ", "))
		}
		switch p.Point {
		case IEC104NodePowerKW:
			if !nodes[p.Of] {
				v.add(path("of"), p.Of, "%s needs the id of a node under nodes:", p.Point)
			}
		case IEC104BatterySoCPct, IEC104BatteryPowerKW:
			if !batteries[p.Of] {
				v.add(path("of"), p.Of, "%s needs the id of a bess device under devices:", p.Point)
			}
		default:
			if p.Of != "" && kind != "" {
				v.add(path("of"), p.Of, "%s is about the whole site and takes no of:", p.Point)
			}
		}
		switch {
		case p.IOA < 1 || p.IOA > IEC104MaxIOA:
			v.add(path("ioa"), strconv.Itoa(p.IOA), "must be from 1 to %d (three octets; 0 addresses the station)", IEC104MaxIOA)
		default:
			if j, dup := ioas[p.IOA]; dup {
				v.add(path("ioa"), strconv.Itoa(p.IOA), "already used by iec104.points[%d] (%s)", j, c.IEC104.Points[j].Point)
			} else {
				ioas[p.IOA] = i
			}
		}
		if kind != "" {
			key := p.Point + "/" + p.Of
			if j, dup := served[key]; dup {
				v.add(path("point"), p.Point, "already served by iec104.points[%d] (IOA %d)", j, c.IEC104.Points[j].IOA)
			} else {
				served[key] = i
			}
		}
		if p.Deadband != nil {
			d := *p.Deadband
			switch {
			case kind != "" && kind != iec104PointKindMeasure:
				v.add(path("deadband"), fmtF(d), "only measured values take a deadband")
			case v.finite(path("deadband"), d) && (d < 0 || d > 1000):
				v.add(path("deadband"), fmtF(d), "must be in [0, 1000]")
			}
		}
		if p.TimeTag != nil && kind == iec104PointKindCommand {
			v.add(path("time_tag"), strconv.FormatBool(*p.TimeTag), "a command takes no time tag setting")
		}
	}
}
