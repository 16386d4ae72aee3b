package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
	"github.com/gridd/gridd/optimizer"
)

// demoSite is one generated site of the district demo: its scenario, rolled to
// the coordination's start, and the caps it was last given.
type demoSite struct {
	base *district.LocalSite
	mu   sync.Mutex
	caps dnats.Caps
}

// scenarioAt returns the site's scenario for a horizon starting at start: the
// generated day rolled by the steps since the demo began, so each cycle sees the
// next part of the day.
func (d *demoSite) scenarioAt(began, start time.Time, steps int) (*optimizer.Scenario, error) {
	s := d.base.Scenario
	if steps != s.Steps {
		return nil, fmt.Errorf("horizon %d steps, the site plans %d", steps, s.Steps)
	}
	step := time.Duration(s.StepMinutes) * time.Minute
	k := int(start.Sub(began)/step) % s.Steps
	if k < 0 {
		k += s.Steps
	}
	roll := func(v []float64) []float64 {
		if len(v) == 0 {
			return nil
		}
		out := make([]float64, len(v))
		for t := range out {
			out[t] = v[(t+k)%len(v)]
		}
		return out
	}
	c := *s
	c.Start = start
	c.Grid.ImportPrice, c.Grid.ExportPrice = roll(s.Grid.ImportPrice), roll(s.Grid.ExportPrice)
	c.Loads = append([]optimizer.Load(nil), s.Loads...)
	for i := range c.Loads {
		c.Loads[i].ForecastKW = roll(c.Loads[i].ForecastKW)
	}
	c.PV = append([]optimizer.PV(nil), s.PV...)
	for i := range c.PV {
		c.PV[i].ForecastKW = roll(c.PV[i].ForecastKW)
	}
	return &c, nil
}

// runDistrictDemo runs `gridd demo --sites N`: N sites generated from the bundled
// data below shared transformers and feeders whose limits bind, each answering the
// coordinator on its own NATS connection, the coordinator and an embedded NATS
// server, all in this process.
func runDistrictDemo(ctx context.Context, n, cycles int, dataDir, listen string, stdout io.Writer, log *slog.Logger) error {
	fmt.Fprintf(stdout, "gridd demo: generating a district of %d sites from the bundled data\n", n)
	g, err := district.Generate(ctx, gridd.Files, district.GenParams{Sites: n, Seed: 1})
	if err != nil {
		return err
	}
	cfg, err := g.Config("demo")
	if err != nil {
		return err
	}
	cfg.Coordination.TimeBudget.D = 60 * time.Second
	cfg.Coordination.RoundTimeout.D = 30 * time.Second
	cfg.Coordination.MaxRounds = 40
	ns, url, err := dnats.Embedded(dataDir + "/nats")
	if err != nil {
		return err
	}
	defer ns.Shutdown()
	began := time.Now().Truncate(cfg.Step())
	if cycles > 0 {
		began = g.Scenarios[0].Start
	}
	sites := make([]*demoSite, n)
	var wg sync.WaitGroup
	pctx, stopSites := context.WithCancel(ctx)
	defer func() { stopSites(); wg.Wait() }()
	for i := range sites {
		d := &demoSite{base: &district.LocalSite{Name: g.IDs[i], Scenario: g.Scenarios[i]}}
		sites[i] = d
		nc, err := dnats.Connect(url, "gridd-demo-"+g.IDs[i])
		if err != nil {
			return err
		}
		bus, err := dnats.Open(ctx, nc, cfg.District.ID, 1)
		if err != nil {
			nc.Close()
			return err
		}
		p := &dnats.Participant{Bus: bus, Site: g.IDs[i], Instance: fmt.Sprintf("demo-%d", i), ImportLimitKW: g.Scenarios[i].Grid.ImportLimitKW,
			StepMinutes: g.Scenarios[i].StepMinutes, Log: log,
			Scenario: func(_ context.Context, start time.Time, steps int) (*optimizer.Scenario, error) {
				return d.scenarioAt(began, start, steps)
			},
			Apply: func(_ context.Context, c dnats.Caps) error {
				d.mu.Lock()
				d.caps = c
				d.mu.Unlock()
				return nil
			}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer nc.Close()
			_ = p.Run(pctx)
		}()
	}
	nc, err := dnats.Connect(url, "gridd-demo-coordinator")
	if err != nil {
		return err
	}
	defer nc.Close()
	bus, err := dnats.Open(ctx, nc, cfg.District.ID, 1)
	if err != nil {
		return err
	}
	co := &dnats.Coordinator{Bus: bus, Config: cfg, Clock: clock.Real{}, Log: log}
	host, _ := os.Hostname()
	if err := co.Claim(ctx, fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())); err != nil {
		return err
	}
	stopAPI, addr, err := serveDistrictAPI(ctx, listen, co, cfg)
	if err != nil {
		return err
	}
	defer stopAPI()
	fmt.Fprintf(stdout, "gridd demo: district %q: %d sites below %d shared transformers and feeders, embedded NATS at %s\n", cfg.District.ID, n, len(cfg.Nodes), url)
	fmt.Fprintf(stdout, "gridd demo: district console at http://%s/ (state as JSON at http://%s/api/v1/district)\n", addr, addr)
	// What the shared equipment would carry if every site planned alone.
	worst, where := 0.0, ""
	for _, l := range g.Limits {
		for t, lim := range l.LimitKW {
			s := 0.0
			for _, i := range l.Sites {
				s += g.IndependentKW[i][t]
			}
			if s/lim > worst {
				worst, where = s/lim, l.ID
			}
		}
	}
	fmt.Fprintf(stdout, "gridd demo: planning alone, the sites would load %s to %.0f %% of its limit\n", where, 100*worst)
	at := func(k int) time.Time { return time.Now() }
	every := cfg.Coordination.Cycle.D
	if cycles > 0 {
		at = func(k int) time.Time { return began.Add(time.Duration(k) * cfg.Step()) }
		every = 0
	}
	if err := coordinateCycles(ctx, co, cfg, cycles, 30*time.Second, every, at, nil, stdout); err != nil || cycles == 0 {
		return err
	}
	// Every site holds caps that keep every shared limit.
	caps := make([][]float64, n)
	for i, d := range sites {
		d.mu.Lock()
		caps[i] = d.caps.CapKW
		d.mu.Unlock()
	}
	if ex, where := district.Check(caps, cfg.Limits(co.Last().Start)); ex > 1e-9 {
		return fmt.Errorf("the caps the sites hold break a shared limit: %s", where)
	}
	fmt.Fprintf(stdout, "gridd demo: every site holds caps that keep every shared limit\n")
	return nil
}
