package optimizer

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// validScenario exercises every section of the format.
func validScenario() *Scenario {
	s := baseScenario(4, 15, []float64{0.2, 0.2, 0.3, 0.3}, []float64{0.05, 0.05, 0.05, 0.05})
	s.Grid.DemandChargePerKW = 5
	s.Nodes = append(s.Nodes, Node{ID: "feeder-a", Parent: "root", LimitKW: 50}, Node{ID: "feeder-b", Parent: "root", LimitKW: 50})
	s.Loads = []Load{{ID: "house", Node: "feeder-a", ForecastKW: []float64{3, 4, 5, 6}}}
	s.PV = []PV{{ID: "pv", Node: "feeder-b", ForecastKW: []float64{0, 2, 4, 1}, Curtailable: true}}
	s.Batteries = []Battery{{ID: "bess", Node: "root", SoCKWh: 20, MinSoCKWh: 5, MaxSoCKWh: 40, MaxChargeKW: 10,
		MaxDischargeKW: 10, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95, WearCostPerKWh: 0.01, TerminalSoCKWh: ptr(20)}}
	s.EVSessions = []EVSession{{ID: "ev", Node: "feeder-a", ArrivalStep: 1, DepartureStep: 3, EnergyKWh: 5,
		MaxChargeKW: 7, MaxDischargeKW: 3, V2GBudgetKWh: 1, WearCostPerKWh: 0.02, UnmetPenaltyPerKWh: 1}}
	return s
}

func TestValidate(t *testing.T) {
	if err := validScenario().Validate(); err != nil {
		t.Fatalf("valid scenario rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(s *Scenario)
		want   string // substring naming the field and value
	}{
		{"missing start", func(s *Scenario) { s.Start = time.Time{} }, "start: missing"},
		{"step minutes", func(s *Scenario) { s.StepMinutes = 0 }, "step_minutes: 0"},
		{"steps", func(s *Scenario) { s.Steps = -1 }, "steps: -1"},
		{"import price length", func(s *Scenario) { s.Grid.ImportPrice = s.Grid.ImportPrice[:3] }, "grid.import_price: has 3 values, want steps = 4"},
		{"export price NaN", func(s *Scenario) { s.Grid.ExportPrice[2] = math.NaN() }, "grid.export_price[2]: NaN is not a finite number"},
		{"import price Inf", func(s *Scenario) { s.Grid.ImportPrice[1] = math.Inf(1) }, "grid.import_price[1]: +Inf"},
		{"export above import", func(s *Scenario) { s.Grid.ExportPrice[3] = 0.4 }, "grid.export_price[3]: 0.4 > import_price[3] 0.3"},
		{"negative import limit", func(s *Scenario) { s.Grid.ImportLimitKW = -1 }, "grid.import_limit_kw: -1 must not be negative"},
		{"negative export limit", func(s *Scenario) { s.Grid.ExportLimitKW = -2 }, "grid.export_limit_kw: -2"},
		{"negative demand charge", func(s *Scenario) { s.Grid.DemandChargePerKW = -5 }, "grid.demand_charge_per_kw: -5"},
		{"huge value", func(s *Scenario) { s.Grid.PeakSoFarKW = 1e12 }, "grid.peak_so_far_kw: 1e+12 exceeds"},
		{"no nodes", func(s *Scenario) { s.Nodes = nil; s.Loads = nil; s.PV = nil; s.Batteries = nil; s.EVSessions = nil }, "nodes: at least one node"},
		{"node limit zero", func(s *Scenario) { s.Nodes[1].LimitKW = 0 }, "nodes[1].limit_kw: 0 must be > 0"},
		{"node limit negative", func(s *Scenario) { s.Nodes[2].LimitKW = -3 }, "nodes[2].limit_kw: -3"},
		{"duplicate node", func(s *Scenario) { s.Nodes[2].ID = "feeder-a" }, `nodes[2].id: duplicate "feeder-a"`},
		{"unknown parent", func(s *Scenario) { s.Nodes[1].Parent = "nowhere" }, `nodes[1].parent: unknown node "nowhere"`},
		{"two roots", func(s *Scenario) { s.Nodes[2].Parent = "" }, "nodes: 2 roots"},
		{"no root (cycle)", func(s *Scenario) { s.Nodes[0].Parent = "feeder-a" }, "cycle"},
		{"cycle", func(s *Scenario) {
			s.Nodes[1].Parent = "feeder-b"
			s.Nodes[2].Parent = "feeder-a"
		}, "cycle feeder-a -> feeder-b -> feeder-a"},
		{"self parent", func(s *Scenario) { s.Nodes[1].Parent = "feeder-a" }, "cycle feeder-a -> feeder-a"},
		{"unknown asset node", func(s *Scenario) { s.Loads[0].Node = "x" }, `loads[0].node: unknown node "x"`},
		{"duplicate asset id", func(s *Scenario) { s.PV[0].ID = "house" }, `pv[0].id: duplicate "house" (also loads[0])`},
		{"missing asset id", func(s *Scenario) { s.EVSessions[0].ID = "" }, "ev_sessions[0].id: missing"},
		{"load forecast length", func(s *Scenario) { s.Loads[0].ForecastKW = []float64{1} }, "loads[0].forecast_kw: has 1 values"},
		{"negative load", func(s *Scenario) { s.Loads[0].ForecastKW[2] = -1 }, "loads[0].forecast_kw[2]: -1 must not be negative"},
		{"negative pv", func(s *Scenario) { s.PV[0].ForecastKW[1] = -2 }, "pv[0].forecast_kw[1]: -2"},
		{"pv NaN", func(s *Scenario) { s.PV[0].ForecastKW[0] = math.NaN() }, "pv[0].forecast_kw[0]: NaN"},
		{"min soc above max", func(s *Scenario) { s.Batteries[0].MinSoCKWh = 80; s.Batteries[0].MaxSoCKWh = 60 }, "batteries[0].min_soc_kwh: 80 > max_soc_kwh 60"},
		{"soc outside", func(s *Scenario) { s.Batteries[0].SoCKWh = 70 }, "batteries[0].soc_kwh: 70 outside [min_soc_kwh 5, max_soc_kwh 40]"},
		{"soc below min", func(s *Scenario) { s.Batteries[0].SoCKWh = 1 }, "batteries[0].soc_kwh: 1 outside"},
		{"charge efficiency zero", func(s *Scenario) { s.Batteries[0].ChargeEfficiency = 0 }, "batteries[0].charge_efficiency: 0 must be in (0, 1]"},
		{"discharge efficiency above one", func(s *Scenario) { s.Batteries[0].DischargeEfficiency = 1.2 }, "batteries[0].discharge_efficiency: 1.2"},
		{"efficiency NaN", func(s *Scenario) { s.Batteries[0].ChargeEfficiency = math.NaN() }, "batteries[0].charge_efficiency: NaN"},
		{"negative max charge", func(s *Scenario) { s.Batteries[0].MaxChargeKW = -1 }, "batteries[0].max_charge_kw: -1"},
		{"negative wear", func(s *Scenario) { s.Batteries[0].WearCostPerKWh = -0.1 }, "batteries[0].wear_cost_per_kwh: -0.1"},
		{"terminal above max", func(s *Scenario) { s.Batteries[0].TerminalSoCKWh = ptr(45) }, "batteries[0].terminal_soc_kwh: 45 outside"},
		{"arrival after departure", func(s *Scenario) { s.EVSessions[0].ArrivalStep = 3 }, "ev_sessions[0].departure_step: 3 must be after arrival_step 3"},
		{"negative arrival", func(s *Scenario) { s.EVSessions[0].ArrivalStep = -2 }, "ev_sessions[0].arrival_step: -2"},
		{"negative energy", func(s *Scenario) { s.EVSessions[0].EnergyKWh = -5 }, "ev_sessions[0].energy_kwh: -5"},
		{"negative v2g budget", func(s *Scenario) { s.EVSessions[0].V2GBudgetKWh = -1 }, "ev_sessions[0].v2g_budget_kwh: -1"},
		{"negative penalty", func(s *Scenario) { s.EVSessions[0].UnmetPenaltyPerKWh = -1 }, "ev_sessions[0].unmet_penalty_per_kwh: -1"},
		{"ev max discharge NaN", func(s *Scenario) { s.EVSessions[0].MaxDischargeKW = math.NaN() }, "ev_sessions[0].max_discharge_kw: NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validScenario()
			tc.mutate(s)
			err := s.Validate()
			if err == nil {
				t.Fatalf("accepted; want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error is %T, want *ValidationError", err)
			}
			// Solve refuses the same scenario with the same error.
			if _, serr := Solve(t.Context(), s, Options{}); serr == nil || !strings.Contains(serr.Error(), tc.want) {
				t.Fatalf("Solve error %v, want %q", serr, tc.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := validScenario()
	s.Batteries[0].ChargeEfficiency = 2
	s.EVSessions[0].EnergyKWh = -1
	s.Loads[0].ForecastKW[0] = -1
	err := s.Validate()
	for _, want := range []string{"batteries[0].charge_efficiency", "ev_sessions[0].energy_kwh", "loads[0].forecast_kw[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
	// The list is capped.
	s = validScenario()
	s.Steps = 100
	s.Grid.ImportPrice = fill(100, math.NaN())
	s.Grid.ExportPrice = fill(100, 0)
	s.Loads[0].ForecastKW = fill(100, 1)
	s.PV[0].ForecastKW = fill(100, 1)
	var ve *ValidationError
	if !errors.As(s.Validate(), &ve) || len(ve.Problems) != maxErrors || ve.More != 100-maxErrors {
		t.Fatalf("capped list: %+v", ve)
	}
	if !strings.Contains(ve.Error(), "and 80 more") {
		t.Errorf("message %q lacks the count of further problems", ve.Error())
	}
}

func TestParseScenario(t *testing.T) {
	good, err := json.Marshal(validScenario())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseScenario(good)
	if err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if s.Steps != 4 || len(s.Nodes) != 3 || s.Batteries[0].TerminalSoCKWh == nil || *s.Batteries[0].TerminalSoCKWh != 20 {
		t.Fatalf("decoded %+v", s)
	}
	tests := []struct {
		name, input, want string
	}{
		{"empty", ``, "decoding scenario"},
		{"not an object", `[1,2]`, "decoding scenario"},
		{"unknown field", strings.Replace(string(good), `"steps"`, `"stepz":1,"steps"`, 1), `unknown field "stepz"`},
		{"misspelt nested field", strings.Replace(string(good), `"import_limit_kw"`, `"import_limit":1,"import_limit_kw"`, 1), `unknown field "import_limit"`},
		{"trailing data", string(good) + `{}`, "unexpected data after"},
		{"bad start", strings.Replace(string(good), `"2024-06-01T00:00:00Z"`, `"yesterday"`, 1), "decoding scenario"},
		{"fractional step", strings.Replace(string(good), `"step_minutes":15`, `"step_minutes":7.5`, 1), "step_minutes"},
		{"invalid content", strings.Replace(string(good), `"step_minutes":15`, `"step_minutes":0`, 1), "step_minutes: 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseScenario([]byte(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
