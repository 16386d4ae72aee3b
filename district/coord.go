package district

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/gridd/gridd/clock"
)

// Limit is a shared node's import limit per step over the sites below it
// (indices into the coordinator's site list): Σ_{i ∈ Sites} import_{i,t} ≤
// LimitKW[t].
type Limit struct {
	ID      string    `json:"id"`
	Sites   []int     `json:"sites"`
	LimitKW []float64 `json:"limit_kw"`
}

// Request is one round's question to a site. With PricePerKWh the site
// re-solves its own plan with that price added to its import price per step
// (the priced solve); with CapKW it solves with its grid import capped per
// step (the capped solve). A request may carry both.
type Request struct {
	District    string    `json:"district"`
	Cycle       int64     `json:"cycle"`
	Round       int       `json:"round"`
	Site        string    `json:"site"`
	Start       time.Time `json:"start"`
	StepMinutes int       `json:"step_minutes"`
	Steps       int       `json:"steps"`
	PricePerKWh []float64 `json:"price_per_kwh,omitempty"`
	CapKW       []float64 `json:"cap_kw,omitempty"`
}

// Answer is a site's plan summary for one solve.
type Answer struct {
	// ImportKW is the plan's grid import per step.
	ImportKW []float64 `json:"import_kw"`
	// CostTotal is the plan's own cost (the price adder excluded).
	CostTotal float64 `json:"cost"`
	// BoundTotal (priced solve) is a lower bound on the priced objective
	// min(cost + Σ_t price_t·dt·import_t): the solver's dual bound.
	BoundTotal float64 `json:"bound"`
	// Feasible (capped solve) is false when the site cannot keep its cap.
	Feasible bool `json:"feasible"`
}

// Reply is a site's answer to a Request.
type Reply struct {
	Site   string  `json:"site"`
	Cycle  int64   `json:"cycle"`
	Round  int     `json:"round"`
	Priced *Answer `json:"priced,omitempty"`
	Capped *Answer `json:"capped,omitempty"`
	// Error is set when the site could not solve.
	Error string `json:"error,omitempty"`
}

// Site is one participant as the coordinator sees it: a local scenario
// (LocalSite) or a remote gridd reached over NATS.
type Site interface {
	ID() string
	Solve(ctx context.Context, req Request) (Reply, error)
}

// Event is something the coordinator reports for alarms and the audit log:
// a site excluded (timeout, garbage, cap broken) or a cycle's outcome.
type Event struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	Site   string    `json:"site,omitempty"`
	Detail string    `json:"detail"`
}

// Event kinds.
const (
	EventSiteTimeout   = "site.timeout"
	EventSiteError     = "site.error"
	EventSiteGarbage   = "site.garbage"
	EventSiteCapBroken = "site.cap_broken"
	EventSiteNoPlan    = "site.no_plan"
	// EventSiteCapInfeasible: the site reports that it cannot plan within
	// its cap (its real-time layer still holds the cap).
	EventSiteCapInfeasible = "site.cap_infeasible"
)

// Options tune one coordination.
type Options struct {
	District    string
	Cycle       int64
	Start       time.Time
	StepMinutes int
	Steps       int
	// TimeBudget bounds the coordination; MaxRounds the rounds; it stops
	// early once the certified gap is below GapPct.
	TimeBudget time.Duration
	MaxRounds  int
	GapPct     float64
	// RoundTimeout bounds each site's answer to one round.
	RoundTimeout time.Duration
	// Parallel bounds the sites asked at once (default GOMAXPROCS; remote
	// sites solve elsewhere, so a transport may set it to the site count).
	Parallel int
	// Prices warm-starts the shared-limit prices (per limit, per step),
	// e.g. the previous cycle's shifted; nil starts at 0.
	Prices [][]float64
	// Known holds each site's last known import plan (by site ID) from an
	// earlier cycle: a site that does not answer is capped from it.
	Known map[string][]float64
	// KnownCaps holds the caps each site was last sent (by site ID, shifted
	// to this coordination's steps). They stay in force at the site, so a
	// site that is alive but cut off may draw up to them: an excluded
	// site's reservation is never below them.
	KnownCaps map[string][]float64
	// OnEvent receives exclusions as they happen (one at a time); OnRound
	// every round.
	OnEvent func(Event)
	OnRound func(RoundReport)
	Clock   clock.Clock
}

// RoundReport is one round's progress.
type RoundReport struct {
	Round int `json:"round"`
	// ResidualKW is the largest excess of the priced plans' summed import
	// over a shared limit (the primal residual; 0 when they keep them all).
	ResidualKW float64 `json:"residual_kw"`
	// LowerBound is the best certified lower bound on the district's
	// optimal cost so far (the Lagrangian dual); UpperBound the cost of the
	// best capped allocation found so far (+Inf before the first).
	LowerBound float64 `json:"lower_bound"`
	UpperBound float64 `json:"upper_bound"`
	// GapPct is (UpperBound − LowerBound)/|UpperBound| in percent.
	GapPct   float64 `json:"gap_pct"`
	Answered int     `json:"answered"`
	Excluded int     `json:"excluded"`
	Messages int     `json:"messages"`
	// DurationMS is the round's wall time; MasterMS the part spent in the
	// master LP.
	DurationMS float64 `json:"duration_ms"`
	MasterMS   float64 `json:"master_ms"`
	// MasterIterations counts the master's interior-point iterations.
	MasterIterations int `json:"master_iterations"`
}

// Result is a coordination's outcome: per-site import caps that keep every
// shared limit by construction, and how good they are.
type Result struct {
	Sites []string `json:"sites"`
	// CapsKW holds each site's import cap per step. For every limit and
	// step, Σ_{i ∈ Sites} CapsKW[i][t] ≤ LimitKW[t].
	CapsKW [][]float64 `json:"caps_kw"`
	// PlansKW is each site's planned import under its cap (its last capped
	// answer; the reserved plan of an excluded site).
	PlansKW [][]float64 `json:"plans_kw"`
	// Cost is the district's cost under the caps (Σ of the sites' capped
	// plans); LowerBound a certified lower bound on the optimum of the
	// sites that answered; GapPct the gap between them. UpperBound is the
	// master's cost of the combination the caps came from (Cost ≤
	// UpperBound when every site answered).
	Cost       float64       `json:"cost"`
	UpperBound float64       `json:"upper_bound"`
	LowerBound float64       `json:"lower_bound"`
	GapPct     float64       `json:"gap_pct"`
	Prices     [][]float64   `json:"prices"`
	Rounds     []RoundReport `json:"rounds"`
	Excluded   []string      `json:"excluded"`
	// Converged is true when the gap reached GapPct; false when the
	// budget or the rounds ran out (the caps keep every limit either way).
	Converged  bool      `json:"converged"`
	Events     []Event   `json:"events"`
	DurationMS float64   `json:"duration_ms"`
	Start      time.Time `json:"start"`
	Steps      int       `json:"steps"`
}

// ErrGarbage marks an answer a transport could not decode: the site is
// excluded as answering garbage.
var ErrGarbage = errors.New("district: unusable answer")

// capTol is the slack a capped plan may exceed its cap by (solver
// tolerance) before it counts as breaking the cap.
const capTol = 1e-3

// Coordinate runs one coordination of sites under limits by price
// coordination with a restricted master (stabilised Dantzig–Wolfe), see
// doc.go.
func Coordinate(ctx context.Context, sites []Site, limits []Limit, o Options) (*Result, error) {
	if err := checkInputs(sites, limits, o); err != nil {
		return nil, err
	}
	clk := o.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = 30
	}
	if o.GapPct <= 0 {
		o.GapPct = 0.5
	}
	if o.RoundTimeout <= 0 {
		o.RoundTimeout = 5 * time.Second
	}
	began := time.Now() // wall time for the budget and the reports
	deadline := began.Add(o.TimeBudget)
	if o.TimeBudget <= 0 {
		deadline = began.Add(time.Hour)
	}
	T, n := o.Steps, len(sites)
	dt := float64(o.StepMinutes) / 60
	c := &coord{o: o, clk: clk, sites: sites, limits: limits, T: T, dt: dt}
	c.res = &Result{Sites: make([]string, n), Start: o.Start, Steps: T}
	for i, s := range sites {
		c.res.Sites[i] = s.ID()
	}
	// above[i] lists the limits site i is under.
	c.above = make([][]int, n)
	for k, l := range limits {
		for _, i := range l.Sites {
			c.above[i] = append(c.above[i], k)
		}
	}
	c.lambda = make([][]float64, len(limits))
	for k := range limits {
		c.lambda[k] = make([]float64, T)
		if k < len(o.Prices) && len(o.Prices[k]) == T {
			for t, p := range o.Prices[k] {
				if !math.IsNaN(p) && p > 0 && p < 1e6 {
					c.lambda[k][t] = p
				}
			}
		}
	}
	c.excluded = make([]bool, n)
	c.reserved = make([][]float64, n)
	c.lastPriced = make([][]float64, n)
	c.lastCapped = make([][]float64, n)
	tr, err := nest(limits, n)
	if err != nil {
		return nil, err
	}
	c.tree = tr
	props := make([][]proposal, n)
	c.bestLB, c.bestUB = math.Inf(-1), math.Inf(1)
	bestLambda := cloneMatrix(c.lambda)
	var want [][]float64     // the best master's combined imports per site
	var fallback [][]float64 // the least-violating combination before one keeps the limits
	var lastRound time.Duration
	var best *allocation // the best round of capped answers so far
	for round := 0; round < o.MaxRounds; round++ {
		// Stop when the caps could not be out by the budget after another
		// round: with a complete capped answer in hand, another round must
		// end in time; without one, another round and the capped round
		// after it (measured at up to twice a round: capped solves near a
		// site's limit are harder).
		if ctx.Err() != nil {
			break
		}
		if round > 0 {
			need := 3 * lastRound
			if best != nil {
				need = lastRound
			}
			if time.Now().Add(need).After(deadline) {
				break
			}
		}
		t0 := time.Now()
		// From the second round on, every site is also asked to plan under
		// the caps of the last master's combination: its answers are plans
		// that keep every limit together (an upper bound and a candidate
		// result) and columns that let the master keep the limits early.
		var caps [][]float64
		if src := want; round > 0 && (src != nil || fallback != nil) {
			if src == nil {
				src = fallback
			}
			caps = c.allocate(src)
		}
		reqs := make([]*Request, n)
		msgs := 0
		for i := range sites {
			if c.excluded[i] {
				continue
			}
			reqs[i] = &Request{District: o.District, Cycle: o.Cycle, Round: round, Site: sites[i].ID(), Start: o.Start,
				StepMinutes: o.StepMinutes, Steps: T}
			reqs[i].PricePerKWh = c.priceOf(i)
			if caps != nil {
				reqs[i].CapKW = caps[i]
			}
			msgs += 2
		}
		before := c.nExcluded()
		replies := c.ask(ctx, reqs, deadline)
		if c.nExcluded() != before {
			// The problem changed (fewer sites, reserved limits): earlier
			// bounds and combinations no longer compare.
			c.bestLB, c.bestUB, want, best = math.Inf(-1), math.Inf(1), nil, nil
		} else if caps != nil {
			if a := c.answered(caps, reqs, replies); best == nil || a.better(best) {
				best = a
				if a.overKWh == 0 {
					c.bestUB = math.Min(c.bestUB, a.cost)
				}
			}
		}
		avail := c.available()
		answered := 0
		bound := 0.0
		sum := make([][]float64, len(limits))
		for k := range sum {
			sum[k] = make([]float64, T)
		}
		for i, rep := range replies {
			if reqs[i] == nil || rep == nil || c.excluded[i] {
				continue
			}
			answered++
			if cp := rep.Capped; cp != nil && cp.Feasible {
				c.lastCapped[i] = cp.ImportKW
				props[i] = addProposal(props[i], proposal{imp: cp.ImportKW, cost: cp.CostTotal, used: round})
			}
			p := rep.Priced
			bound += p.BoundTotal
			c.lastPriced[i] = p.ImportKW
			props[i] = addProposal(props[i], proposal{imp: p.ImportKW, cost: p.CostTotal, used: round})
			for _, k := range c.above[i] {
				for t := 0; t < T; t++ {
					sum[k][t] += p.ImportKW[t]
				}
			}
		}
		residual := 0.0
		for k := range limits {
			for t := 0; t < T; t++ {
				residual = math.Max(residual, sum[k][t]-avail[k][t])
			}
		}
		if answered == n-c.nExcluded() && answered > 0 {
			// The Lagrangian bound of the sites still taking part (each
			// site's dual bound at its prices, less the prices' worth of
			// the available limits) bounds their optimum from below.
			lb := bound
			for k := range limits {
				for t := 0; t < T; t++ {
					lb -= c.lambda[k][t] * dt * avail[k][t]
				}
			}
			if lb > c.bestLB {
				c.bestLB = lb
				bestLambda = cloneMatrix(c.lambda)
			}
		}
		active := make([]bool, n)
		for i := range active {
			active[i] = !c.excluded[i] && len(props[i]) > 0
			props[i] = prune(props[i], round)
		}
		tm := time.Now()
		ms, err := solveMasters(ctx, props, active, limits, tr, avail, T, dt)
		masterMS := float64(time.Since(tm).Microseconds()) / 1000
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return nil, err
		}
		for i, ws := range ms.weights {
			for j, w := range ws {
				if w > 1e-9 {
					props[i][j].used = round
				}
			}
		}
		if ms.excess <= 1e-6*float64(len(limits)*T) {
			if ms.cost < c.bestUB {
				c.bestUB = ms.cost
			}
			want = combine(props, ms.weights, T)
		} else {
			// No combination keeps every limit yet: the least-violating one
			// is the best start for the caps should the budget end now.
			fallback = combine(props, ms.weights, T)
		}
		lastRound = time.Since(t0)
		rr := RoundReport{Round: round, ResidualKW: residual, LowerBound: c.bestLB, UpperBound: c.bestUB,
			GapPct: gapPct(c.bestUB, c.bestLB), Answered: answered, Excluded: c.nExcluded(), Messages: msgs,
			DurationMS: float64(time.Since(t0).Microseconds()) / 1000, MasterMS: masterMS, MasterIterations: ms.iterations}
		c.res.Rounds = append(c.res.Rounds, rr)
		if o.OnRound != nil {
			o.OnRound(rr)
		}
		if rr.GapPct <= o.GapPct && want != nil {
			c.res.Converged = true
			break
		}
		// Next prices: the master's duals, smoothed towards the prices of
		// the best bound so far (stabilised column generation).
		for k := range limits {
			for t := 0; t < T; t++ {
				c.lambda[k][t] = 0.5*bestLambda[k][t] + 0.5*ms.lambda[k][t]
			}
		}
	}
	c.lambda = bestLambda
	if want == nil {
		want = fallback
	}
	// The capped round of the final combination runs when it can end
	// within the budget, or when no complete capped answer is in hand.
	capped := best == nil || o.TimeBudget <= 0 || !time.Now().Add(lastRound).After(deadline)
	return c.finish(ctx, want, best, capped, began)
}

// allocation is a round's capped answers: caps that keep every available
// limit and each site's plan under its cap (the least-violating plan of a
// site that cannot keep it).
type allocation struct {
	caps, plans [][]float64
	feasible    []bool
	// cost is the plans' own cost; overKWh the energy the least-violating
	// plans put above their caps.
	cost, overKWh float64
}

// overPenalty prices a kWh a site's least-violating plan puts above its
// cap when rounds' capped answers are compared: far above any energy
// price, so a round that keeps more sites within their caps wins, but not
// so far that a few watt-hours of solver tolerance outweigh a real saving
// (at 1,000 sites some site is a hair over its cap in almost every round).
const overPenalty = 100.0

// better reports whether a is a better result than b: its cost with the
// energy above the caps at overPenalty per kWh is lower.
func (a *allocation) better(b *allocation) bool {
	return a.cost+overPenalty*a.overKWh < b.cost+overPenalty*b.overKWh
}

// allocate turns wanted imports into caps that keep every available limit
// for the sites still taking part.
func (c *coord) allocate(want [][]float64) [][]float64 {
	avail := c.available()
	in := make([][]float64, len(c.sites))
	for i := range in {
		if c.excluded[i] {
			continue
		}
		in[i] = want[i]
		if in[i] == nil {
			in[i] = make([]float64, c.T)
		}
	}
	return Allocate(in, c.limits, avail, c.T)
}

// answered collects a round's capped answers (a site excluded on the way
// has none).
func (c *coord) answered(caps [][]float64, reqs []*Request, replies []*Reply) *allocation {
	n := len(c.sites)
	a := &allocation{caps: make([][]float64, n), plans: make([][]float64, n), feasible: make([]bool, n)}
	for i, r := range reqs {
		if r == nil || replies[i] == nil || replies[i].Capped == nil {
			continue
		}
		cp := replies[i].Capped
		a.caps[i], a.plans[i], a.feasible[i] = caps[i], cp.ImportKW, cp.Feasible
		a.cost += cp.CostTotal
		if !cp.Feasible {
			for t, v := range cp.ImportKW {
				a.overKWh += math.Max(0, v-caps[i][t]) * c.dt
			}
		}
	}
	return a
}

func cloneMatrix(m [][]float64) [][]float64 {
	out := make([][]float64, len(m))
	for k, r := range m {
		out[k] = append([]float64(nil), r...)
	}
	return out
}

// addProposal appends p unless the site already offered the same plan.
func addProposal(ps []proposal, p proposal) []proposal {
	for _, q := range ps {
		same := math.Abs(q.cost-p.cost) <= 1e-9*(1+math.Abs(p.cost))
		for t := 0; same && t < len(p.imp); t++ {
			same = math.Abs(q.imp[t]-p.imp[t]) <= 1e-6
		}
		if same {
			return ps
		}
	}
	return append(ps, p)
}

// keepUnused is how many rounds a proposal the master gives no weight
// stays in the master: the columns that matter are few, and every column
// costs the master's set-up and iterations.
const keepUnused = 3

// prune drops the proposals no master has used for keepUnused rounds.
func prune(ps []proposal, round int) []proposal {
	out := ps[:0]
	for _, p := range ps {
		if round-p.used <= keepUnused {
			out = append(out, p)
		}
	}
	return out
}

// combine returns each site's convex combination of its proposals.
func combine(props [][]proposal, w [][]float64, T int) [][]float64 {
	out := make([][]float64, len(props))
	for i, ws := range w {
		if ws == nil {
			continue
		}
		out[i] = make([]float64, T)
		for j, x := range ws {
			for t := 0; t < T; t++ {
				out[i][t] += x * props[i][j].imp[t]
			}
		}
	}
	return out
}

// coord is one coordination's state.
type coord struct {
	o      Options
	clk    clock.Clock
	sites  []Site
	limits []Limit
	T      int
	dt     float64
	above  [][]int
	lambda [][]float64

	excluded   []bool
	reserved   [][]float64 // an excluded site's cap (its last known plan)
	lastPriced [][]float64
	lastCapped [][]float64
	bestLB     float64
	bestUB     float64
	tree       *tree
	res        *Result
	mu         sync.Mutex
	evMu       sync.Mutex
}

func (c *coord) nExcluded() int {
	k := 0
	for _, e := range c.excluded {
		if e {
			k++
		}
	}
	return k
}

// priceOf returns site i's import price adder per step: the sum of the
// prices of the limits above it.
func (c *coord) priceOf(i int) []float64 {
	p := make([]float64, c.T)
	for _, k := range c.above[i] {
		for t := range p {
			p[t] += c.lambda[k][t]
		}
	}
	return p
}

func (c *coord) event(kind string, i int, format string, args ...any) {
	e := Event{At: c.clk.Now(), Kind: kind, Site: c.sites[i].ID(), Detail: fmt.Sprintf(format, args...)}
	// One event at a time, in the order recorded: OnEvent need not be safe
	// for concurrent use.
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.mu.Lock()
	c.res.Events = append(c.res.Events, e)
	c.mu.Unlock()
	if c.o.OnEvent != nil {
		c.o.OnEvent(e)
	}
}

// ask sends the requests (nil: skip) with bounded parallelism; a site that
// fails, times out or answers garbage is excluded for the rest of the
// coordination (with an event) and its reply is nil.
func (c *coord) ask(ctx context.Context, reqs []*Request, deadline time.Time) []*Reply {
	out := make([]*Reply, len(reqs))
	sem := make(chan struct{}, c.o.Parallel)
	var wg sync.WaitGroup
	for i, r := range reqs {
		if r == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, r *Request) {
			defer wg.Done()
			defer func() { <-sem }()
			timeout := c.o.RoundTimeout
			rctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			rep, err := c.sites[i].Solve(rctx, *r)
			switch {
			case err != nil && (errors.Is(err, context.DeadlineExceeded) || rctx.Err() != nil):
				c.exclude(i, EventSiteTimeout, "no answer to round %d within %s", r.Round, timeout)
				return
			case errors.Is(err, ErrGarbage):
				c.exclude(i, EventSiteGarbage, "round %d: %v", r.Round, err)
				return
			case err != nil:
				c.exclude(i, EventSiteError, "round %d: %v", r.Round, err)
				return
			}
			if why := checkReply(r, &rep); why != "" {
				kind := EventSiteGarbage
				if rep.Error != "" {
					kind = EventSiteError
				} else if rep.Capped != nil && r.CapKW != nil && breaksCap(rep.Capped.ImportKW, r.CapKW) {
					kind = EventSiteCapBroken
				}
				c.exclude(i, kind, "round %d: %s", r.Round, why)
				return
			}
			out[i] = &rep
		}(i, r)
	}
	wg.Wait()
	return out
}

func (c *coord) exclude(i int, kind, format string, args ...any) {
	c.mu.Lock()
	c.excluded[i] = true
	c.mu.Unlock()
	c.event(kind, i, format+"; excluded from this coordination and capped from its last known plan", args...)
}

func breaksCap(imp, caps []float64) bool {
	for t := range imp {
		if t < len(caps) && imp[t] > caps[t]+capTol+1e-6*caps[t] {
			return true
		}
	}
	return false
}

// checkReply returns why a reply is unusable ("" if it is fine).
func checkReply(r *Request, rep *Reply) string {
	if rep.Error != "" {
		return "site reports: " + rep.Error
	}
	if rep.Site != r.Site || rep.Cycle != r.Cycle || rep.Round != r.Round {
		return fmt.Sprintf("answer for site %q cycle %d round %d, asked site %q cycle %d round %d", rep.Site, rep.Cycle, rep.Round, r.Site, r.Cycle, r.Round)
	}
	check := func(what string, a *Answer, want bool) string {
		if a == nil {
			if want {
				return what + ": missing"
			}
			return ""
		}
		if len(a.ImportKW) != r.Steps {
			return fmt.Sprintf("%s.import_kw: %d values, want %d", what, len(a.ImportKW), r.Steps)
		}
		for t, v := range a.ImportKW {
			if math.IsNaN(v) || v < -capTol || v > 1e9 {
				return fmt.Sprintf("%s.import_kw[%d]: %v is not an import in [0, 1e9] kW", what, t, v)
			}
		}
		if math.IsNaN(a.CostTotal) || math.IsInf(a.CostTotal, 0) || math.Abs(a.CostTotal) > 1e12 {
			return fmt.Sprintf("%s.cost: %v is not a finite cost", what, a.CostTotal)
		}
		if math.IsNaN(a.BoundTotal) || math.IsInf(a.BoundTotal, 0) || math.Abs(a.BoundTotal) > 1e12 {
			return fmt.Sprintf("%s.bound: %v is not a finite bound", what, a.BoundTotal)
		}
		return ""
	}
	if why := check("priced", rep.Priced, r.PricePerKWh != nil); why != "" {
		return why
	}
	if rep.Priced != nil {
		// The bound may not exceed the priced objective of the plan sent.
		obj := rep.Priced.CostTotal
		dt := float64(r.StepMinutes) / 60
		for t, v := range rep.Priced.ImportKW {
			obj += r.PricePerKWh[t] * dt * v
		}
		if rep.Priced.BoundTotal > obj+1e-6*(1+math.Abs(obj)) {
			return fmt.Sprintf("priced.bound: %v exceeds the plan's priced objective %v", rep.Priced.BoundTotal, obj)
		}
	}
	if why := check("capped", rep.Capped, r.CapKW != nil); why != "" {
		return why
	}
	if rep.Capped != nil && rep.Capped.Feasible && breaksCap(rep.Capped.ImportKW, r.CapKW) {
		for t, v := range rep.Capped.ImportKW {
			if v > r.CapKW[t]+capTol {
				return fmt.Sprintf("capped.import_kw[%d]: %g kW breaks the cap %g kW", t, v, r.CapKW[t])
			}
		}
	}
	return ""
}

// reserve fixes the reservation of every excluded site that has none: its
// last known plan (this coordination's, else Options.Known), raised to the
// caps it holds from an earlier coordination (Options.KnownCaps: a site cut
// off may follow them), else nothing known: an equal share of every limit
// above it.
func (c *coord) reserve() {
	for i, ex := range c.excluded {
		if !ex || c.reserved[i] != nil {
			continue
		}
		var plan []float64
		switch {
		case c.lastCapped[i] != nil:
			plan = c.lastCapped[i]
		case c.lastPriced[i] != nil:
			plan = c.lastPriced[i]
		case len(c.o.Known[c.sites[i].ID()]) == c.T:
			plan = c.o.Known[c.sites[i].ID()]
		}
		r := make([]float64, c.T)
		held := c.o.KnownCaps[c.sites[i].ID()]
		if len(held) != c.T {
			held = nil
		}
		if plan != nil || held != nil {
			for t := range r {
				if plan != nil {
					r[t] = math.Max(0, plan[t])
				}
				if held != nil {
					r[t] = math.Max(r[t], held[t])
				}
			}
		} else {
			c.event(EventSiteNoPlan, i, "no plan known: reserved an equal share of each shared limit above it")
			for t := range r {
				r[t] = math.Inf(1)
				for _, k := range c.above[i] {
					r[t] = math.Min(r[t], c.limits[k].LimitKW[t]/float64(len(c.limits[k].Sites)))
				}
				if math.IsInf(r[t], 1) {
					r[t] = 0
				}
			}
		}
		c.reserved[i] = r
	}
}

// available returns each limit less the reservations of excluded sites
// below it (scaling the reservations down where they alone exceed it).
func (c *coord) available() [][]float64 {
	c.reserve()
	av := make([][]float64, len(c.limits))
	for k, l := range c.limits {
		av[k] = append([]float64(nil), l.LimitKW...)
	}
	for k, l := range c.limits {
		for t := 0; t < c.T; t++ {
			res := 0.0
			for _, i := range l.Sites {
				if c.excluded[i] {
					res += c.reserved[i][t]
				}
			}
			if res > l.LimitKW[t] {
				f := l.LimitKW[t] / res
				for _, i := range l.Sites {
					if c.excluded[i] {
						c.reserved[i][t] *= f
					}
				}
				res = l.LimitKW[t]
			}
			av[k][t] = math.Max(0, l.LimitKW[t]-res)
		}
	}
	// A reservation scaled under one limit lowers the use of others.
	for k, l := range c.limits {
		for t := 0; t < c.T; t++ {
			res := 0.0
			for _, i := range l.Sites {
				if c.excluded[i] {
					res += c.reserved[i][t]
				}
			}
			av[k][t] = math.Max(0, l.LimitKW[t]-res)
		}
	}
	return av
}

// Allocate gives every site with a wanted import profile (want[i] non-nil)
// a cap per step such that, for every limit k and step t, Σ_{i ∈ Sites_k}
// cap[i][t] ≤ avail[k][t] holds by construction. Per step, each site's
// cap starts at its wanted import; every limit whose sites' caps sum above
// it scales them down in proportion (tightest limit first, repeated until
// every limit holds); the headroom left under every limit is then shared
// among its sites in proportion to their wanted import plus an equal part,
// never pushing another limit over. Sites without a want get nil.
func Allocate(want [][]float64, limits []Limit, avail [][]float64, T int) [][]float64 {
	n := len(want)
	caps := make([][]float64, n)
	above := make([][]int, n)
	for k, l := range limits {
		for _, i := range l.Sites {
			above[i] = append(above[i], k)
		}
	}
	for i, w := range want {
		if w == nil {
			continue
		}
		caps[i] = make([]float64, T)
		for t := range caps[i] {
			caps[i][t] = math.Max(0, w[t])
		}
	}
	// Order limits by the number of sites below them, innermost first.
	order := make([]int, len(limits))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return len(limits[order[a]].Sites) < len(limits[order[b]].Sites) })
	used := func(k, t int) float64 {
		s := 0.0
		for _, i := range limits[k].Sites {
			if caps[i] != nil {
				s += caps[i][t]
			}
		}
		return s
	}
	for t := 0; t < T; t++ {
		// Scale down: an inner limit's scaling only lowers the outer sums,
		// so one pass inner to outer suffices.
		for _, k := range order {
			u := used(k, t)
			if a := avail[k][t]; u > a {
				f := 0.0
				if u > 0 {
					f = a / u
				}
				for _, i := range limits[k].Sites {
					if caps[i] != nil {
						caps[i][t] *= f
					}
				}
			}
		}
		// Share headroom: each site gets the largest raise every limit
		// above it still allows, from the outermost limit in.
		for j := len(order) - 1; j >= 0; j-- {
			k := order[j]
			head := avail[k][t] - used(k, t)
			if head <= 0 {
				continue
			}
			var weights []float64
			total := 0.0
			members := 0
			for _, i := range limits[k].Sites {
				if caps[i] != nil {
					members++
				}
			}
			if members == 0 {
				continue
			}
			for _, i := range limits[k].Sites {
				w := 0.0
				if caps[i] != nil {
					w = want[i][t] + 1e-3*head/float64(members)
					if w < 0 {
						w = 0
					}
				}
				weights = append(weights, w)
				total += w
			}
			if total <= 0 {
				continue
			}
			for m, i := range limits[k].Sites {
				if caps[i] == nil {
					continue
				}
				raise := head * weights[m] / total
				// No other limit above i may go over.
				for _, k2 := range above[i] {
					if k2 == k {
						continue
					}
					raise = math.Min(raise, avail[k2][t]-used(k2, t))
				}
				if raise > 0 {
					caps[i][t] += raise
				}
			}
		}
		// Guard against rounding: scale once more so every sum holds.
		for _, k := range order {
			if u := used(k, t); u > avail[k][t] {
				f := avail[k][t] / u * (1 - 1e-12)
				for _, i := range limits[k].Sites {
					if caps[i] != nil {
						caps[i][t] *= f
					}
				}
			}
		}
	}
	return caps
}

// finish turns the best combination (want; nil when the master never kept
// every limit: then the last priced plans) into caps that keep every
// available limit (Allocate), asks every site still taking part to plan
// under its cap (the capped round), and reserves the last known plan of
// every site excluded on the way.
func (c *coord) finish(ctx context.Context, want [][]float64, best *allocation, capped bool, began time.Time) (*Result, error) {
	n, T := len(c.sites), c.T
	res := c.res
	res.UpperBound = c.bestUB
	res.CapsKW = make([][]float64, n)
	res.PlansKW = make([][]float64, n)
	if capped {
		if want == nil {
			want = make([][]float64, n)
			for i := range want {
				want[i] = c.lastPriced[i]
			}
		}
		caps := c.allocate(want)
		// The capped round: every site plans under its cap.
		before := c.nExcluded()
		reqs := make([]*Request, n)
		for i := range c.sites {
			if caps[i] != nil {
				reqs[i] = &Request{District: c.o.District, Cycle: c.o.Cycle, Round: len(res.Rounds), Site: c.sites[i].ID(), Start: c.o.Start,
					StepMinutes: c.o.StepMinutes, Steps: T, CapKW: caps[i]}
			}
		}
		replies := c.ask(ctx, reqs, time.Time{})
		a := c.answered(caps, reqs, replies)
		// An earlier round's capped answers are the result when they are
		// better and were made for the same sites.
		if best == nil || c.nExcluded() != before || a.better(best) {
			best = a
		}
		if c.nExcluded() != before {
			res.Converged = false // the problem changed under the result
		}
	}
	capsKept := true
	for i := range c.sites {
		if best.caps[i] == nil || best.plans[i] == nil || c.excluded[i] {
			continue
		}
		res.CapsKW[i], res.PlansKW[i] = best.caps[i], best.plans[i]
		c.lastCapped[i] = best.plans[i]
		if !best.feasible[i] {
			capsKept = false
			c.event(EventSiteCapInfeasible, i, "cannot plan within its cap (least violation %.1f kW): its real-time layer holds the cap", maxExcess(best.plans[i], best.caps[i]))
		}
	}
	cost := best.cost
	// Sites excluded in the capped round get their reservations now, scaled
	// where they alone would exceed a limit.
	c.available()
	for i := range c.sites {
		if c.excluded[i] {
			res.CapsKW[i] = append([]float64(nil), c.reserved[i]...)
			res.PlansKW[i] = append([]float64(nil), c.reserved[i]...)
			res.Excluded = append(res.Excluded, c.sites[i].ID())
		}
		if res.CapsKW[i] == nil {
			res.CapsKW[i] = make([]float64, T)
			res.PlansKW[i] = make([]float64, T)
		}
	}
	// A site excluded in the capped round keeps its reservation, which the
	// others' caps did not count: re-check every limit and scale the
	// others where the sum would exceed it.
	for _, l := range c.limits {
		for t := 0; t < T; t++ {
			u, excl := 0.0, 0.0
			for _, i := range l.Sites {
				if c.excluded[i] {
					excl += res.CapsKW[i][t]
				} else {
					u += res.CapsKW[i][t]
				}
			}
			if u+excl > l.LimitKW[t] && u > 0 {
				capsKept = false
				f := math.Max(0, l.LimitKW[t]-excl) / u * (1 - 1e-12)
				for _, i := range l.Sites {
					if !c.excluded[i] {
						res.CapsKW[i][t] *= f
					}
				}
			}
		}
	}
	// Whatever the path, the caps keep every limit: a last guard scales
	// every cap below a limit still exceeded (excluded sites' included).
	for _, l := range c.limits {
		for t := 0; t < T; t++ {
			u := 0.0
			for _, i := range l.Sites {
				u += res.CapsKW[i][t]
			}
			if u > l.LimitKW[t] {
				capsKept = false
				f := math.Max(0, l.LimitKW[t]) / u * (1 - 1e-12)
				for _, i := range l.Sites {
					res.CapsKW[i][t] *= f
				}
			}
		}
	}
	res.Cost = cost
	res.LowerBound = c.bestLB
	res.GapPct = gapPct(cost, c.bestLB)
	if !capsKept {
		res.Converged = false
	}
	res.Prices = c.lambda
	res.DurationMS = float64(time.Since(began).Microseconds()) / 1000
	return res, nil
}

func maxExcess(imp, caps []float64) float64 {
	m := 0.0
	for t := range imp {
		m = math.Max(m, imp[t]-caps[t])
	}
	return m
}

func gapPct(ub, lb float64) float64 {
	if math.IsInf(ub, 1) || math.IsInf(lb, -1) {
		return math.Inf(1)
	}
	return 100 * math.Max(0, ub-lb) / math.Max(math.Abs(ub), 1e-9)
}

func checkInputs(sites []Site, limits []Limit, o Options) error {
	if len(sites) == 0 {
		return errors.New("district: no sites")
	}
	if o.Steps <= 0 || o.StepMinutes <= 0 {
		return fmt.Errorf("district: steps %d of %d minutes: want a positive horizon", o.Steps, o.StepMinutes)
	}
	ids := make(map[string]bool, len(sites))
	for _, s := range sites {
		if ids[s.ID()] {
			return fmt.Errorf("district: duplicate site id %q", s.ID())
		}
		ids[s.ID()] = true
	}
	for k, l := range limits {
		if len(l.LimitKW) != o.Steps {
			return fmt.Errorf("district: limit %s: %d values, want %d", l.ID, len(l.LimitKW), o.Steps)
		}
		if len(l.Sites) == 0 {
			return fmt.Errorf("district: limit %s: no sites", l.ID)
		}
		for _, v := range l.LimitKW {
			if math.IsNaN(v) || v < 0 {
				return fmt.Errorf("district: limit %s: %v is not a limit in kW", l.ID, v)
			}
		}
		for _, i := range l.Sites {
			if i < 0 || i >= len(sites) {
				return fmt.Errorf("district: limits[%d] (%s): site index %d out of range", k, l.ID, i)
			}
		}
	}
	return nil
}

// Check returns the largest excess of the caps' sum over any limit (kW; 0
// when every limit holds) and where.
func Check(caps [][]float64, limits []Limit) (excessKW float64, where string) {
	for _, l := range limits {
		for t, lim := range l.LimitKW {
			s := 0.0
			for _, i := range l.Sites {
				if i < len(caps) && t < len(caps[i]) {
					s += caps[i][t]
				}
			}
			if s-lim > excessKW {
				excessKW = s - lim
				where = fmt.Sprintf("%s at step %d: %g kW over %g kW", l.ID, t, s, lim)
			}
		}
	}
	return excessKW, where
}

// finite returns &v, or nil for an infinite or NaN v (JSON null: a bound
// not known yet).
func finite(v float64) *float64 {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return nil
	}
	return &v
}

// MarshalJSON writes bounds not known yet as null.
func (r RoundReport) MarshalJSON() ([]byte, error) {
	type alias RoundReport
	return json.Marshal(struct {
		alias
		LowerBound *float64 `json:"lower_bound"`
		UpperBound *float64 `json:"upper_bound"`
		GapPct     *float64 `json:"gap_pct"`
	}{alias(r), finite(r.LowerBound), finite(r.UpperBound), finite(r.GapPct)})
}

// MarshalJSON writes bounds not known yet as null.
func (r Result) MarshalJSON() ([]byte, error) {
	type alias Result
	return json.Marshal(struct {
		alias
		Cost       *float64 `json:"cost"`
		LowerBound *float64 `json:"lower_bound"`
		UpperBound *float64 `json:"upper_bound"`
		GapPct     *float64 `json:"gap_pct"`
	}{alias(r), finite(r.Cost), finite(r.LowerBound), finite(r.UpperBound), finite(r.GapPct)})
}
