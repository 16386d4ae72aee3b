package optimizer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func bigScenario(nEV int, seed uint64) *Scenario {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := demoScenario()
	s.EVSessions = nil
	for i := 0; i < nEV; i++ {
		arr := rng.IntN(90)
		e := EVSession{ID: fmt.Sprintf("ev%d", i), Node: []string{"feeder-a", "feeder-b"}[rng.IntN(2)], ArrivalStep: arr,
			DepartureStep: arr + 4 + rng.IntN(40), EnergyKWh: 5 + 30*rng.Float64(), MaxChargeKW: 7.4, UnmetPenaltyPerKWh: 1, WearCostPerKWh: 0.03}
		if rng.IntN(4) == 0 {
			e.MaxDischargeKW = 7.4
			e.V2GBudgetKWh = 5
		}
		s.EVSessions = append(s.EVSessions, e)
	}
	scale := 1 + float64(nEV)/12
	s.Nodes[0].LimitKW *= scale
	s.Nodes[1].LimitKW *= scale
	s.Nodes[2].LimitKW *= scale
	s.Grid.ImportLimitKW *= scale
	return s
}

func TestDbgBig(t *testing.T) {
	for _, n := range []int{1000, 10000} {
		s := bigScenario(n, 7)
		start := time.Now()
		p, err := Solve(context.Background(), s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("EVs %d: it %d obj %.4f gap %g res %g solve %.1f ms total %v", n, p.Iterations, p.Objective, p.Gap, p.PrimalResidual, p.SolveMS, time.Since(start))
	}
}
