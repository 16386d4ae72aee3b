package scengen

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer"
)

func gen(t *testing.T, p Params) *optimizer.Scenario {
	t.Helper()
	s, err := Generate(gridd.Files, p)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", p, err)
	}
	return s
}

func encode(t *testing.T, s *optimizer.Scenario) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGenerateReproducible(t *testing.T) {
	p := Params{Seed: 7, EVs: 50, Batteries: 3, Feeders: 4, Steps: 96}
	a, b := encode(t, gen(t, p)), encode(t, gen(t, p))
	if !bytes.Equal(a, b) {
		t.Fatal("the same params gave different scenarios")
	}
	p.Seed = 8
	if c := encode(t, gen(t, p)); bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same scenario")
	}
}

func TestGenerateSizes(t *testing.T) {
	for _, p := range []Params{
		{Seed: 1, EVs: 0, Batteries: 0, Feeders: 0, Steps: 24, StepMinutes: 60},
		{Seed: 2, EVs: 30, Batteries: 2, Feeders: 3, Steps: 96},
		{Seed: 3, EVs: 200, Batteries: 5, Feeders: 10, Steps: 192, V2GShare: -1},
		{Seed: 4, EVs: 40, Batteries: 1, Feeders: 2, Steps: 48, StepMinutes: 30, V2GShare: 1},
	} {
		s := gen(t, p)
		// Round trip through the public format.
		s2, err := optimizer.ParseScenario(encode(t, s))
		if err != nil {
			t.Fatalf("%+v: generated scenario does not parse: %v", p, err)
		}
		if len(s2.EVSessions) != p.EVs || len(s2.Batteries) != p.Batteries || len(s2.Nodes) != p.Feeders+1 || s2.Steps != p.Steps {
			t.Errorf("%+v: got %d EVs, %d batteries, %d nodes, %d steps", p, len(s2.EVSessions), len(s2.Batteries), len(s2.Nodes), s2.Steps)
		}
		v2g := 0
		for _, e := range s2.EVSessions {
			if e.MaxDischargeKW > 0 {
				v2g++
			}
		}
		switch {
		case p.V2GShare < 0 && v2g != 0:
			t.Errorf("%+v: %d V2G sessions, want none", p, v2g)
		case p.V2GShare == 1 && v2g != p.EVs:
			t.Errorf("%+v: %d V2G sessions, want all %d", p, v2g, p.EVs)
		}
		if p.EVs > 0 && p.Steps <= 96 {
			plan, err := optimizer.Solve(context.Background(), s2, optimizer.Options{})
			if err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			if plan.Status != optimizer.StatusOptimal {
				t.Errorf("%+v: status %s", p, plan.Status)
			}
		}
	}
}

// TestGenerateUsesRealData checks prices and EV energies against the CSV
// files read independently.
func TestGenerateUsesRealData(t *testing.T) {
	s := gen(t, Params{Seed: 11, EVs: 100, Feeders: 2, Steps: 96})
	raw, err := gridd.Files.ReadFile(PriceFile)
	if err != nil {
		t.Fatal(err)
	}
	price := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n")[1:] {
		ts, v, _ := strings.Cut(line, ",")
		price[ts], _ = strconv.ParseFloat(v, 64)
	}
	for t0 := 0; t0 < s.Steps; t0++ {
		ts := s.StepTime(t0).Truncate(time.Hour).Format(time.RFC3339)
		want, ok := price[ts]
		if !ok || s.Grid.ImportPrice[t0] != want {
			t.Fatalf("import_price[%d] = %v, CSV %s has %v (%v)", t0, s.Grid.ImportPrice[t0], ts, want, ok)
		}
		if s.Grid.ExportPrice[t0] > s.Grid.ImportPrice[t0] {
			t.Fatalf("export_price[%d] %v > import %v", t0, s.Grid.ExportPrice[t0], s.Grid.ImportPrice[t0])
		}
	}
	raw, err = gridd.Files.ReadFile(EVFile)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	energies := map[float64]bool{}
	for _, r := range recs[1:] {
		e, _ := strconv.ParseFloat(r[5], 64)
		energies[e] = true
	}
	for _, e := range s.EVSessions {
		if !energies[e.EnergyKWh] {
			t.Fatalf("EV %s energy %v is not a Trondheim session's", e.ID, e.EnergyKWh)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, tc := range []struct {
		p    Params
		want string
	}{
		{Params{EVs: -1, Steps: 96}, "evs: -1"},
		{Params{Batteries: -2, Steps: 96}, "batteries: -2"},
		{Params{Feeders: MaxFeeders + 1, Steps: 96}, "feeders: 10001"},
		{Params{Steps: 0}, "steps: 0"},
		{Params{Steps: 96, StepMinutes: 7}, "step_minutes: 7"},
		{Params{Steps: 96, V2GShare: 2}, "v2g_share: 2"},
	} {
		_, err := Generate(gridd.Files, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Generate(%+v) = %v, want an error containing %q", tc.p, err, tc.want)
		}
	}
	bad := fstest.MapFS{LoadFile: {Data: []byte("timestamp_utc,x\n")}}
	if _, err := Generate(bad, Params{Steps: 4}); err == nil || !strings.Contains(err.Error(), "building_b9_kwh") {
		t.Errorf("missing column: %v", err)
	}
}
