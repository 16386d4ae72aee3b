package district

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd"
)

func generate(t testing.TB, p GenParams) *Generated {
	t.Helper()
	g, err := Generate(context.Background(), gridd.Files, p)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return g
}

func coordinate(t testing.TB, g *Generated, o Options) *Result {
	t.Helper()
	s := g.Scenarios[0]
	o.Start, o.StepMinutes, o.Steps = s.Start, s.StepMinutes, s.Steps
	if o.MaxRounds == 0 {
		o.MaxRounds = 40
	}
	if o.TimeBudget == 0 {
		o.TimeBudget = time.Minute
	}
	res, err := Coordinate(context.Background(), g.Sites(), g.Limits, o)
	if err != nil {
		t.Fatalf("Coordinate: %v", err)
	}
	return res
}

func TestCoordinatedNearCentralised(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    GenParams
	}{
		{"10 sites", GenParams{Sites: 10, Seed: 1, Steps: 48, StepMinutes: 30, EVs: 8}},
		{"12 sites nested", GenParams{Sites: 12, Seed: 2, SitesPerTransformer: 4, Steps: 48, StepMinutes: 30, EVs: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := generate(t, tc.p)
			cen, err := Centralised(context.Background(), g.Scenarios, g.Limits)
			if err != nil {
				t.Fatalf("Centralised: %v", err)
			}
			res := coordinate(t, g, Options{GapPct: 0.3})
			for _, r := range res.Rounds {
				t.Logf("round %d: residual %.1f kW, lb %.2f ub %.2f gap %.3f%% (%.0f ms)", r.Round, r.ResidualKW, r.LowerBound, r.UpperBound, r.GapPct, r.DurationMS)
			}
			t.Logf("independent %.2f, centralised %.2f, coordinated %.2f (%.3f%%), bound %.2f", g.IndependentCost, cen.Objective, res.Cost, 100*(res.Cost-cen.Objective)/cen.Objective, res.LowerBound)
			if cen.Objective <= g.IndependentCost {
				t.Errorf("limits do not bind: centralised %.2f ≤ independent %.2f", cen.Objective, g.IndependentCost)
			}
			if res.LowerBound > cen.Objective*(1+1e-6)+1e-6 {
				t.Errorf("lower bound %.4f above the centralised optimum %.4f: not a bound", res.LowerBound, cen.Objective)
			}
			if gap := (res.Cost - cen.Objective) / math.Abs(cen.Objective); gap > 0.01 {
				t.Errorf("coordinated %.2f is %.2f%% above centralised %.2f", res.Cost, 100*gap, cen.Objective)
			}
			if ex, where := Check(res.CapsKW, g.Limits); ex > 1e-9 {
				t.Errorf("caps break a shared limit: %s", where)
			}
			for i, p := range res.PlansKW {
				for t2, v := range p {
					if v > res.CapsKW[i][t2]+capTol {
						t.Errorf("site %d step %d: plan %g above cap %g", i, t2, v, res.CapsKW[i][t2])
					}
				}
			}
		})
	}
}

// badSite wraps a site and misbehaves from round from on.
type badSite struct {
	Site
	from int
	how  string
}

func (b *badSite) Solve(ctx context.Context, req Request) (Reply, error) {
	rep, err := b.Site.Solve(ctx, req)
	if req.Round < b.from || err != nil {
		return rep, err
	}
	switch b.how {
	case "timeout":
		<-ctx.Done()
		return Reply{}, ctx.Err()
	case "garbage":
		rep.Priced = &Answer{ImportKW: []float64{math.NaN()}, CostTotal: 1}
	case "cap":
		if rep.Capped != nil {
			for t := range rep.Capped.ImportKW {
				rep.Capped.ImportKW[t] = req.CapKW[t] + 50
			}
		}
	case "wrong-round":
		rep.Round++
	}
	return rep, nil
}

func TestBadSitesExcluded(t *testing.T) {
	g := generate(t, GenParams{Sites: 6, Seed: 3, Steps: 24, StepMinutes: 60, EVs: 6})
	for _, tc := range []struct {
		how, kind string
		from      int
	}{
		{"timeout", EventSiteTimeout, 2},
		{"timeout", EventSiteTimeout, 0},
		{"garbage", EventSiteGarbage, 1},
		{"cap", EventSiteCapBroken, 0},
		{"wrong-round", EventSiteGarbage, 1},
	} {
		t.Run(fmt.Sprintf("%s from round %d", tc.how, tc.from), func(t *testing.T) {
			sites := g.Sites()
			sites[2] = &badSite{Site: sites[2], from: tc.from, how: tc.how}
			s := g.Scenarios[0]
			var events []Event
			res, err := Coordinate(context.Background(), sites, g.Limits, Options{Start: s.Start, StepMinutes: s.StepMinutes, Steps: s.Steps,
				MaxRounds: 8, RoundTimeout: 2 * time.Second, OnEvent: func(e Event) { events = append(events, e) }})
			if err != nil {
				t.Fatalf("Coordinate: %v", err)
			}
			found := false
			for _, e := range events {
				if e.Kind == tc.kind && e.Site == sites[2].ID() {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s event for %s; events %+v", tc.kind, sites[2].ID(), events)
			}
			if len(res.Excluded) != 1 || res.Excluded[0] != sites[2].ID() {
				t.Errorf("excluded %v, want [%s]", res.Excluded, sites[2].ID())
			}
			if ex, where := Check(res.CapsKW, g.Limits); ex > 1e-9 {
				t.Errorf("caps break a shared limit: %s", where)
			}
			// The excluded site is capped from its last known plan (or an
			// equal share when it never answered), never left open.
			for t2, v := range res.CapsKW[2] {
				if v < 0 || v > g.Limits[0].LimitKW[t2] {
					t.Fatalf("excluded site's cap %v at step %d", v, t2)
				}
			}
		})
	}
}

func TestAllocateKeepsLimits(t *testing.T) {
	limits := []Limit{
		{ID: "feeder", Sites: []int{0, 1, 2, 3}, LimitKW: []float64{100, 100, 10}},
		{ID: "tx-a", Sites: []int{0, 1}, LimitKW: []float64{30, 80, 10}},
		{ID: "tx-b", Sites: []int{2, 3}, LimitKW: []float64{90, 90, 0}},
	}
	want := [][]float64{{20, 50, 5}, {20, 50, 0}, {40, 0, 5}, nil}
	avail := [][]float64{limits[0].LimitKW, limits[1].LimitKW, limits[2].LimitKW}
	caps := Allocate(want, limits, avail, 3)
	if ex, where := Check(caps, limits); ex > 1e-9 {
		t.Fatalf("caps %v break a limit: %s", caps, where)
	}
	if caps[3] != nil {
		t.Errorf("site without a want got caps %v", caps[3])
	}
	// Step 0: tx-a (30) scales sites 0 and 1 to 15 each; site 2 wants 40
	// under tx-b and the feeder, and gets the headroom left.
	if math.Abs(caps[0][0]-15) > 1e-6 || math.Abs(caps[1][0]-15) > 1e-6 {
		t.Errorf("step 0 caps of tx-a's sites %v %v, want 15 each", caps[0][0], caps[1][0])
	}
	if caps[2][0] < 40 {
		t.Errorf("step 0 cap of site 2 %v, want at least its 40", caps[2][0])
	}
	if caps[2][2] != 0 {
		t.Errorf("step 2 cap of site 2 %v under a 0 kW transformer", caps[2][2])
	}
}

// TestCapsKeepLimitsAtAnyBudget: stopped after 1, 2 or 3 rounds, far from
// converged, the caps still keep every shared limit.
func TestCapsKeepLimitsAtAnyBudget(t *testing.T) {
	g := generate(t, GenParams{Sites: 8, Seed: 6, Steps: 24, StepMinutes: 60, EVs: 6, SitesPerTransformer: 4, Tightness: 0.7})
	for _, rounds := range []int{1, 2, 3} {
		res := coordinate(t, g, Options{MaxRounds: rounds, GapPct: 1e-9})
		if res.Converged {
			t.Errorf("%d rounds: converged at gap %v", rounds, res.GapPct)
		}
		if ex, where := Check(res.CapsKW, g.Limits); ex > 1e-9 {
			t.Errorf("%d rounds: caps break a shared limit: %s", rounds, where)
		}
		if len(res.Rounds) != rounds {
			t.Errorf("%d rounds asked, %d run", rounds, len(res.Rounds))
		}
	}
}

// recordingSite keeps every request and reply of a site.
type recordingSite struct {
	Site
	mu   sync.Mutex
	reqs []Request
	reps []Reply
}

func (r *recordingSite) Solve(ctx context.Context, req Request) (Reply, error) {
	rep, err := r.Site.Solve(ctx, req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs, r.reps = append(r.reqs, req), append(r.reps, rep)
	return rep, err
}

// TestCappedAnswersEveryRound: from the second round on every site is
// asked for its plan under caps that keep every limit together, next to
// its priced plan; the result is the cheapest complete capped answer of
// any round (the final capped round included), and with a budget that
// leaves no time for the final capped round, the best earlier one.
func TestCappedAnswersEveryRound(t *testing.T) {
	g := generate(t, GenParams{Sites: 8, Seed: 7, Steps: 24, StepMinutes: 60, EVs: 6, SitesPerTransformer: 4})
	rec := make([]*recordingSite, len(g.Scenarios))
	sites := g.Sites()
	for i := range sites {
		rec[i] = &recordingSite{Site: sites[i]}
		sites[i] = rec[i]
	}
	s := g.Scenarios[0]
	res, err := Coordinate(context.Background(), sites, g.Limits, Options{Start: s.Start, StepMinutes: s.StepMinutes, Steps: s.Steps,
		MaxRounds: 4, GapPct: 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	// Per round: the caps sent, the energy the answers put above them,
	// the cost.
	type round struct {
		caps       [][]float64
		over, cost float64
	}
	rounds := map[int]*round{}
	dt := float64(s.StepMinutes) / 60
	for i, r := range rec {
		for k, req := range r.reqs {
			if req.Round == 0 && req.CapKW != nil {
				t.Fatalf("site %d was sent caps in round 0", i)
			}
			if req.Round > 0 && req.Round < 4 && (req.CapKW == nil || req.PricePerKWh == nil) {
				t.Fatalf("site %d round %d: caps %v, prices %v: want both", i, req.Round, req.CapKW != nil, req.PricePerKWh != nil)
			}
			if req.CapKW == nil {
				continue
			}
			rd := rounds[req.Round]
			if rd == nil {
				rd = &round{caps: make([][]float64, len(rec))}
				rounds[req.Round] = rd
			}
			rd.caps[i] = req.CapKW
			c := r.reps[k].Capped
			if c == nil {
				t.Fatalf("site %d round %d: no capped answer", i, req.Round)
			}
			rd.cost += c.CostTotal
			for t2, v := range c.ImportKW {
				rd.over += math.Max(0, v-req.CapKW[t2]) * dt
			}
		}
	}
	var best *round
	for n, rd := range rounds {
		if ex, where := Check(rd.caps, g.Limits); ex > 1e-9 {
			t.Errorf("round %d's caps break a shared limit: %s", n, where)
		}
		if best == nil || rd.cost+overPenalty*rd.over < best.cost+overPenalty*best.over {
			best = rd
		}
	}
	if len(rounds) < 3 {
		t.Fatalf("capped answers in %d rounds, want the 3 rounds after the first and the final one", len(rounds))
	}
	if math.Abs(res.Cost-best.cost) > 1e-9*math.Abs(best.cost) {
		t.Errorf("result cost %.6f, best round of capped answers %.6f (%.3f kWh over caps)", res.Cost, best.cost, best.over)
	}
	if ex, where := Check(res.CapsKW, g.Limits); ex > 1e-9 {
		t.Errorf("caps break a shared limit: %s", where)
	}
	for i, p := range res.PlansKW {
		if breaksCap(p, res.CapsKW[i]) {
			t.Errorf("site %d's plan breaks its cap", i)
		}
	}
}

// TestExcludedReservedItsHeldCaps: a site that stops answering may be alive
// and cut off, following the caps it holds from the last coordination: its
// reservation is its last plan raised to those caps, and the others share
// what is left.
func TestExcludedReservedItsHeldCaps(t *testing.T) {
	g := generate(t, GenParams{Sites: 6, Seed: 3, Steps: 24, StepMinutes: 60, EVs: 6})
	sites := g.Sites()
	sites[2] = &badSite{Site: sites[2], from: 0, how: "timeout"}
	id := sites[2].ID()
	plan := make([]float64, 24)
	held := make([]float64, 24)
	for t2 := range plan {
		plan[t2] = 10
		held[t2] = 10
		if t2%2 == 0 {
			held[t2] = 25 // above its last plan on even steps
		}
	}
	s := g.Scenarios[0]
	res, err := Coordinate(context.Background(), sites, g.Limits, Options{Start: s.Start, StepMinutes: s.StepMinutes, Steps: s.Steps,
		MaxRounds: 3, RoundTimeout: time.Second, Known: map[string][]float64{id: plan}, KnownCaps: map[string][]float64{id: held}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Excluded) != 1 || res.Excluded[0] != id {
		t.Fatalf("excluded %v, want [%s]", res.Excluded, id)
	}
	for t2, v := range res.CapsKW[2] {
		if want := math.Min(held[t2], g.Limits[0].LimitKW[t2]); math.Abs(v-want) > 1e-9 {
			t.Errorf("step %d: reservation %g kW, want the held cap %g kW", t2, v, want)
		}
	}
	if ex, where := Check(res.CapsKW, g.Limits); ex > 1e-9 {
		t.Errorf("caps with the reservation break a shared limit: %s", where)
	}
}

// lateSite answers the priced rounds (and caps within them) but never the
// final capped round: a slow site, still alive.
type lateSite struct{ id string }

func (s *lateSite) ID() string { return s.id }
func (s *lateSite) Solve(ctx context.Context, r Request) (Reply, error) {
	if r.PricePerKWh == nil {
		<-ctx.Done()
		return Reply{}, ctx.Err()
	}
	imp := make([]float64, r.Steps)
	for t := range imp {
		imp[t] = 100
	}
	rep := Reply{Site: s.id, Cycle: r.Cycle, Round: r.Round, Priced: &Answer{ImportKW: imp}}
	if r.CapKW != nil {
		rep.Capped = &Answer{ImportKW: append([]float64(nil), r.CapKW...), Feasible: true}
	}
	return rep, nil
}

// TestExcludedInFinalRoundKeepLimits: sites excluded in the final capped
// round are reserved their last plans, which together exceed the limit:
// the reservations are scaled so the caps still keep it.
func TestExcludedInFinalRoundKeepLimits(t *testing.T) {
	limits := []Limit{{ID: "tx", Sites: []int{0, 1}, LimitKW: []float64{100, 100}}}
	for _, rounds := range []int{1, 3} {
		res, err := Coordinate(context.Background(), []Site{&lateSite{"a"}, &lateSite{"b"}}, limits,
			Options{Start: time.Unix(0, 0), StepMinutes: 60, Steps: 2, MaxRounds: rounds, RoundTimeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if ex, where := Check(res.CapsKW, limits); ex > 1e-9 {
			t.Errorf("max_rounds %d: excluded %v, caps %v break the limit: %s", rounds, res.Excluded, res.CapsKW, where)
		}
		if res.Converged {
			t.Errorf("max_rounds %d: converged with every site excluded", rounds)
		}
	}
}
