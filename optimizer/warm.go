package optimizer

import (
	"fmt"
	"math"
	"time"

	"github.com/gridd/gridd/optimizer/ipm"
	"github.com/gridd/gridd/optimizer/lp"
)

// validateWarmStart rejects a warm-start plan holding values that are not
// finite numbers within MaxMagnitude. A plan that merely does not fit the
// scenario (another step length, a start off the step grid, no common
// step) is not an error: Solve then starts cold.
func validateWarmStart(p *Plan) error {
	if p == nil {
		return nil
	}
	bad := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxMagnitude }
	check := func(field string, v []float64) error {
		for t, x := range v {
			if bad(x) {
				return fmt.Errorf("optimizer: options: warm start plan %s[%d]: %v is not a valid value", field, t, x)
			}
		}
		return nil
	}
	if err := check("grid_import_kw", p.GridImportKW); err != nil {
		return err
	}
	if err := check("grid_export_kw", p.GridExportKW); err != nil {
		return err
	}
	for _, a := range p.Assets {
		for _, f := range []struct {
			name string
			v    []float64
		}{{"power_kw", a.PowerKW}, {"soc_kwh", a.SoCKWh}, {"charge_kw", a.ChargeKW}, {"discharge_kw", a.DischargeKW}} {
			if err := check("asset "+a.ID+" "+f.name, f.v); err != nil {
				return err
			}
		}
	}
	return nil
}

// warmOffset returns the index in prev's schedule of the scenario's step
// 0, and false when prev cannot seed the scenario: another step length, a
// start off the scenario's step grid, or no step in common.
func warmOffset(s *Scenario, prev *Plan) (int, bool) {
	if prev == nil || prev.StepMinutes != s.StepMinutes || prev.Steps <= 0 {
		return 0, false
	}
	step := time.Duration(s.StepMinutes) * time.Minute
	d := s.Start.Sub(prev.Start)
	if d%step != 0 {
		return 0, false
	}
	off := d / step
	if off <= -time.Duration(s.Steps) || off >= time.Duration(prev.Steps) {
		return 0, false
	}
	return int(off), true
}

// warmStart maps the previous plan prev onto the formulation's columns
// and rows by asset ID, row name and absolute time: step t of the scenario
// is step t+offset of prev.
//
// Columns: batteries keep prev's charge and discharge (idle where prev
// says nothing) with the SoC integrated from the scenario's initial SoC;
// curtailable PV keeps prev's generation (else its forecast); an EV
// session keeps prev's power where prev schedules it and spreads what it
// still requires evenly over its other steps (all of them for a session
// prev does not know); EV energy and unmet energy, node flows, grid import
// and export and the demand-peak chain follow from these, so every
// balance row holds. Columns of soft limits and plan stability are left
// to the solver (NaN).
//
// Rows: prev's row duals by row name and step, holding the last step's
// dual past prev's horizon. These are kept only in the Plan that Solve
// returned (not in its JSON form).
//
// It returns nil and the reason when prev cannot seed the scenario.
func (f *formulation) warmStart(prev *Plan) (*ipm.Start, string) {
	off, ok := warmOffset(f.s, prev)
	if !ok {
		return nil, "the plan's step grid does not cover the scenario's"
	}
	if prev.duals == nil {
		return nil, "the plan carries no row duals (only plans returned by Solve do)"
	}
	s, T, dt := f.s, f.T, f.dt
	x := make([]float64, f.m.NumVars())
	for j := range x {
		x[j] = math.NaN()
	}
	// at returns v[t+off] when prev covers step t.
	at := func(v []float64, t int) (float64, bool) {
		r := t + off
		if r < 0 || r >= len(v) || r >= prev.Steps {
			return 0, false
		}
		return v[r], true
	}
	byID := make(map[string]*AssetPlan, len(prev.Assets))
	for i := range prev.Assets {
		byID[prev.Assets[i].ID] = &prev.Assets[i]
	}
	asset := func(id, kind string) *AssetPlan {
		a := byID[id]
		if a == nil || a.Kind != kind {
			return nil
		}
		return a
	}
	// Net flexible power per node and step, from the mapped schedule.
	flex := make([][]float64, len(s.Nodes))
	for n := range flex {
		flex[n] = make([]float64, T)
	}
	for b, bt := range s.Batteries {
		bc := f.bat[b]
		a := asset(bt.ID, KindBattery)
		soc := bt.SoCKWh
		for t := 0; t < T; t++ {
			// Idle where prev says nothing (a new battery, steps past
			// prev's horizon).
			c, d := 0.0, 0.0
			if a != nil {
				c1, okc := at(a.ChargeKW, t)
				d1, okd := at(a.DischargeKW, t)
				if okc && okd {
					c, d = c1, d1
				}
			}
			x[bc.c[t]], x[bc.d[t]] = c, d
			soc += dt * (bt.ChargeEfficiency*c - d/bt.DischargeEfficiency)
			x[bc.soc[t]] = soc
			flex[f.nodeIdx[bt.Node]][t] += c - d
		}
	}
	for p, pv := range s.PV {
		if f.pvGen[p] == nil {
			continue
		}
		a := asset(pv.ID, KindPV)
		for t := 0; t < T; t++ {
			// Uncurtailed where prev says nothing.
			j := f.pvGen[p][t]
			x[j] = pv.ForecastKW[t]
			if a != nil {
				if v, ok := at(a.PowerKW, t); ok {
					x[j] = -v
				}
			}
			flex[f.nodeIdx[pv.Node]][t] -= x[j]
		}
	}
	for k, e := range s.EVSessions {
		ec := f.ev[k]
		if ec.unmet < 0 {
			continue
		}
		a := asset(e.ID, KindEV)
		n := f.nodeIdx[e.Node]
		// Steps prev schedules keep their power; the other steps (all of
		// them for a session prev does not know, else those past prev's
		// horizon) share what the session still requires evenly.
		known, unknown := 0.0, 0
		for i := range ec.pc {
			pw, ok := 0.0, false
			if a != nil {
				pw, ok = at(a.PowerKW, ec.from+i)
			}
			if !ok {
				unknown++
				continue
			}
			known += dt * pw
			x[ec.pc[i]] = math.Max(pw, 0)
			if ec.pd != nil {
				x[ec.pd[i]] = math.Max(-pw, 0)
			}
		}
		even := 0.0
		if unknown > 0 {
			even = math.Min(e.MaxChargeKW, math.Max(0, ec.target-known)/(dt*float64(unknown)))
		}
		cum := 0.0
		for i := range ec.pc {
			if math.IsNaN(x[ec.pc[i]]) {
				x[ec.pc[i]] = even
				if ec.pd != nil {
					x[ec.pd[i]] = 0
				}
			}
			pw := x[ec.pc[i]]
			cum += dt * pw
			if ec.pd != nil {
				pw -= x[ec.pd[i]]
				cum -= dt * x[ec.pd[i]] / ec.roundTrip
			}
			if ec.e != nil {
				x[ec.e[i]] = cum
			}
			flex[n][ec.from+i] += pw
		}
		x[ec.unmet] = math.Max(0, ec.target-cum)
	}
	// Node flows bottom-up: flow = fixed + own flexible + children's flows.
	var flowOf func(n, t int) float64
	flowOf = func(n, t int) float64 {
		v := f.fixed[n][t] + flex[n][t]
		for _, c := range f.children[n] {
			v += flowOf(c, t)
		}
		x[f.flow[n][t]] = v
		return v
	}
	for t := 0; t < T; t++ {
		root := flowOf(f.root, t)
		x[f.imp[t]] = math.Max(root, 0)
		x[f.exp[t]] = math.Max(-root, 0)
	}
	// Each billing period's running peak; the first period's last one feeds the
	// priced bands.
	first := 0.0
	for k, sg := range f.segs {
		running := 0.0
		for t := sg.from; t < sg.to; t++ {
			running = math.Max(running, x[f.imp[t]]+s.Grid.margin(t)-sg.peakSoFarKW)
			x[f.peak[t]] = running
		}
		if k == 0 {
			first = running
		}
	}
	fillPeakSteps(s, f, x, first)
	return &ipm.Start{X: x, Y: f.warmDuals(prev.duals, off)}, ""
}

// warmDuals maps prev's row duals onto f's rows by row name and step
// (shifted by off). Unknown duals are NaN.
func (f *formulation) warmDuals(prev *rowDuals, off int) []float64 {
	y := make([]float64, f.m.NumRows())
	for i := range y {
		g, idx := f.m.RowGroup(i)
		if idx >= 0 {
			idx += off
		}
		y[i] = math.NaN()
		if v, ok := prev.at(f.m.GroupName(g), idx); ok {
			y[i] = v
		}
	}
	return y
}

// rowDuals are an LP's row duals by row group name and index (the step for
// step-indexed rows), so that a later model for a shifted horizon can look
// them up by name and absolute time.
type rowDuals struct {
	groups map[string]dualSeries
}

// dualSeries holds a group's duals for indices first, first+1, ...; NaN
// where the group has no row or several rows (soft limits and plan
// stability share a group per step).
type dualSeries struct {
	first int
	y     []float64
}

func newRowDuals(m *lp.Model, y []float64) *rowDuals {
	d := &rowDuals{groups: make(map[string]dualSeries)}
	type span struct{ lo, hi int }
	spans := make(map[lp.Group]span)
	for i := 0; i < m.NumRows(); i++ {
		g, idx := m.RowGroup(i)
		sp, ok := spans[g]
		if !ok {
			sp = span{idx, idx}
		}
		sp.lo, sp.hi = min(sp.lo, idx), max(sp.hi, idx)
		spans[g] = sp
	}
	series := make(map[lp.Group]dualSeries, len(spans))
	for g, sp := range spans {
		ds := dualSeries{first: sp.lo, y: make([]float64, sp.hi-sp.lo+1)}
		for k := range ds.y {
			ds.y[k] = math.NaN()
		}
		series[g] = ds
	}
	seen := make(map[lp.Group][]bool, len(series))
	for g, ds := range series {
		seen[g] = make([]bool, len(ds.y))
	}
	for i := 0; i < m.NumRows(); i++ {
		g, idx := m.RowGroup(i)
		k := idx - series[g].first
		if seen[g][k] {
			series[g].y[k] = math.NaN()
			continue
		}
		seen[g][k] = true
		series[g].y[k] = y[i]
	}
	for g, ds := range series {
		d.groups[m.GroupName(g)] = ds
	}
	return d
}

// at returns the dual of the row of group name with index idx, holding the
// first or last index's value beyond them; ok is false when the group is
// unknown or has no finite value there.
func (d *rowDuals) at(name string, idx int) (float64, bool) {
	ds, ok := d.groups[name]
	if !ok {
		return 0, false
	}
	k := min(max(idx-ds.first, 0), len(ds.y)-1)
	v := ds.y[k]
	return v, !math.IsNaN(v)
}

// fillPeakSteps splits peak (the last running peak) into the priced bands,
// cheapest first, as the LP would.
func fillPeakSteps(s *Scenario, f *formulation, x []float64, peak float64) {
	left := peak
	for k, c := range f.peakStep {
		v := left
		if k < len(s.Grid.PeakCostSteps) {
			v = math.Min(left, s.Grid.PeakCostSteps[k].WidthKW)
		}
		x[c] = v
		left -= v
	}
}
