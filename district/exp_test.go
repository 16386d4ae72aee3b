package district

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestExpScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EXP_SITES"))
	if n == 0 {
		t.Skip()
	}
	t0 := time.Now()
	g := generate(t, GenParams{Sites: n, Seed: 1})
	t.Logf("generate %v", time.Since(t0))
	var cenObj float64
	if os.Getenv("EXP_CEN") != "" {
		t1 := time.Now()
		cen, err := Centralised(context.Background(), g.Scenarios, g.Limits)
		if err != nil {
			t.Fatal(err)
		}
		cenObj = cen.Objective
		t.Logf("centralised %.2f in %v", cen.Objective, time.Since(t1))
	}
	budget, _ := time.ParseDuration(os.Getenv("EXP_BUDGET"))
	for _, rs := range strings.Split(os.Getenv("EXP_ROUNDS"), ",") {
		mr, _ := strconv.Atoi(rs)
		g2 := generate(t, GenParams{Sites: n, Seed: 1})
		res := coordinate(t, g2, Options{GapPct: 0.5, MaxRounds: mr, TimeBudget: budget, OnRound: func(r RoundReport) {
			if os.Getenv("EXP_V") != "" {
				t.Logf("round %d: residual %.1f lb %.2f ub %.2f gap %.3f%% dur %.0f ms master %.0f ms (%d it)", r.Round, r.ResidualKW, r.LowerBound, r.UpperBound, r.GapPct, r.DurationMS, r.MasterMS, r.MasterIterations)
			}
		}})
		t.Logf("independent %.2f coordinated %.2f (vs cen %.3f%%) lb %.2f gap %.3f%% dur %.0f ms", g.IndependentCost, res.Cost, 100*(res.Cost-cenObj)/cenObj, res.LowerBound, res.GapPct, res.DurationMS)
	}
}
