package iec104

import (
	"context"
	"math"
	"time"

	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// Information object addresses of the default point table (docs/IEC104.md).
const (
	IOASiteImportKW  = 1001 // site net import at the root meter, kW (export negative)
	IOAPlanImportKW  = 1002 // the plan's import for the step in force, kW
	IOAPeakTargetKW  = 1003 // the plan's peak target, kW
	IOANodeBase      = 1100 // + n: power of node n (1-based, config order), kW
	IOABatterySoC    = 1200 // + n: SoC of battery n (1-based, config order), %
	IOABatteryPower  = 1300 // + n: power of battery n, kW
	IOAEVChargingKW  = 1400 // total EV charging power, kW
	IOAAutomation    = 2001 // automation running (kill switch released)
	IOAScheduleInUse = 2002 // an approved schedule in force
	IOACommsLost     = 2003 // any device comms-lost
	IOALimitInForce  = 2004 // an external limit in force
	IOAImportLimit   = 3001 // C_SE_NC_1: site import limit, kW
	IOAExportLimit   = 3002 // C_SE_NC_1: site export limit, kW
	IOAPause         = 3101 // C_SC_NA_1: pause (1) / resume (0) automation
)

// Point is one monitored value of the table.
type Point struct {
	IOA    uint32
	Binary bool    // single point (M_SP_*) rather than measured value (M_ME_*)
	Value  float64 // measured value; 0 or 1 for a single point
	Good   bool    // false: sent with the invalid (IV) bit
}

// Station is what the IEC 104 server needs of the dispatch service
// (*dispatch.Service).
type Station interface {
	LatestValue(id, point string) (float64, time.Time, bool)
	RootMeter() string
	PlanImportKW(ctx context.Context, at time.Time) (float64, bool, error)
	PeakTarget(ctx context.Context, at time.Time) (float64, *storage.Schedule, error)
	InForce(ctx context.Context, at time.Time) (*storage.Schedule, error)
	Envelope() *safety.Envelope
}

// spec is one point of the station's table: what it serves and at which IOA.
type spec struct {
	ioa      uint32
	point    string // a site.IEC104* point name
	of       string // node or battery id, for per-node and per-battery points
	binary   bool   // single point
	command  bool
	deadband float64 // measured values: spontaneous send threshold
	timeTag  bool    // spontaneous sends carry a CP56Time2a
}

// table lists, in order, the points the station serves and how each is read.
type table struct {
	cfg      *site.Config
	specs    []spec              // monitored points, in table order
	commands map[uint32]spec     // command IOA -> command
	cmdIOA   map[string]uint32   // command name -> IOA
	meters   map[string]string   // node -> its meter
	below    map[string][]string // node -> non-meter devices in its subtree
	chargers []string
}

// newTable builds the table: iec104.points when configured, else the default
// table (docs/IEC104.md).
func newTable(cfg *site.Config) *table {
	t := &table{cfg: cfg, meters: map[string]string{}, below: map[string][]string{}, commands: map[uint32]spec{}, cmdIOA: map[string]uint32{}}
	parent := map[string]string{}
	for _, n := range cfg.Nodes {
		parent[n.ID] = n.Parent
	}
	for _, d := range cfg.Devices {
		switch d.Kind {
		case site.KindMeter:
			if _, dup := t.meters[d.Node]; !dup {
				t.meters[d.Node] = d.ID
			}
			continue
		case site.KindEVCharger:
			t.chargers = append(t.chargers, d.ID)
		}
		for n := d.Node; n != ""; n = parent[n] {
			t.below[n] = append(t.below[n], d.ID)
		}
	}
	x := cfg.IEC104
	deadband := site.DefaultIEC104DeadbandKW
	if x != nil {
		deadband = x.DeadbandKW
	}
	add := func(p site.IEC104Point) {
		sp := spec{ioa: uint32(p.IOA), point: p.Point, of: p.Of, binary: site.IEC104PointIsSingle(p.Point),
			command: site.IEC104PointIsCommand(p.Point), deadband: deadband, timeTag: true}
		if p.Deadband != nil {
			sp.deadband = *p.Deadband
		}
		if p.TimeTag != nil {
			sp.timeTag = *p.TimeTag
		}
		if sp.command {
			t.commands[sp.ioa], t.cmdIOA[sp.point] = sp, sp.ioa
			return
		}
		t.specs = append(t.specs, sp)
	}
	if x != nil && len(x.Points) > 0 {
		for _, p := range x.Points {
			add(p)
		}
		return t
	}
	for _, p := range DefaultPoints(cfg) {
		add(p)
	}
	return t
}

// DefaultPoints is the default point table of a site (docs/IEC104.md), in the
// form of a configured iec104.points list.
func DefaultPoints(cfg *site.Config) []site.IEC104Point {
	pts := []site.IEC104Point{
		{Point: site.IEC104SiteImportKW, IOA: IOASiteImportKW},
		{Point: site.IEC104PlanImportKW, IOA: IOAPlanImportKW},
		{Point: site.IEC104PeakTargetKW, IOA: IOAPeakTargetKW},
	}
	for i, n := range cfg.Nodes {
		pts = append(pts, site.IEC104Point{Point: site.IEC104NodePowerKW, Of: n.ID, IOA: IOANodeBase + i + 1})
	}
	var batteries []string
	for _, d := range cfg.Devices {
		if d.Kind == site.KindBESS {
			batteries = append(batteries, d.ID)
		}
	}
	for i, id := range batteries {
		pts = append(pts, site.IEC104Point{Point: site.IEC104BatterySoCPct, Of: id, IOA: IOABatterySoC + i + 1})
	}
	for i, id := range batteries {
		pts = append(pts, site.IEC104Point{Point: site.IEC104BatteryPowerKW, Of: id, IOA: IOABatteryPower + i + 1})
	}
	return append(pts,
		site.IEC104Point{Point: site.IEC104EVChargingKW, IOA: IOAEVChargingKW},
		site.IEC104Point{Point: site.IEC104Automation, IOA: IOAAutomation},
		site.IEC104Point{Point: site.IEC104ScheduleInForce, IOA: IOAScheduleInUse},
		site.IEC104Point{Point: site.IEC104CommsLost, IOA: IOACommsLost},
		site.IEC104Point{Point: site.IEC104LimitInForce, IOA: IOALimitInForce},
		site.IEC104Point{Point: site.IEC104ImportLimitKW, IOA: IOAImportLimit},
		site.IEC104Point{Point: site.IEC104ExportLimitKW, IOA: IOAExportLimit},
		site.IEC104Point{Point: site.IEC104PauseAutomation, IOA: IOAPause},
	)
}

// read returns every monitored point at time at, in table order.
func (t *table) read(ctx context.Context, st Station, limits func(context.Context, time.Time) bool, at time.Time) []Point {
	power := func(id string) (float64, bool) {
		v, _, ok := st.LatestValue(id, "active_power_kw")
		return v, ok
	}
	// Values shared by several points are read once per scan.
	var (
		plan, peak, sched, lost, limit *Point
	)
	once := func(pp **Point, f func() Point) Point {
		if *pp == nil {
			p := f()
			*pp = &p
		}
		return **pp
	}
	meas := func(v float64, ok bool) Point {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v, ok = 0, false
		}
		return Point{Value: v, Good: ok}
	}
	bin := func(v bool) Point {
		p := Point{Binary: true, Good: true}
		if v {
			p.Value = 1
		}
		return p
	}
	out := make([]Point, 0, len(t.specs))
	for _, sp := range t.specs {
		var p Point
		switch sp.point {
		case site.IEC104SiteImportKW:
			if m := st.RootMeter(); m != "" {
				p = meas(power(m))
			} else {
				p = meas(0, false)
			}
		case site.IEC104PlanImportKW:
			p = once(&plan, func() Point {
				pi, ok, err := st.PlanImportKW(ctx, at)
				return meas(pi, ok && err == nil)
			})
		case site.IEC104PeakTargetKW:
			p = once(&peak, func() Point {
				pt, s, err := st.PeakTarget(ctx, at)
				return meas(pt, err == nil && s != nil)
			})
		case site.IEC104NodePowerKW:
			var v float64
			ok := false
			if m, has := t.meters[sp.of]; has {
				v, ok = power(m)
			} else if ids := t.below[sp.of]; len(ids) > 0 {
				ok = true
				for _, id := range ids {
					pw, good := power(id)
					v += pw
					ok = ok && good
				}
			}
			p = meas(v, ok)
		case site.IEC104BatterySoCPct:
			v, _, ok := st.LatestValue(sp.of, "soc_pct")
			p = meas(v, ok)
		case site.IEC104BatteryPowerKW:
			p = meas(power(sp.of))
		case site.IEC104EVChargingKW:
			ev, evOK := 0.0, true
			for _, id := range t.chargers {
				pw, good := power(id)
				ev += pw
				evOK = evOK && good
			}
			p = meas(ev, evOK)
		case site.IEC104Automation:
			p = bin(!st.Envelope().KillSwitch().Engaged)
		case site.IEC104ScheduleInForce:
			p = once(&sched, func() Point {
				inForce, err := st.InForce(ctx, at)
				return bin(err == nil && inForce != nil)
			})
		case site.IEC104CommsLost:
			p = once(&lost, func() Point {
				l := false
				for _, d := range st.Envelope().Status(at) {
					l = l || d.Comms == safety.CommsLost
				}
				return bin(l)
			})
		case site.IEC104LimitInForce:
			p = once(&limit, func() Point { return bin(limits(ctx, at)) })
		}
		p.IOA = sp.ioa
		out = append(out, p)
	}
	return out
}
