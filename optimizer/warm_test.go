package optimizer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/optimizer/scengen"
)

// window returns steps [k, k+T) of s as a scenario starting k steps later,
// as the next MPC cycle sees it when prev (the plan for steps [0, T) of s,
// or nil) was carried out for its first k steps: batteries start at prev's
// SoC at step k, EV sessions have the energy prev delivered before step k
// deducted (sessions that have left are dropped), and the peak so far
// includes prev's imports before step k.
func window(s *optimizer.Scenario, k, T int, prev *optimizer.Plan) *optimizer.Scenario {
	w := *s
	w.Start = s.StepTime(k)
	w.Steps = T
	w.Grid.ImportPrice = append([]float64(nil), s.Grid.ImportPrice[k:k+T]...)
	w.Grid.ExportPrice = append([]float64(nil), s.Grid.ExportPrice[k:k+T]...)
	w.Loads = nil
	for _, l := range s.Loads {
		l.ForecastKW = append([]float64(nil), l.ForecastKW[k:k+T]...)
		w.Loads = append(w.Loads, l)
	}
	w.PV = nil
	for _, pv := range s.PV {
		pv.ForecastKW = append([]float64(nil), pv.ForecastKW[k:k+T]...)
		w.PV = append(w.PV, pv)
	}
	w.Batteries = nil
	for _, b := range s.Batteries {
		if a := prev.Asset(b.ID); a != nil {
			b.SoCKWh = math.Min(math.Max(a.SoCKWh[k], b.MinSoCKWh), b.MaxSoCKWh)
		}
		w.Batteries = append(w.Batteries, b)
	}
	w.EVSessions = nil
	for _, e := range s.EVSessions {
		if e.DepartureStep <= k {
			continue
		}
		if a := prev.Asset(e.ID); a != nil {
			d := 0.0
			for t := 0; t < k; t++ {
				d += a.PowerKW[t] * s.StepHours()
			}
			e.EnergyKWh = math.Max(0, e.EnergyKWh-d)
			if e.V2GBudgetKWh > 0 {
				e.V2GBudgetKWh = math.Max(0, e.V2GBudgetKWh+d)
			}
		}
		e.ArrivalStep = max(0, e.ArrivalStep-k)
		e.DepartureStep -= k
		w.EVSessions = append(w.EVSessions, e)
	}
	if prev != nil {
		for t := 0; t < k; t++ {
			w.Grid.PeakSoFarKW = math.Max(w.Grid.PeakSoFarKW, prev.GridImportKW[t])
		}
	}
	return &w
}

// perturb changes the forecasts by up to ±frac and moves battery SoCs by
// up to frac of their range (deterministically, within the limits), as
// updated forecasts and measurements do between cycles.
func perturb(s *optimizer.Scenario, frac float64) {
	for i := range s.Loads {
		for t := range s.Loads[i].ForecastKW {
			s.Loads[i].ForecastKW[t] *= 1 + frac*math.Sin(float64(7*t+i))
		}
	}
	for i := range s.PV {
		for t := range s.PV[i].ForecastKW {
			s.PV[i].ForecastKW[t] *= 1 + frac*math.Cos(float64(5*t+i))
		}
	}
	for i := range s.Batteries {
		b := &s.Batteries[i]
		b.SoCKWh = math.Min(b.MaxSoCKWh, math.Max(b.MinSoCKWh, b.SoCKWh+frac*(b.MaxSoCKWh-b.MinSoCKWh)*math.Sin(float64(i))))
	}
}

// mpc generates a scenario of p.Steps steps, solves it cold with opts and
// returns its plan and the next cycle's scenario, k steps later.
func mpc(tb testing.TB, p scengen.Params, k int, opts optimizer.Options) (prev *optimizer.Plan, next *optimizer.Scenario) {
	tb.Helper()
	T := p.Steps
	p.Steps = T + k
	all, err := scengen.Generate(gridd.Files, p)
	if err != nil {
		tb.Fatal(err)
	}
	prev, err = optimizer.Solve(context.Background(), window(all, 0, T, nil), opts)
	if err != nil {
		tb.Fatal(err)
	}
	next = window(all, k, T, prev)
	if err := next.Validate(); err != nil {
		tb.Fatalf("next cycle's scenario: %v", err)
	}
	return prev, next
}

func relDiff(a, b float64) float64 { return math.Abs(a-b) / math.Max(1, math.Abs(b)) }

// sameOptimum fails unless warm is optimal with cold's objective.
func sameOptimum(t *testing.T, cold, warm *optimizer.Plan) {
	t.Helper()
	if warm.Status != cold.Status {
		t.Errorf("warm status %s, cold %s", warm.Status, cold.Status)
	}
	if d := relDiff(warm.Objective, cold.Objective); d > 1e-6 {
		t.Errorf("warm objective %.10g, cold %.10g: relative difference %.2g", warm.Objective, cold.Objective, d)
	}
	if warm.Gap > 1e-6 {
		t.Errorf("warm gap %g > 1e-6", warm.Gap)
	}
}

func evParams(seed uint64, evs int) scengen.Params {
	return scengen.Params{Seed: seed, EVs: evs, Batteries: max(1, evs/100), Feeders: max(1, evs/200), Steps: 96}
}

func TestWarmStartShifted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		p       scengen.Params
		k       int
		perturb float64
		opts    func(prev *optimizer.Plan) optimizer.Options // besides WarmStart
		fewer   bool                                         // warm must take fewer iterations
	}{
		{name: "100 EVs, 1 step", p: evParams(1, 100), k: 1, fewer: true},
		{name: "1000 EVs, 1 step", p: evParams(1, 1000), k: 1, fewer: true},
		{name: "1000 EVs, 4 steps", p: evParams(2, 1000), k: 4, fewer: true},
		{name: "1000 EVs, 1 step, forecasts and SoC changed by 10%", p: evParams(3, 1000), k: 1, perturb: 0.1, fewer: true},
		{name: "300 EVs, 2 steps, soft limits", p: evParams(4, 300), k: 2, fewer: true,
			opts: func(*optimizer.Plan) optimizer.Options { return optimizer.Options{Soft: true} }},
		{name: "300 EVs, 1 step, plan stability", p: evParams(5, 300), k: 1,
			opts: func(prev *optimizer.Plan) optimizer.Options {
				return optimizer.Options{StabilityPerKW: 0.01, Reference: prev}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := optimizer.Options{}
			if tc.opts != nil && tc.opts(nil).Soft {
				base.Soft = true
			}
			prev, next := mpc(t, tc.p, tc.k, base)
			if tc.perturb != 0 {
				perturb(next, tc.perturb)
			}
			opts := optimizer.Options{}
			if tc.opts != nil {
				opts = tc.opts(prev)
			}
			ctx := context.Background()
			cold, err := optimizer.Solve(ctx, next, opts)
			if err != nil {
				t.Fatal(err)
			}
			opts.WarmStart = prev
			warm, err := optimizer.Solve(ctx, next, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cold: %d iterations, %.0f ms; warm: %d iterations, %.0f ms", cold.Iterations, cold.SolveMS, warm.Iterations, warm.SolveMS)
			sameOptimum(t, cold, warm)
			if tc.fewer && warm.Iterations >= cold.Iterations {
				t.Errorf("warm start took %d iterations, cold start %d", warm.Iterations, cold.Iterations)
			}
			if !tc.fewer && warm.Iterations > cold.Iterations+cold.Iterations/2 {
				t.Errorf("warm start took %d iterations, cold start %d", warm.Iterations, cold.Iterations)
			}
		})
	}
}

// Plans that do not fit the scenario are ignored (the solve starts cold,
// with exactly the cold iterations) or, when they fit the step grid but
// describe something else, still lead to the same optimum.
func TestWarmStartMismatched(t *testing.T) {
	prev, next := mpc(t, evParams(6, 200), 1, optimizer.Options{})
	ctx := context.Background()
	cold, err := optimizer.Solve(ctx, next, optimizer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := mpc(t, evParams(7, 200), 1, optimizer.Options{})
	nextPlan, err := optimizer.Solve(ctx, next, optimizer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func(p *optimizer.Plan) *optimizer.Plan { c := *p; return &c }
	for _, tc := range []struct {
		name string
		plan func() *optimizer.Plan
		cold bool // the plan must be ignored
	}{
		{"other step length", func() *optimizer.Plan { p := copyOf(prev); p.StepMinutes = 30; return p }, true},
		{"start off the step grid", func() *optimizer.Plan { p := copyOf(prev); p.Start = p.Start.Add(7 * time.Minute); return p }, true},
		{"no common step", func() *optimizer.Plan { p := copyOf(prev); p.Start = p.Start.Add(-48 * time.Hour); return p }, true},
		{"after JSON (no row duals)", func() *optimizer.Plan {
			b, err := json.Marshal(prev)
			if err != nil {
				t.Fatal(err)
			}
			var p optimizer.Plan
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatal(err)
			}
			return &p
		}, true},
		{"empty plan", func() *optimizer.Plan {
			return &optimizer.Plan{Start: next.Start, StepMinutes: next.StepMinutes, Steps: next.Steps}
		}, true},
		{"another site's plan on the same grid", func() *optimizer.Plan { p := copyOf(other); p.Start = prev.Start; return p }, false},
		{"a later plan (negative shift)", func() *optimizer.Plan { p := copyOf(nextPlan); p.Start = next.Start.Add(15 * time.Minute); return p }, false},
		{"the plan of the same scenario", func() *optimizer.Plan { return nextPlan }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warm, err := optimizer.Solve(ctx, next, optimizer.Options{WarmStart: tc.plan()})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("cold %d iterations, warm %d", cold.Iterations, warm.Iterations)
			sameOptimum(t, cold, warm)
			if tc.cold && warm.Iterations != cold.Iterations {
				t.Errorf("%d iterations, want the cold start's %d (the plan does not fit and must be ignored)", warm.Iterations, cold.Iterations)
			}
		})
	}
}

func TestWarmStartInvalidPlan(t *testing.T) {
	prev, next := mpc(t, evParams(8, 20), 1, optimizer.Options{})
	for _, tc := range []struct {
		name  string
		spoil func(p *optimizer.Plan)
		want  string
	}{
		{"NaN power", func(p *optimizer.Plan) {
			a := &p.Assets[len(p.Assets)-1]
			a.PowerKW = append([]float64(nil), a.PowerKW...)
			a.PowerKW[3] = math.NaN()
		}, "power_kw[3]: NaN is not a valid value"},
		{"infinite import", func(p *optimizer.Plan) {
			p.GridImportKW = append([]float64(nil), p.GridImportKW...)
			p.GridImportKW[5] = math.Inf(1)
		}, "warm start plan grid_import_kw[5]: +Inf"},
		{"huge SoC", func(p *optimizer.Plan) {
			for i := range p.Assets {
				if a := &p.Assets[i]; a.Kind == optimizer.KindBattery {
					a.SoCKWh = append([]float64(nil), a.SoCKWh...)
					a.SoCKWh[0] = 1e12
					return
				}
			}
			t.Fatal("no battery in the plan")
		}, "soc_kwh[0]: 1e+12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := *prev
			p.Assets = append([]optimizer.AssetPlan(nil), prev.Assets...)
			tc.spoil(&p)
			_, err := optimizer.Solve(context.Background(), next, optimizer.Options{WarmStart: &p})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// BenchmarkWarmStart solves the next cycle (one step later) of the
// generated benchmark scenarios cold and warm-started from the previous
// cycle's plan (go test -run '^$' -bench WarmStart -benchtime 3x
// ./optimizer; -bench 'WarmStart/10/' for the demo site's size).
func BenchmarkWarmStart(b *testing.B) {
	type cycle struct {
		prev *optimizer.Plan
		next *optimizer.Scenario
	}
	var mu sync.Mutex
	cycles := map[int]cycle{}
	get := func(b *testing.B, evs int) cycle {
		mu.Lock()
		defer mu.Unlock()
		c, ok := cycles[evs]
		if !ok {
			c.prev, c.next = mpc(b, evParams(1, evs), 1, optimizer.Options{})
			cycles[evs] = c
		}
		return c
	}
	// 10 EVs is about the size of a cycle of the demo site (bench/replay).
	for _, evs := range []int{10, 1000, 10000} {
		for _, mode := range []string{"cold", "warm"} {
			b.Run(fmt.Sprintf("%d/%s", evs, mode), func(b *testing.B) {
				c := get(b, evs)
				opts := optimizer.Options{}
				if mode == "warm" {
					opts.WarmStart = c.prev
				}
				var p *optimizer.Plan
				var err error
				for b.Loop() {
					if p, err = optimizer.Solve(context.Background(), c.next, opts); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(p.Iterations), "iterations")
				b.ReportMetric(p.Objective, "objective")
			})
		}
	}
}
