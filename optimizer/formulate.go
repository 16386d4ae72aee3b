package optimizer

import (
	"fmt"
	"math"
	"time"

	"github.com/gridd/gridd/optimizer/lp"
)

// Row and column kinds, used to describe LP entities in words.
type kind uint8

const (
	kGridImport kind = iota
	kGridExport
	kFlow
	kPeak
	kBatCharge
	kBatDischarge
	kBatSoC
	kPVGen
	kEVCharge
	kEVDischarge
	kEVEnergy
	kEVUnmet
	kPeakStep

	kBalance
	kGridRow
	kPeakRow
	kPeakChain
	kBatRow
	kEVRow
	kEVTarget
	kSoftRow
	kStabRow
	kPeakSplit

	kViolation
	kDeviation
)

// meta says what an LP column or row stands for: its kind, the node or
// asset index, and the step (-1 for none).
type meta struct {
	kind kind
	obj  int
	step int
}

// evPlan holds an EV session's columns; columns for steps outside the
// session's window inside the horizon are absent.
type evCols struct {
	from, to int   // active steps [from, to) within the horizon
	pc, pd   []int // per active step; pd nil without V2G
	e        []int // cumulative energy after each active step; nil without V2G
	unmet    int   // -1 when the session has no step in the horizon
	target   float64
	// roundTrip is ηc·ηd: e counts energy at the charger's meter, so a
	// kW discharged lowers it by 1/roundTrip kW.
	roundTrip float64
}

type batCols struct {
	c, d []int
	soc  []int // soc[t] is the SoC at the start of step t+1
}

// formulation is the dispatch LP of a scenario together with the maps
// from scenario entities to LP columns and rows.
type formulation struct {
	s        *Scenario
	m        *lp.Model
	dt       float64
	T        int
	nodeIdx  map[string]int
	parent   []int
	children [][]int
	root     int

	imp, exp []int
	flow     [][]int       // [node][t]
	peak     []int         // running import peak above PeakSoFarKW; nil without demand charge
	peakStep []int         // the first billing period's last peak split into Grid.PeakCostSteps and the rest; nil without steps
	segs     []peakSegment // the billing periods in the horizon (Grid.peakSegments)
	bat      []batCols
	pvGen    [][]int // [pv][t]; nil when not curtailable
	ev       []evCols

	balRow  [][]int // [node][t]
	gridRow []int
	peakRow []int
	batRow  [][]int
	evRow   [][]int
	evTgt   []int

	fixed [][]float64 // [node][t] power of the node's own loads and non-curtailable PV

	soft []softLimit // soft mode: the relaxed limits
	stab []stabTerm  // plan-stability deviations

	cols, rows []meta
}

// softLimit is a limit relaxed in soft mode: lo ≤ x − over + under ≤ hi,
// where over and under cost weight per unit.
type softLimit struct {
	col         int    // the limited column
	what        string // e.g. "node feeder-a limit at step 72 (18:00)"
	unit        string // "kW" or "kWh"
	lo, hi      float64
	over, under int // violation columns
	weight      float64
}

// stabTerm is a plan-stability deviation: power − up + down = ref, where
// power = Σ vals·x[cols].
type stabTerm struct {
	up, down int
	cols     []int
	vals     []float64
	ref      float64
	weight   float64
}

// formOptions are the Options that change the LP.
type formOptions struct {
	soft      bool
	stability float64
	reference *Plan
}

// evTarget is the energy a session must receive within the horizon. When
// the session departs after the horizon, the energy it can still take after
// the horizon at full power is deducted (never below zero), so the plan does
// not postpone more than could be delivered later. A session arriving after
// the horizon requires nothing of this plan.
func evTarget(e EVSession, steps int, dt float64) float64 {
	if e.ArrivalStep >= steps {
		return 0
	}
	if e.DepartureStep <= steps {
		return e.EnergyKWh
	}
	after := e.DepartureStep - max(e.ArrivalStep, steps)
	return math.Max(0, e.EnergyKWh-e.MaxChargeKW*dt*float64(after))
}

func newTree(s *Scenario) (idx map[string]int, parent []int, children [][]int, root int) {
	idx = make(map[string]int, len(s.Nodes))
	for i, n := range s.Nodes {
		idx[n.ID] = i
	}
	parent = make([]int, len(s.Nodes))
	children = make([][]int, len(s.Nodes))
	for i, n := range s.Nodes {
		if n.Parent == "" {
			root = i
			parent[i] = -1
			continue
		}
		parent[i] = idx[n.Parent]
		children[parent[i]] = append(children[parent[i]], i)
	}
	return idx, parent, children, root
}

func (f *formulation) addVar(g lp.Group, k kind, obj, t int, lo, hi, cost float64) int {
	f.cols = append(f.cols, meta{k, obj, t})
	return f.m.AddVar(g, t, lo, hi, cost)
}

func (f *formulation) addRow(g lp.Group, k kind, obj, t int, lo, hi float64, cols []int, vals []float64) int {
	f.rows = append(f.rows, meta{k, obj, t})
	return f.m.AddRow(g, t, lo, hi, cols, vals)
}

// reserve sizes the model and the column and row metadata for the
// scenario (soft limits and stability terms, added later, may still grow
// them).
func (f *formulation) reserve() {
	s, T := f.s, f.T
	cols := (2+len(s.Nodes)+1+3*len(s.Batteries)+len(s.PV))*T + len(s.EVSessions)
	rows := (len(s.Nodes)+3+len(s.Batteries))*T + len(s.EVSessions)
	entries := (3*len(s.Nodes)+6+4*len(s.Batteries)+len(s.PV))*T + len(s.EVSessions)
	for _, e := range s.EVSessions {
		steps := max(0, min(e.DepartureStep, T)-e.ArrivalStep)
		if e.MaxDischargeKW > 0 {
			cols += 3 * steps
			rows += steps
			entries += 6*steps + 2
		} else {
			cols += steps
			entries += 2*steps + 1
		}
	}
	f.m.Grow(cols, rows, entries)
	f.cols = make([]meta, 0, cols)
	f.rows = make([]meta, 0, rows)
}

// formulate builds the LP of a validated scenario (with validated options).
func formulate(s *Scenario, o formOptions) *formulation {
	T := s.Steps
	dt := s.StepHours()
	f := &formulation{s: s, m: lp.NewModel(), dt: dt, T: T}
	f.nodeIdx, f.parent, f.children, f.root = newTree(s)
	inf := math.Inf(1)
	nN := len(s.Nodes)
	f.reserve()

	f.fixed = make([][]float64, nN)
	for n := range f.fixed {
		f.fixed[n] = make([]float64, T)
	}
	// entries[n][t] collects the asset terms of node n's balance at step t.
	type term struct {
		col int
		v   float64
	}
	entries := make([][][]term, nN)
	for n := range entries {
		entries[n] = make([][]term, T)
	}
	for _, l := range s.Loads {
		n := f.nodeIdx[l.Node]
		for t := 0; t < T; t++ {
			f.fixed[n][t] += l.ForecastKW[t]
		}
	}

	// Grid connection.
	gImp, gExp := f.m.Group("grid.import"), f.m.Group("grid.export")
	f.imp = make([]int, T)
	f.exp = make([]int, T)
	for t := 0; t < T; t++ {
		f.imp[t] = f.addVar(gImp, kGridImport, 0, t, 0, s.Grid.ImportLimitAt(t), dt*s.Grid.ImportPrice[t])
		f.exp[t] = f.addVar(gExp, kGridExport, 0, t, 0, s.Grid.ExportLimitAt(t), -dt*s.Grid.ExportPrice[t])
	}
	// Node flows: net power of each subtree.
	f.flow = make([][]int, nN)
	for n, node := range s.Nodes {
		g := f.m.Group("node." + node.ID + ".flow")
		f.flow[n] = make([]int, T)
		for t := 0; t < T; t++ {
			f.flow[n][t] = f.addVar(g, kFlow, n, t, -node.LimitKW, node.LimitKW, 0)
		}
	}
	// Demand charge: peak[t] is the running maximum of import above the
	// peak so far; only its last value is charged.
	if s.Grid.DemandChargePerKW > 0 {
		gP := f.m.Group("grid.peak")
		f.peak = make([]int, T)
		f.segs = s.Grid.peakSegments(T)
		for k, sg := range f.segs {
			for t := sg.from; t < sg.to; t++ {
				cost := 0.0
				// Each billing period's last running peak is charged; the first
				// period's through its priced bands when there are any.
				if t == sg.to-1 && (k > 0 || len(s.Grid.PeakCostSteps) == 0) {
					cost = s.Grid.DemandChargePerKW
				}
				f.peak[t] = f.addVar(gP, kPeak, 0, t, 0, inf, cost)
			}
		}
		// The charged peak as the sum of its priced bands, cheapest first (the
		// prices do not decrease, so the LP fills them in order).
		if len(s.Grid.PeakCostSteps) > 0 {
			gS := f.m.Group("grid.peak_step")
			for k, st := range s.Grid.PeakCostSteps {
				f.peakStep = append(f.peakStep, f.addVar(gS, kPeakStep, k, -1, 0, st.WidthKW, st.PricePerKW))
			}
			f.peakStep = append(f.peakStep, f.addVar(gS, kPeakStep, len(s.Grid.PeakCostSteps), -1, 0, inf, s.Grid.DemandChargePerKW))
		}
	}

	// Batteries.
	f.bat = make([]batCols, len(s.Batteries))
	for b, bt := range s.Batteries {
		n := f.nodeIdx[bt.Node]
		gc := f.m.Group("battery." + bt.ID + ".charge")
		gd := f.m.Group("battery." + bt.ID + ".discharge")
		gs := f.m.Group("battery." + bt.ID + ".soc")
		bc := batCols{c: make([]int, T), d: make([]int, T), soc: make([]int, T)}
		wear := bt.WearCostPerKWh * dt
		for t := 0; t < T; t++ {
			if kw, pinned := bt.PinnedKW[t]; pinned {
				c, d := math.Max(kw, 0), math.Max(-kw, 0)
				bc.c[t] = f.addVar(gc, kBatCharge, b, t, c, c, wear)
				bc.d[t] = f.addVar(gd, kBatDischarge, b, t, d, d, wear)
			} else {
				bc.c[t] = f.addVar(gc, kBatCharge, b, t, 0, bt.MaxChargeKW, wear)
				bc.d[t] = f.addVar(gd, kBatDischarge, b, t, 0, bt.MaxDischargeKW, wear)
			}
			lo := bt.MinSoCKWh
			if t == T-1 && bt.TerminalSoCKWh != nil {
				lo = math.Max(lo, *bt.TerminalSoCKWh)
			}
			bc.soc[t] = f.addVar(gs, kBatSoC, b, t+1, lo, bt.MaxSoCKWh, 0)
			entries[n][t] = append(entries[n][t], term{bc.c[t], 1}, term{bc.d[t], -1})
		}
		f.bat[b] = bc
	}

	// PV.
	f.pvGen = make([][]int, len(s.PV))
	for p, pv := range s.PV {
		n := f.nodeIdx[pv.Node]
		if !pv.Curtailable {
			for t := 0; t < T; t++ {
				f.fixed[n][t] -= pv.ForecastKW[t]
			}
			continue
		}
		g := f.m.Group("pv." + pv.ID + ".generation")
		f.pvGen[p] = make([]int, T)
		for t := 0; t < T; t++ {
			f.pvGen[p][t] = f.addVar(g, kPVGen, p, t, 0, pv.ForecastKW[t], 0)
			entries[n][t] = append(entries[n][t], term{f.pvGen[p][t], -1})
		}
	}

	// EV sessions.
	f.ev = make([]evCols, len(s.EVSessions))
	for k, e := range s.EVSessions {
		n := f.nodeIdx[e.Node]
		ec := evCols{from: e.ArrivalStep, to: min(e.DepartureStep, T), unmet: -1, target: evTarget(e, T, dt), roundTrip: e.RoundTrip()}
		etaC, _ := e.Efficiencies()
		if ec.from >= ec.to {
			ec.from, ec.to = T, T
			f.ev[k] = ec
			continue
		}
		gc := f.m.Group("ev." + e.ID + ".charge")
		gd := f.m.Group("ev." + e.ID + ".discharge")
		ge := f.m.Group("ev." + e.ID + ".energy")
		for t := ec.from; t < ec.to; t++ {
			c := f.addVar(gc, kEVCharge, k, t, 0, e.MaxChargeKW, 0)
			ec.pc = append(ec.pc, c)
			entries[n][t] = append(entries[n][t], term{c, 1})
			if e.MaxDischargeKW > 0 {
				d := f.addVar(gd, kEVDischarge, k, t, 0, e.MaxDischargeKW, e.WearCostPerKWh*dt)
				ec.pd = append(ec.pd, d)
				entries[n][t] = append(entries[n][t], term{d, -1})
			}
			if e.MaxDischargeKW > 0 {
				ec.e = append(ec.e, f.addVar(ge, kEVEnergy, k, t+1, -e.V2GBudgetKWh/etaC, e.EnergyKWh, 0))
			}
		}
		ec.unmet = f.addVar(f.m.Group("ev."+e.ID+".unmet"), kEVUnmet, k, -1, 0, ec.target, e.UnmetPenaltyPerKWh)
		f.ev[k] = ec
	}

	// Rows. Node balance: flow − children's flows − own assets = fixed.
	f.balRow = make([][]int, nN)
	for n, node := range s.Nodes {
		g := f.m.Group("node." + node.ID + ".balance")
		f.balRow[n] = make([]int, T)
		for t := 0; t < T; t++ {
			cols := []int{f.flow[n][t]}
			vals := []float64{1}
			for _, c := range f.children[n] {
				cols = append(cols, f.flow[c][t])
				vals = append(vals, -1)
			}
			for _, e := range entries[n][t] {
				cols = append(cols, e.col)
				vals = append(vals, -e.v)
			}
			f.balRow[n][t] = f.addRow(g, kBalance, n, t, f.fixed[n][t], f.fixed[n][t], cols, vals)
		}
	}
	// Grid: import − export = root flow.
	gG := f.m.Group("grid.balance")
	f.gridRow = make([]int, T)
	for t := 0; t < T; t++ {
		f.gridRow[t] = f.addRow(gG, kGridRow, 0, t, 0, 0,
			[]int{f.imp[t], f.exp[t], f.flow[f.root][t]}, []float64{1, -1, -1})
	}
	if f.peak != nil {
		gP := f.m.Group("grid.peak_above")
		gC := f.m.Group("grid.peak_running")
		f.peakRow = make([]int, T)
		for _, sg := range f.segs {
			for t := sg.from; t < sg.to; t++ {
				f.peakRow[t] = f.addRow(gP, kPeakRow, 0, t, -inf, sg.peakSoFarKW-s.Grid.margin(t),
					[]int{f.imp[t], f.peak[t]}, []float64{1, -1})
				if t+1 < sg.to {
					f.addRow(gC, kPeakChain, 0, t, -inf, 0, []int{f.peak[t], f.peak[t+1]}, []float64{1, -1})
				}
			}
		}
		if f.peakStep != nil {
			cols, vals := []int{f.peak[f.segs[0].to-1]}, []float64{1}
			for _, c := range f.peakStep {
				cols, vals = append(cols, c), append(vals, -1)
			}
			f.addRow(f.m.Group("grid.peak_split"), kPeakSplit, 0, -1, 0, 0, cols, vals)
		}
	}
	// Battery energy: soc[t+1] − soc[t] − dt·ηc·c[t] + dt/ηd·d[t] = 0.
	f.batRow = make([][]int, len(s.Batteries))
	for b, bt := range s.Batteries {
		g := f.m.Group("battery." + bt.ID + ".energy")
		bc := f.bat[b]
		f.batRow[b] = make([]int, T)
		for t := 0; t < T; t++ {
			cols := []int{bc.soc[t], bc.c[t], bc.d[t]}
			vals := []float64{1, -dt * bt.ChargeEfficiency, dt / bt.DischargeEfficiency}
			rhs := bt.SoCKWh
			if t > 0 {
				cols = append(cols, bc.soc[t-1])
				vals = append(vals, -1)
				rhs = 0
			}
			f.batRow[b][t] = f.addRow(g, kBatRow, b, t, rhs, rhs, cols, vals)
		}
	}
	// EV energy with V2G: e[t+1] − e[t] − dt·(pc[t] − pd[t]/(ηc·ηd)) = 0,
	// e[from] = 0; target: e[to] + unmet ≥ target.
	f.evRow = make([][]int, len(s.EVSessions))
	f.evTgt = make([]int, len(s.EVSessions))
	for k, e := range s.EVSessions {
		ec := f.ev[k]
		f.evTgt[k] = -1
		if ec.unmet < 0 {
			continue
		}
		if ec.pd == nil {
			// Without V2G the cumulative energy only grows: the whole
			// session is one ranged row, target ≤ Σ dt·pc + unmet ≤
			// energy_kwh. (Σ dt·pc ≤ energy_kwh alone would do; adding
			// unmet ≥ 0 to it changes no optimum, because unmet is
			// positive only when Σ dt·pc < target ≤ energy_kwh.)
			cols := make([]int, 0, len(ec.pc)+1)
			vals := make([]float64, 0, len(ec.pc)+1)
			for _, c := range ec.pc {
				cols = append(cols, c)
				vals = append(vals, dt)
			}
			cols = append(cols, ec.unmet)
			vals = append(vals, 1)
			f.evTgt[k] = f.addRow(f.m.Group("ev."+e.ID+".energy"), kEVTarget, k, -1, ec.target, e.EnergyKWh, cols, vals)
			continue
		}
		g := f.m.Group("ev." + e.ID + ".balance")
		for i := range ec.pc {
			t := ec.from + i
			cols := []int{ec.e[i], ec.pc[i]}
			vals := []float64{1, -dt}
			if ec.pd != nil {
				cols = append(cols, ec.pd[i])
				vals = append(vals, dt/ec.roundTrip)
			}
			if i > 0 {
				cols = append(cols, ec.e[i-1])
				vals = append(vals, -1)
			}
			f.evRow[k] = append(f.evRow[k], f.addRow(g, kEVRow, k, t, 0, 0, cols, vals))
		}
		f.evTgt[k] = f.addRow(f.m.Group("ev."+e.ID+".target"), kEVTarget, k, -1, ec.target, inf,
			[]int{ec.e[len(ec.e)-1], ec.unmet}, []float64{1, 1})
	}
	if o.soft {
		f.soften()
	}
	if o.reference != nil && o.stability > 0 {
		f.addStability(o.reference, o.stability)
	}
	return f
}

// softWeight is the penalty per kW·h (power limits, scaled by dt) or per
// kWh (energy limits) of violating a limit in soft mode: a thousand times
// the scenario's largest cost coefficient, so no saving ever pays for a
// violation that can be avoided.
func (f *formulation) softWeight() float64 {
	return 1000 * (1 + f.costScale())
}

// costScale is the scenario's largest cost coefficient (per kWh or kW).
func (f *formulation) costScale() float64 {
	s := f.s
	scale := s.Grid.DemandChargePerKW
	for t := 0; t < f.T; t++ {
		scale = math.Max(scale, math.Max(math.Abs(s.Grid.ImportPrice[t]), math.Abs(s.Grid.ExportPrice[t])))
	}
	for _, b := range s.Batteries {
		scale = math.Max(scale, b.WearCostPerKWh)
	}
	for _, e := range s.EVSessions {
		scale = math.Max(scale, math.Max(e.UnmetPenaltyPerKWh, e.WearCostPerKWh))
	}
	return scale
}

// soften relaxes grid and node limits and battery SoC limits: each bound
// pair moves into a row lo ≤ x − over + under ≤ hi with penalised
// violation columns over, under ≥ 0.
func (f *formulation) soften() {
	s, T := f.s, f.T
	w := f.softWeight()
	inf := math.Inf(1)
	gO, gU := f.m.Group("soft.over"), f.m.Group("soft.under")
	gR := f.m.Group("soft.limit")
	relax := func(col int, keepLo bool, what, unit string, weight float64, step int) {
		lo, hi := f.m.VarBounds(col)
		nlo := math.Inf(-1)
		if keepLo {
			nlo = lo
			lo = math.Inf(-1)
		}
		f.m.SetVarBounds(col, nlo, inf)
		k := len(f.soft)
		sl := softLimit{col: col, what: what, unit: unit, lo: lo, hi: hi, weight: weight}
		sl.over = f.addVar(gO, kViolation, k, step, 0, inf, weight)
		sl.under = -1
		if !math.IsInf(lo, -1) {
			sl.under = f.addVar(gU, kViolation, k, step, 0, inf, weight)
		}
		cols := []int{col, sl.over}
		vals := []float64{1, -1}
		if sl.under >= 0 {
			cols = append(cols, sl.under)
			vals = append(vals, 1)
		}
		f.addRow(gR, kSoftRow, k, step, lo, hi, cols, vals)
		f.soft = append(f.soft, sl)
	}
	for t := 0; t < T; t++ {
		relax(f.imp[t], true, "grid import limit at "+f.stepLabel(t), "kW", w*f.dt, t)
		relax(f.exp[t], true, "grid export limit at "+f.stepLabel(t), "kW", w*f.dt, t)
	}
	for n, node := range s.Nodes {
		for t := 0; t < T; t++ {
			relax(f.flow[n][t], false, fmt.Sprintf("node %s limit at %s", node.ID, f.stepLabel(t)), "kW", w*f.dt, t)
		}
	}
	for b, bt := range s.Batteries {
		for t := 0; t < T; t++ {
			what := fmt.Sprintf("battery %s SoC limits at step %d", bt.ID, t+1)
			if t == T-1 && bt.TerminalSoCKWh != nil {
				what = fmt.Sprintf("battery %s SoC limits and terminal_soc at step %d", bt.ID, t+1)
			}
			relax(f.bat[b].soc[t], false, what, "kWh", w, t+1)
		}
	}
}

// addStability adds, for every battery and EV session the reference plan
// schedules, a penalty of weight·dt per kW of difference between the new
// and the reference power at each step both cover (for EVs, each step of
// the session).
func (f *formulation) addStability(ref *Plan, weight float64) {
	s := f.s
	offset := stepOffset(s, ref)
	gU, gD := f.m.Group("stability.up"), f.m.Group("stability.down")
	gR := f.m.Group("stability.change")
	inf := math.Inf(1)
	c := weight * f.dt
	add := func(k int, t int, ref float64, cols []int, vals []float64) {
		st := stabTerm{weight: c, cols: cols, vals: vals, ref: ref}
		st.up = f.addVar(gU, kDeviation, k, t, 0, inf, c)
		st.down = f.addVar(gD, kDeviation, k, t, 0, inf, c)
		f.addRow(gR, kStabRow, k, t, ref, ref, append(cols[:len(cols):len(cols)], st.up, st.down),
			append(vals[:len(vals):len(vals)], -1, 1))
		f.stab = append(f.stab, st)
	}
	refPower := func(id string) []float64 {
		a := ref.Asset(id)
		if a == nil {
			return nil
		}
		return a.PowerKW
	}
	for b, bt := range s.Batteries {
		p := refPower(bt.ID)
		for t := 0; t < f.T; t++ {
			if r := t + offset; p != nil && r >= 0 && r < len(p) {
				add(len(f.stab), t, p[r], []int{f.bat[b].c[t], f.bat[b].d[t]}, []float64{1, -1})
			}
		}
	}
	for k, e := range s.EVSessions {
		p := refPower(e.ID)
		ec := f.ev[k]
		for i := range ec.pc {
			t := ec.from + i
			r := t + offset
			if p == nil || r < 0 || r >= len(p) {
				continue
			}
			cols, vals := []int{ec.pc[i]}, []float64{1}
			if ec.pd != nil {
				cols, vals = append(cols, ec.pd[i]), append(vals, -1)
			}
			add(len(f.stab), t, p[r], cols, vals)
		}
	}
}

// stepOffset is the index in ref's schedule of the scenario's step 0.
func stepOffset(s *Scenario, ref *Plan) int {
	return int(s.Start.Sub(ref.Start) / (time.Duration(s.StepMinutes) * time.Minute))
}

// stepLabel renders step t as "step 72 (18:00)".
func (f *formulation) stepLabel(t int) string {
	return fmt.Sprintf("step %d (%s)", t, f.s.StepTime(t).Format("15:04"))
}

// describeRow says in words what LP row i constrains.
func (f *formulation) describeRow(i int) string {
	r := f.rows[i]
	s := f.s
	switch r.kind {
	case kBalance:
		return fmt.Sprintf("node %s power balance at %s", s.Nodes[r.obj].ID, f.stepLabel(r.step))
	case kGridRow:
		return fmt.Sprintf("grid connection balance at %s", f.stepLabel(r.step))
	case kPeakRow:
		return fmt.Sprintf("demand peak at %s", f.stepLabel(r.step))
	case kPeakChain:
		return fmt.Sprintf("running demand peak at %s", f.stepLabel(r.step))
	case kPeakSplit:
		return "demand peak by its priced bands"
	case kBatRow:
		return fmt.Sprintf("battery %s energy balance at %s", s.Batteries[r.obj].ID, f.stepLabel(r.step))
	case kEVRow:
		return fmt.Sprintf("EV session %s energy balance at %s", s.EVSessions[r.obj].ID, f.stepLabel(r.step))
	case kEVTarget:
		return fmt.Sprintf("EV session %s energy target", s.EVSessions[r.obj].ID)
	}
	return f.m.RowName(i)
}
