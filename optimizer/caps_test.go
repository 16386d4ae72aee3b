package optimizer

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
)

// TestGridCapsByHand: a per-step import cap (an external limit) below the load
// makes the battery discharge exactly the difference at that step; an export cap
// curtails PV; a cap the site cannot keep is named in the infeasibility diagnosis.
func TestGridCapsByHand(t *testing.T) {
	s := baseScenario(4, 60, fill(4, 0.2), fill(4, 0.05))
	s.Loads = []Load{{ID: "l", Node: "root", ForecastKW: []float64{50, 50, 50, 50}}}
	s.Batteries = []Battery{{ID: "b", Node: "root", SoCKWh: 40, MinSoCKWh: 0, MaxSoCKWh: 100,
		MaxChargeKW: 50, MaxDischargeKW: 50, ChargeEfficiency: 1, DischargeEfficiency: 1, WearCostPerKWh: 0.01}}
	s.Grid.ImportCapKW = []float64{100, 100, 30, 100}
	p := solveOK(t, s)
	if p.GridImportKW[2] > 30+1e-5 {
		t.Fatalf("import at the capped step %.4f kW, above the 30 kW cap", p.GridImportKW[2])
	}
	if b := p.Asset("b"); b == nil || b.PowerKW[2] > -20+1e-5 {
		t.Fatalf("battery at step 2: %v, want at least 20 kW of discharge", b)
	}

	// Export cap: PV curtailed to the cap plus the load.
	s2 := baseScenario(2, 60, fill(2, 0.2), fill(2, 0.05))
	s2.Loads = []Load{{ID: "l", Node: "root", ForecastKW: []float64{10, 10}}}
	s2.PV = []PV{{ID: "pv", Node: "root", ForecastKW: []float64{60, 60}, Curtailable: true}}
	s2.Grid.ExportCapKW = []float64{100, 20}
	p2 := solveOK(t, s2)
	near(t, "export at step 0", p2.GridExportKW[0], 50, 1e-5)
	near(t, "export at the capped step", p2.GridExportKW[1], 20, 1e-5)

	// A cap below what the battery can make up is infeasible, naming the cap.
	s.Grid.ImportCapKW = []float64{100, 100, -0, 100}
	s.Batteries[0].MaxDischargeKW = 10
	_, err := Solve(context.Background(), s, Options{})
	if !errors.Is(err, ErrInfeasible) || !strings.Contains(err.Error(), "import_cap_kw[2] 0 is below") {
		t.Fatalf("err = %v, want infeasible naming import_cap_kw[2]", err)
	}
	// The least-violating plan reports the violation of the capped step.
	soft, err := Solve(context.Background(), s, Options{Soft: true})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(soft.GridImportKW[2]-40) > 1e-4 {
		t.Fatalf("soft plan imports %.4f at the capped step, want 40 (50 load - 10 battery)", soft.GridImportKW[2])
	}
}

func TestGridCapsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		imp  []float64
		exp  []float64
		want string
	}{
		{"short import caps", []float64{1}, nil, "grid.import_cap_kw"},
		{"negative export cap", nil, []float64{1, -1}, "grid.export_cap_kw"},
		{"NaN import cap", []float64{1, math.NaN()}, nil, "grid.import_cap_kw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(2, 60, fill(2, 0.2), fill(2, 0.05))
			s.Grid.ImportCapKW, s.Grid.ExportCapKW = tc.imp, tc.exp
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}
