package plant

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/site"
)

// eps is the tolerance (kWh) within which a battery or a session is at its limit.
const eps = 1e-9

// Trace is a power that is linear between its knots: a load's consumption or a PV
// plant's available generation (kW, non-negative for both).
type Trace interface {
	PowerKW(t time.Time) float64
	// NextKnot returns the first knot after t (zero: none; the trace is then linear
	// from t on).
	NextKnot(t time.Time) time.Time
}

// Session is one vehicle's stay at a charger: it plugs in at PlugIn, leaves at
// PlugOut and asks for EnergyKWh (counted at the charger's meter).
type Session struct {
	PlugIn, PlugOut time.Time
	EnergyKWh       float64
}

// Sessions is the timeline of a charger's vehicles.
type Sessions interface {
	// Active returns the session plugged in at t (PlugIn ≤ t < PlugOut).
	Active(t time.Time) (Session, bool)
	// NextPlugIn returns the first plug-in after t (zero: none).
	NextPlugIn(t time.Time) time.Time
}

// SessionList is a Sessions over sessions sorted by plug-in that do not overlap.
type SessionList []Session

// Active implements Sessions.
func (l SessionList) Active(t time.Time) (Session, bool) {
	i := sort.Search(len(l), func(i int) bool { return l[i].PlugOut.After(t) })
	if i < len(l) && !l[i].PlugIn.After(t) {
		return l[i], true
	}
	return Session{}, false
}

// NextPlugIn implements Sessions.
func (l SessionList) NextPlugIn(t time.Time) time.Time {
	i := sort.Search(len(l), func(i int) bool { return l[i].PlugIn.After(t) })
	if i < len(l) {
		return l[i].PlugIn
	}
	return time.Time{}
}

// Battery is a stationary battery's ratings and state.
type Battery struct {
	CapacityKWh, MinKWh, MaxKWh float64
	MaxChargeKW, MaxDischargeKW float64
	ChargeEff, DischargeEff     float64
	SoCKWh                      float64
	SetpointKW                  float64
}

// NewBattery returns a battery with the ratings of b at initialSoCPct (0: 50). A
// max_soc_pct of 0 counts as 100 and zero efficiencies as 1.
func NewBattery(b *site.BESSParams, initialSoCPct float64) *Battery {
	maxSoC := b.MaxSoCPct
	if maxSoC == 0 {
		maxSoC = 100
	}
	if initialSoCPct == 0 {
		initialSoCPct = 50
	}
	bt := &Battery{CapacityKWh: b.CapacityKWh, MinKWh: b.CapacityKWh * b.MinSoCPct / 100, MaxKWh: b.CapacityKWh * maxSoC / 100,
		MaxChargeKW: b.MaxChargeKW, MaxDischargeKW: b.MaxDischargeKW, ChargeEff: b.ChargeEfficiency, DischargeEff: b.DischargeEfficiency,
		SoCKWh: b.CapacityKWh * initialSoCPct / 100}
	if bt.ChargeEff == 0 {
		bt.ChargeEff = 1
	}
	if bt.DischargeEff == 0 {
		bt.DischargeEff = 1
	}
	return bt
}

// SoCPct returns the state of charge in percent of the capacity.
func (b *Battery) SoCPct() float64 { return b.SoCKWh / b.CapacityKWh * 100 }

// PowerKW is the battery's power now: the setpoint within the ratings, 0 at an SoC
// limit in the setpoint's direction.
func (b *Battery) PowerKW() float64 {
	p := math.Max(-b.MaxDischargeKW, math.Min(b.SetpointKW, b.MaxChargeKW))
	if (p > 0 && b.SoCKWh >= b.MaxKWh-eps) || (p < 0 && b.SoCKWh <= b.MinKWh+eps) {
		return 0
	}
	return p
}

// untilLimit returns the hours until the battery reaches the SoC limit at power p
// (+Inf when p is 0).
func (b *Battery) untilLimit(p float64) float64 {
	switch {
	case p > 0:
		return math.Max(0, b.MaxKWh-b.SoCKWh) / (p * b.ChargeEff)
	case p < 0:
		return math.Max(0, b.SoCKWh-b.MinKWh) * b.DischargeEff / -p
	}
	return math.Inf(1)
}

// run holds power p for hours, stopping at the SoC limit, and returns the energy at
// the battery's connection (+ drawn).
func (b *Battery) run(p, hours float64) float64 {
	frac := 1.0
	switch {
	case p > 0:
		room := math.Max(0, b.MaxKWh-b.SoCKWh)
		if in := p * b.ChargeEff * hours; in > room {
			frac = room / in
			b.SoCKWh = math.Max(b.SoCKWh, b.MaxKWh)
		} else {
			b.SoCKWh += in
		}
	case p < 0:
		avail := math.Max(0, b.SoCKWh-b.MinKWh)
		if out := -p / b.DischargeEff * hours; out > avail {
			frac = avail / out
			b.SoCKWh = math.Min(b.SoCKWh, b.MinKWh)
		} else {
			b.SoCKWh -= out
		}
	}
	return p * hours * frac
}

// PV is a PV plant's generation cap.
type PV struct {
	CapacityKW float64
	LimitKW    float64
}

// GenerationKW is the generation for an available power: never below 0, capped by
// the limit.
func (pv *PV) GenerationKW(availKW float64) float64 {
	return math.Min(math.Max(availKW, 0), pv.LimitKW)
}

// Charger is an EV charger with the vehicles that visit it.
type Charger struct {
	MaxChargeKW, MaxDischargeKW, V2GBudgetKWh float64
	// ChargeEff and DischargeEff are the vehicles' losses between the charger's
	// meter and their battery.
	ChargeEff, DischargeEff float64
	Sessions                Sessions
	SetpointKW              float64
	// SetAt is when the setpoint was last written: a setpoint written before a
	// plug-in gives way to uncontrolled charging.
	SetAt time.Time

	cur     Session
	plugged bool
	// delivered is the session's energy at the meter: charging less 1/(ηc·ηd)
	// times V2G discharge.
	delivered float64
}

// NewCharger returns a charger with the ratings of e, the vehicles' efficiencies
// from the site's ev section, replaying s (nil: no vehicles).
func NewCharger(e *site.EVParams, ev site.EVDefaults, s Sessions) *Charger {
	c := &Charger{MaxChargeKW: e.MaxChargeKW, MaxDischargeKW: e.MaxDischargeKW, V2GBudgetKWh: e.V2GBudgetKWh, Sessions: s}
	c.ChargeEff, c.DischargeEff = ev.Efficiencies()
	return c
}

// Session returns the session plugged in now.
func (c *Charger) Session() (Session, bool) { return c.cur, c.plugged }

// DeliveredKWh is the session's energy so far, counted at the charger's meter
// (negative after V2G below the plug-in level).
func (c *Charger) DeliveredKWh() float64 { return c.delivered }

// FloorKWh is the lowest session energy V2G may reach: the vehicle's battery has
// then given up v2g_budget_kwh.
func (c *Charger) FloorKWh() float64 { return -c.V2GBudgetKWh / c.ChargeEff }

// PowerKW is the charger's power now (0 while unplugged, when the vehicle is full,
// or, discharging, when its V2G budget is spent).
func (c *Charger) PowerKW() float64 {
	if !c.plugged {
		return 0
	}
	switch {
	case c.SetpointKW > 0:
		if c.delivered >= c.cur.EnergyKWh-eps {
			return 0
		}
		return math.Min(c.SetpointKW, c.MaxChargeKW)
	case c.SetpointKW < 0:
		if c.MaxDischargeKW <= 0 || c.delivered <= c.FloorKWh()+eps {
			return 0
		}
		return math.Max(c.SetpointKW, -c.MaxDischargeKW)
	}
	return 0
}

func (c *Charger) roundTrip() float64 { return c.ChargeEff * c.DischargeEff }

// untilLimit returns the hours until the vehicle is full (p > 0) or its V2G budget
// is spent (p < 0).
func (c *Charger) untilLimit(p float64) float64 {
	switch {
	case p > 0:
		return math.Max(0, c.cur.EnergyKWh-c.delivered) / p
	case p < 0:
		return math.Max(0, c.delivered-c.FloorKWh()) * c.roundTrip() / -p
	}
	return math.Inf(1)
}

// run holds power p for hours, stopping when the vehicle is full or its budget
// spent, and returns the energy at the charger's meter (+ drawn).
func (c *Charger) run(p, hours float64) float64 {
	if !c.plugged {
		return 0
	}
	frac := 1.0
	switch {
	case p > 0:
		room := math.Max(0, c.cur.EnergyKWh-c.delivered)
		if in := p * hours; in > room {
			frac = room / in
			c.delivered = math.Max(c.delivered, c.cur.EnergyKWh)
		} else {
			c.delivered += in
		}
	case p < 0:
		avail := math.Max(0, c.delivered-c.FloorKWh())
		if out := -p * hours / c.roundTrip(); out > avail {
			frac = avail / out
			c.delivered = math.Min(c.delivered, c.FloorKWh())
		} else {
			c.delivered -= out
		}
	}
	return p * hours * frac
}

// Device is one device of the plant: exactly one of Trace (load, PV, with PV),
// Battery, EV or Measured (meter) drives it.
type Device struct {
	ID, Kind, Node string

	// Trace is a load's consumption or a PV plant's available generation, times
	// Scale (a load step injected in a test; 1 normally).
	Trace Trace
	Scale float64

	Battery *Battery
	PV      *PV
	EV      *Charger
	// Measured are the devices a meter sums.
	Measured []*Device

	// Watchdog is the device's command watchdog (0: none); LastCmd the time of the
	// last command. When the watchdog runs out the device falls back.
	Watchdog time.Duration
	LastCmd  time.Time

	// ImportKWh and ExportKWh are the energy drawn from and fed into the bus so far
	// (both non-negative); AvailKWh is a PV plant's available energy so far.
	ImportKWh, ExportKWh, AvailKWh float64

	p0, p1 float64
}

// NewDevice returns the model of a configured device, without its trace, sessions
// or watchdog, which the caller sets.
func NewDevice(cfg *site.Config, d *site.Device) (*Device, error) {
	dv := &Device{ID: d.ID, Kind: d.Kind, Node: d.Node, Scale: 1}
	switch d.Kind {
	case site.KindBESS:
		if d.BESS == nil || !(d.BESS.CapacityKWh > 0) {
			return nil, fmt.Errorf("plant: device %s: bess.capacity_kwh must be positive", d.ID)
		}
		soc := 0.0
		if d.Sim != nil {
			soc = d.Sim.InitialSoCPct
		}
		dv.Battery = NewBattery(d.BESS, soc)
	case site.KindPV:
		if d.PV == nil || !(d.PV.CapacityKW > 0) {
			return nil, fmt.Errorf("plant: device %s: pv.capacity_kw must be positive", d.ID)
		}
		dv.PV = &PV{CapacityKW: d.PV.CapacityKW, LimitKW: d.PV.CapacityKW}
	case site.KindEVCharger:
		if d.EV == nil {
			return nil, fmt.Errorf("plant: device %s: ev_charger is required", d.ID)
		}
		dv.EV = NewCharger(d.EV, cfg.EV, nil)
	}
	return dv, nil
}

// NetKWh is the net energy drawn from the bus so far.
func (d *Device) NetKWh() float64 { return d.ImportKWh - d.ExportKWh }

// AvailableKW is the trace's power at t times the scale (0 without a trace).
func (d *Device) AvailableKW(t time.Time) float64 {
	if d.Trace == nil {
		return 0
	}
	return d.Trace.PowerKW(t) * d.Scale
}

// PowerKW is the device's power at t given its current state (site sign
// convention): for loads and PV the trace at t, for the others constant between
// events; a meter's is the sum of what it measures.
func (d *Device) PowerKW(t time.Time) float64 {
	switch {
	case d.Battery != nil:
		return d.Battery.PowerKW()
	case d.EV != nil:
		return d.EV.PowerKW()
	case d.PV != nil:
		return -d.PV.GenerationKW(d.AvailableKW(t))
	case d.Kind == site.KindMeter:
		sum := 0.0
		for _, m := range d.Measured {
			sum += m.PowerKW(t)
		}
		return sum
	}
	return d.AvailableKW(t)
}

// Command records a command at t (it rearms the watchdog).
func (d *Device) Command(t time.Time) { d.LastCmd = t }

// settle applies what happens at the instant t: a watchdog running out, vehicles
// plugging out and in.
func (d *Device) settle(t time.Time, p *Plant) {
	if d.Watchdog > 0 && !d.LastCmd.IsZero() && !t.Before(d.LastCmd.Add(d.Watchdog)) {
		d.LastCmd = time.Time{}
		switch {
		case d.Battery != nil:
			d.Battery.SetpointKW = 0
		case d.EV != nil:
			d.EV.SetpointKW = d.EV.MaxChargeKW
		case d.PV != nil:
			d.PV.LimitKW = d.PV.CapacityKW
		}
	}
	c := d.EV
	if c == nil {
		return
	}
	if c.plugged && !t.Before(c.cur.PlugOut) {
		if p.OnPlugOut != nil {
			p.OnPlugOut(d, c.cur, c.delivered)
		}
		c.plugged, c.delivered = false, 0
	}
	if !c.plugged && c.Sessions != nil {
		if s, ok := c.Sessions.Active(t); ok {
			if s.PlugIn.Before(t) {
				s.PlugIn = t // already plugged in when the plant started
			}
			c.cur, c.plugged, c.delivered = s, true, 0
			if c.SetAt.Before(s.PlugIn) {
				c.SetpointKW = c.MaxChargeKW // uncontrolled until a setpoint is written
			}
		}
	}
	if c.plugged && math.Abs(c.delivered-c.cur.EnergyKWh) < 1e-7 {
		c.delivered = c.cur.EnergyKWh
	}
}

// nextEvent returns the first instant after t at which the device's power stops
// following its current constant or linear law (zero: none).
func (d *Device) nextEvent(t time.Time) time.Time {
	var e time.Time
	earlier := func(x time.Time) {
		if !x.IsZero() && x.After(t) && (e.IsZero() || x.Before(e)) {
			e = x
		}
	}
	if d.Watchdog > 0 && !d.LastCmd.IsZero() {
		earlier(d.LastCmd.Add(d.Watchdog))
	}
	switch {
	case d.Battery != nil:
		if h := d.Battery.untilLimit(d.Battery.PowerKW()); !math.IsInf(h, 1) {
			earlier(t.Add(hoursToDuration(h)))
		}
	case d.EV != nil:
		c := d.EV
		if c.plugged {
			earlier(c.cur.PlugOut)
			if h := c.untilLimit(c.PowerKW()); !math.IsInf(h, 1) {
				earlier(t.Add(hoursToDuration(h)))
			}
		} else if c.Sessions != nil {
			earlier(c.Sessions.NextPlugIn(t))
		}
	case d.Trace != nil:
		k := d.Trace.NextKnot(t)
		earlier(k)
		if d.PV != nil && !k.IsZero() {
			earlier(d.pvCrossing(t, k))
		}
	}
	return e
}

// pvCrossing finds where in (t, k) the available power, linear up to the knot k,
// crosses 0 or the limit (where the capped generation changes slope).
func (d *Device) pvCrossing(t, k time.Time) time.Time {
	v0, v1 := d.AvailableKW(t), d.AvailableKW(k)
	if v0 == v1 {
		return time.Time{}
	}
	var best time.Time
	span := float64(k.Sub(t))
	for _, c := range []float64{0, d.PV.LimitKW} {
		f := (c - v0) / (v1 - v0)
		if f <= 0 || f >= 1 {
			continue
		}
		at := t.Add(time.Duration(math.Ceil(f * span)))
		if at.After(t) && at.Before(k) && (best.IsZero() || at.Before(best)) {
			best = at
		}
	}
	return best
}

// hoursToDuration converts, rounding up to the next nanosecond so the event is not
// reached early; it saturates at 100 years.
func hoursToDuration(h float64) time.Duration {
	const cap = 100 * 365 * 24 * time.Hour
	ns := math.Ceil(h * float64(time.Hour))
	if ns <= 0 {
		return 1
	}
	if ns >= float64(cap) {
		return cap
	}
	return time.Duration(ns)
}

// add books energy moving linearly from p0 to p1 over hours.
func (d *Device) add(p0, p1, hours float64) {
	imp, exp := splitEnergy(p0, p1, hours)
	d.ImportKWh += imp
	d.ExportKWh += exp
}

// splitEnergy integrates a power moving linearly from p0 to p1 over hours into its
// positive (import) and negative (export) parts, both returned as non-negative kWh.
func splitEnergy(p0, p1, hours float64) (imp, exp float64) {
	switch {
	case p0 >= 0 && p1 >= 0:
		return (p0 + p1) / 2 * hours, 0
	case p0 <= 0 && p1 <= 0:
		return 0, -(p0 + p1) / 2 * hours
	}
	z := p0 / (p0 - p1) // fraction of the interval before the zero crossing
	a := p0 / 2 * z * hours
	b := p1 / 2 * (1 - z) * hours
	if p0 > 0 {
		return a, -b
	}
	return b, -a
}

// Plant is a site's devices integrated together.
type Plant struct {
	Devices []*Device
	now     time.Time
	meters  []*Device
	// OnPlugOut, if set, is called for every vehicle that leaves, with the session
	// and its energy at the meter.
	OnPlugOut func(d *Device, s Session, deliveredKWh float64)
}

// New returns the plant of devs at time at: every meter measures the other devices
// on its node and the nodes below it (cfg's tree), and sessions in progress at at
// are plugged in.
func New(cfg *site.Config, devs []*Device, at time.Time) *Plant {
	p := &Plant{Devices: devs, now: at}
	for _, m := range devs {
		if m.Kind != site.KindMeter {
			continue
		}
		in := map[string]bool{}
		for _, n := range cfg.Subtree(m.Node) {
			in[n] = true
		}
		m.Measured = nil
		for _, d := range devs {
			if d.Kind != site.KindMeter && in[d.Node] {
				m.Measured = append(m.Measured, d)
			}
		}
		p.meters = append(p.meters, m)
	}
	for _, d := range devs {
		d.settle(at, p)
	}
	return p
}

// Now returns the time the plant is integrated to.
func (p *Plant) Now() time.Time { return p.now }

// Advance integrates every device from Now to t, splitting the interval at every
// knot and event so that every piece is exact. It does nothing if t is not after
// Now.
func (p *Plant) Advance(t time.Time) {
	if !t.After(p.now) {
		return
	}
	for _, d := range p.Devices {
		d.settle(p.now, p)
	}
	for p.now.Before(t) {
		next := t
		for _, d := range p.Devices {
			if e := d.nextEvent(p.now); !e.IsZero() && e.After(p.now) && e.Before(next) {
				next = e
			}
		}
		hours := next.Sub(p.now).Hours()
		// Powers over the piece come from the state at its start: take them all
		// before any state moves.
		for _, d := range p.Devices {
			if d.Kind == site.KindMeter {
				continue
			}
			d.p0 = d.PowerKW(p.now)
			d.p1 = d.p0
			if d.Trace != nil {
				d.p1 = d.PowerKW(next)
			}
		}
		for _, m := range p.meters {
			var p0, p1 float64
			for _, d := range m.Measured {
				p0 += d.p0
				p1 += d.p1
			}
			m.add(p0, p1, hours)
		}
		for _, d := range p.Devices {
			switch {
			case d.Kind == site.KindMeter:
			case d.Battery != nil:
				e := d.Battery.run(d.p0, hours)
				d.add(e/hours, e/hours, hours)
			case d.EV != nil:
				e := d.EV.run(d.p0, hours)
				d.add(e/hours, e/hours, hours)
			default:
				d.add(d.p0, d.p1, hours)
				if d.PV != nil {
					d.AvailKWh += (d.AvailableKW(p.now) + d.AvailableKW(next)) / 2 * hours
				}
			}
		}
		p.now = next
		for _, d := range p.Devices {
			d.settle(p.now, p)
		}
	}
}
