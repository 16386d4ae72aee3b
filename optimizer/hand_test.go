package optimizer

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

func fill(n int, v float64) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

// baseScenario has one root node and generous grid limits.
func baseScenario(steps, stepMinutes int, importPrice, exportPrice []float64) *Scenario {
	return &Scenario{
		Start: t0, StepMinutes: stepMinutes, Steps: steps,
		Grid: Grid{ImportLimitKW: 100, ExportLimitKW: 100,
			ImportPrice: importPrice, ExportPrice: exportPrice},
		Nodes: []Node{{ID: "root", LimitKW: 100}},
	}
}

func solveOK(t *testing.T, s *Scenario) *Plan {
	t.Helper()
	// A tight tolerance pins the schedule, not just the objective, to 1e-6.
	p, err := Solve(context.Background(), s, Options{Tolerance: 1e-9})
	if err != nil {
		t.Fatalf("Solve: %v", err)
	}
	if p.Status != StatusOptimal {
		t.Fatalf("status %q", p.Status)
	}
	return p
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.9g, want %.9g (±%g)", what, got, want, tol)
	}
}

func nearSlice(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s has %d values, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s = %.7g, want %.7g", what, got, want)
			return
		}
	}
}

func hasBinding(p *Plan, want string) bool {
	return slices.Contains(p.Binding, want)
}

func TestBatteryArbitrageByHand(t *testing.T) {
	tests := []struct {
		name         string
		prices       []float64
		eta, wear    float64
		wantPower    []float64
		wantSoC      []float64
		wantObj      float64
		wantPrices   []float64
		wantBindings []string
	}{
		{
			name:   "lossless",
			prices: []float64{0.1, 0.1, 0.5, 0.5}, eta: 1,
			wantPower: []float64{5, 5, -5, -5}, wantSoC: []float64{0, 5, 10, 5, 0},
			// Import 5+5 kWh at 0.1, export 5+5 kWh at 0.5.
			wantObj:    -4,
			wantPrices: []float64{0.1, 0.1, 0.5, 0.5},
			wantBindings: []string{
				"battery bess-1 max_charge at step 0 (00:00)", "battery bess-1 max_charge at step 1 (01:00)",
				"battery bess-1 max_discharge at step 2 (02:00)", "battery bess-1 max_discharge at step 3 (03:00)",
			},
		},
		{
			name:   "lossy with wear",
			prices: []float64{0.1, 0.1, 0.5, 0.6}, eta: 0.9, wear: 0.01,
			// Charge 5+5 kW stores 9 kWh; discharge 5 kW in the dearest
			// step (5/0.9 kWh drawn), the remaining 3.444 kWh·0.9 = 3.1 kW
			// in the other.
			wantPower: []float64{5, 5, -3.1, -5}, wantSoC: []float64{0, 4.5, 9, 9 - 3.1/0.9, 0},
			// 1.0 import − (0.5·3.1 + 0.6·5) export + 0.01·18.1 wear.
			wantObj:      1.0 - 4.55 + 0.181,
			wantBindings: []string{"battery bess-1 max_charge at step 0 (00:00)", "battery bess-1 max_discharge at step 3 (03:00)", "battery bess-1 min_soc at step 4"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(4, 60, tc.prices, tc.prices)
			s.Batteries = []Battery{{ID: "bess-1", Node: "root", SoCKWh: 0, MinSoCKWh: 0, MaxSoCKWh: 10,
				MaxChargeKW: 5, MaxDischargeKW: 5, ChargeEfficiency: tc.eta, DischargeEfficiency: tc.eta, WearCostPerKWh: tc.wear}}
			p := solveOK(t, s)
			near(t, "objective", p.Objective, tc.wantObj, 1e-6)
			a := p.Asset("bess-1")
			if a == nil || a.Kind != KindBattery {
				t.Fatalf("battery plan missing: %+v", p.Assets)
			}
			nearSlice(t, "battery power", a.PowerKW, tc.wantPower, 1e-6)
			nearSlice(t, "battery soc", a.SoCKWh, tc.wantSoC, 1e-6)
			// No load: the grid mirrors the battery.
			for i, pw := range tc.wantPower {
				near(t, "import", p.GridImportKW[i], math.Max(pw, 0), 1e-6)
				near(t, "export", p.GridExportKW[i], math.Max(-pw, 0), 1e-6)
			}
			if tc.wantPrices != nil {
				nearSlice(t, "root price", p.NodePrices["root"], tc.wantPrices, 1e-6)
			}
			for _, b := range tc.wantBindings {
				if !hasBinding(p, b) {
					t.Errorf("binding %q missing from %q", b, p.Binding)
				}
			}
			near(t, "breakdown total", p.CostBreakdown.Total, tc.wantObj, 1e-6)
			near(t, "battery wear", p.CostBreakdown.BatteryWear, tc.wear*sumAbs(tc.wantPower), 1e-6)
			if p.Iterations <= 0 || p.Gap > 1e-6 || p.PrimalResidual > 1e-6 {
				t.Errorf("iterations %d, gap %g, residual %g", p.Iterations, p.Gap, p.PrimalResidual)
			}
		})
	}
}

func sumAbs(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += math.Abs(x)
	}
	return s
}

func TestEVDeadlineByHand(t *testing.T) {
	prices := []float64{0.3, 0.1, 0.2, 0.1, 0.05}
	tests := []struct {
		name            string
		arrival         int
		departure       int
		energy, penalty float64
		wantPower       []float64
		wantUnmet       float64
		wantRequired    float64
		wantObj         float64
	}{
		// The two cheapest steps before departure (0.1 each).
		{"met", 0, 4, 20, 1, []float64{0, 10, 0, 10, 0}, 0, 20, 2.0},
		// 30 kWh: the third step would cost 0.2 > penalty 0.15, so 10 kWh stay unmet.
		{"penalty cheaper than charging", 0, 4, 30, 0.15, []float64{0, 10, 0, 10, 0}, 10, 30, 2.0 + 1.5},
		// Departure at step 7, two steps after the horizon: 20 kWh can
		// still be delivered then, so 10 kWh are required now; the
		// cheapest step in the horizon is the last one.
		{"departs after the horizon", 0, 7, 30, 1, []float64{0, 0, 0, 0, 10}, 0, 10, 0.5},
		// Arrives in the last step and stays 3 steps beyond: 30 − 10·3 =
		// 0 kWh are required now, so nothing is bought.
		{"arrives late, leaves after the horizon", 4, 8, 30, 1, []float64{0, 0, 0, 0, 0}, 0, 0, 0},
		// Arrives after the horizon: no schedule, no requirement.
		{"arrives after the horizon", 6, 8, 50, 1, []float64{0, 0, 0, 0, 0}, 0, 0, 0},
		// A window of steps 1-2 only: 20 kWh at 10 kW, cost 0.1 + 0.2.
		{"window inside the horizon", 1, 3, 20, 1, []float64{0, 10, 10, 0, 0}, 0, 20, 3.0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(5, 60, prices, fill(5, 0))
			s.EVSessions = []EVSession{{ID: "ev-1", Node: "root", ArrivalStep: tc.arrival, DepartureStep: tc.departure,
				EnergyKWh: tc.energy, MaxChargeKW: 10, UnmetPenaltyPerKWh: tc.penalty}}
			p := solveOK(t, s)
			a := p.Asset("ev-1")
			nearSlice(t, "ev power", a.PowerKW, tc.wantPower, 1e-6)
			near(t, "unmet", a.UnmetKWh, tc.wantUnmet, 1e-6)
			near(t, "required", a.RequiredKWh, tc.wantRequired, 1e-9)
			near(t, "energy", a.EnergyKWh, sumAbs(tc.wantPower), 1e-6)
			near(t, "objective", p.Objective, tc.wantObj, 1e-6)
			near(t, "unmet penalty", p.CostBreakdown.UnmetPenalty, tc.penalty*tc.wantUnmet, 1e-6)
		})
	}
}

func TestV2GByHand(t *testing.T) {
	// The EV arrives empty, may go 5 kWh below its start (V2G budget) and
	// must end with 10 kWh: it discharges 5 kWh in the dear step and
	// charges 15 kWh in the cheap one. Wear 0.02 per kWh discharged.
	s := baseScenario(2, 60, []float64{0.5, 0.1}, []float64{0.4, 0.1})
	s.EVSessions = []EVSession{{ID: "ev", Node: "root", ArrivalStep: 0, DepartureStep: 2, EnergyKWh: 10,
		MaxChargeKW: 20, MaxDischargeKW: 20, V2GBudgetKWh: 5, WearCostPerKWh: 0.02, UnmetPenaltyPerKWh: 1}}
	p := solveOK(t, s)
	nearSlice(t, "ev power", p.Asset("ev").PowerKW, []float64{-5, 15}, 1e-6)
	near(t, "objective", p.Objective, -0.4*5+0.1*15+0.02*5, 1e-6)
	near(t, "ev wear", p.CostBreakdown.EVWear, 0.1, 1e-6)
}

func TestPVCurtailmentByHand(t *testing.T) {
	s := baseScenario(2, 60, []float64{0.2, 0.2}, []float64{0.05, 0})
	s.Grid.ExportLimitKW = 4
	s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: []float64{2, 2}}}
	s.PV = []PV{{ID: "pv", Node: "root", ForecastKW: []float64{10, 10}, Curtailable: true}}
	p := solveOK(t, s)
	pv := p.Asset("pv")
	// Step 0: export pays, so export up to the limit (4 kW) and curtail 4 kW.
	near(t, "pv power[0]", pv.PowerKW[0], -6, 1e-6)
	near(t, "curtailed[0]", pv.CurtailedKW[0], 4, 1e-6)
	near(t, "export[0]", p.GridExportKW[0], 4, 1e-6)
	// Step 1: export price 0, so anything between serving the load and
	// the export limit is optimal; at least 4 kW must be curtailed.
	if pv.CurtailedKW[1] < 4-1e-6 || pv.CurtailedKW[1] > 8+1e-6 {
		t.Errorf("curtailed[1] = %v, want within [4, 8]", pv.CurtailedKW[1])
	}
	if p.GridImportKW[1] > 1e-6 || p.GridExportKW[1] > 4+1e-6 {
		t.Errorf("step 1 import %v export %v", p.GridImportKW[1], p.GridExportKW[1])
	}
	near(t, "objective", p.Objective, -0.05*4, 1e-6)
	if !hasBinding(p, "grid export limit at step 0 (00:00)") {
		t.Errorf("export limit not binding: %q", p.Binding)
	}

	// Without curtailment the same export limit cannot be met.
	s.PV[0].Curtailable = false
	_, err := Solve(context.Background(), s, Options{})
	if err == nil || !strings.Contains(err.Error(), "export_limit_kw 4") {
		t.Fatalf("err = %v, want the export limit named", err)
	}
}

func TestNodeLimitAndNodePriceByHand(t *testing.T) {
	// Feeder F (limit 10 kW) carries a 5 kW load and an EV wanting 20 kWh
	// in one hour; the feeder limit leaves 5 kW for the EV. One more kW at
	// F would displace EV charging worth the 1.0/kWh penalty, so F's price
	// is 1.0 while the root's is the import price 0.2.
	s := baseScenario(1, 60, []float64{0.2}, []float64{0})
	s.Nodes = append(s.Nodes, Node{ID: "F", Parent: "root", LimitKW: 10})
	s.Loads = []Load{{ID: "load", Node: "F", ForecastKW: []float64{5}}}
	s.EVSessions = []EVSession{{ID: "ev", Node: "F", ArrivalStep: 0, DepartureStep: 1, EnergyKWh: 20, MaxChargeKW: 11, UnmetPenaltyPerKWh: 1}}
	p := solveOK(t, s)
	near(t, "ev power", p.Asset("ev").PowerKW[0], 5, 1e-6)
	near(t, "unmet", p.Asset("ev").UnmetKWh, 15, 1e-6)
	near(t, "objective", p.Objective, 0.2*10+15, 1e-6)
	near(t, "price F", p.NodePrices["F"][0], 1.0, 1e-6)
	near(t, "price root", p.NodePrices["root"][0], 0.2, 1e-6)
	if !hasBinding(p, "node F limit at step 0 (00:00)") {
		t.Errorf("node limit not binding: %q", p.Binding)
	}
	if hasBinding(p, "node root limit at step 0 (00:00)") {
		t.Errorf("root limit reported binding: %q", p.Binding)
	}
}

func TestDemandChargeByHand(t *testing.T) {
	// A 20 kW spike in step 1; the 10 kWh battery shaves it to 10 kW. The
	// demand charge applies above the 8 kW peak so far.
	s := baseScenario(4, 60, fill(4, 0.1), fill(4, 0.1))
	s.Grid.DemandChargePerKW = 10
	s.Grid.PeakSoFarKW = 8
	s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: []float64{5, 20, 5, 5}}}
	s.Batteries = []Battery{{ID: "b", Node: "root", SoCKWh: 10, MaxSoCKWh: 10, MaxChargeKW: 5, MaxDischargeKW: 20,
		ChargeEfficiency: 1, DischargeEfficiency: 1, WearCostPerKWh: 0.001}}
	p := solveOK(t, s)
	nearSlice(t, "import", p.GridImportKW, []float64{5, 10, 5, 5}, 1e-6)
	near(t, "peak", p.PeakImportKW, 10, 1e-6)
	near(t, "demand charge", p.CostBreakdown.DemandCharge, 20, 1e-6)
	near(t, "objective", p.Objective, 2.5+20+0.01, 1e-6)
	if !hasBinding(p, "demand peak at step 1 (01:00)") {
		t.Errorf("peak not binding: %q", p.Binding)
	}
	// The marginal kWh in the peak step costs energy plus demand charge.
	near(t, "price at peak", p.NodePrices["root"][1], 0.1+10, 1e-5)

	// With a higher peak so far there is nothing to shave: the battery
	// still discharges its 10 kWh (any step is as good) but no demand
	// charge arises.
	s.Grid.PeakSoFarKW = 25
	p = solveOK(t, s)
	near(t, "demand charge", p.CostBreakdown.DemandCharge, 0, 1e-6)
	near(t, "objective", p.Objective, 0.1*(35-10)+0.01, 1e-6)
}
