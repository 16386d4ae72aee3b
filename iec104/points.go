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

// table lists, in IOA order, how each monitored point of the default table is read.
type table struct {
	cfg       *site.Config
	nodeIDs   []string            // node n+1
	meters    map[string]string   // node -> its meter
	below     map[string][]string // node -> non-meter devices in its subtree
	batteries []string            // battery n+1
	chargers  []string
}

func newTable(cfg *site.Config) *table {
	t := &table{cfg: cfg, meters: map[string]string{}, below: map[string][]string{}}
	parent := map[string]string{}
	for _, n := range cfg.Nodes {
		parent[n.ID] = n.Parent
		t.nodeIDs = append(t.nodeIDs, n.ID)
	}
	for _, d := range cfg.Devices {
		switch d.Kind {
		case site.KindMeter:
			if _, dup := t.meters[d.Node]; !dup {
				t.meters[d.Node] = d.ID
			}
			continue
		case site.KindBESS:
			t.batteries = append(t.batteries, d.ID)
		case site.KindEVCharger:
			t.chargers = append(t.chargers, d.ID)
		}
		for n := d.Node; n != ""; n = parent[n] {
			t.below[n] = append(t.below[n], d.ID)
		}
	}
	return t
}

// read returns every monitored point at time at, in IOA order.
func (t *table) read(ctx context.Context, st Station, limits func(context.Context, time.Time) bool, at time.Time) []Point {
	power := func(id string) (float64, bool) {
		v, _, ok := st.LatestValue(id, "active_power_kw")
		return v, ok
	}
	var out []Point
	meas := func(ioa uint32, v float64, ok bool) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v, ok = 0, false
		}
		out = append(out, Point{IOA: ioa, Value: v, Good: ok})
	}
	bin := func(ioa uint32, v bool) {
		p := Point{IOA: ioa, Binary: true, Good: true}
		if v {
			p.Value = 1
		}
		out = append(out, p)
	}
	if m := st.RootMeter(); m != "" {
		v, ok := power(m)
		meas(IOASiteImportKW, v, ok)
	} else {
		meas(IOASiteImportKW, 0, false)
	}
	pi, ok, err := st.PlanImportKW(ctx, at)
	meas(IOAPlanImportKW, pi, ok && err == nil)
	pt, sched, err := st.PeakTarget(ctx, at)
	meas(IOAPeakTargetKW, pt, err == nil && sched != nil)
	for i, n := range t.nodeIDs {
		var v float64
		ok := false
		if m, has := t.meters[n]; has {
			v, ok = power(m)
		} else if ids := t.below[n]; len(ids) > 0 {
			ok = true
			for _, id := range ids {
				p, good := power(id)
				v += p
				ok = ok && good
			}
		}
		meas(IOANodeBase+uint32(i+1), v, ok)
	}
	for i, id := range t.batteries {
		v, _, ok := st.LatestValue(id, "soc_pct")
		meas(IOABatterySoC+uint32(i+1), v, ok)
	}
	for i, id := range t.batteries {
		v, ok := power(id)
		meas(IOABatteryPower+uint32(i+1), v, ok)
	}
	ev, evOK := 0.0, true
	for _, id := range t.chargers {
		p, good := power(id)
		ev += p
		evOK = evOK && good
	}
	meas(IOAEVChargingKW, ev, evOK)

	env := st.Envelope()
	bin(IOAAutomation, !env.KillSwitch().Engaged)
	inForce, err := st.InForce(ctx, at)
	bin(IOAScheduleInUse, err == nil && inForce != nil)
	lost := false
	for _, d := range env.Status(at) {
		lost = lost || d.Comms == safety.CommsLost
	}
	bin(IOACommsLost, lost)
	bin(IOALimitInForce, limits(ctx, at))
	return out
}
