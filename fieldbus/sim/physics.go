package sim

import (
	"math"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
)

// device is one simulated device's parameters and state.
type device struct {
	cfg  site.Device
	prof *fieldbus.Profile

	fault Fault
	slow  time.Duration // FaultSlow delay of this device (0: the simulator's)
	// garbagePoint, if set, is the one point FaultGarbage garbles (all points when "").
	garbagePoint string
	// loadScale multiplies a load's series (a load step injected in a test); 0 = 1.
	loadScale float64

	// pv, load: power source.
	series      *series
	seriesScale float64

	// bess
	capKWh, minSoC, maxSoC float64
	etaC, etaD             float64
	maxChKW, maxDisKW      float64
	socPct                 float64

	// bess, ev_charger: active power setpoint (site sign convention).
	setpointKW float64

	// pv: generation cap (non-negative).
	limitKW float64
	capKW   float64

	// ev_charger
	timeline  *sessionTimeline
	user      string
	v2gFloor  float64 // lowest net session energy V2G may reach
	sess      *evSession
	delivered float64 // net energy into the vehicle this session

	// every device: cumulative energy through its connection.
	importKWh, exportKWh float64

	// meter: the non-meter devices it measures.
	measured []*device

	// p0, p1 are the power at the start and end of the piece being integrated.
	p0, p1 float64

	// watchdog is the profile's command watchdog (0: none); lastCmd the time of the
	// last write. When the watchdog runs out the device drops to its defaults.
	watchdog time.Duration
	lastCmd  time.Time

	// written holds values of writable points without physics (a profile's own
	// rw points beyond setpoint_kw and power_limit_kw).
	written map[string]float64
}

const eps = 1e-9

// power returns the device's active power at t given its current state (site sign
// convention). For series devices it is the series at t; for others it is constant
// between events.
func (d *device) power(t time.Time) float64 {
	switch d.cfg.Kind {
	case site.KindLoad:
		return d.seriesAt(t)
	case site.KindPV:
		return -d.generation(t)
	case site.KindBESS:
		return d.bessPower()
	case site.KindEVCharger:
		return d.evPower()
	case site.KindMeter:
		sum := 0.0
		for _, m := range d.measured {
			sum += m.power(t)
		}
		return sum
	}
	return 0
}

func (d *device) seriesAt(t time.Time) float64 {
	if d.series == nil {
		return 0
	}
	v := d.series.at(t) * d.seriesScale
	if d.loadScale != 0 {
		v *= d.loadScale
	}
	return v
}

// generation is PV output at t: the series (never below 0) capped by the limit.
func (d *device) generation(t time.Time) float64 {
	return math.Min(math.Max(d.seriesAt(t), 0), d.limitKW)
}

func (d *device) bessPower() float64 {
	p := math.Max(-d.maxDisKW, math.Min(d.setpointKW, d.maxChKW))
	switch {
	case p > 0 && d.socPct >= d.maxSoC-eps:
		return 0
	case p < 0 && d.socPct <= d.minSoC+eps:
		return 0
	}
	return p
}

func (d *device) evMaxCharge() float64 {
	if d.cfg.EV == nil {
		return 0
	}
	return d.cfg.EV.MaxChargeKW
}

func (d *device) evMaxDischarge() float64 {
	if d.cfg.EV == nil {
		return 0
	}
	return d.cfg.EV.MaxDischargeKW
}

func (d *device) evPower() float64 {
	if d.sess == nil {
		return 0
	}
	sp := d.setpointKW
	switch {
	case sp > 0:
		if d.delivered >= d.sess.energyKWh-eps {
			return 0
		}
		return math.Min(sp, d.evMaxCharge())
	case sp < 0:
		if d.evMaxDischarge() <= 0 || d.delivered <= d.v2gFloor+eps {
			return 0
		}
		return math.Max(sp, -d.evMaxDischarge())
	}
	return 0
}

// settle applies what happens at the instant t: sessions plugging in or out, and a
// command watchdog running out.
func (d *device) settle(t time.Time) {
	if d.watchdog > 0 && !d.lastCmd.IsZero() && !t.Before(d.lastCmd.Add(d.watchdog)) {
		d.lastCmd = time.Time{}
		switch d.cfg.Kind {
		case site.KindBESS:
			d.setpointKW = 0
		case site.KindEVCharger:
			d.setpointKW = d.evMaxCharge()
		case site.KindPV:
			d.limitKW = d.capKW
		}
	}
	switch d.cfg.Kind {
	case site.KindEVCharger:
		if d.sess != nil && !t.Before(d.sess.end) {
			d.sess = nil
			d.delivered = 0
		}
		if d.sess == nil && d.timeline != nil {
			if s, ok := d.timeline.active(t); ok {
				d.sess = &s
				d.delivered = 0
				d.setpointKW = d.evMaxCharge()
			}
		}
		if d.sess != nil && math.Abs(d.delivered-d.sess.energyKWh) < 1e-7 {
			d.delivered = d.sess.energyKWh
		}
	}
}

// nextEvent returns the first instant after t at which the device's power stops
// following its current linear or constant law (zero time: none before the next hour).
func (d *device) nextEvent(t time.Time) time.Time {
	e := d.nextPhysicsEvent(t)
	if d.watchdog > 0 && !d.lastCmd.IsZero() {
		if w := d.lastCmd.Add(d.watchdog); w.After(t) && (e.IsZero() || w.Before(e)) {
			e = w
		}
	}
	return e
}

func (d *device) nextPhysicsEvent(t time.Time) time.Time {
	switch d.cfg.Kind {
	case site.KindBESS:
		p := d.bessPower()
		var h float64
		switch {
		case p > 0:
			h = (d.maxSoC - d.socPct) / 100 * d.capKWh / (p * d.etaC)
		case p < 0:
			h = (d.socPct - d.minSoC) / 100 * d.capKWh * d.etaD / -p
		default:
			return time.Time{}
		}
		return t.Add(hoursToDuration(h))
	case site.KindEVCharger:
		var ev time.Time
		if d.sess != nil {
			ev = d.sess.end
			p := d.evPower()
			var h float64
			switch {
			case p > 0:
				h = (d.sess.energyKWh - d.delivered) / p
			case p < 0:
				h = (d.delivered - d.v2gFloor) / -p
			}
			if p != 0 {
				if e := t.Add(hoursToDuration(h)); e.Before(ev) {
					ev = e
				}
			}
		} else if d.timeline != nil {
			ev = d.timeline.next(t)
		}
		return ev
	case site.KindPV:
		return d.pvCrossing(t)
	}
	return time.Time{}
}

// pvCrossing finds where, before the next hour, the linear series crosses 0 or the
// limit (where the capped generation changes slope).
func (d *device) pvCrossing(t time.Time) time.Time {
	if d.series == nil {
		return time.Time{}
	}
	h0 := t.Truncate(time.Hour)
	h1 := h0.Add(time.Hour)
	v0, v1 := d.seriesAt(h0), d.seriesAt(h1)
	if v0 == v1 {
		return time.Time{}
	}
	var best time.Time
	for _, c := range []float64{0, d.limitKW} {
		f := (c - v0) / (v1 - v0)
		if f <= 0 || f >= 1 {
			continue
		}
		at := h0.Add(time.Duration(math.Ceil(f * float64(time.Hour))))
		if at.After(t) && at.Before(h1) && (best.IsZero() || at.Before(best)) {
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

// integrate advances the device's state over [a, b], during which its power moves
// linearly from p0 to p1 (p0 == p1 for everything but series devices and meters).
func (d *device) integrate(p0, p1, hours float64) {
	imp, exp := splitEnergy(p0, p1, hours)
	d.importKWh += imp
	d.exportKWh += exp
	switch d.cfg.Kind {
	case site.KindBESS:
		if p0 > 0 {
			d.socPct += p0 * hours * d.etaC / d.capKWh * 100
		} else if p0 < 0 {
			d.socPct += p0 * hours / d.etaD / d.capKWh * 100
		}
		if p0 > 0 && d.socPct > d.maxSoC {
			d.socPct = d.maxSoC
		}
		if p0 < 0 && d.socPct < d.minSoC {
			d.socPct = d.minSoC
		}
	case site.KindEVCharger:
		if d.sess != nil {
			d.delivered += p0 * hours
			if p0 > 0 && d.delivered > d.sess.energyKWh {
				d.delivered = d.sess.energyKWh
			}
			if p0 < 0 && d.delivered < d.v2gFloor {
				d.delivered = d.v2gFloor
			}
		}
	}
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

// advance integrates every device from s.now to t, splitting the interval at hour
// boundaries (series knots) and device events so every piece is exact.
func (s *Sim) advance(t time.Time) {
	if !t.After(s.now) {
		return
	}
	for _, d := range s.devs {
		d.settle(s.now)
	}
	for s.now.Before(t) {
		next := t
		if s.hasSeries {
			if h := s.now.Truncate(time.Hour).Add(time.Hour); h.Before(next) {
				next = h
			}
		}
		for _, d := range s.devs {
			if e := d.nextEvent(s.now); !e.IsZero() && e.After(s.now) && e.Before(next) {
				next = e
			}
		}
		hours := next.Sub(s.now).Hours()
		// Powers over the piece come from the state at its start: take them all
		// before any state moves.
		for _, d := range s.devs {
			if d.cfg.Kind == site.KindMeter {
				continue
			}
			d.p0 = d.power(s.now)
			d.p1 = d.p0
			if d.series != nil {
				d.p1 = d.power(next)
			}
		}
		for _, m := range s.meters {
			var p0, p1 float64
			for _, d := range m.measured {
				p0 += d.p0
				p1 += d.p1
			}
			m.integrate(p0, p1, hours)
		}
		for _, d := range s.devs {
			if d.cfg.Kind != site.KindMeter {
				d.integrate(d.p0, d.p1, hours)
			}
		}
		s.now = next
		for _, d := range s.devs {
			d.settle(s.now)
		}
	}
}
