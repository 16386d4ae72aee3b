package replay

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
)

// StepRecord is what happened on the site during one step, as step means (kW,
// site sign convention unless named otherwise).
type StepRecord struct {
	Time                     time.Time
	ImportPrice, ExportPrice float64
	LoadKW                   float64 // all loads
	PVKW                     float64 // PV generation used (non-negative magnitude)
	PVAvailKW                float64 // PV generation available
	BESSKW                   float64 // batteries (+ charging)
	EVKW                     float64 // EV chargers (+ charging)
	GridKW                   float64 // root node net: + import, − export
	SoCKWh                   float64 // batteries' energy at the end of the step
	// BESSThroughputKW is Σ|power| over the batteries; BESSWearCost their wear cost
	// (throughput × wear_cost_per_kwh × step hours).
	BESSThroughputKW, BESSWearCost float64
	// BelowReserve counts the batteries that discharged in this step and ended it
	// below their reserve (safety reserve_soc_pct, at least min_soc_pct).
	BelowReserve int
	// Violations names every limit exceeded in this step.
	Violations []string
}

// SessionRecord is one EV session's outcome.
type SessionRecord struct {
	DeviceID        string
	PlugIn, PlugOut time.Time
	RequestedKWh    float64
	DeliveredKWh    float64
	// Complete is false for a session still plugged in when the replay ended.
	Complete bool
}

// violationTolKW is how far above a limit a step mean may go before it counts as a
// violation (numerical noise and the 0.1 kW setpoint resolution).
const violationTolKW = 0.05

// Field is an in-process site: a dispatch.Poller and dispatch.Writer over the same
// device physics as fieldbus/sim, driven by recorded actuals instead of Modbus. Time
// comes from the clock; the state is integrated in whole steps.
type Field struct {
	cfg  *site.Config
	hist *History
	clk  clock.Clock
	step time.Duration

	now  time.Time
	devs []*fdev
	byID map[string]*fdev
	// parentOf maps a node to its parent.
	parentOf map[string]string
	nodeKW   map[string]float64

	steps    []StepRecord
	sessions []SessionRecord

	// StepMean makes a poll inside a step (not on its boundary) show the loads and
	// PV at their mean over the step: the real-time layer, which in production tracks
	// the meters every few seconds, is modelled as one correction per step against
	// what the step actually brings.
	StepMean bool
}

type fdev struct {
	d     *site.Device
	avgKW float64 // mean power over the last completed step
	// bess
	socKWh, minKWh, maxKWh, capKWh float64
	reserveKWh                     float64
	setKW                          float64
	setAt                          time.Time // when setKW was last written
	// pv
	limitKW, availKW float64
	// ev
	sess      []Session
	next      int
	cur       *Session
	delivered float64
}

// NewField returns a field at time start (a step boundary) with every battery at its
// sim.initial_soc_pct (default 50) and every charger's sessions from hist.
func NewField(cfg *site.Config, hist *History, clk clock.Clock, start time.Time) (*Field, error) {
	f := &Field{cfg: cfg, hist: hist, clk: clk, step: cfg.Site.Step.D, now: start,
		byID: map[string]*fdev{}, parentOf: map[string]string{}, nodeKW: map[string]float64{}}
	for _, n := range cfg.Nodes {
		f.parentOf[n.ID] = n.Parent
	}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		fd := &fdev{d: d}
		switch d.Kind {
		case site.KindBESS:
			b := d.BESS
			fd.capKWh = b.CapacityKWh
			fd.minKWh, fd.maxKWh = b.CapacityKWh*b.MinSoCPct/100, b.CapacityKWh*b.MaxSoCPct/100
			fd.reserveKWh = fd.minKWh
			if d.Safety != nil {
				fd.reserveKWh = math.Max(fd.minKWh, b.CapacityKWh*d.Safety.ReserveSoCPct/100)
			}
			soc := 50.0
			if d.Sim != nil && d.Sim.InitialSoCPct != 0 {
				soc = d.Sim.InitialSoCPct
			}
			fd.socKWh = b.CapacityKWh * soc / 100
		case site.KindPV:
			fd.limitKW = d.PV.CapacityKW
		case site.KindLoad:
			if _, ok := hist.traces[d.ID]; !ok {
				return nil, fmt.Errorf("field: no history for load %s", d.ID)
			}
		case site.KindEVCharger:
			fd.sess = hist.sessions[d.ID]
		}
		if d.Kind == site.KindPV {
			if _, ok := hist.traces[d.ID]; !ok {
				return nil, fmt.Errorf("field: no history for PV plant %s", d.ID)
			}
		}
		f.devs = append(f.devs, fd)
		f.byID[d.ID] = fd
	}
	// The last step before start gives the first readings.
	if err := f.measure(start.Add(-f.step), start); err != nil {
		return nil, err
	}
	f.settle(start)
	return f, nil
}

// measure sets the mean power of loads and PV plants over [a, b) without moving state.
func (f *Field) measure(a, b time.Time) error {
	for _, fd := range f.devs {
		switch fd.d.Kind {
		case site.KindLoad:
			v, err := f.hist.MeanKW(fd.d.ID, a, b)
			if err != nil {
				return err
			}
			fd.avgKW = v
		case site.KindPV:
			v, err := f.hist.MeanKW(fd.d.ID, a, b)
			if err != nil {
				return err
			}
			fd.availKW = v
			fd.avgKW = -math.Min(v, fd.limitKW)
		}
	}
	return nil
}

// settle applies what happens at instant t: sessions plugging out and in.
func (f *Field) settle(t time.Time) {
	for _, fd := range f.devs {
		if fd.d.Kind != site.KindEVCharger {
			continue
		}
		if fd.cur != nil && !t.Before(fd.cur.PlugOut) {
			f.sessions = append(f.sessions, SessionRecord{DeviceID: fd.d.ID, PlugIn: fd.cur.PlugIn, PlugOut: fd.cur.PlugOut,
				RequestedKWh: fd.cur.EnergyKWh, DeliveredKWh: fd.delivered, Complete: true})
			fd.cur, fd.delivered = nil, 0
		}
		for fd.cur == nil && fd.next < len(fd.sess) && !fd.sess[fd.next].PlugIn.After(t) {
			s := fd.sess[fd.next]
			fd.next++
			if !s.PlugOut.After(t) {
				continue // ended before the replay reached it
			}
			if s.PlugIn.Before(t) {
				s.PlugIn = t // already plugged in when the replay started
			}
			fd.cur, fd.delivered = &s, 0
			if fd.setAt.Before(s.PlugIn) {
				fd.setKW = fd.d.EV.MaxChargeKW // uncontrolled until dispatch writes a setpoint
			}
		}
	}
}

// bessPowerKW is the battery's power now: the setpoint within the ratings, 0 at an
// SoC limit in the setpoint's direction.
func (fd *fdev) bessPowerKW() float64 {
	b := fd.d.BESS
	p := math.Max(-b.MaxDischargeKW, math.Min(fd.setKW, b.MaxChargeKW))
	if (p > 0 && fd.socKWh >= fd.maxKWh-1e-9) || (p < 0 && fd.socKWh <= fd.minKWh+1e-9) {
		return 0
	}
	return p
}

func (fd *fdev) evPowerKW() float64 {
	if fd.cur == nil {
		return 0
	}
	e := fd.d.EV
	switch {
	case fd.setKW > 0:
		if fd.delivered >= fd.cur.EnergyKWh-1e-9 {
			return 0
		}
		return math.Min(fd.setKW, e.MaxChargeKW)
	case fd.setKW < 0:
		if e.MaxDischargeKW <= 0 || fd.delivered <= -e.V2GBudgetKWh+1e-9 {
			return 0
		}
		return math.Max(fd.setKW, -e.MaxDischargeKW)
	}
	return 0
}

// pending returns the session that plugged in after stepStart and by now but is not
// settled yet (the field settles sessions as it integrates whole steps), and the
// charger's power in it; with StepMean a poll inside the step shows it, as the meters
// would.
func (fd *fdev) pending(stepStart, now time.Time) (*Session, float64) {
	if fd.cur != nil || fd.next >= len(fd.sess) {
		return nil, 0
	}
	s := &fd.sess[fd.next]
	if !s.PlugIn.After(stepStart) || s.PlugIn.After(now) || !s.PlugOut.After(now) {
		return nil, 0
	}
	set := fd.d.EV.MaxChargeKW
	if !fd.setAt.Before(s.PlugIn) {
		set = fd.setKW
	}
	return s, math.Max(math.Min(set, fd.d.EV.MaxChargeKW), 0)
}

// nextEvent is the first instant after t where the charger's power changes.
func (fd *fdev) nextEvent(t time.Time) time.Time {
	var ev time.Time
	if fd.cur != nil {
		ev = fd.cur.PlugOut
		if p := fd.evPowerKW(); p != 0 {
			var h float64
			if p > 0 {
				h = (fd.cur.EnergyKWh - fd.delivered) / p
			} else {
				h = (fd.delivered + fd.d.EV.V2GBudgetKWh) / -p
			}
			if e := t.Add(time.Duration(math.Ceil(h * float64(time.Hour)))); e.Before(ev) {
				ev = e
			}
		}
	} else if fd.next < len(fd.sess) {
		ev = fd.sess[fd.next].PlugIn
	}
	return ev
}

// Advance integrates the site up to t (rounded down to a step boundary).
func (f *Field) Advance(t time.Time) error {
	for !f.now.Add(f.step).After(t) {
		if err := f.integrateStep(); err != nil {
			return err
		}
	}
	return nil
}

func (f *Field) integrateStep() error {
	t0, t1 := f.now, f.now.Add(f.step)
	dtH := f.step.Hours()
	if err := f.measure(t0, t1); err != nil {
		return err
	}
	rec := StepRecord{Time: t0}
	rec.ImportPrice, rec.ExportPrice = f.cfg.Tariff.PriceAt(t0, f.cfg.Site.Location)
	for _, fd := range f.devs {
		switch fd.d.Kind {
		case site.KindLoad:
			rec.LoadKW += fd.avgKW
		case site.KindPV:
			rec.PVKW += -fd.avgKW
			rec.PVAvailKW += fd.availKW
		case site.KindBESS:
			b := fd.d.BESS
			p := math.Max(-b.MaxDischargeKW, math.Min(fd.setKW, b.MaxChargeKW))
			frac := 1.0
			switch {
			case p > 0:
				room := math.Max(0, fd.maxKWh-fd.socKWh)
				if in := p * b.ChargeEfficiency * dtH; in > room {
					frac = room / in
					fd.socKWh = math.Max(fd.socKWh, fd.maxKWh)
				} else {
					fd.socKWh += in
				}
			case p < 0:
				avail := math.Max(0, fd.socKWh-fd.minKWh)
				if out := -p / b.DischargeEfficiency * dtH; out > avail {
					frac = avail / out
					fd.socKWh = math.Min(fd.socKWh, fd.minKWh)
				} else {
					fd.socKWh -= out
				}
			}
			fd.avgKW = p * frac
			if fd.avgKW < 0 && fd.socKWh < fd.reserveKWh-1e-3 {
				rec.BelowReserve++
			}
			rec.BESSKW += fd.avgKW
			rec.BESSThroughputKW += math.Abs(fd.avgKW)
			rec.BESSWearCost += math.Abs(fd.avgKW) * dtH * b.WearCostPerKWh
			rec.SoCKWh += fd.socKWh
		case site.KindEVCharger:
			fd.avgKW = 0
		}
	}
	// EV chargers: exact within the step, split at plug-in, plug-out and full.
	x := t0
	energy := map[*fdev]float64{}
	for x.Before(t1) {
		next := t1
		for _, fd := range f.devs {
			if fd.d.Kind == site.KindEVCharger {
				if e := fd.nextEvent(x); !e.IsZero() && e.After(x) && e.Before(next) {
					next = e
				}
			}
		}
		h := next.Sub(x).Hours()
		for _, fd := range f.devs {
			if fd.d.Kind != site.KindEVCharger || fd.cur == nil {
				continue
			}
			p := fd.evPowerKW()
			fd.delivered += p * h
			if p > 0 && fd.delivered > fd.cur.EnergyKWh {
				fd.delivered = fd.cur.EnergyKWh
			}
			energy[fd] += p * h
		}
		x = next
		f.settle(x)
	}
	for _, fd := range f.devs {
		if fd.d.Kind == site.KindEVCharger {
			fd.avgKW = energy[fd] / dtH
			rec.EVKW += fd.avgKW
		}
	}
	// Node balance and limits.
	for k := range f.nodeKW {
		f.nodeKW[k] = 0
	}
	for _, fd := range f.devs {
		if fd.d.Kind == site.KindMeter {
			continue
		}
		for n := fd.d.Node; n != ""; n = f.parentOf[n] {
			f.nodeKW[n] += fd.avgKW
		}
	}
	for _, fd := range f.devs {
		if fd.d.Kind == site.KindMeter {
			fd.avgKW = f.nodeKW[fd.d.Node]
		}
	}
	rec.GridKW = f.nodeKW[f.cfg.Root()]
	g := f.cfg.Grid
	if rec.GridKW > g.ImportLimitKW+violationTolKW {
		rec.Violations = append(rec.Violations, fmt.Sprintf("grid import %.1f kW > limit %.1f kW", rec.GridKW, g.ImportLimitKW))
	}
	if -rec.GridKW > g.ExportLimitKW+violationTolKW {
		rec.Violations = append(rec.Violations, fmt.Sprintf("grid export %.1f kW > limit %.1f kW", -rec.GridKW, g.ExportLimitKW))
	}
	for _, n := range f.cfg.Nodes {
		if v := f.nodeKW[n.ID]; math.Abs(v) > n.LimitKW+violationTolKW {
			rec.Violations = append(rec.Violations, fmt.Sprintf("node %s %.1f kW beyond limit %.1f kW", n.ID, v, n.LimitKW))
		}
	}
	f.steps = append(f.steps, rec)
	f.now = t1
	return nil
}

// PlugIns returns the instants in (from, to) at which a vehicle plugs in, in order.
func (f *Field) PlugIns(from, to time.Time) []time.Time {
	var out []time.Time
	for _, fd := range f.devs {
		if fd.d.Kind != site.KindEVCharger {
			continue
		}
		for i := fd.next; i < len(fd.sess); i++ {
			t := fd.sess[i].PlugIn
			if !t.Before(to) {
				break
			}
			if t.After(from) {
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

// Steps returns the records of every completed step.
func (f *Field) Steps() []StepRecord { return f.steps }

// Sessions returns the EV sessions that ended, then (after Finish) the open ones.
func (f *Field) Sessions() []SessionRecord { return f.sessions }

// Finish records the sessions still plugged in as incomplete.
func (f *Field) Finish() {
	for _, fd := range f.devs {
		if fd.d.Kind == site.KindEVCharger && fd.cur != nil {
			f.sessions = append(f.sessions, SessionRecord{DeviceID: fd.d.ID, PlugIn: fd.cur.PlugIn, PlugOut: fd.cur.PlugOut,
				RequestedKWh: fd.cur.EnergyKWh, DeliveredKWh: fd.delivered})
		}
	}
}

// Poll implements dispatch.Poller: every device answers with its state at the
// clock's time (instantaneous powers, as fieldbus/sim serves them).
func (f *Field) Poll(ctx context.Context) []fieldbus.Reading {
	now := f.clk.Now()
	if err := f.Advance(now); err != nil {
		out := make([]fieldbus.Reading, 0, len(f.devs))
		for _, fd := range f.devs {
			out = append(out, fieldbus.Reading{DeviceID: fd.d.ID, Time: now, Stale: true, Err: err})
		}
		return out
	}
	// Instantaneous powers at now, as the devices' registers show them.
	inst := make(map[*fdev]float64, len(f.devs))
	nodeKW := map[string]float64{}
	for _, fd := range f.devs {
		var p float64
		inStep := f.StepMean && now.After(f.now)
		switch fd.d.Kind {
		case site.KindLoad:
			p = f.hist.traces[fd.d.ID].at(float64(now.UnixNano()) / 1e9)
			if inStep {
				if m, err := f.hist.MeanKW(fd.d.ID, f.now, f.now.Add(f.step)); err == nil {
					p = m
				}
			}
		case site.KindPV:
			avail := f.hist.traces[fd.d.ID].at(float64(now.UnixNano()) / 1e9)
			if inStep {
				if m, err := f.hist.MeanKW(fd.d.ID, f.now, f.now.Add(f.step)); err == nil {
					avail = m
				}
			}
			p = -math.Min(math.Max(0, avail), fd.limitKW)
		case site.KindBESS:
			p = fd.bessPowerKW()
		case site.KindEVCharger:
			p = fd.evPowerKW()
			if f.StepMean {
				if ps, pp := fd.pending(f.now, now); ps != nil {
					p = pp
				}
			}
		default:
			continue
		}
		inst[fd] = p
		for n := fd.d.Node; n != ""; n = f.parentOf[n] {
			nodeKW[n] += p
		}
	}
	out := make([]fieldbus.Reading, 0, len(f.devs))
	for _, fd := range f.devs {
		r := fieldbus.Reading{DeviceID: fd.d.ID, Time: now}
		add := func(point, unit string, v float64) {
			r.Values = append(r.Values, fieldbus.Value{Point: point, Value: v, Unit: unit, Quality: fieldbus.Good})
		}
		if fd.d.Kind == site.KindMeter {
			add("active_power_kw", "kW", nodeKW[fd.d.Node])
		} else {
			add("active_power_kw", "kW", inst[fd])
		}
		switch fd.d.Kind {
		case site.KindBESS:
			add("soc_pct", "%", fd.socKWh/fd.capKWh*100)
			add("setpoint_kw", "kW", fd.setKW)
		case site.KindPV:
			add("power_limit_kw", "kW", fd.limitKW)
		case site.KindEVCharger:
			if ps, _ := fd.pending(f.now, now); f.StepMean && ps != nil {
				add("connected", "", 1)
				add("session_energy_kwh", "kWh", 0)
				add("session_energy_request_kwh", "kWh", ps.EnergyKWh)
				add("session_departure_unix", "s", float64(ps.PlugOut.Unix()))
			} else if fd.cur != nil {
				add("connected", "", 1)
				add("session_energy_kwh", "kWh", fd.delivered)
				add("session_energy_request_kwh", "kWh", fd.cur.EnergyKWh)
				add("session_departure_unix", "s", float64(fd.cur.PlugOut.Unix()))
			} else {
				add("connected", "", 0)
				add("session_energy_kwh", "kWh", 0)
				add("session_energy_request_kwh", "kWh", 0)
				add("session_departure_unix", "s", 0)
			}
			add("setpoint_kw", "kW", fd.setKW)
		}
		out = append(out, r)
	}
	return out
}

// Write implements dispatch.Writer: setpoint_kw on a battery or charger, power_limit_kw
// on a PV plant. A value outside the device's ratings is refused, as the device's
// profile limits would.
func (f *Field) Write(ctx context.Context, deviceID, point string, value float64) (fieldbus.WriteResult, error) {
	now := f.clk.Now()
	res := fieldbus.WriteResult{DeviceID: deviceID, Point: point, Requested: value, Time: now}
	if err := f.Advance(now); err != nil {
		return res, err
	}
	fd, ok := f.byID[deviceID]
	if !ok {
		return res, fmt.Errorf("write %s: no such device", deviceID)
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return res, fmt.Errorf("write %s %s: value %v is not finite", deviceID, point, value)
	}
	const tol = 1e-6
	var lo, hi float64
	switch {
	case fd.d.Kind == site.KindBESS && point == "setpoint_kw":
		lo, hi = -fd.d.BESS.MaxDischargeKW, fd.d.BESS.MaxChargeKW
	case fd.d.Kind == site.KindEVCharger && point == "setpoint_kw":
		lo, hi = -fd.d.EV.MaxDischargeKW, fd.d.EV.MaxChargeKW
	case fd.d.Kind == site.KindPV && point == "power_limit_kw":
		lo, hi = 0, fd.d.PV.CapacityKW
	default:
		return res, fmt.Errorf("write %s: point %q is not writable on a %s", deviceID, point, fd.d.Kind)
	}
	if lo == 0 {
		lo = 0 // no negative zero in the message
	}
	if value < lo-tol || value > hi+tol {
		return res, fmt.Errorf("write %s %s: value %g outside [%g, %g]", deviceID, point, value, lo, hi)
	}
	if point == "power_limit_kw" {
		fd.limitKW = value
	} else {
		fd.setKW, fd.setAt = value, now
	}
	res.Written, res.ReadBack = value, value
	return res, nil
}
