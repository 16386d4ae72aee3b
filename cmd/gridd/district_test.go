package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/optimizer"
)

// TestDemoSites runs `gridd demo --sites 4 --cycles 2` as a user would.
func TestDemoSites(t *testing.T) {
	code, out, errOut := runCLI(t, "demo", "--sites", "4", "--cycles", "2", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("demo --sites 4 exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "4/4 sites answered"); n != 2 {
		t.Errorf("want 2 district cycle lines with every site answering, got %d:\n%s", n, out)
	}
	for _, want := range []string{"would load tx-001 to", "every site holds caps that keep every shared limit", "gridd demo: district console at http://127.0.0.1:", "/api/v1/district"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestCoordinateCommand runs `gridd coordinate --config district.yaml --nats URL
// --cycles 1` against sites that take part over a real NATS server, and checks
// the caps each received keep every shared limit.
func TestCoordinateCommand(t *testing.T) {
	ns, url, err := dnats.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	g, err := district.Generate(context.Background(), gridd.Files, district.GenParams{Sites: 4, Seed: 9, Steps: 24, StepMinutes: 60, EVs: 6, SitesPerTransformer: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := g.Config("cli")
	if err != nil {
		t.Fatal(err)
	}
	data, err := yaml.Marshal(struct {
		District district.Identity     `yaml:"district"`
		Sites    []district.SiteRef    `yaml:"sites"`
		Nodes    []district.SharedNode `yaml:"nodes"`
	}{cfg.District, cfg.Sites, cfg.Nodes})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "district.yaml")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string][]float64{}
	var starts []time.Time
	for i, id := range g.IDs {
		nc, err := dnats.Connect(url, id)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		bus, err := dnats.Open(context.Background(), nc, "cli", 1)
		if err != nil {
			t.Fatal(err)
		}
		scn := g.Scenarios[i]
		p := &dnats.Participant{Bus: bus, Site: id, Instance: id,
			Scenario: func(_ context.Context, start time.Time, steps int) (*optimizer.Scenario, error) {
				c := *scn
				c.Start = start
				return &c, nil
			},
			Apply: func(_ context.Context, c dnats.Caps) error {
				mu.Lock()
				got[c.Site] = c.CapKW
				starts = append(starts, c.Start)
				mu.Unlock()
				return nil
			}}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = p.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	code, out, errOut := runCLI(t, "coordinate", "--config", file, "--nats", url, "--cycles", "1", "--wait", "10s", "--listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("coordinate exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "4/4 sites answered") || !strings.Contains(out, "caps within every shared limit") || !strings.Contains(out, "gridd coordinate: district console at http://127.0.0.1:") {
		t.Errorf("output:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	caps := make([][]float64, len(g.IDs))
	for i, id := range g.IDs {
		caps[i] = got[id]
		if len(caps[i]) != 24 {
			t.Fatalf("site %s received %d caps", id, len(caps[i]))
		}
	}
	if ex, where := district.Check(caps, g.Limits); ex > 1e-9 {
		t.Errorf("caps break a shared limit: %s", where)
	}

	// Bad district files are refused with the field named.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(data), "site-0002", "site-0001", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "coordinate", "--config", bad, "--nats", url, "--cycles", "1")
	if code != 1 || !strings.Contains(errOut, "duplicate site id") {
		t.Errorf("duplicate ids: exit %d, stderr %s", code, errOut)
	}
	// A site's console_url must be an absolute http(s) URL.
	sites := append([]district.SiteRef(nil), cfg.Sites...)
	sites[1].ConsoleURL = "ftp://site-0002.example.org/"
	badURL, err := yaml.Marshal(struct {
		District district.Identity     `yaml:"district"`
		Sites    []district.SiteRef    `yaml:"sites"`
		Nodes    []district.SharedNode `yaml:"nodes"`
	}{cfg.District, sites, cfg.Nodes})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, badURL, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(t, "coordinate", "--config", bad, "--nats", url, "--cycles", "1")
	if code != 1 || !strings.Contains(errOut, "sites[1].console_url") || !strings.Contains(errOut, "ftp://site-0002.example.org/") {
		t.Errorf("bad console_url: exit %d, stderr %s", code, errOut)
	}
}

const districtSite = `
site: {name: d-site, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 24h}
tariff:
  import:
    - {from: "00:00", to: "08:00", price_per_kwh: 0.10}
    - {from: "08:00", to: "24:00", price_per_kwh: 0.30}
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes:
  - {id: sub, parent: "", limit_kw: 500}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:PORT1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: sub, endpoint: "127.0.0.1:PORT1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: sub
    endpoint: "127.0.0.1:PORT2"
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}
    sim: {initial_soc_pct: 30}
`

// TestRunTakesPartInDistrict: the participant `gridd run --district` starts answers
// the coordinator from its dispatch service's latest cycle and puts the caps in
// force as a district external limit, which the next plan keeps.
func TestRunTakesPartInDistrict(t *testing.T) {
	ns, url, err := dnats.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(testsite.FreePort(t)), "PORT2", strconv.Itoa(testsite.FreePort(t))).Replace(districtSite)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	start := time.Date(2019, 6, 3, 12, 0, 0, 0, time.UTC)
	s := testsite.Start(t, "d-site.yaml", yml, start, log)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, err := s.Service.RunCycle(ctx, start)
	if err != nil || first.Schedule == nil {
		t.Fatalf("first cycle: %v", err)
	}
	plan := s.Service.LastPlan()
	stop, err := startParticipant(ctx, s.Service, districtFlags{natsFlags: natsFlags{url: url}, district: "town", site: "d-site"}, log, &strings.Builder{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	// One transformer over this site alone, 20 kW below its planned peak.
	limit := math.Floor(plan.PeakImportKW - 20)
	cfg := &district.Config{File: "town.yaml", District: district.Identity{ID: "town", StepMinutes: 15, HorizonSteps: 96},
		Sites: []district.SiteRef{{ID: "d-site", Remote: true}},
		Nodes: []district.SharedNode{{ID: "tx", LimitKW: limit, Sites: []string{"d-site"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	nc, err := dnats.Connect(url, "coordinator")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus, err := dnats.Open(ctx, nc, "town", 1)
	if err != nil {
		t.Fatal(err)
	}
	co := &dnats.Coordinator{Bus: bus, Config: cfg, Log: log}
	if err := coordinateCycles(ctx, co, cfg, 1, 10*time.Second, 0, func(int) time.Time { return start }, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	res := co.Last()
	if len(res.Excluded) != 0 {
		t.Fatalf("site excluded: %+v", res.Events)
	}
	// The district state as JSON, as a console view reads it.
	stopAPI, addr, err := serveDistrictAPI(ctx, "127.0.0.1:0", co, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stopAPI()
	resp, err := http.Get("http://" + addr + "/api/v1/district")
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		District string `json:"district"`
		Sites    []struct {
			ID         string `json:"id"`
			Registered bool   `json:"registered"`
			Status     string `json:"status"`
		} `json:"sites"`
		Nodes []struct {
			district.Limit
			PlanKW []float64 `json:"plan_kw"`
		} `json:"nodes"`
		Last struct {
			CapsKW [][]float64 `json:"caps_kw"`
			Rounds []struct {
				LowerBound *float64 `json:"lower_bound"`
			} `json:"rounds"`
			GapPct *float64 `json:"gap_pct"`
		} `json:"last"`
	}
	err = json.NewDecoder(resp.Body).Decode(&state)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if state.District != "town" || len(state.Sites) != 1 || !state.Sites[0].Registered || len(state.Nodes) != 1 ||
		state.Nodes[0].LimitKW[0] != limit || len(state.Nodes[0].PlanKW) != 96 || state.Nodes[0].PlanKW[5] != res.PlansKW[0][5] ||
		state.Sites[0].Status != "answered" || len(state.Last.CapsKW) != 1 || len(state.Last.CapsKW[0]) != 96 || len(state.Last.Rounds) == 0 || state.Last.GapPct == nil {
		t.Errorf("district state %+v", state)
	}
	// The district console's page on the same listener.
	page, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(body), `src="district.js"`) || page.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /: %s, CSP %q, %.120s", page.Status, page.Header.Get("Content-Security-Policy"), body)
	}
	var dl *dispatch.ExternalLimit
	for _, l := range s.Service.Limits(ctx, start) {
		if l.Source == dispatch.LimitSourceDistrict {
			dl = &l
		}
	}
	if dl == nil || len(dl.ImportStepsKW) != 96 {
		t.Fatalf("no district limit in force: %+v", s.Service.Limits(ctx, start))
	}
	for k, v := range dl.ImportStepsKW {
		if v > limit+1e-9 {
			t.Fatalf("district cap %v at step %d above the transformer's %v kW", v, k, limit)
		}
	}
	// The next cycle plans within the caps.
	next := start.Add(15 * time.Minute)
	s.Clock.Set(next)
	if _, err := s.Service.RunCycle(ctx, next); err != nil {
		t.Fatal(err)
	}
	p2 := s.Service.LastPlan()
	for k, v := range p2.GridImportKW {
		if capKW := dl.ImportStepsKW[min(k+1, 95)]; k+1 < 96 && v > capKW+1e-3 {
			t.Errorf("step %d: planned import %.2f kW above the district cap %.2f kW", k, v, capKW)
		}
	}
}

// TestCoordinateChecksSiteConfigs: a site config the district names must load and
// plan on the district's step.
func TestCoordinateChecksSiteConfigs(t *testing.T) {
	demo, err := filepath.Abs("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ config, step, want string }{
		{demo, "30", "plans in 15-minute steps, the district in 30"},
		{filepath.Join(dir, "missing.yaml"), "15", "sites[0].config"},
	} {
		file := filepath.Join(dir, "d.yaml")
		yml := "district: {id: d, step_minutes: " + tc.step + "}\nsites: [{id: a, config: " + tc.config + "}]\nnodes: [{id: tx, limit_kw: 100, sites: [a]}]\n"
		if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := runCLI(t, "coordinate", "--config", file, "--cycles", "1")
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %s; want %q", tc.config, code, errOut, tc.want)
		}
	}
}
