package replay

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
)

// The baseline and rule strategies replace only the optimiser: dispatch still polls,
// stores, forecasts, proposes, approves and writes. Their plans carry status optimal
// because the auto-approve policy applies only optimal plans.

// newPlan returns an empty plan shaped like the scenario.
func newPlan(s *optimizer.Scenario) *optimizer.Plan {
	return &optimizer.Plan{Status: optimizer.StatusOptimal, Start: s.Start, StepMinutes: s.StepMinutes, Steps: s.Steps}
}

// evFullPower charges every session at full power from arrival until its energy is
// delivered or it departs (within the horizon).
func evFullPower(s *optimizer.Scenario) []optimizer.AssetPlan {
	dt := s.StepHours()
	var out []optimizer.AssetPlan
	for _, e := range s.EVSessions {
		p := make([]float64, s.Steps)
		need := e.EnergyKWh
		for t := e.ArrivalStep; t < min(e.DepartureStep, s.Steps) && need > 1e-9; t++ {
			p[t] = math.Min(e.MaxChargeKW, need/dt)
			need -= p[t] * dt
		}
		out = append(out, optimizer.AssetPlan{ID: e.ID, Kind: optimizer.KindEV, Node: e.Node, PowerKW: p})
	}
	return out
}

// baselineSolve: no storage control (batteries idle), EVs at full power on arrival,
// PV never curtailed.
func baselineSolve(ctx context.Context, s *optimizer.Scenario, _ optimizer.Options) (*optimizer.Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pl := newPlan(s)
	for _, b := range s.Batteries {
		pl.Assets = append(pl.Assets, optimizer.AssetPlan{ID: b.ID, Kind: optimizer.KindBattery, Node: b.Node, PowerKW: make([]float64, s.Steps)})
	}
	pl.Assets = append(pl.Assets, evFullPower(s)...)
	return pl, nil
}

// ruleSolve is a simple peak-shaving and self-consumption rule on the forecast: EVs at
// full power on arrival; a battery charges from PV surplus and discharges when the
// net import would exceed the threshold, the mean forecast net import over the
// horizon. Several batteries take the power in config order.
func ruleSolve(ctx context.Context, s *optimizer.Scenario, _ optimizer.Options) (*optimizer.Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pl := newPlan(s)
	evs := evFullPower(s)
	dt := s.StepHours()
	net := make([]float64, s.Steps)
	for t := range net {
		for _, l := range s.Loads {
			net[t] += l.ForecastKW[t]
		}
		for _, p := range s.PV {
			net[t] -= p.ForecastKW[t]
		}
		for _, e := range evs {
			net[t] += e.PowerKW[t]
		}
	}
	threshold := 0.0
	for _, v := range net {
		threshold += math.Max(v, 0)
	}
	threshold /= float64(len(net))
	soc := make([]float64, len(s.Batteries))
	for i, b := range s.Batteries {
		soc[i] = b.SoCKWh
	}
	bp := make([][]float64, len(s.Batteries))
	for i := range bp {
		bp[i] = make([]float64, s.Steps)
	}
	for t, v := range net {
		want := 0.0 // + charge
		switch {
		case v < 0:
			want = -v
		case v > threshold:
			want = -(v - threshold)
		}
		for i, b := range s.Batteries {
			var p float64
			if want > 0 {
				p = math.Min(want, math.Min(b.MaxChargeKW, math.Max(0, b.MaxSoCKWh-soc[i])/(b.ChargeEfficiency*dt)))
				soc[i] += p * b.ChargeEfficiency * dt
			} else if want < 0 {
				p = -math.Min(-want, math.Min(b.MaxDischargeKW, math.Max(0, soc[i]-b.MinSoCKWh)*b.DischargeEfficiency/dt))
				soc[i] += p / b.DischargeEfficiency * dt
			}
			bp[i][t] = p
			want -= p
		}
	}
	for i, b := range s.Batteries {
		pl.Assets = append(pl.Assets, optimizer.AssetPlan{ID: b.ID, Kind: optimizer.KindBattery, Node: b.Node, PowerKW: bp[i]})
	}
	pl.Assets = append(pl.Assets, evs...)
	return pl, nil
}

// hindsightPlan is the perfect-foresight schedule of the whole period: per
// controllable device a power per step, and per PV plant the curtailment.
type hindsightPlan struct {
	from      time.Time
	step      time.Duration
	n         int
	power     map[string][]float64
	curtailed map[string][]float64
	kind      map[string]string
	node      map[string]string
	ids       []string
	// gridKW is the plan's grid import per step, the level the real-time layer is
	// asked to hold (the plan's peak target).
	gridKW []float64
	// notes say where the actuals forced a limit to be relaxed.
	notes []string
	// cost is the plan's own cost (see hindsightPass).
	cost float64
}

// Hindsight windows: each LP sees hindsightSolveDays of actuals and keeps the first
// hindsightKeepDays; the battery SoC, the EV energy delivered and the peak import so
// far chain the windows.
const (
	hindsightKeepDays  = 1
	hindsightSolveDays = 2
)

// setpointResolutionKW is the resolution dispatch writes setpoints at: a planned
// power is rounded to it, so an EV plan at finer resolution would deliver less
// than it says (the vehicle stops at its request, so what a rounding up adds in
// one step cannot make up for what another rounding down lost).
const setpointResolutionKW = dispatch.SetpointResolutionKW

// sessWindow is one EV session in a hindsight window: the LP plans the whole steps
// [arr, dep) of the window; the vehicle leaves tailH hours into step dep.
type sessWindow struct {
	dev, key        string
	energyKWh       float64
	arr, dep        int
	tailH           float64
	maxKW, maxDisKW float64
	// roundTrip is the vehicles' ηc·ηd: a kWh discharged takes 1/roundTrip kWh of
	// charging to put back (the session's energy counts at the meter).
	roundTrip float64
}

// credit is the session energy a charger power p credits per hour: p charging,
// p/roundTrip discharging (as package plant and the optimiser count it).
func (sw sessWindow) credit(p float64) float64 {
	if p < 0 && sw.roundTrip > 0 {
		return p / sw.roundTrip
	}
	return p
}

// quantise turns the LP's power for the session's kept whole steps into setpoints at
// setpointResolutionKW that deliver at least the planned energy by every step: each
// step takes the planned energy so far less what the earlier setpoints deliver,
// rounded up, within the charger's ratings (energies as the session counts them,
// discharge with the vehicles' losses). It returns the setpoints of steps arr,
// arr+1, … up to dep or keep.
func (sw sessWindow) quantise(plan []float64, dt float64, keep int) []float64 {
	r := setpointResolutionKW
	hi := math.Floor(sw.maxKW/r + 1e-9)
	lo := -math.Floor(sw.maxDisKW/r + 1e-9)
	var out []float64
	var planned, set float64 // kWh since arr
	for k := sw.arr; k < min(sw.dep, keep, len(plan)); k++ {
		planned += sw.credit(plan[k]) * dt
		gap := planned - set
		if gap < 0 && sw.roundTrip > 0 {
			gap *= sw.roundTrip // discharge power that debits the gap
		}
		u := math.Ceil(gap/(r*dt) - 1e-3) // the tolerance keeps LP noise from rounding up
		u = math.Max(lo, math.Min(u, hi))
		v := u * r
		set += sw.credit(v) * dt
		out = append(out, v)
	}
	return out
}

// tail returns the setpoint for the step the vehicle leaves in and the energy it
// delivers there, for need kWh still missing: need over the minutes left, rounded up
// to the setpoint resolution, at most the rated power.
func (sw sessWindow) tail(need float64) (setKW, energyKWh float64) {
	if sw.tailH <= 0 || need <= 1e-9 {
		return 0, 0
	}
	r := setpointResolutionKW
	u := math.Min(math.Ceil(need/sw.tailH/r-1e-3), math.Floor(sw.maxKW/r+1e-9))
	if u <= 0 {
		return 0, 0
	}
	setKW = u * r
	return setKW, math.Min(need, setKW*sw.tailH)
}

// planHindsight solves the period with the actual load, PV and EV sessions known in
// advance, in day-long windows with a day of look-ahead chained by SoC. Each EV
// session's plan is what the field executes: full power from a plug-in inside a
// step to the next cycle (fixed, outside the LP), the LP's power in the whole steps
// as 0.1 kW setpoints (quantise), and in the step the vehicle leaves in the setpoint
// for what is still missing over its remaining minutes (tail); the delivered energy
// that chains the windows is what these setpoints deliver, not the LP's figure.
func planHindsight(ctx context.Context, cfg *site.Config, h *History, f *Field, from time.Time, n int) (*hindsightPlan, error) {
	hp, err := hindsightPass(ctx, cfg, h, f, from, n, nil)
	if err != nil || cfg.Tariff.DemandChargePerKW <= 0 {
		return hp, err
	}
	// With a demand charge a window sees two days of a billing period: it holds
	// the peak so far unless raising it pays within those days, so it can hold a
	// peak lower than the whole period's best (buying expensive energy to keep
	// it). The whole period's plan is searched over the billed peak instead: each
	// pass starts every billing period at m × the peak the first pass reached in
	// it (imports up to it cost no demand charge, as the bill will have it
	// anyway), and the pass with the lowest cost is the plan.
	peaks := hp.periodPeaks(cfg)
	best := hp
	try := func(m float64) (float64, error) {
		p, err := hindsightPass(ctx, cfg, h, f, from, n, func(periodStart time.Time) float64 { return m * peaks[periodStart] })
		if err != nil {
			return 0, err
		}
		if p.cost < best.cost {
			best = p
		}
		return p.cost, nil
	}
	if _, err := try(1); err != nil {
		return nil, err
	}
	// Golden-section search of m over [1, 1 + hindsightPeakSpan].
	const phi = 0.6180339887498949
	a, b := 1.0, 1+hindsightPeakSpan
	x1, x2 := b-phi*(b-a), a+phi*(b-a)
	f1, err := try(x1)
	if err != nil {
		return nil, err
	}
	f2, err := try(x2)
	if err != nil {
		return nil, err
	}
	for range hindsightPeakSteps {
		if f1 <= f2 {
			b, x2, f2 = x2, x1, f1
			x1 = b - phi*(b-a)
			if f1, err = try(x1); err != nil {
				return nil, err
			}
		} else {
			a, x1, f1 = x1, x2, f2
			x2 = a + phi*(b-a)
			if f2, err = try(x2); err != nil {
				return nil, err
			}
		}
	}
	return best, nil
}

// The hindsight peak search: billed peaks up to hindsightPeakSpan above the first
// pass's, in hindsightPeakSteps golden-section steps after the first two points.
const (
	hindsightPeakSpan  = 0.3
	hindsightPeakSteps = 4
)

// periodPeaks is the highest planned import in each billing period the plan
// touches, by the period's start.
func (hp *hindsightPlan) periodPeaks(cfg *site.Config) map[time.Time]float64 {
	out := map[time.Time]float64{}
	for k, v := range hp.gridKW {
		ps, _ := cfg.Tariff.DemandPeriodAt(hp.from.Add(time.Duration(k)*hp.step), cfg.Site.Location)
		out[ps] = math.Max(out[ps], v)
	}
	return out
}

// hindsightPass plans the period in day windows (see the constants above). floor,
// when not nil, gives the peak each billing period starts from (by the period's
// start) instead of 0. The plan's cost is its own: energy bought less sold, the
// demand charge of each billing period's highest import, battery wear and the
// penalty of vehicle energy left unmet, over the kept steps.
func hindsightPass(ctx context.Context, cfg *site.Config, h *History, f *Field, from time.Time, n int, floor func(time.Time) float64) (*hindsightPlan, error) {
	step := cfg.Site.Step.D
	perDay := int(24 * time.Hour / step)
	hp := &hindsightPlan{from: from, step: step, n: n, gridKW: make([]float64, n), power: map[string][]float64{}, curtailed: map[string][]float64{},
		kind: map[string]string{}, node: map[string]string{}}
	soc := map[string]float64{}
	etaC, etaD := cfg.EV.Efficiencies()
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		switch d.Kind {
		case site.KindBESS, site.KindEVCharger, site.KindPV:
			hp.power[d.ID] = make([]float64, n)
			hp.ids = append(hp.ids, d.ID)
			hp.node[d.ID] = d.Node
			hp.kind[d.ID] = map[string]string{site.KindBESS: optimizer.KindBattery, site.KindEVCharger: optimizer.KindEV, site.KindPV: optimizer.KindPV}[d.Kind]
		}
		if d.Kind == site.KindPV {
			hp.curtailed[d.ID] = make([]float64, n)
		}
		if d.Kind == site.KindBESS {
			soc[d.ID] = f.byID[d.ID].pd.Battery.SoCKWh
		}
	}
	delivered := map[string]float64{} // by session key
	// The peak so far is the billing period's (tariff.demand_period): it starts
	// again at 0 when a period begins.
	peak := 0.0
	var periodEnd time.Time
	peakAt := func(t time.Time) {
		if !t.Before(periodEnd) {
			var ps time.Time
			ps, periodEnd = cfg.Tariff.DemandPeriodAt(t, cfg.Site.Location)
			peak = 0
			if floor != nil {
				peak = floor(ps)
			}
		}
	}
	wear := map[string]float64{}
	for i := range cfg.Devices {
		if d := &cfg.Devices[i]; d.Kind == site.KindBESS {
			wear[d.ID] = d.BESS.WearCostPerKWh
		}
	}
	for w0 := 0; w0 < n; w0 += hindsightKeepDays * perDay {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w1 := min(w0+hindsightSolveDays*perDay, n)
		keep := min(hindsightKeepDays*perDay, n-w0)
		start := from.Add(time.Duration(w0) * step)
		peakAt(start)
		steps := w1 - w0
		dt := step.Hours()
		imp, exp, err := f.prices.Prices(ctx, start, step, steps)
		if err != nil {
			return nil, err
		}
		scn := &optimizer.Scenario{Start: start, StepMinutes: int(step / time.Minute), Steps: steps,
			Grid: optimizer.Grid{ImportLimitKW: cfg.Grid.ImportLimitKW, ExportLimitKW: cfg.Grid.ExportLimitKW,
				ImportPrice: imp, ExportPrice: exp, DemandChargePerKW: cfg.Tariff.DemandChargePerKW, PeakSoFarKW: peak}}
		if cfg.Tariff.DemandChargePerKW > 0 {
			scn.Grid.PeakPeriodStarts = cfg.Tariff.PeriodStartsIn(start, step, steps, cfg.Site.Location)
		}
		for _, nd := range cfg.Nodes {
			scn.Nodes = append(scn.Nodes, optimizer.Node{ID: nd.ID, Parent: nd.Parent, LimitKW: nd.LimitKW})
		}
		var wins []sessWindow
		for i := range cfg.Devices {
			d := &cfg.Devices[i]
			switch d.Kind {
			case site.KindLoad, site.KindPV:
				v := make([]float64, steps)
				for k := range v {
					a := start.Add(time.Duration(k) * step)
					m, err := h.MeanKW(d.ID, a, a.Add(step))
					if err != nil {
						return nil, err
					}
					v[k] = m
				}
				if d.Kind == site.KindLoad {
					scn.Loads = append(scn.Loads, optimizer.Load{ID: d.ID, Node: d.Node, ForecastKW: v})
				} else {
					scn.PV = append(scn.PV, optimizer.PV{ID: d.ID, Node: d.Node, ForecastKW: v, Curtailable: d.PV.Curtailable})
				}
			case site.KindBESS:
				b := d.BESS
				capKWh := b.CapacityKWh
				// The reserve is the lower SoC bound, as in dispatch; a battery that
				// starts outside its band is planned from where it is.
				lo, hi := capKWh*math.Max(b.MinSoCPct, cfg.ReserveSoCPct(d))/100, capKWh*b.MaxSoCPct/100
				s := soc[d.ID]
				lo, hi = math.Min(lo, s), math.Max(hi, s)
				bat := optimizer.Battery{ID: d.ID, Node: d.Node, SoCKWh: s, MinSoCKWh: lo, MaxSoCKWh: hi,
					MaxChargeKW: b.MaxChargeKW, MaxDischargeKW: b.MaxDischargeKW,
					ChargeEfficiency: b.ChargeEfficiency, DischargeEfficiency: b.DischargeEfficiency, WearCostPerKWh: b.WearCostPerKWh}
				if b.TerminalSoCPct != nil {
					t := math.Min(capKWh**b.TerminalSoCPct/100, hi)
					bat.TerminalSoCKWh = &t
				}
				scn.Batteries = append(scn.Batteries, bat)
			case site.KindEVCharger:
				end := start.Add(time.Duration(steps) * step)
				for si, s := range h.sessions[d.ID] {
					if !s.PlugOut.After(start) || !s.PlugIn.Before(end) {
						continue
					}
					key := fmt.Sprintf("%s@%d", d.ID, si)
					need := s.EnergyKWh - delivered[key]
					arr := 0
					if s.PlugIn.After(start) {
						// Plug-in inside a step: the charger runs uncontrolled at full
						// power until the next cycle, as in the field.
						arr = int(math.Ceil(float64(s.PlugIn.Sub(start)) / float64(step)))
						stepEnd := start.Add(time.Duration(arr) * step)
						if s.PlugIn.Before(stepEnd) && arr-1 < steps {
							ov := math.Min(float64(stepEnd.Sub(s.PlugIn)), float64(s.PlugOut.Sub(s.PlugIn))) / float64(time.Hour)
							e0 := math.Min(d.EV.MaxChargeKW*ov, need)
							if e0 > 0 {
								v := make([]float64, steps)
								v[arr-1] = e0 / dt
								scn.Loads = append(scn.Loads, optimizer.Load{ID: "arrival:" + key, Node: d.Node, ForecastKW: v})
								if arr-1 < keep {
									delivered[key] += e0
								}
								need -= e0
							}
						}
					}
					// The LP plans the whole steps [arr, dep); the vehicle leaves inside
					// step dep, after tailH hours of it.
					dep := int(math.Floor(float64(s.PlugOut.Sub(start)) / float64(step)))
					tailH := s.PlugOut.Sub(start.Add(time.Duration(dep) * step)).Hours()
					sw := sessWindow{dev: d.ID, key: key, energyKWh: s.EnergyKWh, arr: arr, dep: dep, tailH: tailH,
						maxKW: d.EV.MaxChargeKW, maxDisKW: d.EV.MaxDischargeKW, roundTrip: etaC * etaD}
					if dep == arr && dep < steps {
						// No whole step: the step it leaves in is the only chance, and
						// its setpoint is fixed by what is still missing.
						if p, e := sw.tail(need); e > 0 {
							v := make([]float64, steps)
							v[dep] = e / dt
							scn.Loads = append(scn.Loads, optimizer.Load{ID: "departure:" + key, Node: d.Node, ForecastKW: v})
							if dep < keep {
								delivered[key] += e
								hp.power[d.ID][w0+dep] += p
							}
						}
						continue
					}
					if dep <= arr || arr >= steps {
						continue
					}
					scn.EVSessions = append(scn.EVSessions, dispatch.SessionCosts(cfg, optimizer.EVSession{ID: key, Node: d.Node, ArrivalStep: arr, DepartureStep: dep,
						EnergyKWh: math.Max(0, need), MaxChargeKW: d.EV.MaxChargeKW, MaxDischargeKW: d.EV.MaxDischargeKW,
						V2GBudgetKWh: d.EV.V2GBudgetKWh}))
					wins = append(wins, sw)
				}
			}
		}
		relaxLimits(cfg, scn, &hp.notes)
		if err := scn.Validate(); err != nil {
			return nil, fmt.Errorf("window from %s: %w", start.Format(time.RFC3339), err)
		}
		pl, err := optimizer.Solve(ctx, scn, optimizer.Options{})
		if err != nil {
			return nil, fmt.Errorf("window from %s: %w", start.Format(time.RFC3339), err)
		}
		evPlan := map[string][]float64{}
		for _, a := range pl.Assets {
			if a.Kind == optimizer.KindEV {
				evPlan[a.ID] = a.PowerKW
				continue
			}
			p, ok := hp.power[a.ID]
			if !ok {
				continue
			}
			for k := 0; k < keep; k++ {
				p[w0+k] += a.PowerKW[k]
				if c, ok := hp.curtailed[a.ID]; ok && k < len(a.CurtailedKW) {
					c[w0+k] = a.CurtailedKW[k]
				}
			}
			if a.Kind == optimizer.KindBattery && keep < len(a.SoCKWh) {
				soc[a.ID] = a.SoCKWh[keep]
			}
		}
		for _, sw := range wins {
			p := hp.power[sw.dev]
			q := sw.quantise(evPlan[sw.key], dt, keep)
			for k, v := range q {
				p[w0+sw.arr+k] += v
				delivered[sw.key] += sw.credit(v) * dt
			}
			if sw.dep < keep && sw.dep < steps {
				// The step it leaves in: what the whole steps did not deliver, as far
				// as its minutes allow (as dispatch charges an overdue vehicle).
				if v, e := sw.tail(sw.energyKWh - delivered[sw.key]); e > 0 {
					p[w0+sw.dep] += v
					delivered[sw.key] += e
				}
			}
		}
		for k := 0; k < keep; k++ {
			peakAt(start.Add(time.Duration(k) * step))
			peak = math.Max(peak, pl.GridImportKW[k])
			if w0+k < n {
				hp.gridKW[w0+k] = pl.GridImportKW[k]
			}
			hp.cost += dt * (imp[k]*pl.GridImportKW[k] - exp[k]*pl.GridExportKW[k])
		}
		for _, a := range pl.Assets {
			if w, ok := wear[a.ID]; ok && a.Kind == optimizer.KindBattery {
				for k := 0; k < keep && k < len(a.ChargeKW) && k < len(a.DischargeKW); k++ {
					hp.cost += w * dt * (a.ChargeKW[k] + a.DischargeKW[k])
				}
			}
		}
	}
	for _, v := range hp.periodPeaks(cfg) {
		hp.cost += cfg.Tariff.DemandChargePerKW * v
	}
	end := from.Add(time.Duration(n) * step)
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		for si, s := range h.sessions[d.ID] {
			if s.PlugOut.After(from) && !s.PlugOut.After(end) {
				hp.cost += cfg.EV.UnmetPenaltyPerKWh * math.Max(0, s.EnergyKWh-delivered[fmt.Sprintf("%s@%d", d.ID, si)])
			}
		}
	}
	return hp, nil
}

// solve hands dispatch the slice of the hindsight plan that its scenario covers; the
// forecasts in the scenario are ignored.
func (hp *hindsightPlan) solve(ctx context.Context, s *optimizer.Scenario, _ optimizer.Options) (*optimizer.Plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pl := newPlan(s)
	k0 := int(s.Start.Sub(hp.from) / hp.step)
	// The import the plan makes, and with a demand charge its peak (never below the
	// peak so far), for the real-time layer to hold.
	pl.GridImportKW = make([]float64, s.Steps)
	for j := range pl.GridImportKW {
		if k := k0 + j; k >= 0 && k < hp.n {
			pl.GridImportKW[j] = hp.gridKW[k]
			pl.PeakImportKW = math.Max(pl.PeakImportKW, hp.gridKW[k])
		}
	}
	if s.Grid.DemandChargePerKW > 0 {
		pl.PeakTargetKW = math.Max(pl.PeakImportKW, s.Grid.PeakSoFarKW)
	}
	for _, id := range hp.ids {
		a := optimizer.AssetPlan{ID: id, Kind: hp.kind[id], Node: hp.node[id], PowerKW: make([]float64, s.Steps)}
		c, isPV := hp.curtailed[id]
		if isPV {
			a.CurtailedKW = make([]float64, s.Steps)
		}
		for j := 0; j < s.Steps; j++ {
			if k := k0 + j; k >= 0 && k < hp.n {
				a.PowerKW[j] = hp.power[id][k]
				if isPV {
					a.CurtailedKW[j] = c[k]
				}
			}
		}
		pl.Assets = append(pl.Assets, a)
	}
	return pl, nil
}

// relaxLimits handles steps of a hindsight window where the recorded load less the
// PV below a node (or the whole site, against the grid import limit) exceeds the
// limit: the real site drew that much, and a battery cannot be counted on to cover
// hours of it. The excess is taken as unavoidable: it is removed from the window's
// loads in those steps only (deepest nodes first), so the limits stay as configured
// everywhere else, and the field still counts the violation, for every strategy
// alike. Each such window gets a note.
func relaxLimits(cfg *site.Config, scn *optimizer.Scenario, notes *[]string) {
	parent := map[string]string{}
	for _, n := range cfg.Nodes {
		parent[n.ID] = n.Parent
	}
	under := func(node, root string) bool {
		for n := node; n != ""; n = parent[n] {
			if n == root {
				return true
			}
		}
		return false
	}
	depth := func(n string) int {
		d := 0
		for ; parent[n] != ""; n = parent[n] {
			d++
		}
		return d
	}
	type limit struct {
		node string // "" = the grid connection
		kw   float64
		d    int
	}
	var limits []limit
	for _, n := range scn.Nodes {
		limits = append(limits, limit{n.ID, n.LimitKW, depth(n.ID)})
	}
	limits = append(limits, limit{"", scn.Grid.ImportLimitKW, -1})
	sort.SliceStable(limits, func(a, b int) bool { return limits[a].d > limits[b].d })
	root := cfg.Root()
	for _, l := range limits {
		sub := l.node
		name := "node " + l.node
		if sub == "" {
			sub, name = root, "grid import"
		}
		steps, worst := 0, 0.0
		for t := 0; t < scn.Steps; t++ {
			v := 0.0
			for _, ld := range scn.Loads {
				if under(ld.Node, sub) {
					v += ld.ForecastKW[t]
				}
			}
			for _, p := range scn.PV {
				if under(p.Node, sub) {
					v -= p.ForecastKW[t]
				}
			}
			excess := v - l.kw
			if excess <= 0 {
				continue
			}
			steps++
			worst = math.Max(worst, excess)
			for i := range scn.Loads {
				ld := &scn.Loads[i]
				if excess <= 0 || !under(ld.Node, sub) {
					continue
				}
				cut := math.Min(excess, ld.ForecastKW[t])
				ld.ForecastKW[t] -= cut
				excess -= cut
			}
		}
		if steps > 0 {
			*notes = append(*notes, fmt.Sprintf("%s: %s: recorded net load above the %.1f kW limit in %d steps (by up to %.1f kW), taken as unavoidable",
				scn.Start.Format("2006-01-02"), name, l.kw, steps, worst))
		}
	}
}
