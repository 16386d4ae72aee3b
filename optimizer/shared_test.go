package optimizer

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestSolveShared: two sites below one shared limit, one nested limit over
// one of them. By hand: each site has a 50 kW load at steps 0-3 and a
// battery; alone each imports 50 kW at the expensive step 2; the shared
// limit of 70 kW there forces 30 kW of discharge between them. The solve is
// checked against (a) the limits, (b) the sum of the sites' solves alone
// without limits (equal), and (c) strong duality: solving each site alone
// with the shared prices added to its import price gives the same total
// less the prices' worth of the limits.
func TestSolveShared(t *testing.T) {
	mk := func(soc float64) *Scenario {
		s := baseScenario(4, 60, []float64{0.1, 0.2, 0.4, 0.2}, fill(4, 0.05))
		s.Loads = []Load{{ID: "l", Node: "root", ForecastKW: []float64{50, 50, 50, 50}}}
		s.Batteries = []Battery{{ID: "b", Node: "root", SoCKWh: soc, MinSoCKWh: 0, MaxSoCKWh: 100,
			MaxChargeKW: 50, MaxDischargeKW: 50, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95, WearCostPerKWh: 0.01}}
		return s
	}
	ctx := context.Background()
	scns := []*Scenario{mk(0), mk(10)}
	alone := 0.0
	for _, s := range scns {
		p, err := Solve(ctx, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		alone += p.Objective
	}
	free, err := SolveShared(ctx, scns, nil, Options{})
	if err != nil {
		t.Fatalf("SolveShared without limits: %v", err)
	}
	if math.Abs(free.Objective-alone) > 1e-4*(1+alone) {
		t.Errorf("without limits: %.6f, want the sites' sum %.6f", free.Objective, alone)
	}
	limits := []SharedImportLimit{
		{ID: "tx", Sites: []int{0, 1}, LimitKW: []float64{120, 120, 70, 120}},
		{ID: "inner", Sites: []int{1}, LimitKW: []float64{100, 100, 100, 100}},
	}
	res, err := SolveShared(ctx, scns, limits, Options{})
	if err != nil {
		t.Fatalf("SolveShared: %v", err)
	}
	for tt := 0; tt < 4; tt++ {
		if sum := res.Plans[0].GridImportKW[tt] + res.Plans[1].GridImportKW[tt]; sum > limits[0].LimitKW[tt]+1e-4 {
			t.Errorf("step %d: summed import %.4f above the shared limit %v", tt, sum, limits[0].LimitKW[tt])
		}
	}
	if res.Objective <= alone+1e-3 {
		t.Errorf("binding limit but cost %.4f not above the sites' free sum %.4f", res.Objective, alone)
	}
	if res.Prices[0][2] <= 0 {
		t.Errorf("shared price at the binding step %v, want > 0", res.Prices[0][2])
	}
	// Strong duality.
	dual := 0.0
	for i, s := range scns {
		priced := *s
		priced.Grid.ImportPrice = append([]float64(nil), s.Grid.ImportPrice...)
		for k, l := range limits {
			for _, j := range l.Sites {
				if j == i {
					for tt := range priced.Grid.ImportPrice {
						priced.Grid.ImportPrice[tt] += res.Prices[k][tt]
					}
				}
			}
		}
		p, err := Solve(ctx, &priced, Options{})
		if err != nil {
			t.Fatal(err)
		}
		dual += p.Objective
		if b := p.DualBound(); b > p.Objective || b < p.Objective-1e-4*(1+math.Abs(p.Objective)) {
			t.Errorf("site %d: dual bound %.6f vs objective %.6f", i, b, p.Objective)
		}
	}
	for k, l := range limits {
		for tt, v := range l.LimitKW {
			dual -= res.Prices[k][tt] * s0dt(scns) * v
		}
	}
	if math.Abs(dual-res.Objective) > 1e-4*(1+math.Abs(res.Objective)) {
		t.Errorf("Lagrangian at the shared prices %.6f, want the shared optimum %.6f", dual, res.Objective)
	}

	// Bad input is an error naming the limit.
	for _, bad := range [][]SharedImportLimit{
		{{ID: "x", Sites: []int{0}, LimitKW: []float64{1}}},
		{{ID: "x", Sites: []int{5}, LimitKW: fill(4, 1)}},
		{{ID: "x", Sites: []int{0}, LimitKW: []float64{1, math.NaN(), 1, 1}}},
		{{ID: "a", Sites: []int{0, 1}, LimitKW: fill(4, 99)}, {ID: "b", Sites: []int{1, 2}, LimitKW: fill(4, 99)}},
	} {
		three := append(scns, mk(5))
		if _, err := SolveShared(ctx, three, bad, Options{}); err == nil || !strings.Contains(err.Error(), "shared solve") {
			t.Errorf("limits %+v: error %v", bad, err)
		}
	}
}

func s0dt(s []*Scenario) float64 { return s[0].StepHours() }
