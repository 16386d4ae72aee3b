package dreplay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
)

// Strategies a district replay can run.
const (
	Coordinated = "coordinated"
	Independent = "independent"
	Centralised = "centralised"
	// All runs the three, one after the other, and compares them.
	All = "all"
)

// Strategies lists the strategies of one district replay.
var Strategies = []string{Coordinated, Independent, Centralised}

// Site is one site of the district to replay: its config and recorded history.
type Site struct {
	Config  *site.Config
	History *replay.History
}

// Options configure a district replay.
type Options struct {
	District *district.Config
	// Sites are the district's sites, in the order of District.Sites.
	Sites    []Site
	From, To time.Time
	Strategy string
	Logger   *slog.Logger
	// Progress, if not nil, is called after every district cycle.
	Progress func(done, total int)
	// SkipForecastBand and ForecastEvery are passed to every site's replay.
	SkipForecastBand bool
	ForecastEvery    int
}

// Check validates the options without running anything: the strategy, the
// period on the district's step grid, and every site's config against the
// district (local config, same step, a horizon at least the district's).
func (o *Options) Check() error {
	if o.District == nil {
		return errors.New("district replay: a district config is required")
	}
	if !slices.Contains(Strategies, o.Strategy) {
		return fmt.Errorf("district replay: --strategy %q: want one of %s, %s", o.Strategy, strings.Join(Strategies, ", "), All)
	}
	d := o.District
	if len(o.Sites) != len(d.Sites) {
		return fmt.Errorf("district replay: %d sites given for the %d sites of %s", len(o.Sites), len(d.Sites), d.File)
	}
	step := d.Step()
	for i, s := range o.Sites {
		ref := d.Sites[i]
		if s.Config == nil || s.History == nil {
			return fmt.Errorf("district replay: %s: sites[%d] (%s): no site config and history", d.File, i, ref.ID)
		}
		if s.Config.Site.Step.D != step {
			return fmt.Errorf("district replay: %s: sites[%d] (%s): site step %s, the district plans in %s steps", d.File, i, ref.ID, s.Config.Site.Step.D, step)
		}
		if s.Config.Site.Steps() < d.District.HorizonSteps {
			return fmt.Errorf("district replay: %s: sites[%d] (%s): site horizon %d steps is shorter than the district's horizon_steps %d", d.File, i, ref.ID, s.Config.Site.Steps(), d.District.HorizonSteps)
		}
		ro := replay.Options{Config: s.Config, History: s.History, From: o.From, To: o.To, Strategy: replay.Optimize}
		if err := ro.Check(); err != nil {
			return err
		}
	}
	return nil
}

// Result is one strategy's district replay.
type Result struct {
	District string
	Strategy string
	From, To time.Time
	Sites    []*replay.Result
	// Limits are the shared nodes' limits per replayed step.
	Limits []district.Limit
	KPIs   KPIs
	// capsExcessKW is the largest excess of a cycle's caps over a shared limit.
	capsExcessKW float64
	rounds       []int
	gaps         []float64
	infeasible   int
	fallbacks    int
	notes        []string
	wall         time.Duration
}

// Run replays the district under one strategy: every site through its own
// replay loop (replay.Run: dispatch.Service.RunCycle with the real-time layer,
// against its recorded actuals), in lock-step, one district cycle per step.
// Each cycle, every site's cycle builds its scenario and hands it to the
// district (through replay.Hooks) before it plans; the district gives each
// site its import caps for the cycle (by the strategy); each site plans within
// them, puts them in force as its district external limit (so the real-time
// layer holds them against the step's actuals) and goes on.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	wall := time.Now()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d := o.District
	n := len(o.Sites)
	step := d.Step()
	steps := int(o.To.Sub(o.From) / step)
	res := &Result{District: d.District.ID, Strategy: o.Strategy, From: o.From.UTC(), To: o.To.UTC(), Sites: make([]*replay.Result, n)}
	dc := &coordinator{o: o, n: n, H: d.District.HorizonSteps, step: step, res: res, log: log,
		in: make(chan message, n), solvers: make([]district.Solver, n), known: map[string][]float64{}}
	parts := make([]*participant, n)
	for i := range parts {
		parts[i] = &participant{i: i, id: d.Sites[i].ID, dc: dc, reply: make(chan []float64, 1)}
	}
	dc.parts = parts
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := dc.run(ctx, steps); err != nil {
			errs[n] = err
			cancel(err)
		}
	}()
	for i, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := o.Sites[i]
			ro := replay.Options{Config: s.Config, History: s.History, From: o.From, To: o.To, Strategy: replay.Optimize,
				Logger: log.With("site", p.id), SkipForecastBand: o.SkipForecastBand, ForecastEvery: o.ForecastEvery,
				Hooks: &replay.Hooks{Solver: p.wrap, Service: func(svc *dispatch.Service) { p.svc = svc }, AfterCycle: p.afterCycle}}
			r, err := replay.Run(ctx, ro)
			if err != nil {
				errs[i] = fmt.Errorf("site %s: %w", p.id, err)
				cancel(errs[i])
				return
			}
			res.Sites[i] = r
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
			return nil, c
		}
		return nil, err
	}
	res.Limits = dc.periodLimits(steps)
	res.wall = time.Since(wall)
	res.KPIs = computeKPIs(res, step)
	return res, nil
}

// message is one site's scenario for a district cycle (nil when its cycle
// could not build one).
type message struct {
	site int
	at   time.Time
	scn  *optimizer.Scenario
}

// participant is one site's side of the lock-step: its replay's solver asks
// the district for the cycle's caps before it plans, and the caps go in force
// after the cycle.
type participant struct {
	i     int
	id    string
	dc    *coordinator
	svc   *dispatch.Service
	reply chan []float64
	// capsAt is the cycle the caps belong to.
	capsAt  time.Time
	caps    []float64
	limitID int64
}

// exchange sends the site's scenario for the cycle at to the district and
// waits for its caps.
func (p *participant) exchange(ctx context.Context, at time.Time, scn *optimizer.Scenario) error {
	select {
	case p.dc.in <- message{site: p.i, at: at, scn: scn}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	select {
	case c := <-p.reply:
		p.caps, p.capsAt = c, at
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// wrap is the replay's solver hook: at a cycle's first solve, the site's
// scenario (every external limit but the district's own caps, as `gridd run
// --district` answers rounds) goes to the district; the solve then plans
// within the caps it gets back.
func (p *participant) wrap(next dispatch.Solver) dispatch.Solver {
	return func(ctx context.Context, s *optimizer.Scenario, opts optimizer.Options) (*optimizer.Plan, error) {
		base := p.svc.DistrictScenario(ctx)
		if !p.capsAt.Equal(s.Start) {
			var scn *optimizer.Scenario
			if base != nil {
				sh, err := district.Shift(base, s.Start, p.dc.H)
				if err != nil {
					return nil, err
				}
				scn = sh
			}
			if err := p.exchange(ctx, s.Start, scn); err != nil {
				return nil, err
			}
		}
		c := *s
		c.Grid.ImportCapKW = make([]float64, s.Steps)
		for t := range c.Grid.ImportCapKW {
			v := math.Inf(1)
			if base != nil && t < len(base.Grid.ImportCapKW) {
				v = base.Grid.ImportCapKW[t]
			}
			if t < len(p.caps) {
				v = math.Min(v, p.caps[t])
			}
			c.Grid.ImportCapKW[t] = math.Min(v, s.Grid.ImportLimitKW)
		}
		return next(ctx, &c, opts)
	}
}

// afterCycle puts the cycle's caps in force as the site's district external
// limit (replacing the previous cycle's), as `gridd run --district` does when
// the coordinator sends them; a cycle that never reached its solver still
// takes part (the district caps it from its last known plan).
func (p *participant) afterCycle(ctx context.Context, at time.Time, _ *dispatch.CycleResult) error {
	if !p.capsAt.Equal(at) {
		if err := p.exchange(ctx, at, nil); err != nil {
			return err
		}
	}
	cfg := p.svc.Config()
	caps := make([]float64, len(p.caps))
	for t, v := range p.caps {
		caps[t] = math.Min(math.Max(v, 0), cfg.Grid.ImportLimitKW)
	}
	actor := "district:" + p.dc.o.District.District.ID
	l, _, err := p.svc.SetLimit(ctx, dispatch.ExternalLimit{Source: dispatch.LimitSourceDistrict, ImportStepsKW: caps,
		From: at, Until: at.Add(time.Duration(len(caps)) * p.dc.step), Actor: actor, Reason: "district replay " + p.dc.o.Strategy})
	if err != nil {
		return fmt.Errorf("district caps: %w", err)
	}
	if p.limitID != 0 {
		if err := p.svc.EndLimit(ctx, p.limitID, actor, "replaced by the next cycle's caps"); err != nil {
			return fmt.Errorf("end previous district caps: %w", err)
		}
	}
	p.limitID = l.ID
	return nil
}

// coordinator is the district's side: each cycle it gathers every site's
// scenario and answers each with its caps.
type coordinator struct {
	o    Options
	n, H int
	step time.Duration
	res  *Result
	log  *slog.Logger
	in   chan message
	// solvers keep each site's last plans to warm-start the next solves.
	solvers []district.Solver
	// known is each site's last planned import (by ID), for a site that
	// cannot answer; prices the last coordination's, shifted a step.
	known  map[string][]float64
	prices [][]float64
	// weights are the independent strategy's static shares.
	weights []float64
	parts   []*participant
}

func (dc *coordinator) run(ctx context.Context, steps int) error {
	for k := 0; k < steps; k++ {
		scns := make([]*optimizer.Scenario, dc.n)
		var at time.Time
		for got := 0; got < dc.n; got++ {
			select {
			case m := <-dc.in:
				scns[m.site] = m.scn
				at = m.at
			case <-ctx.Done():
				return nil
			}
		}
		caps, err := dc.cycle(ctx, k, at, scns)
		if err != nil {
			return fmt.Errorf("district cycle at %s: %w", at.UTC().Format(time.RFC3339), err)
		}
		if ex, where := district.Check(caps, dc.o.District.Limits(at)); ex > dc.res.capsExcessKW {
			dc.res.capsExcessKW = ex
			dc.log.Warn("district caps above a shared limit", "at", at, "where", where)
		}
		for i := range caps {
			dc.known[dc.o.District.Sites[i].ID] = caps[i]
		}
		for i := 0; i < dc.n; i++ {
			select {
			case dc.parts[i].reply <- caps[i]:
			case <-ctx.Done():
				return nil
			}
		}
		if dc.o.Progress != nil {
			dc.o.Progress(k+1, steps)
		}
	}
	return nil
}

// siteAdapter answers coordination rounds from a site's current scenario.
type siteAdapter struct {
	id  string
	scn *optimizer.Scenario
	s   *district.Solver
}

func (a *siteAdapter) ID() string { return a.id }

func (a *siteAdapter) Solve(ctx context.Context, req district.Request) (district.Reply, error) {
	if a.scn == nil {
		return district.Reply{}, errors.New("no scenario this cycle (the site's cycle failed)")
	}
	return a.s.Answer(ctx, a.scn, req), nil
}

// cycle returns every site's caps for the cycle at.
func (dc *coordinator) cycle(ctx context.Context, k int, at time.Time, scns []*optimizer.Scenario) ([][]float64, error) {
	d := dc.o.District
	limits := d.Limits(at)
	H := dc.H
	switch dc.o.Strategy {
	case Coordinated:
		sites := make([]district.Site, dc.n)
		for i := range sites {
			sites[i] = &siteAdapter{id: d.Sites[i].ID, scn: scns[i], s: &dc.solvers[i]}
		}
		co := d.Coordination
		r, err := district.Coordinate(ctx, sites, limits, district.Options{District: d.District.ID, Cycle: int64(k), Start: at,
			StepMinutes: d.District.StepMinutes, Steps: H, MaxRounds: co.MaxRounds, GapPct: co.GapPct,
			RoundTimeout: time.Hour, Prices: dc.prices, Known: dc.known})
		if err != nil {
			return nil, err
		}
		dc.res.rounds = append(dc.res.rounds, len(r.Rounds))
		if !math.IsInf(r.GapPct, 0) && !math.IsNaN(r.GapPct) {
			dc.res.gaps = append(dc.res.gaps, r.GapPct)
		}
		for _, e := range r.Events {
			if e.Kind == district.EventSiteCapInfeasible {
				dc.res.infeasible++
			}
		}
		// The next cycle starts a step later: its prices start from these, shifted.
		dc.prices = make([][]float64, len(r.Prices))
		for l, p := range r.Prices {
			dc.prices[l] = append(append([]float64(nil), p[1:]...), p[len(p)-1])
		}
		return r.CapsKW, nil
	case Independent:
		if dc.weights == nil {
			// Static shares: each site's peak import planned alone over the
			// first cycle's horizon, as a DSO would size a fixed allocation.
			dc.weights = make([]float64, dc.n)
			for i, s := range scns {
				if s == nil {
					return nil, fmt.Errorf("site %s: no scenario at the first cycle to size its static share", d.Sites[i].ID)
				}
				p, err := optimizer.Solve(ctx, s, optimizer.Options{})
				if err != nil {
					return nil, fmt.Errorf("site %s alone: %w", d.Sites[i].ID, err)
				}
				dc.weights[i] = math.Max(p.PeakImportKW, 1e-3)
			}
		}
		return dc.static(limits), nil
	case Centralised:
		var all []*optimizer.Scenario
		var idx []int
		for i, s := range scns {
			if s != nil {
				all = append(all, s)
				idx = append(idx, i)
			}
		}
		want := make([][]float64, dc.n)
		if len(all) == dc.n {
			r, err := district.Centralised(ctx, all, limits)
			if err == nil {
				for j, p := range r.Plans {
					want[idx[j]] = p.GridImportKW
				}
			} else {
				dc.res.fallbacks++
				dc.note(fmt.Sprintf("%s: the centralised LP failed (%v): last caps, scaled to the limits", at.UTC().Format(time.RFC3339), err))
			}
		} else {
			dc.res.fallbacks++
			dc.note(fmt.Sprintf("%s: a site had no scenario: last caps, scaled to the limits", at.UTC().Format(time.RFC3339)))
		}
		for i := range want {
			if want[i] == nil {
				want[i] = shifted(dc.known[d.Sites[i].ID], H)
			}
		}
		// Each site follows its part: caps from its planned import, with a share
		// of any headroom, as the coordinated caps are made.
		return dc.allocate(want, limits), nil
	}
	return nil, fmt.Errorf("strategy %q", dc.o.Strategy)
}

// static returns the independent strategy's caps: every limit split in
// proportion to the sites' static weights (district.Allocate, which keeps the
// sum under every limit, nested ones too).
func (dc *coordinator) static(limits []district.Limit) [][]float64 {
	want := make([][]float64, dc.n)
	for i := range want {
		want[i] = make([]float64, dc.H)
		for t := range want[i] {
			want[i][t] = dc.weights[i]
		}
	}
	return dc.allocate(want, limits)
}

// allocate turns wanted imports into caps that keep every limit
// (district.Allocate).
func (dc *coordinator) allocate(want [][]float64, limits []district.Limit) [][]float64 {
	avail := make([][]float64, len(limits))
	for l := range limits {
		avail[l] = limits[l].LimitKW
	}
	return district.Allocate(want, limits, avail, dc.H)
}

// shifted returns the last cycle's caps moved on by a step (the last step
// repeated), zeros when there are none.
func shifted(v []float64, H int) []float64 {
	out := make([]float64, H)
	for t := range out {
		if len(v) > 0 {
			out[t] = v[min(t+1, len(v)-1)]
		}
	}
	return out
}

func (dc *coordinator) note(s string) {
	if len(dc.res.notes) < 20 {
		dc.res.notes = append(dc.res.notes, s)
	}
}

// periodLimits returns every shared node's limit at each replayed step.
func (dc *coordinator) periodLimits(steps int) []district.Limit {
	d := dc.o.District
	out := d.Limits(dc.o.From)
	for l := range out {
		out[l].LimitKW = make([]float64, steps)
	}
	for k := 0; k < steps; k++ {
		at := dc.o.From.Add(time.Duration(k) * dc.step)
		for l, lim := range d.Limits(at) {
			out[l].LimitKW[k] = lim.LimitKW[0]
		}
	}
	return out
}
