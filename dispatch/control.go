package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/control"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// The real-time layer. Every control.interval (Run starts it; RunSimulated and replay
// call ControlTick themselves) dispatch polls the devices, feeds the safety envelope
// (so a battery or charger whose control-relevant readings are missing or implausible
// is lost for control within comms_loss_after ticks), and re-applies the step in
// force with the plan's setpoints corrected by package control for the measured
// deviation: node and grid limits and the plan's peak target held, batteries kept
// inside their reserve. Values are written through the safety envelope with
// read-back, like the cycle's, when they move by at least control.deadband_kw, and
// re-written before a device's command watchdog runs out (the keep-alive).

// TickResult summarises one real-time correction.
type TickResult struct {
	At time.Time
	// Writes are the setpoints written (changed values; keep-alive re-writes that
	// read back as written are counted in KeepAlives and not listed).
	Writes     []storage.SetpointWrite
	KeepAlives int
	// Corrections is what package control decided (nil when nothing was in force).
	Corrections *control.Result
	// Latency is the wall time from the start of the poll to the last read-back (the
	// writes are stored after it).
	Latency time.Duration
}

type written struct {
	valueKW float64
	at      time.Time
}

type attempt struct {
	valueKW float64
	at      time.Time
}

// applyMode says which setpoints apply writes: every one (a cycle, an approval, an
// override, resuming) or only those that moved or whose keep-alive is due (a tick).
type applyMode int

const (
	applyAll applyMode = iota
	applyTick
)

// ControlTick runs the real-time layer once at time at: poll, observe, correct and
// write. holdFor is how long the corrected setpoints will stand (normally
// control.interval; a replay that corrects once per step passes the rest of the step).
func (s *Service) ControlTick(ctx context.Context, at time.Time, holdFor time.Duration) (*TickResult, error) {
	wall := time.Now()
	s.pollMu.Lock()
	readings := s.poller.Poll(ctx)
	s.pollMu.Unlock()
	s.mu.Lock()
	for _, r := range readings {
		s.latest[r.DeviceID] = r
	}
	s.mu.Unlock()
	s.publishLive(at, "tick", readings)
	s.observe(ctx, at, readings)
	s.feedDemand(ctx, at, readings)
	res := &TickResult{At: at}
	writes, keep, corr, err := s.apply(ctx, at, applyTick, holdFor, func() { res.Latency = time.Since(wall) })
	res.Writes, res.KeepAlives, res.Corrections = writes, keep, corr
	if corr != nil && s.log.Enabled(ctx, slog.LevelDebug) {
		for _, id := range sortedIDs(corr.Setpoints) {
			if sp := corr.Setpoints[id]; sp.Corrected {
				s.log.Debug("real-time correction", "at", at, "device", id, "value_kw", sp.ValueKW, "why", sp.Reasons)
			}
		}
	}
	if res.Latency == 0 {
		res.Latency = time.Since(wall) // nothing reached the field
	}
	s.metrics.tick(res)
	s.prom.control.Observe(res.Latency.Seconds())
	s.prom.keepAlives.Add(float64(res.KeepAlives))
	if corr != nil {
		for _, sp := range corr.Setpoints {
			if sp.Corrected {
				s.prom.corrections.Inc()
			}
		}
	}
	return res, err
}

// runControl calls ControlTick every control.interval until ctx ends. A tick that
// finds the previous one still running is skipped; ticks never wait for a cycle's
// forecast or solve (only for its poll and writes).
func (s *Service) runControl(ctx context.Context) {
	iv := s.cfg.Control.Interval.D
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			at := s.clock.Now()
			if _, err := s.ControlTick(ctx, at, iv); err != nil && ctx.Err() == nil {
				s.log.Warn("control tick", "at", at, "err", err)
			}
		}
	}
}

// controlRelevant says whether a reading carries what the real-time layer needs to
// control the device: a battery's SoC (plausible, 0-100 %) and power, a charger's or
// PV plant's power. It returns why not.
func controlRelevant(d *site.Device, r fieldbus.Reading) (bool, string) {
	if r.Stale {
		return false, "no answer"
	}
	good := false
	for _, v := range r.Values {
		good = good || v.Quality == fieldbus.Good
	}
	if !good {
		return false, "no good value"
	}
	need := []string{}
	switch d.Kind {
	case site.KindBESS:
		need = []string{"soc_pct", "active_power_kw"}
	case site.KindEVCharger, site.KindPV:
		need = []string{"active_power_kw"}
	}
	for _, p := range need {
		v, ok := r.Value(p)
		if !ok {
			return false, p + " not read"
		}
		if v.Quality != fieldbus.Good {
			why := p + " " + string(v.Quality)
			if v.Err != nil {
				why += ": " + v.Err.Error()
			}
			return false, why
		}
		if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
			return false, fmt.Sprintf("%s = %v", p, v.Value)
		}
		if p == "soc_pct" && (v.Value < 0 || v.Value > 100) {
			return false, fmt.Sprintf("soc_pct = %g is not a percentage", v.Value)
		}
	}
	return true, ""
}

// peakTarget is the import level the plan behind sched asks the real-time layer to
// hold (0 = none).
func (s *Service) peakTarget(sched *storage.Schedule) float64 {
	if s.cfg.Tariff.DemandChargePerKW <= 0 {
		return 0
	}
	doc, err := s.planOf(sched)
	if err != nil || doc.Plan == nil {
		return 0
	}
	return PlanPeakTargetKW(doc.Scenario, doc.Plan)
}

// PlanPeakTargetKW is the import level a plan for scenario scn asks the real-time
// layer to hold when the tariff has a demand charge: the plan's peak target (its
// planned peak with the forecast margin), else its highest planned import, never below
// the billing period's peak so far. A plan that says nothing of its import (0) asks
// for no cap.
func PlanPeakTargetKW(scn *optimizer.Scenario, p *optimizer.Plan) float64 {
	t := p.PeakTargetKW
	if t <= 0 {
		t = p.PeakImportKW
		for _, v := range p.GridImportKW {
			t = math.Max(t, v)
		}
	}
	if t <= 0 {
		return 0
	}
	if scn != nil {
		t = math.Max(t, scn.Grid.PeakSoFarKW)
	}
	return t
}

// fresh returns the device's latest reading if it was taken within maxAge of at.
func (s *Service) freshReading(id string, at time.Time, maxAge time.Duration) (fieldbus.Reading, bool) {
	s.mu.Lock()
	r, ok := s.latest[id]
	s.mu.Unlock()
	if !ok || r.Stale || r.Time.IsZero() {
		return r, false
	}
	if age := at.Sub(r.Time); age > maxAge || age < -maxAge {
		return r, false
	}
	return r, true
}

// correct runs package control over the planned setpoints (by device ID, in write
// units: PV caps, other devices in the sign convention) and returns them corrected.
func (s *Service) correct(ctx context.Context, at time.Time, sched *storage.Schedule, planned map[string]float64, holdFor time.Duration) (map[string]float64, *control.Result) {
	maxAge := 2 * s.cfg.Control.Interval.D
	if holdFor > maxAge {
		maxAge = holdFor
	}
	in := control.Input{HoldFor: holdFor}
	power := func(id string) (float64, bool) {
		r, ok := s.freshReading(id, at, maxAge)
		if !ok {
			return 0, false
		}
		return value(r, "active_power_kw")
	}
	// Node measurements: the node's meter, else the sum of every device below it
	// when all of them were read.
	meters, below, root := s.topo.meters, s.topo.below, s.topo.root
	target := s.peakTarget(sched)
	for _, n := range s.cfg.Nodes {
		cn := control.Node{ID: n.ID, Parent: n.Parent, ImportLimitKW: n.LimitKW, ExportLimitKW: n.LimitKW,
			ImportWhy: "node limit", ExportWhy: "node limit"}
		if n.ID == root {
			if g := s.cfg.Grid.ImportLimitKW; g < cn.ImportLimitKW {
				cn.ImportLimitKW, cn.ImportWhy = g, "grid import limit"
			}
			if g := s.cfg.Grid.ExportLimitKW; g < cn.ExportLimitKW {
				cn.ExportLimitKW, cn.ExportWhy = g, "grid export limit"
			}
			// The peak target is economic: the layer holds it without costing a
			// vehicle its energy (control.Node.TargetKW).
			if target > 0 {
				cn.TargetKW, cn.TargetWhy = target, "the plan's peak target"
			}
			// External limits apply at once, whatever the plan assumed.
			if imp, exp, iw, ew := s.limitAt(ctx, at); imp < math.Inf(1) || exp < math.Inf(1) {
				if imp < cn.ImportLimitKW {
					cn.ImportLimitKW, cn.ImportWhy = imp, iw
				}
				if exp < cn.ExportLimitKW {
					cn.ExportLimitKW, cn.ExportWhy = exp, ew
				}
			}
		}
		if m, ok := meters[n.ID]; ok {
			cn.MeasuredKW, cn.Measured = power(m)
		} else if ids := below[n.ID]; len(ids) > 0 {
			sum, all := 0.0, true
			for _, id := range ids {
				p, ok := power(id)
				sum += p
				all = all && ok
			}
			cn.MeasuredKW, cn.Measured = sum, all
		}
		in.Nodes = append(in.Nodes, cn)
	}
	s.mu.Lock()
	last := make(map[string]written, len(s.written))
	for k, v := range s.written {
		last[k] = v
	}
	s.mu.Unlock()
	unplanned := map[string]bool{}
	for _, d := range s.cfg.Devices {
		if !controllable(d.Kind) {
			continue
		}
		lo, hi, ok := s.env.Allowed(d.ID, at)
		if !ok {
			continue
		}
		a := control.Asset{ID: d.ID, Kind: control.Kind(d.Kind), Node: d.Node, LoKW: lo, HiKW: hi}
		intent, planned := planned[d.ID]
		a.IntentKW = intent
		r, fresh := s.freshReading(d.ID, at, maxAge)
		p, pok := value(r, "active_power_kw")
		a.ActualKW = p
		if w, ok := last[d.ID]; ok {
			a.WrittenKW, a.HasWritten = w.valueKW, true
		}
		_, lost := s.env.CommsAction(d.ID, at)
		_, overridden := s.env.ActiveOverride(d.ID, at)
		if !planned && d.Kind == site.KindEVCharger && fresh && pok && connected(r) && !lost && !overridden {
			// A vehicle that arrived after the plan was made charges as it likes
			// until the next cycle plans it; the layer may only hold it back.
			a.IntentKW = hi
			unplanned[d.ID] = true
		} else if !planned || lost || overridden || !fresh || !pok {
			// Not corrected: its measured power still counts (or, unread, the node
			// above it is not measured either).
			a.Fixed = true
			if !planned {
				a.IntentKW = clampF(p, lo, hi)
			}
			if d.Kind == site.KindPV {
				a.IntentKW = hi
			}
		}
		switch d.Kind {
		case site.KindBESS:
			b := d.BESS
			if soc, ok := value(r, "soc_pct"); ok && fresh {
				floor := b.MinSoCPct
				if d.Safety != nil && d.Safety.ReserveSoCPct > floor {
					floor = d.Safety.ReserveSoCPct
				}
				a.AboveReserveKWh = b.CapacityKWh * (soc - floor) / 100
				a.BelowMaxKWh = b.CapacityKWh * (b.MaxSoCPct - soc) / 100
				a.ChargeEff, a.DischargeEff = b.ChargeEfficiency, b.DischargeEfficiency
			} else {
				a.Fixed = true
			}
		case site.KindEVCharger:
			a.Idle = fresh && !connected(r)
			if !a.Idle && fresh {
				a.MinChargeKW = s.minChargeKW(&d, r, at, holdFor)
			}
		}
		if a.LoKW > a.HiKW {
			a.LoKW = a.HiKW
		}
		in.Assets = append(in.Assets, a)
	}
	res, err := control.Correct(in)
	if err != nil {
		s.log.Warn("real-time correction skipped", "err", err)
		return planned, nil
	}
	out := make(map[string]float64, len(planned))
	for id, v := range planned {
		out[id] = v
		if sp, ok := res.Setpoints[id]; ok && sp.Corrected {
			out[id] = roundTo(sp.ValueKW, SetpointResolutionKW)
		}
	}
	for id := range unplanned {
		if sp, ok := res.Setpoints[id]; ok && sp.Corrected {
			out[id] = roundTo(sp.ValueKW, SetpointResolutionKW)
		}
	}
	// Limits the layer could not keep are alarms until they are kept again.
	open := map[string]bool{}
	for _, e := range res.Unresolved {
		key := "control.limit:" + e.Node + ":" + e.Direction
		open[key] = true
		s.raiseAlarm(ctx, at, key, SeverityWarning, "node:"+e.Node,
			fmt.Sprintf("%s; %.1f kW over with no flexibility left", e.Why, e.ExcessKW))
	}
	for _, n := range s.cfg.Nodes {
		for _, dir := range []string{"import", "export"} {
			key := "control.limit:" + n.ID + ":" + dir
			if !open[key] {
				s.clearAlarm(ctx, at, key, fmt.Sprintf("%s %s within its limit again", n.ID, dir))
			}
		}
	}
	return out, &res
}

func sortedIDs(m map[string]control.Setpoint) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func clampF(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// watchdogs returns each device's command watchdog (0 = none) from its profile.
func watchdogs(cfg *site.Config, profiles map[string]*fieldbus.Profile) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, d := range cfg.Devices {
		if p := profiles[d.ID]; p != nil && p.Watchdog > 0 {
			out[d.ID] = p.Watchdog
		}
	}
	return out
}

// checkWatchdogs refuses a control interval that cannot keep a watchdog alive.
func checkWatchdogs(cfg *site.Config, wd map[string]time.Duration) error {
	ids := make([]string, 0, len(wd))
	for id := range wd {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if cfg.Control.Disabled {
			return fmt.Errorf("control.disabled = true: device %s has a command watchdog (%s) that only the real-time layer keeps alive", id, wd[id])
		}
		if iv := cfg.Control.Interval.D; iv > wd[id]/2 {
			return fmt.Errorf("control.interval = %s: must be at most half of device %s's command watchdog (%s) to keep it alive", iv, id, wd[id])
		}
	}
	return nil
}

// demandAcc averages the root meter's measured import over demand intervals.
type demandAcc struct {
	start  time.Time // start of the open interval
	sumKWh float64
	cover  time.Duration
	lastAt time.Time
	lastKW float64
	has    bool
}

// demandInterval is the metering interval of the demand charge.
func (s *Service) demandInterval() time.Duration {
	return s.cfg.Tariff.DemandIntervalD()
}

// intervalStart is the start of the demand interval containing t, aligned in site time.
func (s *Service) intervalStart(t time.Time) time.Time {
	iv := s.demandInterval()
	lt := t.In(s.cfg.Site.Location)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, s.cfg.Site.Location)
	return day.Add(t.Sub(day) / iv * iv)
}

// feedDemand folds the root meter's reading into the demand-interval average and
// stores the average of every interval that closed.
func (s *Service) feedDemand(ctx context.Context, at time.Time, readings []fieldbus.Reading) {
	meter := s.rootMeter()
	if meter == "" {
		return
	}
	var kw float64
	found := false
	for _, r := range readings {
		if r.DeviceID == meter && !r.Stale {
			kw, found = value(r, "active_power_kw")
		}
	}
	iv := s.demandInterval()
	var out []storage.Sample
	s.mu.Lock()
	a := &s.demand
	if a.has && at.After(a.lastAt) {
		// Hold the last reading until now (at most one interval), across boundaries.
		t := a.lastAt
		end := at
		if end.Sub(t) > iv {
			end = t.Add(iv)
		}
		for t.Before(end) {
			next := s.intervalStart(t).Add(iv)
			seg := end
			if next.Before(seg) {
				seg = next
			}
			a.sumKWh += a.lastKW * seg.Sub(t).Hours()
			a.cover += seg.Sub(t)
			t = seg
			if !t.Before(next) {
				out = append(out, a.close(meter, iv))
				a.start = next
			}
		}
		if st := s.intervalStart(at); !st.Equal(a.start) {
			// A gap longer than an interval: what lay in it was not measured.
			if a.cover > 0 {
				out = append(out, a.close(meter, iv))
			}
			a.start, a.sumKWh, a.cover = st, 0, 0
		}
	}
	if !a.has {
		a.start = s.intervalStart(at)
	}
	if found {
		a.lastAt, a.lastKW, a.has = at, kw, true
	} else {
		a.has = false // no reading: do not carry the old one forward
		if a.cover == 0 {
			a.start = s.intervalStart(at)
		}
	}
	s.mu.Unlock()
	var keep []storage.Sample
	for _, smp := range out {
		if smp.DeviceID != "" {
			keep = append(keep, smp)
		}
	}
	if len(keep) > 0 {
		if err := s.store.WriteTelemetry(ctx, keep); err != nil {
			s.log.Error("store demand-interval average", "err", err)
		}
	}
}

// close returns the average of the open interval as a sample (quality bad when less
// than half of it was measured) and resets the sums.
func (a *demandAcc) close(meter string, iv time.Duration) storage.Sample {
	if a.cover <= 0 {
		a.sumKWh, a.cover = 0, 0
		return storage.Sample{}
	}
	q := storage.QualityGood
	if a.cover < iv/2 {
		q = storage.QualityBad
	}
	smp := storage.Sample{Time: a.start, DeviceID: meter, Point: site.PointImportAvgKW, Value: a.sumKWh / a.cover.Hours(), Quality: q}
	a.sumKWh, a.cover = 0, 0
	return smp
}

// rootMeter is the meter at the root node ("" without one).
func (s *Service) rootMeter() string { return s.topo.meters[s.topo.root] }

// topology is what the real-time layer needs of the node tree, derived once from the
// config: the first meter at each node, the devices below each node (meters left
// out), and the root.
type topology struct {
	meters map[string]string
	below  map[string][]string
	root   string
}

func newTopology(cfg *site.Config) topology {
	t := topology{meters: map[string]string{}, below: map[string][]string{}, root: cfg.Root()}
	parent := map[string]string{}
	for _, n := range cfg.Nodes {
		parent[n.ID] = n.Parent
	}
	for _, d := range cfg.Devices {
		if d.Kind == site.KindMeter {
			if _, dup := t.meters[d.Node]; !dup {
				t.meters[d.Node] = d.ID
			}
			continue
		}
		for n := d.Node; n != ""; n = parent[n] {
			t.below[n] = append(t.below[n], d.ID)
		}
	}
	return t
}

// PeakTarget returns the import level (kW) the real-time layer holds at time at for
// the plan's demand-charge peak target, and the schedule it comes from; 0 when no
// approved schedule covers at or the tariff has no demand charge.
func (s *Service) PeakTarget(ctx context.Context, at time.Time) (float64, *storage.Schedule, error) {
	sched, err := s.InForce(ctx, at)
	if err != nil || sched == nil {
		return 0, sched, err
	}
	return s.peakTarget(sched), sched, nil
}

// minChargeKW is the lowest charging power the vehicle on charger d can be held
// at for holdFor and still receive its session's energy by its departure,
// charging at the charger's full power after that (0 when nothing is due).
func (s *Service) minChargeKW(d *site.Device, r fieldbus.Reading, at time.Time, holdFor time.Duration) float64 {
	ev, ok := s.evSession(d, r, true, at, at)
	if !ok || ev.EnergyKWh <= 0 || ev.MaxChargeKW <= 0 {
		return 0
	}
	h := holdFor.Hours()
	if h <= 0 {
		return 0
	}
	left := time.Duration(ev.DepartureStep) * s.cfg.Site.Step.D // whole steps before it leaves
	after := math.Max(0, left.Hours()-h)
	need := (ev.EnergyKWh - ev.MaxChargeKW*after) / h
	return math.Max(0, math.Min(need, ev.MaxChargeKW))
}
