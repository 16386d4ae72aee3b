package optimizer

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestV2GLosses checks that vehicle-to-grid discharge is charged its round
// trip: a kWh discharged takes 1/(ηc·ηd) kWh of charging to put back, so it
// pays only when the price it saves exceeds the later price divided by ηc·ηd,
// and the V2G budget counts energy taken from the vehicle's battery.
func TestV2GLosses(t *testing.T) {
	for _, tc := range []struct {
		name         string
		high         float64 // price of step 0; 0.20 after
		etaC, etaD   float64
		wantDisKWh   float64 // V2G energy at step 0 (at the meter)
		wantCredited float64 // energy credited to the session
	}{
		{"lossless discharges at a small spread", 0.22, 0, 0, 5, 10},
		{"losses make a small spread not pay", 0.22, 0.9, 0.9, 0, 10},
		// 0.30 > 0.20/0.81: discharge pays; the budget of 5 kWh from the
		// battery allows 5·ηd = 4.5 kWh at the meter.
		{"losses with a large spread", 0.30, 0.9, 0.9, 4.5, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(4, 60, []float64{tc.high, 0.2, 0.2, 0.2}, []float64{0, 0, 0, 0})
			s.Grid.ExportLimitKW = 0
			s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: []float64{5, 0, 0, 0}}}
			s.EVSessions = []EVSession{{ID: "ev", Node: "root", ArrivalStep: 0, DepartureStep: 4, EnergyKWh: 10,
				MaxChargeKW: 10, MaxDischargeKW: 5, V2GBudgetKWh: 5, UnmetPenaltyPerKWh: 5,
				ChargeEfficiency: tc.etaC, DischargeEfficiency: tc.etaD}}
			p := solveOK(t, s)
			a := p.Asset("ev")
			dis := math.Max(0, -a.PowerKW[0])
			if math.Abs(dis-tc.wantDisKWh) > 1e-4 {
				t.Errorf("V2G at step 0: %.6g kWh, want %.6g (power %v)", dis, tc.wantDisKWh, a.PowerKW)
			}
			rt := s.EVSessions[0].RoundTrip()
			charged := 0.0
			for _, pw := range a.PowerKW {
				charged += math.Max(0, pw)
			}
			if got := charged - dis/rt; math.Abs(got-tc.wantCredited) > 1e-4 {
				t.Errorf("credited %.6g kWh (charged %.6g, discharged %.6g), want %.6g", got, charged, dis, tc.wantCredited)
			}
			if a.UnmetKWh > 1e-6 {
				t.Errorf("unmet %g", a.UnmetKWh)
			}
			checkPlan(t, s, p, 1e-5)
		})
	}
}

func TestEVEfficiencyValidation(t *testing.T) {
	for _, tc := range []struct {
		name       string
		etaC, etaD float64
		want       string
	}{
		{"above one", 1.2, 0.9, "ev_sessions[0].charge_efficiency: 1.2 must be in (0, 1]"},
		{"negative", 0.9, -0.5, "ev_sessions[0].discharge_efficiency: -0.5 must be in (0, 1]"},
		{"NaN", math.NaN(), 0.9, "ev_sessions[0].charge_efficiency: NaN must be in (0, 1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(2, 60, []float64{.2, .2}, []float64{0, 0})
			s.EVSessions = []EVSession{{ID: "ev", Node: "root", DepartureStep: 2, EnergyKWh: 5, MaxChargeKW: 5,
				ChargeEfficiency: tc.etaC, DischargeEfficiency: tc.etaD}}
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want %q", err, tc.want)
			}
		})
	}
}

// TestNoSwapAtFlatPrices checks that at flat prices no battery or vehicle
// charges while another discharges: with the vehicles' losses and V2G wear
// (the site defaults) and the batteries' losses, moving energy between
// them only loses it. The batteries must end where they start, so they
// have no energy to give away.
func TestNoSwapAtFlatPrices(t *testing.T) {
	const steps = 16
	flat := func(v float64) []float64 {
		out := make([]float64, steps)
		for k := range out {
			out[k] = v
		}
		return out
	}
	battery := func(id string) Battery {
		return Battery{ID: id, Node: "root", SoCKWh: 50, MinSoCKWh: 10, MaxSoCKWh: 100, MaxChargeKW: 20, MaxDischargeKW: 20,
			ChargeEfficiency: 0.95, DischargeEfficiency: 0.95, TerminalSoCKWh: ptr(50)}
	}
	v2g := func(id string, arr, dep int, kwh float64) EVSession {
		return EVSession{ID: id, Node: "root", ArrivalStep: arr, DepartureStep: dep, EnergyKWh: kwh, MaxChargeKW: 11,
			MaxDischargeKW: 11, V2GBudgetKWh: 10, UnmetPenaltyPerKWh: 1, WearCostPerKWh: 0.05,
			ChargeEfficiency: 0.92, DischargeEfficiency: 0.92}
	}
	for _, tc := range []struct {
		name string
		bats []Battery
		evs  []EVSession
	}{
		{"two V2G vehicles", nil, []EVSession{v2g("ev-a", 0, 16, 15), v2g("ev-b", 0, 16, 15)}},
		{"battery and V2G vehicles", []Battery{battery("bat")}, []EVSession{v2g("ev-a", 0, 12, 20), v2g("ev-b", 4, 16, 10)}},
		{"two batteries", []Battery{battery("bat-a"), battery("bat-b")}, nil},
		{"two batteries and a vehicle", []Battery{battery("bat-a"), battery("bat-b")}, []EVSession{v2g("ev-a", 2, 14, 25)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseScenario(steps, 15, flat(0.2), flat(0.05))
			s.Grid.ImportLimitKW, s.Grid.ExportLimitKW, s.Nodes[0].LimitKW = 500, 500, 500
			s.Loads = []Load{{ID: "load", Node: "root", ForecastKW: flat(30)}}
			s.Batteries = tc.bats
			s.EVSessions = tc.evs
			p := solveOK(t, s)
			const trace = 0.01 // kW
			for k := 0; k < steps; k++ {
				var charging, discharging []string
				for _, a := range p.Assets {
					if a.Kind != KindBattery && a.Kind != KindEV {
						continue
					}
					c, d := math.Max(0, a.PowerKW[k]), math.Max(0, -a.PowerKW[k])
					if a.Kind == KindBattery {
						c, d = a.ChargeKW[k], a.DischargeKW[k]
					}
					if c > trace {
						charging = append(charging, fmt.Sprintf("%s +%.3g", a.ID, c))
					}
					if d > trace {
						discharging = append(discharging, fmt.Sprintf("%s −%.3g", a.ID, d))
					}
				}
				if len(charging) > 0 && len(discharging) > 0 {
					t.Errorf("step %d: %v charge while %v discharge", k, charging, discharging)
				}
			}
			checkPlan(t, s, p, 1e-5)
		})
	}
}
