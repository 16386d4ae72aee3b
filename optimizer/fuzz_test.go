package optimizer

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func FuzzParseScenario(f *testing.F) {
	demo, err := os.ReadFile(filepath.Join("testdata", "demo.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	valid, _ := json.Marshal(validScenario())
	f.Add(valid)
	small := baseScenario(2, 60, []float64{0.1, 0.5}, []float64{0, 0.1})
	small.Batteries = []Battery{{ID: "b", Node: "root", SoCKWh: 1, MaxSoCKWh: 2, MaxChargeKW: 1, MaxDischargeKW: 1,
		ChargeEfficiency: 1, DischargeEfficiency: 1}}
	smallJSON, _ := json.Marshal(small)
	f.Add(smallJSON)
	// A peak margin and a V2G session with losses.
	small.Grid.DemandChargePerKW, small.Grid.PeakMarginKW = 3, []float64{1, 2}
	small.EVSessions = []EVSession{{ID: "ev", Node: "root", DepartureStep: 2, EnergyKWh: 2, MaxChargeKW: 2, MaxDischargeKW: 2,
		V2GBudgetKWh: 1, ChargeEfficiency: 0.9, DischargeEfficiency: 0.9}}
	lossJSON, _ := json.Marshal(small)
	f.Add(lossJSON)
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"steps":1e400}`, `{"start":"2024-01-01T00:00:00Z","step_minutes":15,"steps":1}`,
		`{"nodes":[{"id":"a","parent":"a","limit_kw":1}]}`, `{"grid":{"import_price":[1,2,"x"]}}`,
		`{"batteries":[{"terminal_soc_kwh":null}]}`, `{"start":"2024-01-01T00:00:00Z"} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data)
		if err != nil {
			if s != nil {
				t.Fatal("scenario returned with an error")
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("parsed scenario does not validate: %v", err)
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseScenario(out)
		if err != nil {
			t.Fatalf("re-encoded scenario rejected: %v", err)
		}
		out2, _ := json.Marshal(s2)
		if !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the scenario:\n%s\n%s", out, out2)
		}
		// Small scenarios must solve or fail cleanly, never panic.
		if s.Steps > 12 || len(s.Nodes)+len(s.Loads)+len(s.PV)+len(s.Batteries)+len(s.EVSessions) > 10 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := Solve(ctx, s, Options{})
		if err != nil {
			if p == nil || p.Status == StatusOptimal {
				t.Fatalf("error %v with plan %+v", err, p)
			}
			return
		}
		if p.Status != StatusOptimal || math.IsNaN(p.Objective) || len(p.GridImportKW) != s.Steps {
			t.Fatalf("plan %+v", p)
		}
	})
}
