package replay

import (
	"context"
	"testing"
	"time"
)

// TestRelaxedCycles checks that cycles whose scenario is infeasible (a grid import
// limit far below the building's load) propose the least-violating plan, which the
// replay counts as relaxed and held for a dispatcher, and that a feasible site has
// none.
func TestRelaxedCycles(t *testing.T) {
	from := time.Date(2019, 6, 4, 8, 0, 0, 0, time.UTC)
	to := from.Add(3 * time.Hour)
	for _, tc := range []struct {
		name         string
		sets         []string
		strategy     string
		relaxed, min int // relaxed == held; at least min of them
	}{
		{"as built", nil, Optimize, 0, 0},
		{"import limit 40 kW", []string{"grid.import_limit_kw=40"}, Optimize, -1, 12},
		{"import limit 40 kW, baseline", []string{"grid.import_limit_kw=40"}, Baseline, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ApplySets(demoConfig(t), tc.sets)
			if err != nil {
				t.Fatal(err)
			}
			h := demoHistory(t, cfg, from, to)
			r, err := Run(context.Background(), Options{Config: cfg, History: h, From: from, To: to, Strategy: tc.strategy, Sets: tc.sets})
			if err != nil {
				t.Fatal(err)
			}
			k := r.KPIs
			if k.RelaxedCycles != k.HeldCycles {
				t.Errorf("relaxed %d, held %d: every relaxed plan is held, nothing else should be", k.RelaxedCycles, k.HeldCycles)
			}
			if tc.relaxed >= 0 && k.RelaxedCycles != tc.relaxed {
				t.Errorf("relaxed cycles %d, want %d", k.RelaxedCycles, tc.relaxed)
			}
			if k.RelaxedCycles < tc.min {
				t.Errorf("relaxed cycles %d, want at least %d of %d", k.RelaxedCycles, tc.min, len(r.Steps))
			}
			if k.FailedCycles != 0 {
				t.Errorf("failed cycles %d: %v", k.FailedCycles, r.CycleErrors)
			}
		})
	}
}
