package optimizer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gridd/gridd/optimizer/internal/lpref"
)

// randomScenario draws a small scenario. PV is curtailable and prices are
// positive, so the optimum never charges and discharges a battery at once.
func randomScenario(rng *rand.Rand) *Scenario {
	steps := 2 + rng.IntN(7)
	stepMin := []int{15, 30, 60}[rng.IntN(3)]
	imp := make([]float64, steps)
	exp := make([]float64, steps)
	for t := range imp {
		imp[t] = 0.05 + 0.5*rng.Float64()
		exp[t] = imp[t] * rng.Float64() * 0.8
	}
	s := baseScenario(steps, stepMin, imp, exp)
	s.Grid.ImportLimitKW = 10 + 90*rng.Float64()
	s.Grid.ExportLimitKW = 20 * rng.Float64()
	if rng.IntN(2) == 0 {
		s.Grid.DemandChargePerKW = 5 * rng.Float64()
		s.Grid.PeakSoFarKW = 20 * rng.Float64()
	}
	s.Nodes[0].LimitKW = 60 + 60*rng.Float64()
	nFeeders := rng.IntN(3)
	for i := 0; i < nFeeders; i++ {
		parent := "root"
		if i > 0 && rng.IntN(2) == 0 {
			parent = s.Nodes[len(s.Nodes)-1].ID
		}
		s.Nodes = append(s.Nodes, Node{ID: fmt.Sprintf("f%d", i), Parent: parent, LimitKW: 4 + 40*rng.Float64()})
	}
	node := func() string { return s.Nodes[rng.IntN(len(s.Nodes))].ID }
	series := func(scale float64) []float64 {
		v := make([]float64, steps)
		for t := range v {
			v[t] = scale * rng.Float64()
		}
		return v
	}
	for i := 0; i < rng.IntN(3); i++ {
		s.Loads = append(s.Loads, Load{ID: fmt.Sprintf("load%d", i), Node: node(), ForecastKW: series(8)})
	}
	for i := 0; i < rng.IntN(3); i++ {
		s.PV = append(s.PV, PV{ID: fmt.Sprintf("pv%d", i), Node: node(), ForecastKW: series(15), Curtailable: true})
	}
	for i := 0; i < rng.IntN(3); i++ {
		lo := 5 * rng.Float64()
		hi := lo + 5 + 30*rng.Float64()
		b := Battery{ID: fmt.Sprintf("bat%d", i), Node: node(), MinSoCKWh: lo, MaxSoCKWh: hi,
			SoCKWh: lo + (hi-lo)*rng.Float64(), MaxChargeKW: 3 + 10*rng.Float64(), MaxDischargeKW: 3 + 10*rng.Float64(),
			ChargeEfficiency: 0.85 + 0.15*rng.Float64(), DischargeEfficiency: 0.85 + 0.15*rng.Float64(),
			WearCostPerKWh: 0.001 + 0.05*rng.Float64()}
		if rng.IntN(3) == 0 {
			b.TerminalSoCKWh = ptr(lo + (hi-lo)*rng.Float64()*0.5)
		}
		s.Batteries = append(s.Batteries, b)
	}
	for i := 0; i < rng.IntN(4); i++ {
		arr := rng.IntN(steps)
		e := EVSession{ID: fmt.Sprintf("ev%d", i), Node: node(), ArrivalStep: arr, DepartureStep: arr + 1 + rng.IntN(steps+2),
			EnergyKWh: 30 * rng.Float64(), MaxChargeKW: 3 + 8*rng.Float64(), UnmetPenaltyPerKWh: rng.Float64(),
			WearCostPerKWh: 0.001 + 0.05*rng.Float64()}
		if rng.IntN(2) == 0 {
			e.MaxDischargeKW = 2 + 5*rng.Float64()
			e.V2GBudgetKWh = 5 * rng.Float64()
		}
		s.EVSessions = append(s.EVSessions, e)
	}
	// Forecast margins on the peak and vehicle losses, on some scenarios.
	if s.Grid.DemandChargePerKW > 0 && rng.IntN(2) == 0 {
		s.Grid.PeakMarginKW = series(6)
	}

	for i := range s.EVSessions {
		if rng.IntN(2) == 0 {
			s.EVSessions[i].ChargeEfficiency = 0.8 + 0.2*rng.Float64()
			s.EVSessions[i].DischargeEfficiency = 0.8 + 0.2*rng.Float64()
		}
	}
	return s
}

// checkPlan verifies every scenario constraint on the reported schedule
// (not on LP variables) within tol, and recomputes the cost independently.
func checkPlan(t *testing.T, s *Scenario, p *Plan, tol float64) {
	t.Helper()
	T, dt := s.Steps, s.StepHours()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf(format, args...)
	}
	if p.Status != StatusOptimal {
		fail("status %q", p.Status)
		return
	}
	power := map[string][]float64{}
	nodeOf := map[string]string{}
	for _, a := range p.Assets {
		if len(a.PowerKW) != T {
			fail("%s: %d power values", a.ID, len(a.PowerKW))
			return
		}
		power[a.ID] = a.PowerKW
		nodeOf[a.ID] = a.Node
	}
	cost := 0.0
	peak := 0.0
	for t := 0; t < T; t++ {
		imp, exp := p.GridImportKW[t], p.GridExportKW[t]
		if imp < -tol || imp > s.Grid.ImportLimitKW+tol || exp < -tol || exp > s.Grid.ExportLimitKW+tol {
			fail("step %d: import %v export %v outside limits", t, imp, exp)
		}
		cost += dt * (s.Grid.ImportPrice[t]*imp - s.Grid.ExportPrice[t]*exp)
		peak = math.Max(peak, imp+s.Grid.margin(t))
		// Subtree sums.
		sub := map[string]float64{}
		for id, pw := range power {
			for n := nodeOf[id]; n != ""; n = parentOf(s, n) {
				sub[n] += pw[t]
			}
		}
		for _, n := range s.Nodes {
			if math.Abs(sub[n.ID]) > n.LimitKW+tol {
				fail("step %d: node %s net %v beyond limit %v", t, n.ID, sub[n.ID], n.LimitKW)
			}
			if n.Parent == "" && math.Abs(sub[n.ID]-(imp-exp)) > tol {
				fail("step %d: root net %v ≠ import − export %v", t, sub[n.ID], imp-exp)
			}
		}
	}
	if s.Grid.DemandChargePerKW > 0 {
		cost += s.Grid.PeakCostOf(peak - s.Grid.PeakSoFarKW)
	}
	if want := math.Max(peak, s.Grid.PeakSoFarKW); s.Grid.DemandChargePerKW > 0 && math.Abs(p.PeakTargetKW-want) > tol*(1+want) {
		fail("peak target %v, want max(peak so far, import + margin) %v", p.PeakTargetKW, want)
	} else if s.Grid.DemandChargePerKW == 0 && p.PeakTargetKW != 0 {
		fail("peak target %v without a demand charge", p.PeakTargetKW)
	}
	for _, l := range s.Loads {
		for t := 0; t < T; t++ {
			if power[l.ID][t] != l.ForecastKW[t] {
				fail("load %s step %d: %v ≠ forecast %v", l.ID, t, power[l.ID][t], l.ForecastKW[t])
			}
		}
	}
	for _, pv := range s.PV {
		a := p.Asset(pv.ID)
		for t := 0; t < T; t++ {
			g := -a.PowerKW[t]
			if g < -tol || g > pv.ForecastKW[t]+tol || (!pv.Curtailable && math.Abs(g-pv.ForecastKW[t]) > tol) {
				fail("pv %s step %d: generation %v, forecast %v", pv.ID, t, g, pv.ForecastKW[t])
			}
			if math.Abs(a.CurtailedKW[t]-(pv.ForecastKW[t]-g)) > tol {
				fail("pv %s step %d: curtailed %v", pv.ID, t, a.CurtailedKW[t])
			}
		}
	}
	for _, b := range s.Batteries {
		a := p.Asset(b.ID)
		if len(a.SoCKWh) != T+1 || a.SoCKWh[0] != b.SoCKWh {
			fail("battery %s: soc %v", b.ID, a.SoCKWh)
			continue
		}
		for t := 0; t < T; t++ {
			pw, c, d := a.PowerKW[t], a.ChargeKW[t], a.DischargeKW[t]
			if math.Abs(pw-(c-d)) > 1e-12 || c < -tol || d < -tol || c > b.MaxChargeKW+tol || d > b.MaxDischargeKW+tol {
				fail("battery %s step %d: power %v = %v − %v beyond ratings", b.ID, t, pw, c, d)
			}
			want := a.SoCKWh[t] + dt*(b.ChargeEfficiency*c-d/b.DischargeEfficiency)
			if math.Abs(a.SoCKWh[t+1]-want) > tol {
				fail("battery %s step %d: soc %v, dynamics give %v", b.ID, t+1, a.SoCKWh[t+1], want)
			}
			// Charging and discharging at once is never worth it here
			// (positive prices, curtailable PV); at the solver's
			// tolerance only a trace of it may remain: an amount m costs
			// at least 2·wear·dt·m, so the relative gap 1e-6 allows up to
			// 1e-6·(1+|objective|)/(2·wear·dt) (but never more than 1e-2).
			trace := math.Min(1e-2, math.Max(1e-4, 1e-6*(1+math.Abs(p.Objective))/(2*b.WearCostPerKWh*dt)))
			if math.Min(c, d) > trace {
				fail("battery %s step %d: charges %v and discharges %v at once", b.ID, t, c, d)
			}
			if a.SoCKWh[t+1] < b.MinSoCKWh-tol || a.SoCKWh[t+1] > b.MaxSoCKWh+tol {
				fail("battery %s step %d: soc %v outside [%v, %v]", b.ID, t+1, a.SoCKWh[t+1], b.MinSoCKWh, b.MaxSoCKWh)
			}
			cost += b.WearCostPerKWh * dt * (c + d)
		}
		if b.TerminalSoCKWh != nil && a.SoCKWh[T] < *b.TerminalSoCKWh-tol {
			fail("battery %s: final soc %v below terminal %v", b.ID, a.SoCKWh[T], *b.TerminalSoCKWh)
		}
	}
	for _, e := range s.EVSessions {
		a := p.Asset(e.ID)
		etaC, _ := e.Efficiencies()
		cum, net := 0.0, 0.0 // energy credited to the session, energy through the meter
		for t := 0; t < T; t++ {
			pw := a.PowerKW[t]
			if (t < e.ArrivalStep || t >= e.DepartureStep) && pw != 0 {
				fail("ev %s step %d: power %v outside the session", e.ID, t, pw)
			}
			if pw > e.MaxChargeKW+tol || -pw > e.MaxDischargeKW+tol {
				fail("ev %s step %d: power %v beyond ratings", e.ID, t, pw)
			}
			net += dt * pw
			cum += dt * (math.Max(pw, 0) - math.Max(-pw, 0)/e.RoundTrip())
			if cum < -e.V2GBudgetKWh/etaC-tol || cum > e.EnergyKWh+tol {
				fail("ev %s step %d: cumulative energy %v outside [%v, %v]", e.ID, t, cum, -e.V2GBudgetKWh/etaC, e.EnergyKWh)
			}
			cost += e.WearCostPerKWh * dt * math.Max(-pw, 0)
		}
		required := evTarget(e, T, dt)
		unmet := math.Max(0, required-cum)
		if math.Abs(a.UnmetKWh-unmet) > tol || math.Abs(a.EnergyKWh-net) > tol {
			fail("ev %s: unmet %v energy %v, recomputed %v %v", e.ID, a.UnmetKWh, a.EnergyKWh, unmet, net)
		}
		cost += e.UnmetPenaltyPerKWh * unmet
	}
	if math.Abs(cost-p.Objective) > tol*(1+math.Abs(cost)) {
		fail("objective %.10g, recomputed cost %.10g", p.Objective, cost)
	}
	if math.Abs(p.CostBreakdown.Total-p.Objective) > 1e-9*(1+math.Abs(cost)) {
		fail("breakdown total %v ≠ objective %v", p.CostBreakdown.Total, p.Objective)
	}
}

func parentOf(s *Scenario, id string) string {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n.Parent
		}
	}
	return ""
}

func TestRandomScenariosProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 6))
	solved, compared, infeasible := 0, 0, 0
	for trial := 0; trial < 300; trial++ {
		s := randomScenario(rng)
		if err := s.Validate(); err != nil {
			t.Fatalf("trial %d: generator made an invalid scenario: %v", trial, err)
		}
		p, err := Solve(context.Background(), s, Options{})
		if err != nil {
			var ie *InfeasibleError
			if asInfeasible(err, &ie) {
				infeasible++
				// An infeasible verdict must be confirmed by the reference.
				f := formulate(s, formOptions{})
				if _, _, rerr := lpref.Solve(f.m); rerr == nil {
					t.Fatalf("trial %d: reported infeasible (%v) but the reference solved it", trial, err)
				}
				continue
			}
			t.Fatalf("trial %d: %v", trial, err)
		}
		solved++
		t.Run(fmt.Sprint("trial", trial), func(t *testing.T) { checkPlan(t, s, p, 1e-6) })
		if p.PrimalResidual > 1e-6 {
			t.Errorf("trial %d: primal residual %g", trial, p.PrimalResidual)
		}
		f := formulate(s, formOptions{})
		if compared >= 80 || f.m.NumVars() > 80 {
			continue
		}
		want, _, err := lpref.Solve(f.m)
		if err != nil {
			continue
		}
		compared++
		if math.Abs(p.Objective-want) > 1e-6*(1+math.Abs(want)) {
			t.Errorf("trial %d: objective %.10g, dense simplex %.10g", trial, p.Objective, want)
		}
	}
	t.Logf("%d solved (%d compared with the dense simplex), %d infeasible", solved, compared, infeasible)
	if solved < 250 || compared < 80 {
		t.Fatalf("too few checked: %d solved, %d compared", solved, compared)
	}
}

func asInfeasible(err error, target **InfeasibleError) bool {
	return errors.As(err, target)
}

// TestRandomScenariosPeakBands: random scenarios with a demand charge whose peak is
// priced by bands (Grid.PeakCostSteps) solve to plans that check out, and to the
// dense simplex's objective where it is small enough to compare.
func TestRandomScenariosPeakBands(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 12))
	solved, compared := 0, 0
	for trial := 0; solved < 60 && trial < 400; trial++ {
		s := randomScenario(rng)
		if s.Grid.DemandChargePerKW <= 0 {
			continue
		}
		price := 0.0
		for k := rng.IntN(4); k >= 0; k-- {
			price += rng.Float64() * (s.Grid.DemandChargePerKW - price)
			s.Grid.PeakCostSteps = append(s.Grid.PeakCostSteps, PeakCostStep{WidthKW: 20 * rng.Float64(), PricePerKW: price})
		}
		p, err := Solve(context.Background(), s, Options{})
		if err != nil {
			continue // infeasible draws are the other test's business
		}
		solved++
		t.Run(fmt.Sprint("trial", trial), func(t *testing.T) { checkPlan(t, s, p, 1e-5) })
		f := formulate(s, formOptions{})
		if f.m.NumVars() > 80 {
			continue
		}
		want, _, err := lpref.Solve(f.m)
		if err != nil {
			continue
		}
		compared++
		if math.Abs(p.Objective-want) > 1e-6*(1+math.Abs(want)) {
			t.Errorf("trial %d: objective %.10g, dense simplex %.10g", trial, p.Objective, want)
		}
	}
	if solved < 60 || compared < 10 {
		t.Fatalf("too few checked: %d solved, %d compared", solved, compared)
	}
}
