package replay

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/plant"
	"github.com/gridd/gridd/prices"
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

// Field is an in-process site: a dispatch.Poller and dispatch.Writer over the device
// physics of package plant (the model fieldbus/sim serves), driven by recorded
// actuals instead of Modbus. Time comes from the clock; the state is integrated in
// whole steps.
type Field struct {
	cfg    *site.Config
	hist   *History
	clk    clock.Clock
	prices prices.Source // what the site pays and earns per step (the config's source)
	step   time.Duration

	now   time.Time
	plant *plant.Plant
	devs  []*fdev
	byID  map[string]*fdev
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
	pd    *plant.Device
	avgKW float64 // mean power over the last completed step
	// bess: the reserve the BelowReserve count holds it to.
	reserveKWh float64
	// ev: the recorded sessions, by plug-in.
	sess []Session
}

// NewField returns a field at time start (a step boundary) with every battery at its
// sim.initial_soc_pct (default 50) and every charger's sessions from hist.
func NewField(cfg *site.Config, hist *History, clk clock.Clock, start time.Time) (*Field, error) {
	src, err := prices.FromConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("field: %w", err)
	}
	f := &Field{cfg: cfg, hist: hist, clk: clk, prices: src, step: cfg.Site.Step.D, now: start,
		byID: map[string]*fdev{}, parentOf: map[string]string{}, nodeKW: map[string]float64{}}
	for _, n := range cfg.Nodes {
		f.parentOf[n.ID] = n.Parent
	}
	pds := make([]*plant.Device, 0, len(cfg.Devices))
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		pd, err := plant.NewDevice(cfg, d)
		if err != nil {
			return nil, fmt.Errorf("field: %w", err)
		}
		fd := &fdev{d: d, pd: pd}
		switch d.Kind {
		case site.KindBESS:
			b := pd.Battery
			fd.reserveKWh = b.MinKWh
			if d.Safety != nil {
				fd.reserveKWh = math.Max(b.MinKWh, b.CapacityKWh*d.Safety.ReserveSoCPct/100)
			}
		case site.KindLoad, site.KindPV:
			tr, ok := hist.traces[d.ID]
			if !ok {
				if d.Kind == site.KindPV {
					return nil, fmt.Errorf("field: no history for PV plant %s", d.ID)
				}
				return nil, fmt.Errorf("field: no history for load %s", d.ID)
			}
			pd.Trace = tr
		case site.KindEVCharger:
			fd.sess = hist.sessions[d.ID]
			pd.EV.Sessions = plant.SessionList(fd.sess)
		}
		pds = append(pds, pd)
		f.devs = append(f.devs, fd)
		f.byID[d.ID] = fd
	}
	f.plant = plant.New(cfg, pds, start)
	f.plant.OnPlugOut = func(pd *plant.Device, s plant.Session, deliveredKWh float64) {
		f.sessions = append(f.sessions, SessionRecord{DeviceID: pd.ID, PlugIn: s.PlugIn, PlugOut: s.PlugOut,
			RequestedKWh: s.EnergyKWh, DeliveredKWh: deliveredKWh, Complete: true})
	}
	return f, nil
}

// pending returns the session that plugged in after stepStart and by now but is not
// settled yet (the field settles sessions as it integrates whole steps), and the
// charger's power in it; with StepMean a poll inside the step shows it, as the meters
// would.
func (fd *fdev) pending(stepStart, now time.Time) (*Session, float64) {
	c := fd.pd.EV
	if _, plugged := c.Session(); plugged {
		return nil, 0
	}
	i := sort.Search(len(fd.sess), func(i int) bool { return fd.sess[i].PlugIn.After(stepStart) })
	if i >= len(fd.sess) {
		return nil, 0
	}
	s := &fd.sess[i]
	if s.PlugIn.After(now) || !s.PlugOut.After(now) {
		return nil, 0
	}
	set := c.MaxChargeKW
	if !c.SetAt.Before(s.PlugIn) {
		set = c.SetpointKW
	}
	return s, math.Max(math.Min(set, c.MaxChargeKW), 0)
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

// integrateStep advances the plant by one step (exact within it: plug-in, plug-out,
// full, SoC-limit and PV-cap events and the traces' samples split it) and records the
// step's means.
func (f *Field) integrateStep() error {
	t0, t1 := f.now, f.now.Add(f.step)
	dtH := f.step.Hours()
	rec := StepRecord{Time: t0}
	imp, exp, err := f.prices.Prices(context.Background(), t0, f.step, 1)
	if err != nil {
		return fmt.Errorf("field: %w", err)
	}
	rec.ImportPrice, rec.ExportPrice = imp[0], exp[0]
	net := make([]float64, len(f.devs))
	avail := make([]float64, len(f.devs))
	for i, fd := range f.devs {
		net[i], avail[i] = fd.pd.NetKWh(), fd.pd.AvailKWh
	}
	f.plant.Advance(t1)
	for i, fd := range f.devs {
		fd.avgKW = (fd.pd.NetKWh() - net[i]) / dtH
		switch fd.d.Kind {
		case site.KindLoad:
			// The recorded actuals' own mean (the plant integrates the same trace; this
			// keeps the figure independent of where events split the step).
			if m, err := f.hist.MeanKW(fd.d.ID, t0, t1); err == nil {
				fd.avgKW = m
			}
			rec.LoadKW += fd.avgKW
		case site.KindPV:
			rec.PVKW += -fd.avgKW
			if m, err := f.hist.MeanKW(fd.d.ID, t0, t1); err == nil {
				rec.PVAvailKW += m
			} else {
				rec.PVAvailKW += (fd.pd.AvailKWh - avail[i]) / dtH
			}
		case site.KindBESS:
			b := fd.pd.Battery
			if fd.avgKW < 0 && b.SoCKWh < fd.reserveKWh-1e-3 {
				rec.BelowReserve++
			}
			rec.BESSKW += fd.avgKW
			rec.BESSThroughputKW += math.Abs(fd.avgKW)
			rec.BESSWearCost += math.Abs(fd.avgKW) * dtH * fd.d.BESS.WearCostPerKWh
			rec.SoCKWh += b.SoCKWh
		case site.KindEVCharger:
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
		for i := sort.Search(len(fd.sess), func(i int) bool { return fd.sess[i].PlugIn.After(from) }); i < len(fd.sess); i++ {
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
		if fd.pd.EV == nil {
			continue
		}
		if s, ok := fd.pd.EV.Session(); ok {
			f.sessions = append(f.sessions, SessionRecord{DeviceID: fd.d.ID, PlugIn: s.PlugIn, PlugOut: s.PlugOut,
				RequestedKWh: s.EnergyKWh, DeliveredKWh: fd.pd.EV.DeliveredKWh()})
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
			p = -fd.pd.PV.GenerationKW(avail)
		case site.KindBESS:
			p = fd.pd.Battery.PowerKW()
		case site.KindEVCharger:
			p = fd.pd.EV.PowerKW()
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
			add("soc_pct", "%", fd.pd.Battery.SoCPct())
			add("setpoint_kw", "kW", fd.pd.Battery.SetpointKW)
		case site.KindPV:
			add("power_limit_kw", "kW", fd.pd.PV.LimitKW)
		case site.KindEVCharger:
			c := fd.pd.EV
			cur, plugged := c.Session()
			if ps, _ := fd.pending(f.now, now); f.StepMean && ps != nil {
				add("connected", "", 1)
				add("session_energy_kwh", "kWh", 0)
				add("session_energy_request_kwh", "kWh", ps.EnergyKWh)
				add("session_departure_unix", "s", float64(ps.PlugOut.Unix()))
			} else if plugged {
				add("connected", "", 1)
				add("session_energy_kwh", "kWh", c.DeliveredKWh())
				add("session_energy_request_kwh", "kWh", cur.EnergyKWh)
				add("session_departure_unix", "s", float64(cur.PlugOut.Unix()))
			} else {
				add("connected", "", 0)
				add("session_energy_kwh", "kWh", 0)
				add("session_energy_request_kwh", "kWh", 0)
				add("session_departure_unix", "s", 0)
			}
			add("setpoint_kw", "kW", c.SetpointKW)
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
	switch {
	case point == "power_limit_kw":
		fd.pd.PV.LimitKW = value
	case fd.pd.Battery != nil:
		fd.pd.Battery.SetpointKW = value
	default:
		fd.pd.EV.SetpointKW, fd.pd.EV.SetAt = value, now
	}
	fd.pd.Command(now)
	res.Written, res.ReadBack = value, value
	return res, nil
}
