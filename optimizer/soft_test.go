package optimizer

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSoftMode(t *testing.T) {
	tests := []struct {
		name  string
		build func() *Scenario
		// want: constraint substring → violation amount
		want map[string]float64
	}{
		{
			name: "node limit below fixed load",
			build: func() *Scenario {
				s := baseScenario(4, 15, fill(4, 0.1), fill(4, 0))
				s.Nodes = append(s.Nodes, Node{ID: "feeder-a", Parent: "root", LimitKW: 10})
				s.Loads = []Load{{ID: "l", Node: "feeder-a", ForecastKW: []float64{5, 12, 13, 5}}}
				return s
			},
			want: map[string]float64{"node feeder-a limit at step 1 (00:15)": 2, "node feeder-a limit at step 2 (00:30)": 3},
		},
		{
			name: "terminal SoC unreachable",
			build: func() *Scenario {
				s := baseScenario(4, 60, fill(4, 0.1), fill(4, 0))
				s.Batteries = []Battery{{ID: "bess-1", Node: "root", SoCKWh: 10, MaxSoCKWh: 100, MaxChargeKW: 5,
					MaxDischargeKW: 5, ChargeEfficiency: 0.9, DischargeEfficiency: 0.9, TerminalSoCKWh: ptr(40)}}
				return s
			},
			// 10 + 4·5·0.9 = 28 kWh reachable.
			want: map[string]float64{"battery bess-1 SoC limits and terminal_soc at step 4": 12},
		},
		{
			name: "grid import limit",
			build: func() *Scenario {
				s := baseScenario(2, 60, fill(2, 0.1), fill(2, 0))
				s.Grid.ImportLimitKW = 3
				s.Loads = []Load{{ID: "l", Node: "root", ForecastKW: []float64{2, 8}}}
				return s
			},
			want: map[string]float64{"grid import limit at step 1 (01:00)": 5},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.build()
			if _, err := Solve(context.Background(), s, Options{}); err == nil {
				t.Fatal("hard mode solved an infeasible scenario")
			}
			p, err := Solve(context.Background(), s, Options{Soft: true, Tolerance: 1e-9})
			if err != nil {
				t.Fatalf("soft mode: %v", err)
			}
			if p.Status != StatusRelaxed {
				t.Errorf("status %q, want %q", p.Status, StatusRelaxed)
			}
			if len(p.Violations) != len(tc.want) {
				t.Errorf("violations %+v, want %v", p.Violations, tc.want)
			}
			for _, v := range p.Violations {
				want, ok := tc.want[v.Constraint]
				if !ok {
					t.Errorf("unexpected violation %+v", v)
					continue
				}
				near(t, v.Constraint, v.Amount, want, 1e-5)
			}
			c := p.CostBreakdown
			sum := c.EnergyImport - c.EnergyExportRevenue + c.DemandCharge + c.BatteryWear + c.EVWear + c.UnmetPenalty + c.StabilityPenalty + c.ViolationPenalty
			near(t, "total", c.Total, sum, 1e-9)
			if c.ViolationPenalty <= 0 {
				t.Errorf("violation penalty %v, want > 0", c.ViolationPenalty)
			}
		})
	}
}

// TestSoftModeFeasible: on a feasible scenario soft mode changes nothing.
func TestSoftModeFeasible(t *testing.T) {
	s := scaledScenario(40, 5)
	hard := solveOK(t, s)
	soft, err := Solve(context.Background(), s, Options{Soft: true, Tolerance: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	if soft.Status != StatusOptimal || len(soft.Violations) != 0 {
		t.Fatalf("soft mode on a feasible scenario: status %s, violations %+v", soft.Status, soft.Violations)
	}
	near(t, "objective", soft.Objective, hard.Objective, 1e-6*math.Abs(hard.Objective))
}

func TestStabilityPenalty(t *testing.T) {
	base := demoScenario()
	ref := solveOK(t, base)
	// The next cycle: prices changed, so the unpenalised plan moves.
	next := demoScenario()
	for t0 := range next.Grid.ImportPrice {
		next.Grid.ImportPrice[t0] *= 1 + 0.3*math.Sin(float64(t0)/7)
		next.Grid.ExportPrice[t0] = math.Min(next.Grid.ExportPrice[t0], next.Grid.ImportPrice[t0])
	}
	free := solveOK(t, next)
	change := func(p *Plan) float64 {
		d := 0.0
		for _, a := range p.Assets {
			if a.Kind != KindBattery && a.Kind != KindEV {
				continue
			}
			r := ref.Asset(a.ID)
			for i := range a.PowerKW {
				d += math.Abs(a.PowerKW[i] - r.PowerKW[i])
			}
		}
		return d
	}
	dFree := change(free)
	if dFree < 1 {
		t.Fatalf("test setup: the price change moved the plan by only %v kW", dFree)
	}
	dt := next.StepHours()
	for _, w := range []float64{0.01, 0.1, 10} {
		p, err := Solve(context.Background(), next, Options{Tolerance: 1e-9, StabilityPerKW: w, Reference: ref})
		if err != nil {
			t.Fatal(err)
		}
		d := change(p)
		near(t, "stability penalty", p.CostBreakdown.StabilityPenalty, w*dt*d, 1e-6*(1+w*dt*d))
		if d > dFree+1e-6 {
			t.Errorf("weight %v: change %v kW exceeds the unpenalised %v kW", w, d, dFree)
		}
		if w == 10 && d > 1e-3 {
			t.Errorf("weight %v: change %v kW, want the reference kept", w, d)
		}
		// The energy cost alone can only be worse than the free plan's.
		if p.Objective-p.CostBreakdown.StabilityPenalty < free.Objective-1e-6 {
			t.Errorf("weight %v: cost without penalty %v below the optimum %v", w, p.Objective-p.CostBreakdown.StabilityPenalty, free.Objective)
		}
	}
}

func TestOptionsValidation(t *testing.T) {
	s := demoScenario()
	ref := &Plan{Start: s.Start, StepMinutes: s.StepMinutes}
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{StabilityPerKW: -1, Reference: ref}, "stability_per_kw -1"},
		{Options{StabilityPerKW: 1}, "needs a reference plan"},
		{Options{StabilityPerKW: 1, Reference: &Plan{Start: s.Start, StepMinutes: 30}}, "step_minutes 30"},
		{Options{StabilityPerKW: 1, Reference: &Plan{Start: s.Start.Add(7 * time.Minute), StepMinutes: 15}}, "not on the scenario's step grid"},
		{Options{StabilityPerKW: 1, Reference: &Plan{Start: s.Start, StepMinutes: 15,
			Assets: []AssetPlan{{ID: "x", PowerKW: []float64{math.NaN()}}}}}, "asset x power_kw[0]"},
		{Options{Tolerance: 2}, "tolerance 2"},
	} {
		_, err := Solve(context.Background(), s, tc.o)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Solve(%+v) = %v, want an error containing %q", tc.o, err, tc.want)
		}
	}
}
