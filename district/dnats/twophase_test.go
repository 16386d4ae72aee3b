package dnats

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/district"
)

// wantSite wants a fixed import per cycle and may refuse caps in a cycle.
type wantSite struct {
	id     string
	want   func(cycle int64) float64
	refuse int64 // the cycle whose caps it fails to put in force
	mu     sync.Mutex
	caps   map[int64][]Caps
}

func (s *wantSite) ID() string { return s.id }

func (s *wantSite) Solve(_ context.Context, r district.Request) (district.Reply, error) {
	w := s.want(r.Cycle)
	imp := make([]float64, r.Steps)
	for t := range imp {
		imp[t] = w
	}
	rep := district.Reply{Site: s.id, Cycle: r.Cycle, Round: r.Round}
	if r.PricePerKWh != nil {
		rep.Priced = &district.Answer{ImportKW: imp, Feasible: true}
	}
	if r.CapKW != nil {
		c := make([]float64, r.Steps)
		ok := true
		for t := range c {
			c[t] = min(w, r.CapKW[t])
			ok = ok && w <= r.CapKW[t]+1e-9
		}
		rep.Capped = &district.Answer{ImportKW: c, Feasible: ok}
	}
	return rep, nil
}

func (s *wantSite) ApplyCaps(_ context.Context, c Caps) error {
	if c.Cycle == s.refuse {
		return errors.New("link down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caps[c.Cycle] = append(s.caps[c.Cycle], c)
	return nil
}

// TestCapsInTwoPhases: from cycle 1 (a 80 kW, b 20 kW under a 100 kW
// transformer) to cycle 2 (a 20, b 80), a's cut is not put in force: a may
// still hold 80 kW, so b's raise is held back to what the limit leaves,
// and b never holds more than 20 kW while a may hold 80.
func TestCapsInTwoPhases(t *testing.T) {
	url, cfg := twoSiteDistrict(t)
	a := &wantSite{id: "a", want: func(c int64) float64 { return map[int64]float64{1: 80, 2: 20}[c] }, refuse: 2, caps: map[int64][]Caps{}}
	b := &wantSite{id: "b", want: func(c int64) float64 { return map[int64]float64{1: 20, 2: 80}[c] }, caps: map[int64][]Caps{}}
	co, start := firstCycle(t, url, cfg, a, b)
	if got := a.caps[1]; len(got) == 0 || got[len(got)-1].CapKW[0] < 80-1e-6 {
		t.Fatalf("cycle 1: a's caps %v, want 80 kW", got)
	}
	res, err := co.RunOnce(context.Background(), start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.caps[2]) == 0 {
		t.Fatal("cycle 2: b got no caps")
	}
	for _, c := range b.caps[2] {
		for t2, v := range c.CapKW {
			if v > 20+1e-6 {
				t.Errorf("cycle 2: b was sent %g kW at step %d while a may still hold 80 kW", v, t2)
			}
		}
	}
	// The result shows what each site may hold, and it keeps the limit.
	if ex, where := district.Check(res.CapsKW, cfg.Limits(res.Start)); ex > 1e-6 {
		t.Errorf("caps the sites may hold break the limit: %s", where)
	}
}

// silentSite never answers a round (a site cut off but alive).
type silentSite struct{ wantSite }

func (s *silentSite) Solve(ctx context.Context, _ district.Request) (district.Reply, error) {
	<-ctx.Done()
	return district.Reply{}, ctx.Err()
}

// TestRestartedCoordinatorKnowsHeldCaps: a coordinator that restarts reads
// each site's last caps back from the stream, so a site that no longer
// answers (but may still follow its 80 kW caps) is reserved them, and the
// other site's raise waits; cycles are numbered on.
func TestRestartedCoordinatorKnowsHeldCaps(t *testing.T) {
	url, cfg := twoSiteDistrict(t)
	a := &wantSite{id: "a", want: func(int64) float64 { return 80 }, caps: map[int64][]Caps{}}
	b := &wantSite{id: "b", want: func(c int64) float64 { return map[int64]float64{1: 20, 2: 80}[c] }, caps: map[int64][]Caps{}}
	_, start := firstCycle(t, url, cfg, a, b)
	// A new coordinator on the same district; a no longer answers.
	co2 := coordinator(t, url, cfg)
	co2.Log = slog.New(slog.DiscardHandler)
	co2.Sites = map[string]district.Site{"a": &silentSite{wantSite{id: "a", caps: map[int64][]Caps{}}}, "b": b}
	res, err := co2.RunOnce(context.Background(), start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Excluded) != 1 || res.Excluded[0] != "a" {
		t.Fatalf("excluded %v, want [a]", res.Excluded)
	}
	for t2, v := range res.CapsKW[0] {
		if v < 80-1e-6 {
			t.Errorf("step %d: a reserved %g kW, below the 80 kW caps it may still follow", t2, v)
		}
	}
	for cyc, cs := range b.caps {
		if cyc != 2 {
			continue
		}
		for _, c := range cs {
			for t2, v := range c.CapKW {
				if v > 20+1e-6 {
					t.Errorf("cycle %d: b was sent %g kW at step %d while a may hold 80 kW", cyc, v, t2)
				}
			}
		}
	}
	if len(b.caps[2]) == 0 {
		t.Errorf("b got no caps numbered cycle 2 from the restarted coordinator (cycles %v)", keys(b.caps))
	}
}

func keys(m map[int64][]Caps) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestOneCoordinatorPerDistrict: a second coordinator on a district whose
// coordinator is alive is refused, and runs no cycle; once the first stops,
// its claim is gone and the second takes the district. Registrations list
// sites only.
func TestOneCoordinatorPerDistrict(t *testing.T) {
	url, cfg := twoSiteDistrict(t)
	want := func(int64) float64 { return 40 }
	sites := map[string]district.Site{"a": &wantSite{id: "a", want: want, caps: map[int64][]Caps{}}, "b": &wantSite{id: "b", want: want, caps: map[int64][]Caps{}}}
	co1, co2 := coordinator(t, url, cfg), coordinator(t, url, cfg)
	co1.Sites, co2.Sites = sites, sites
	ctx1, stop1 := context.WithCancel(context.Background())
	defer stop1()
	if err := co1.Claim(ctx1, "first"); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	err := co2.Claim(context.Background(), "second")
	if !errors.Is(err, ErrOtherCoordinator) {
		t.Fatalf("second claim while the first is alive: %v, want ErrOtherCoordinator", err)
	}
	start := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
	if _, err := co2.RunOnce(context.Background(), start); !errors.Is(err, ErrOtherCoordinator) {
		t.Fatalf("the refused coordinator ran a cycle: %v", err)
	}
	if _, err := co1.RunOnce(context.Background(), start); err != nil {
		t.Fatalf("the holder's cycle: %v", err)
	}
	if regs, err := co1.Registered(context.Background()); err != nil || len(regs) != 0 {
		t.Errorf("registrations %v (%v): the coordinator's claim is not a site", regs, err)
	}
	stop1() // the first stops: its claim is deleted
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err = co2.Claim(ctx2, "second"); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("second claim after the first stopped: %v", err)
	}
	if _, err := co2.RunOnce(context.Background(), start.Add(time.Hour)); err != nil {
		t.Fatalf("the new holder's cycle: %v", err)
	}
}

// twoSiteDistrict starts an embedded NATS server and returns its URL and a
// district of sites a and b below one 100 kW transformer, two hourly steps.
func twoSiteDistrict(t *testing.T) (string, *district.Config) {
	t.Helper()
	ns, url, err := Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	cfg, err := district.Parse("two.yaml", []byte(`
district: {id: test, time_zone: UTC, step_minutes: 60, horizon_steps: 2}
sites: [{id: a, remote: true}, {id: b, remote: true}]
nodes: [{id: tx, limit_kw: 100, sites: [a, b]}]
coordination: {cycle: 1h, time_budget: 10s, round_timeout: 1s, max_rounds: 2, gap_pct: 0.5}
`))
	if err != nil {
		t.Fatal(err)
	}
	return url, cfg
}

// firstCycle runs a quiet coordinator's first cycle, at 2019-06-03 00:00 UTC, over
// sites a and b, and returns it and the cycle's start.
func firstCycle(t *testing.T, url string, cfg *district.Config, a, b district.Site) (*Coordinator, time.Time) {
	t.Helper()
	co := coordinator(t, url, cfg)
	co.Log = slog.New(slog.DiscardHandler)
	co.Sites = map[string]district.Site{"a": a, "b": b}
	start := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
	if _, err := co.RunOnce(context.Background(), start); err != nil {
		t.Fatal(err)
	}
	return co, start
}
