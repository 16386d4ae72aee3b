package district

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"runtime"
	"sync"

	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/optimizer/scengen"
)

// GenParams say what district to generate.
type GenParams struct {
	// Sites counts the sites; Seed selects every random choice.
	Sites int
	Seed  uint64
	// Steps and StepMinutes set the common horizon (default 96 of 15).
	Steps, StepMinutes int
	// EVs per site (default 12, the demo site's chargers).
	EVs int
	// Tightness is each shared limit as a fraction of the coincident peak
	// of the sites' independent plans below it (default 0.85), raised where
	// the district could not keep it at all.
	Tightness float64
	// SitesPerTransformer (default 10) sites hang below each transformer,
	// and as many transformers below each feeder when there is more than
	// one transformer.
	SitesPerTransformer int
}

// Generated is a generated district: one scenario per site on a common
// time grid and tariff, and the shared limits (transformers, feeders).
type Generated struct {
	IDs       []string
	Scenarios []*optimizer.Scenario
	Limits    []Limit
	// IndependentKW is each site's import planned alone (no shared limit).
	IndependentKW [][]float64
	// IndependentCost is Σ of the sites' costs planned alone.
	IndependentCost float64
	// MinPeakKW is each site's lowest possible import peak over the
	// horizon (its flattest plan): a limit at or above the sum over its
	// sites can always be kept.
	MinPeakKW []float64
}

// Sites returns the district's scenarios as LocalSites.
func (g *Generated) Sites() []Site {
	out := make([]Site, len(g.Scenarios))
	for i, s := range g.Scenarios {
		out[i] = &LocalSite{Name: g.IDs[i], Scenario: s}
	}
	return out
}

// Generate builds a district of demo-like sites from the real data in fsys
// (the bundled testdata, via optimizer/scengen): each site is a load on two
// feeders with PV, one battery and EV sessions, its data drawn from another
// day and scaled differently; every site gets the first site's start and
// prices. Shared limits are set to bind: Tightness times the coincident
// peak of the independent plans below each node.
func Generate(ctx context.Context, fsys fs.FS, p GenParams) (*Generated, error) {
	if p.Sites <= 0 || p.Sites > 100000 {
		return nil, fmt.Errorf("district: sites: %d must be in 1..100000", p.Sites)
	}
	p.defaults()
	if math.IsNaN(p.Tightness) || p.Tightness <= 0 || p.Tightness > 1 {
		return nil, fmt.Errorf("district: tightness: %v must be in (0, 1]", p.Tightness)
	}
	g := &Generated{}
	var err error
	if g.IDs, g.Scenarios, err = GenerateSites(fsys, p, nil); err != nil {
		return nil, err
	}
	// Independent plans.
	g.IndependentKW = make([][]float64, p.Sites)
	g.MinPeakKW = make([]float64, p.Sites)
	costs := make([]float64, p.Sites)
	errs := make([]error, p.Sites)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, s := range g.Scenarios {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			plan, err := optimizer.Solve(ctx, s, optimizer.Options{})
			if err != nil {
				errs[i] = fmt.Errorf("district: site %d alone: %w", i, err)
				return
			}
			g.IndependentKW[i] = plan.GridImportKW
			costs[i] = plan.Objective
			flat := *s
			flat.Grid.DemandChargePerKW = 1000
			flat.Grid.PeakSoFarKW = 0
			fp, err := optimizer.Solve(ctx, &flat, optimizer.Options{})
			if err != nil {
				errs[i] = fmt.Errorf("district: site %d flattest plan: %w", i, err)
				return
			}
			g.MinPeakKW[i] = fp.PeakImportKW
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, c := range costs {
		g.IndependentCost += c
	}
	// The tree: transformers of SitesPerTransformer sites, feeders of as
	// many transformers.
	per := p.SitesPerTransformer
	nTx := (p.Sites + per - 1) / per
	for x := 0; x < nTx; x++ {
		l := Limit{ID: fmt.Sprintf("tx-%03d", x+1)}
		for i := x * per; i < min((x+1)*per, p.Sites); i++ {
			l.Sites = append(l.Sites, i)
		}
		g.Limits = append(g.Limits, l)
	}
	if nTx > 1 {
		nF := (nTx + per - 1) / per
		for f := 0; f < nF; f++ {
			l := Limit{ID: fmt.Sprintf("feeder-%02d", f+1)}
			for i := f * per * per; i < min((f+1)*per*per, p.Sites); i++ {
				l.Sites = append(l.Sites, i)
			}
			g.Limits = append(g.Limits, l)
		}
	}
	for k := range g.Limits {
		g.Limits[k].LimitKW = g.limitAt(k, p.Tightness, p.Steps)
	}
	return g, nil
}

// GenerateSites builds the sites of Generate (same IDs and scenarios for the
// same params) without planning them: a process serving some of a generated
// district's sites needs no more. only, when non-nil, selects the sites to
// build (the others are nil).
func GenerateSites(fsys fs.FS, p GenParams, only func(i int) bool) ([]string, []*optimizer.Scenario, error) {
	p.defaults()
	ids := make([]string, p.Sites)
	scns := make([]*optimizer.Scenario, p.Sites)
	var first *optimizer.Scenario
	for i := range scns {
		ids[i] = fmt.Sprintf("site-%04d", i+1)
		if i > 0 && only != nil && !only(i) {
			continue
		}
		s, err := scengen.Generate(fsys, scengen.Params{Seed: p.Seed*1_000_003 + uint64(i) + 1, EVs: p.EVs, Batteries: 1, Feeders: 2, Steps: p.Steps, StepMinutes: p.StepMinutes})
		if err != nil {
			return nil, nil, fmt.Errorf("district: site %d: %w", i, err)
		}
		if i == 0 {
			first = s
		} else {
			s.Start = first.Start
			s.Grid.ImportPrice = first.Grid.ImportPrice
			s.Grid.ExportPrice = first.Grid.ExportPrice
		}
		if only == nil || only(i) {
			scns[i] = s
		}
	}
	return ids, scns, nil
}

func (p *GenParams) defaults() {
	if p.Steps == 0 {
		p.Steps = 96
	}
	if p.StepMinutes == 0 {
		p.StepMinutes = 15
	}
	if p.EVs == 0 {
		p.EVs = 12
	}
	if p.Tightness == 0 {
		p.Tightness = 0.85
	}
	if p.SitesPerTransformer == 0 {
		p.SitesPerTransformer = 10
	}
}

// limitAt is Tightness times the coincident peak of limit k's sites'
// independent imports, constant over the horizon, but at least 3 % above
// the sum of their lowest possible peaks (so the district stays feasible).
func (g *Generated) limitAt(k int, tight float64, T int) []float64 {
	peak, floor := 0.0, 0.0
	for _, i := range g.Limits[k].Sites {
		floor += g.MinPeakKW[i]
	}
	for t := 0; t < T; t++ {
		s := 0.0
		for _, i := range g.Limits[k].Sites {
			s += g.IndependentKW[i][t]
		}
		peak = math.Max(peak, s)
	}
	out := make([]float64, T)
	for t := range out {
		out[t] = math.Ceil(math.Max(tight*peak, 1.03*floor))
	}
	return out
}

// Config returns a district config for the generated district (every site
// remote, the limits as constant node limits, transformers nested below
// feeders), with the horizon of the scenarios.
func (g *Generated) Config(id string) (*Config, error) {
	s := g.Scenarios[0]
	c := &Config{File: "generated", District: Identity{ID: id, TimeZone: "UTC", StepMinutes: s.StepMinutes, HorizonSteps: s.Steps}}
	for _, sid := range g.IDs {
		c.Sites = append(c.Sites, SiteRef{ID: sid, Remote: true})
	}
	tr, err := nest(g.Limits, len(g.IDs))
	if err != nil {
		return nil, err
	}
	for k, l := range g.Limits {
		n := SharedNode{ID: l.ID, LimitKW: l.LimitKW[0]}
		if p := tr.parent[k]; p >= 0 {
			n.Parent = g.Limits[p].ID
		}
		for _, i := range l.Sites {
			if tr.site[i] == k {
				n.Sites = append(n.Sites, g.IDs[i])
			}
		}
		c.Nodes = append(c.Nodes, n)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}
