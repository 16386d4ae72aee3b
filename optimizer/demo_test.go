package optimizer

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/demo.json from demoScenario")

// demoScenario is the demo-sized day: 96 quarter-hours, a battery, a PV
// plant, two buildings and 12 EV sessions on a root and two feeders.
func demoScenario() *Scenario {
	const T = 96
	s := &Scenario{
		Start:       time.Date(2024, 6, 3, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
		StepMinutes: 15,
		Steps:       T,
		Grid: Grid{ImportLimitKW: 150, ExportLimitKW: 60, DemandChargePerKW: 8, PeakSoFarKW: 60,
			ImportPrice: make([]float64, T), ExportPrice: make([]float64, T)},
		Nodes: []Node{
			{ID: "substation", LimitKW: 200},
			{ID: "feeder-a", Parent: "substation", LimitKW: 80},
			{ID: "feeder-b", Parent: "substation", LimitKW: 80},
		},
	}
	office := make([]float64, T)
	homes := make([]float64, T)
	pv := make([]float64, T)
	for t := 0; t < T; t++ {
		h := float64(t) / 4
		switch {
		case h < 7:
			s.Grid.ImportPrice[t] = 0.15
		case h < 17:
			s.Grid.ImportPrice[t] = 0.30
		case h < 21:
			s.Grid.ImportPrice[t] = 0.45
		default:
			s.Grid.ImportPrice[t] = 0.20
		}
		s.Grid.ExportPrice[t] = 0.05
		office[t] = round2(12 + 18*bump(h, 8, 18))
		homes[t] = round2(6 + 4*bump(h, 6.5, 9) + 12*bump(h, 17, 23))
		pv[t] = round2(50 * math.Max(0, math.Sin(math.Pi*(h-6)/14)))
	}
	s.Loads = []Load{{ID: "office", Node: "feeder-a", ForecastKW: office}, {ID: "homes", Node: "feeder-b", ForecastKW: homes}}
	s.PV = []PV{{ID: "pv-roof", Node: "feeder-b", ForecastKW: pv, Curtailable: true}}
	s.Batteries = []Battery{{ID: "bess-1", Node: "substation", SoCKWh: 50, MinSoCKWh: 10, MaxSoCKWh: 95,
		MaxChargeKW: 50, MaxDischargeKW: 50, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95,
		WearCostPerKWh: 0.02, TerminalSoCKWh: ptr(50)}}
	type ev struct {
		id, node     string
		arr, dep     int
		kwh, kw, v2g float64
	}
	evs := []ev{
		{"ev-01", "feeder-a", 32, 68, 25, 11, 0},
		{"ev-02", "feeder-a", 33, 70, 18, 11, 0},
		{"ev-03", "feeder-a", 34, 72, 30, 22, 11},
		{"ev-04", "feeder-a", 35, 66, 12, 11, 0},
		{"ev-05", "feeder-a", 36, 76, 40, 22, 0},
		{"ev-06", "feeder-a", 38, 64, 9, 7.4, 0},
		{"ev-07", "feeder-a", 40, 74, 22, 11, 11},
		{"ev-08", "feeder-a", 44, 60, 15, 11, 0},
		{"ev-09", "feeder-b", 0, 28, 20, 11, 0},
		{"ev-10", "feeder-b", 70, 124, 35, 11, 11},
		{"ev-11", "feeder-b", 72, 120, 28, 7.4, 0},
		{"ev-12", "feeder-b", 76, 96, 16, 11, 0},
	}
	for _, e := range evs {
		session := EVSession{ID: e.id, Node: e.node, ArrivalStep: e.arr, DepartureStep: e.dep, EnergyKWh: e.kwh,
			MaxChargeKW: e.kw, WearCostPerKWh: 0.03, UnmetPenaltyPerKWh: 1.0}
		if e.v2g > 0 {
			session.MaxDischargeKW = e.v2g
			session.V2GBudgetKWh = 10
		}
		s.EVSessions = append(s.EVSessions, session)
	}
	return s
}

// bump is a smooth 0..1..0 profile over [from, to] hours.
func bump(h, from, to float64) float64 {
	if h <= from || h >= to {
		return 0
	}
	return math.Pow(math.Sin(math.Pi*(h-from)/(to-from)), 2)
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func TestDemoScenarioFile(t *testing.T) {
	path := filepath.Join("testdata", "demo.json")
	want, err := json.MarshalIndent(demoScenario(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestDemoScenarioFile -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale; run go test ./optimizer -run TestDemoScenarioFile -update", path)
	}
	s, err := ParseScenario(got)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Solve(context.Background(), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, s, p, 1e-6)
	t.Logf("demo: objective %.4f, %d iterations, %.2f ms, gap %.2g, residual %.2g, %d binding",
		p.Objective, p.Iterations, p.SolveMS, p.Gap, p.PrimalResidual, len(p.Binding))
	// The plan serialises with the documented field names.
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "objective", "solve_ms", "iterations", "grid_import_kw", "grid_export_kw",
		"assets", "cost_breakdown", "node_prices", "binding", "primal_residual", "gap"} {
		if _, ok := generic[k]; !ok {
			t.Errorf("plan JSON lacks %q", k)
		}
	}
	cb := generic["cost_breakdown"].(map[string]any)
	for _, k := range []string{"energy_import", "energy_export_revenue", "demand_charge", "battery_wear", "ev_wear", "unmet_penalty", "total"} {
		if _, ok := cb[k]; !ok {
			t.Errorf("cost_breakdown lacks %q", k)
		}
	}
	if a := p.Asset("bess-1"); a == nil || len(a.SoCKWh) != s.Steps+1 {
		t.Errorf("battery plan %+v", a)
	}
	if p.Asset("nope") != nil {
		t.Error("Asset found an unknown id")
	}
}

func BenchmarkSolve(b *testing.B) {
	s := demoScenario()
	ctx := context.Background()
	var p *Plan
	for b.Loop() {
		var err error
		p, err = Solve(ctx, s, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.Iterations), "iterations")
}

// scaledScenario is the demo day with nEV random sessions (a quarter of
// them V2G-capable) and node and grid limits scaled to match.
func scaledScenario(nEV int, seed uint64) *Scenario {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := demoScenario()
	s.EVSessions = nil
	for i := 0; i < nEV; i++ {
		arr := rng.IntN(90)
		e := EVSession{ID: fmt.Sprintf("ev-%05d", i), Node: []string{"feeder-a", "feeder-b"}[rng.IntN(2)],
			ArrivalStep: arr, DepartureStep: arr + 4 + rng.IntN(40), EnergyKWh: 5 + 30*rng.Float64(),
			MaxChargeKW: 7.4, UnmetPenaltyPerKWh: 1, WearCostPerKWh: 0.03}
		if rng.IntN(4) == 0 {
			e.MaxDischargeKW = 7.4
			e.V2GBudgetKWh = 5
		}
		s.EVSessions = append(s.EVSessions, e)
	}
	scale := 1 + float64(nEV)/12
	for i := range s.Nodes {
		s.Nodes[i].LimitKW *= scale
	}
	s.Grid.ImportLimitKW *= scale
	return s
}

// BenchmarkSolveEVs tracks how the solve scales with the number of EV
// sessions (go test -bench SolveEVs -benchtime 3x).
func BenchmarkSolveEVs(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := scaledScenario(n, 7)
			var p *Plan
			for b.Loop() {
				var err error
				p, err = Solve(context.Background(), s, Options{})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(p.Iterations), "iterations")
		})
	}
}

func TestScaledScenario(t *testing.T) {
	s := scaledScenario(200, 3)
	p, err := Solve(context.Background(), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkPlan(t, s, p, 1e-5)
}
