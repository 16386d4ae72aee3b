package optimizer

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestInfeasibleScenarios(t *testing.T) {
	tests := []struct {
		name  string
		build func() *Scenario
		want  []string // substrings of the error
	}{
		{
			name: "terminal SoC unreachable",
			build: func() *Scenario {
				s := baseScenario(4, 60, fill(4, 0.1), fill(4, 0))
				s.Batteries = []Battery{{ID: "bess-1", Node: "root", SoCKWh: 10, MaxSoCKWh: 100, MaxChargeKW: 5,
					MaxDischargeKW: 5, ChargeEfficiency: 0.9, DischargeEfficiency: 0.9, TerminalSoCKWh: ptr(40)}}
				return s
			},
			want: []string{"battery bess-1 terminal_soc_kwh 40 is unreachable", "at most 28 kWh"},
		},
		{
			name: "node limit below fixed load",
			build: func() *Scenario {
				s := baseScenario(4, 15, fill(4, 0.1), fill(4, 0))
				s.Nodes = append(s.Nodes, Node{ID: "feeder-a", Parent: "root", LimitKW: 10})
				s.Loads = []Load{{ID: "l", Node: "feeder-a", ForecastKW: []float64{5, 12, 13, 5}}}
				return s
			},
			want: []string{"node feeder-a limit 10 kW at step 1 (00:15) is below the 12 kW", "and at 1 more steps"},
		},
		{
			name: "grid import limit below fixed load",
			build: func() *Scenario {
				s := baseScenario(2, 60, fill(2, 0.1), fill(2, 0))
				s.Grid.ImportLimitKW = 3
				s.Loads = []Load{{ID: "l", Node: "root", ForecastKW: []float64{2, 8}}}
				s.Batteries = []Battery{{ID: "b", Node: "root", SoCKWh: 10, MaxSoCKWh: 10, MaxChargeKW: 2, MaxDischargeKW: 2,
					ChargeEfficiency: 1, DischargeEfficiency: 1}}
				return s
			},
			want: []string{"grid import_limit_kw 3 is below the 6 kW", "step 1 (01:00)"},
		},
		{
			name: "PV not curtailable and export limit too low",
			build: func() *Scenario {
				s := baseScenario(2, 60, fill(2, 0.1), fill(2, 0))
				s.Grid.ExportLimitKW = 1
				s.PV = []PV{{ID: "pv", Node: "root", ForecastKW: []float64{0, 9}}}
				return s
			},
			want: []string{"grid export_limit_kw 1 is below the 9 kW", "PV is not curtailable"},
		},
		{
			name: "reverse flow on a feeder",
			build: func() *Scenario {
				s := baseScenario(1, 60, fill(1, 0.1), fill(1, 0))
				s.Nodes = append(s.Nodes, Node{ID: "f", Parent: "root", LimitKW: 5})
				s.PV = []PV{{ID: "pv", Node: "f", ForecastKW: []float64{9}}}
				return s
			},
			want: []string{"node f limit 5 kW at step 0 (00:00) is below the 9 kW its subtree must feed back"},
		},
		{
			// Each step alone is feasible (the battery can cover the 5 kW
			// excess), but 4 h × 5 kW exceeds its 10 kWh: only the solver
			// sees this.
			name: "battery energy insufficient for a node limit",
			build: func() *Scenario {
				s := baseScenario(4, 60, fill(4, 0.1), fill(4, 0))
				s.Nodes = append(s.Nodes, Node{ID: "F", Parent: "root", LimitKW: 5})
				s.Loads = []Load{{ID: "l", Node: "F", ForecastKW: fill(4, 10)}}
				s.Batteries = []Battery{{ID: "b1", Node: "F", SoCKWh: 10, MaxSoCKWh: 10, MaxChargeKW: 10,
					MaxDischargeKW: 10, ChargeEfficiency: 1, DischargeEfficiency: 1}}
				return s
			},
			want: []string{"node F power balance at step 3 (03:00): 5 kW of demand cannot be supplied", "node F power balance at step 2 (02:00): 5 kW"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Solve(context.Background(), tc.build(), Options{})
			if err == nil {
				t.Fatalf("solved an infeasible scenario: %+v", p)
			}
			if !errors.Is(err, ErrInfeasible) {
				t.Fatalf("error %v is not ErrInfeasible", err)
			}
			var ie *InfeasibleError
			if !errors.As(err, &ie) || len(ie.Conflicts) == 0 {
				t.Fatalf("error %T lacks conflicts", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if p == nil || p.Status != StatusInfeasible {
				t.Errorf("plan status %v, want %q", p, StatusInfeasible)
			}
		})
	}
}

func TestUnmetIsNotInfeasible(t *testing.T) {
	// The EV wants 40 kWh but can take at most 22 kWh before departure:
	// that is unmet energy, penalised, not an infeasibility.
	s := baseScenario(2, 60, fill(2, 0.1), fill(2, 0))
	s.EVSessions = []EVSession{{ID: "ev-3", Node: "root", DepartureStep: 2, EnergyKWh: 40, MaxChargeKW: 11, UnmetPenaltyPerKWh: 0.5}}
	p := solveOK(t, s)
	near(t, "unmet", p.Asset("ev-3").UnmetKWh, 18, 1e-6)
	near(t, "objective", p.Objective, 0.1*22+0.5*18, 1e-6)
}

func TestSolveCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := Solve(ctx, validScenario(), Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if p == nil || p.Status != StatusCanceled {
		t.Fatalf("plan %+v, want status %q", p, StatusCanceled)
	}
}

func TestSolveNil(t *testing.T) {
	if _, err := Solve(context.Background(), nil, Options{}); err == nil {
		t.Fatal("nil scenario accepted")
	}
}

func TestIterationLimit(t *testing.T) {
	p, err := Solve(context.Background(), demoScenario(), Options{MaxIterations: 2})
	if err == nil || !strings.Contains(err.Error(), "iteration limit 2 reached") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, ErrInfeasible) || p == nil || p.Status != StatusNotConverged || p.Iterations != 2 {
		t.Fatalf("plan %+v, err %v", p, err)
	}
}
