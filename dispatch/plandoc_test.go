package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/storage"
)

// smallPlan solves a two-hour scenario with a load, a curtailable PV plant and a
// battery on one node.
func smallPlan(t *testing.T, loadID string) (*optimizer.Scenario, *optimizer.Plan) {
	t.Helper()
	n := 8
	price := make([]float64, n)
	load := make([]float64, n)
	pv := make([]float64, n)
	for k := range price {
		price[k] = 0.1 + 0.05*float64(k%4)
		load[k] = 20 + float64(k)
		pv[k] = 40
	}
	scn := &optimizer.Scenario{
		Start: time.Date(2019, 6, 3, 12, 0, 0, 0, time.UTC), StepMinutes: 15, Steps: n,
		Grid:  optimizer.Grid{ImportLimitKW: 100, ExportLimitKW: 0, ImportPrice: price, ExportPrice: make([]float64, n)},
		Nodes: []optimizer.Node{{ID: "sub", LimitKW: 100}},
		Loads: []optimizer.Load{{ID: loadID, Node: "sub", ForecastKW: load}},
		PV:    []optimizer.PV{{ID: "pv", Node: "sub", ForecastKW: pv, Curtailable: true}},
		Batteries: []optimizer.Battery{{ID: "bess", Node: "sub", SoCKWh: 17, MinSoCKWh: 2, MaxSoCKWh: 18,
			MaxChargeKW: 5, MaxDischargeKW: 5, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95}},
	}
	plan, err := optimizer.Solve(context.Background(), scn, optimizer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return scn, plan
}

// TestPlanDocEncoding checks that encoding a plan document with the scenario and the
// plan already encoded gives the bytes of encoding planDoc itself, so stored plans do
// not change.
func TestPlanDocEncoding(t *testing.T) {
	at := time.Date(2019, 6, 3, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		loadID string
		pins   []Pin
		policy *PolicyResult
		hashes *ConfigHashes
	}{
		{"bare", "building", nil, nil, nil},
		{"pins-policy-hashes", "building", []Pin{{DeviceID: "bess", PowerKW: -3, From: at, Until: at.Add(time.Hour), Actor: "user:ann", Reason: "test <&>"}},
			&PolicyResult{Approve: false, Reasons: []string{"cost up 3 > 1"}, Against: 4, CostChange: 3.25}, &ConfigHashes{ConfigSHA256: "abc"}},
		{"html-in-ids", "b<1>&\"2\"", nil, &PolicyResult{Approve: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scn, plan := smallPlan(t, tc.loadID)
			want, err := json.Marshal(planDoc{Scenario: scn, Plan: plan, Pins: tc.pins, Policy: tc.policy, Config: tc.hashes})
			if err != nil {
				t.Fatal(err)
			}
			input, err := json.Marshal(scn)
			if err != nil {
				t.Fatal(err)
			}
			planJSON, err := json.Marshal(plan)
			if err != nil {
				t.Fatal(err)
			}
			got, err := encodePlanDoc(input, planJSON, tc.pins, tc.policy, tc.hashes)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoding differs:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestPlanOf checks that planOf returns the remembered document only for the same
// schedule with the same stored bytes, and otherwise decodes what is stored.
func TestPlanOf(t *testing.T) {
	scn, plan := smallPlan(t, "building")
	curtailed := -1
	for k, v := range plan.Assets[assetIndex(t, plan, "pv")].CurtailedKW {
		if v > curtailmentThresholdKW {
			curtailed = k
			break
		}
	}
	if curtailed < 0 {
		t.Fatal("the test scenario curtails no PV; it must")
	}
	doc := &planDoc{Scenario: scn, Plan: plan, Policy: &PolicyResult{Approve: true, Reasons: []string{"within bounds"}}}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	other := &planDoc{Scenario: scn, Plan: &optimizer.Plan{Status: optimizer.StatusOptimal, Assets: []optimizer.AssetPlan{{ID: "pv", CurtailedKW: make([]float64, scn.Steps)}}},
		Policy: &PolicyResult{Approve: false, Reasons: []string{"held"}}}
	ob, err := json.Marshal(other)
	if err != nil {
		t.Fatal(err)
	}
	s := &Service{}
	s.memoPlan(7, b, doc)
	for _, tc := range []struct {
		name          string
		sc            storage.Schedule
		approve, curt bool
		same          bool // the remembered document itself
	}{
		{"remembered", storage.Schedule{ID: 7, Plan: append([]byte(nil), b...)}, true, true, true},
		{"other id", storage.Schedule{ID: 8, Plan: ob}, false, false, false},
		{"same id, other bytes", storage.Schedule{ID: 7, Plan: ob}, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.planOf(&tc.sc)
			if err != nil {
				t.Fatal(err)
			}
			if (got == doc) != tc.same {
				t.Errorf("remembered document returned: %v, want %v", got == doc, tc.same)
			}
			if got.Policy.Approve != tc.approve {
				t.Errorf("policy approve = %v, want %v", got.Policy.Approve, tc.approve)
			}
			if c := s.curtailedAt(&tc.sc, curtailed)["pv"]; c != tc.curt {
				t.Errorf("curtailed at step %d = %v, want %v", curtailed, c, tc.curt)
			}
		})
	}
	if _, err := s.planOf(&storage.Schedule{ID: 9, Plan: []byte("{")}); err == nil {
		t.Error("unreadable plan: no error")
	}
}

func assetIndex(t *testing.T, p *optimizer.Plan, id string) int {
	t.Helper()
	for i, a := range p.Assets {
		if a.ID == id {
			return i
		}
	}
	t.Fatalf("no asset %q in plan", id)
	return -1
}
