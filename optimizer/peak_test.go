package optimizer

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestPeakTargetMargin checks the peak target: max(peak so far, import_t +
// margin_t), charged in the objective, and lowered by a battery where that
// pays.
func TestPeakTargetMargin(t *testing.T) {
	load := []float64{40, 60, 50, 30}
	flat := func(v float64) []float64 { return []float64{v, v, v, v} }
	for _, tc := range []struct {
		name       string
		demand     float64
		peakSoFar  float64
		margin     []float64
		battery    bool
		wantTarget float64
	}{
		{"no margin", 10, 0, nil, false, 60},
		{"flat margin raises the target", 10, 0, flat(5), false, 65},
		{"margin where the load is lower decides", 10, 0, []float64{0, 0, 20, 0}, false, 70},
		{"margin under the peak so far costs nothing", 10, 80, flat(5), false, 80},
		{"peak so far above import but not import + margin", 10, 62, flat(5), false, 65},
		{"no demand charge, no target", 0, 50, flat(5), false, 0},
		// 10 kWh shave import + margin [45 65 55 35] to L with
		// (65−L + 55−L + 45−L)·0.25 h = 10 kWh: L = 41.67 kW.
		{"battery shaves import + margin", 10, 0, flat(5), true, 125.0 / 3},
		// Holding 50 kW needs 5 kWh; the rest saves energy.
		{"battery shaves to the peak so far", 10, 50, flat(5), true, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxSoC := 0.0
			if tc.battery {
				maxSoC = 20
			}
			s := peakScenario(load, tc.demand, tc.peakSoFar, maxSoC)
			s.Grid.PeakMarginKW = tc.margin
			p := solveOK(t, s)
			if math.Abs(p.PeakTargetKW-tc.wantTarget) > 1e-5 {
				t.Errorf("peak target %.6g kW, want %.6g", p.PeakTargetKW, tc.wantTarget)
			}
			if tc.demand > 0 {
				for k, imp := range p.GridImportKW {
					if m := s.Grid.margin(k); imp+m > p.PeakTargetKW+1e-5 {
						t.Errorf("step %d: import %.6g + margin %.6g above the target %.6g", k, imp, m, p.PeakTargetKW)
					}
				}
				want := tc.demand * math.Max(0, tc.wantTarget-tc.peakSoFar)
				if math.Abs(p.CostBreakdown.DemandCharge-want) > 1e-4 {
					t.Errorf("demand charge %.6g, want %.6g", p.CostBreakdown.DemandCharge, want)
				}
			}
			checkPlan(t, s, p, 1e-5)
		})
	}
}

func TestPeakMarginValidation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		margin []float64
		want   string
	}{
		{"wrong length", []float64{1, 2}, "grid.peak_margin_kw: has 2 values, want steps = 4"},
		{"negative", []float64{1, -2, 0, 0}, "grid.peak_margin_kw[1]: -2 must not be negative"},
		{"not finite", []float64{1, 0, math.NaN(), 0}, "grid.peak_margin_kw[2]: NaN is not a finite number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(4, 15, []float64{.2, .2, .2, .2}, []float64{0, 0, 0, 0})
			s.Grid.DemandChargePerKW = 1
			s.Grid.PeakMarginKW = tc.margin
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
			if _, err := Solve(context.Background(), s, Options{}); err == nil {
				t.Fatal("Solve accepted the scenario")
			}
		})
	}
}

// TestPeakCostSteps: a peak the rest of the billing period will likely reach anyway
// is priced below the demand charge by bands; the plan raises the peak through the
// cheap bands where that saves energy, and stops where the next band costs more
// than it saves.
func TestPeakCostSteps(t *testing.T) {
	// Two 1 h steps, 50 kW of load, import 0.10 then 0.50: moving x kWh into the
	// first step saves 0.40 x and raises the peak by x kW above 50.
	for _, tc := range []struct {
		name       string
		steps      []PeakCostStep
		wantTarget float64
	}{
		{"full demand charge: no arbitrage", nil, 50},
		{"a free band: filled, no further at the full charge", []PeakCostStep{{WidthKW: 15, PricePerKW: 0}}, 65},
		// 15 kW free, then 10 kW at 0.3 (< 0.40 saved), then 0.5 (> 0.40): stops at 75.
		{"bands priced up to the saving", []PeakCostStep{{15, 0}, {10, 0.3}, {30, 0.5}}, 75},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(2, 60, []float64{0.1, 0.5}, []float64{0, 0})
			s.Grid.DemandChargePerKW = 10
			s.Grid.PeakSoFarKW = 50
			s.Grid.PeakCostSteps = tc.steps
			s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: []float64{50, 50}}}
			s.Batteries = []Battery{{ID: "bat", Node: "root", SoCKWh: 0, MinSoCKWh: 0, MaxSoCKWh: 40,
				MaxChargeKW: 40, MaxDischargeKW: 40, ChargeEfficiency: 1, DischargeEfficiency: 1}}
			p := solveOK(t, s)
			if math.Abs(p.PeakTargetKW-tc.wantTarget) > 1e-4 {
				t.Errorf("peak target %.6g kW, want %.6g", p.PeakTargetKW, tc.wantTarget)
			}
			if want := s.Grid.PeakCostOf(tc.wantTarget - 50); math.Abs(p.CostBreakdown.DemandCharge-want) > 1e-3 {
				t.Errorf("demand charge %.6g, want %.6g", p.CostBreakdown.DemandCharge, want)
			}
			checkPlan(t, s, p, 1e-5)
		})
	}
}

func TestPeakCostStepsValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []PeakCostStep
		want  string
	}{
		{"negative width", []PeakCostStep{{-1, 0}}, "grid.peak_cost_steps[0].width_kw: -1 must not be negative"},
		{"decreasing price", []PeakCostStep{{5, 3}, {5, 1}}, "grid.peak_cost_steps[1].price_per_kw: 1 is below the step before (3)"},
		{"above the demand charge", []PeakCostStep{{5, 12}}, "grid.peak_cost_steps[0].price_per_kw: 12 exceeds grid.demand_charge_per_kw 10"},
		{"NaN price", []PeakCostStep{{5, math.NaN()}}, "grid.peak_cost_steps[0].price_per_kw: NaN is not a finite number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(2, 60, []float64{.2, .2}, []float64{0, 0})
			s.Grid.DemandChargePerKW = 10
			s.Grid.PeakCostSteps = tc.steps
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPeakPeriodsInHorizon: a billing period that starts inside the horizon is
// charged on its own peak, from 0, and the plan's target is the current period's.
// Load [40 60 | 50 30] with the second period from step 2 (15-minute steps).
func TestPeakPeriodsInHorizon(t *testing.T) {
	load := []float64{40, 60, 50, 30}
	for _, tc := range []struct {
		name       string
		peakSoFar  float64
		starts     []int
		battery    bool
		wantTarget float64 // the first period's peak
		wantCharge float64 // Σ over the periods of demand × (peak − its peak so far)
	}{
		{"one period", 0, nil, false, 60, 10 * 60},
		{"second period charged from 0", 0, []int{2}, false, 60, 10 * (60 + 50)},
		{"peak so far only in the first", 70, []int{2}, false, 70, 10 * 50},
		{"one period under the peak so far", 70, nil, false, 70, 0},
		// 10 kWh: the first period stays under its peak so far (70) without
		// it, so the battery shaves the second: (50−L + 30−L)·0.25 h = 10 kWh
		// gives L = 20 kW.
		{"battery saved for the new period", 70, []int{2}, true, 70, 10 * 20},
		{"three periods", 0, []int{1, 3}, false, 40, 10 * (40 + 60 + 30)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxSoC := 0.0
			if tc.battery {
				maxSoC = 10
			}
			s := peakScenario(load, 10, tc.peakSoFar, maxSoC)
			s.Grid.PeakPeriodStarts = tc.starts
			p := solveOK(t, s)
			if math.Abs(p.PeakTargetKW-tc.wantTarget) > 1e-5 {
				t.Errorf("peak target %.6g kW, want %.6g", p.PeakTargetKW, tc.wantTarget)
			}
			if math.Abs(p.CostBreakdown.DemandCharge-tc.wantCharge) > 1e-4 {
				t.Errorf("demand charge %.6g, want %.6g", p.CostBreakdown.DemandCharge, tc.wantCharge)
			}
		})
	}
}

func TestPeakPeriodStartsValidated(t *testing.T) {
	flat := []float64{0.2, 0.2, 0.2, 0.2}
	for _, starts := range [][]int{{0}, {4}, {2, 2}, {3, 1}, {-1}} {
		s := baseScenario(4, 15, flat, flat)
		s.Grid.DemandChargePerKW = 10
		s.Grid.PeakPeriodStarts = starts
		s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: flat}}
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), "grid.peak_period_starts") {
			t.Errorf("starts %v: err = %v, want one naming grid.peak_period_starts", starts, err)
		}
	}
}

// peakScenario is four 15-minute steps at 0.2 import and 0.05 export with load on
// the root node, a demand charge and a peak so far, and, with batMaxSoCKWh > 0, a
// lossless 50 kW battery holding 10 kWh of at most batMaxSoCKWh.
func peakScenario(load []float64, demand, peakSoFar, batMaxSoCKWh float64) *Scenario {
	flat := func(v float64) []float64 { return []float64{v, v, v, v} }
	s := baseScenario(4, 15, flat(0.2), flat(0.05))
	s.Grid.DemandChargePerKW = demand
	s.Grid.PeakSoFarKW = peakSoFar
	s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: load}}
	if batMaxSoCKWh > 0 {
		s.Batteries = []Battery{{ID: "bat", Node: "root", SoCKWh: 10, MinSoCKWh: 0, MaxSoCKWh: batMaxSoCKWh,
			MaxChargeKW: 50, MaxDischargeKW: 50, ChargeEfficiency: 1, DischargeEfficiency: 1}}
	}
	return s
}
