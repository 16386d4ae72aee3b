package dnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/optimizer"
)

// fleet is a generated district whose sites each run a Participant on a
// connection of their own.
type fleet struct {
	g      *district.Generated
	cfg    *district.Config
	url    string
	mu     sync.Mutex
	caps   map[string]Caps
	cancel map[string]context.CancelFunc
	done   map[string]chan error
}

func newFleet(t *testing.T, url string, p district.GenParams) *fleet {
	t.Helper()
	g, err := district.Generate(context.Background(), gridd.Files, p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := g.Config("test")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Coordination.RoundTimeout.D = 2 * time.Second
	cfg.Coordination.MaxRounds = 40
	cfg.Coordination.GapPct = 0.3
	return &fleet{g: g, cfg: cfg, url: url, caps: map[string]Caps{}, cancel: map[string]context.CancelFunc{}, done: map[string]chan error{}}
}

// start runs site i's participant under instance inst.
func (f *fleet) start(t *testing.T, i int, inst string, wrap func(*Participant)) {
	t.Helper()
	nc, err := Connect(f.url, "site-"+inst)
	if err != nil {
		t.Fatal(err)
	}
	bus, err := Open(context.Background(), nc, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	scn := f.g.Scenarios[i]
	id := f.g.IDs[i]
	p := &Participant{Bus: bus, Site: id, Instance: inst, ImportLimitKW: scn.Grid.ImportLimitKW, StepMinutes: scn.StepMinutes,
		Scenario: func(ctx context.Context, start time.Time, steps int) (*optimizer.Scenario, error) {
			if !start.Equal(scn.Start) || steps != scn.Steps {
				return nil, fmt.Errorf("no scenario for %s", start)
			}
			return scn, nil
		},
		Apply: func(ctx context.Context, c Caps) error {
			f.mu.Lock()
			f.caps[c.Site] = c
			f.mu.Unlock()
			return nil
		}}
	if wrap != nil {
		wrap(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx); nc.Close() }()
	f.mu.Lock()
	f.cancel[inst], f.done[inst] = cancel, done
	f.mu.Unlock()
	t.Cleanup(func() { cancel(); <-done })
}

func waitRegistered(t *testing.T, co *Coordinator, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		regs, err := co.Registered(context.Background())
		if err == nil && len(regs) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d sites registered", n)
}

func coordinator(t *testing.T, url string, cfg *district.Config) *Coordinator {
	t.Helper()
	nc, err := Connect(url, "coordinator")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := Open(context.Background(), nc, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	return &Coordinator{Bus: bus, Config: cfg, Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
}

// TestDistrictOverNATS: sites on their own connections answer the rounds
// over a real (embedded) NATS server, every site receives caps that keep
// the shared limits, and the rounds, result and events are on the stream.
func TestDistrictOverNATS(t *testing.T) {
	ns, url, err := Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	f := newFleet(t, url, district.GenParams{Sites: 6, Seed: 4, Steps: 24, StepMinutes: 60, EVs: 6, SitesPerTransformer: 3})
	co := coordinator(t, url, f.cfg)
	for i := range f.g.IDs {
		f.start(t, i, fmt.Sprintf("inst-%d", i), nil)
	}
	waitRegistered(t, co, len(f.g.IDs))
	start := f.g.Scenarios[0].Start
	t0 := time.Now()
	res, err := co.RunOnce(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rounds {
		t.Logf("round %d: %.0f ms gap %.2f", r.Round, r.DurationMS, r.GapPct)
	}
	t.Logf("coordination %s", time.Since(t0))
	if len(res.Excluded) != 0 {
		t.Fatalf("excluded %v; events %+v", res.Excluded, res.Events)
	}
	cen, err := district.Centralised(context.Background(), f.g.Scenarios, f.g.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if gap := (res.Cost - cen.Objective) / cen.Objective; gap > 0.01 || gap < -1e-6 {
		t.Errorf("coordinated %.3f vs centralised %.3f (%.3f %%)", res.Cost, cen.Objective, 100*gap)
	}
	f.mu.Lock()
	got := make([][]float64, len(f.g.IDs))
	for i, id := range f.g.IDs {
		got[i] = f.caps[id].CapKW
	}
	f.mu.Unlock()
	if ex, where := district.Check(got, f.g.Limits); ex > 1e-9 {
		t.Errorf("caps the sites received break a shared limit: %s", where)
	}
	for i, c := range got {
		if len(c) != f.g.Scenarios[i].Steps {
			t.Errorf("site %d received %d caps", i, len(c))
		}
	}
	// The stream holds every round, the result.
	counts := streamCounts(t, co.Bus)
	if counts["round"] != len(res.Rounds) || counts["result"] != 1 {
		t.Errorf("stream holds %v; want %d rounds and 1 result", counts, len(res.Rounds))
	}
}

func streamCounts(t *testing.T, b *Bus) map[string]int {
	t.Helper()
	// After a node went down the stream may still be electing a leader:
	// retry for a while.
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		out, err := readStream(b)
		if err == nil {
			return out
		}
		last = err
	}
	t.Fatalf("reading the district stream: %v", last)
	return nil
}

func readStream(b *Bus) (map[string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := b.JS.Stream(ctx, StreamName(b.District))
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			return nil, err
		}
		out[m.Subject[len(TelemetrySubject(b.District, "")):]]++
	}
	return out, nil
}

// TestDistrictBadSitesOverNATS: a site that does not answer in time, one
// that answers garbage and a second instance of a registered ID: the first
// two are excluded with an event on the stream and capped; the duplicate is
// refused and never answers; no shared limit is broken.
func TestDistrictBadSitesOverNATS(t *testing.T) {
	ns, url, err := Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	f := newFleet(t, url, district.GenParams{Sites: 5, Seed: 5, Steps: 24, StepMinutes: 60, EVs: 6, Tightness: 0.97})
	f.cfg.Coordination.RoundTimeout.D = 2 * time.Second
	co := coordinator(t, url, f.cfg)
	for i := range f.g.IDs {
		if i == 1 {
			continue // silent: served below by a raw subscriber that never answers in time
		}
		f.start(t, i, fmt.Sprintf("inst-%d", i), nil)
	}
	// Site 1 is registered but answers too late.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	slow, _ := nc.Subscribe(solveSubject("test", f.g.IDs[1]), func(m *nats.Msg) { time.Sleep(5 * time.Second) })
	defer func() { _ = slow.Unsubscribe() }()
	// Site 2 answers garbage after its first round.
	garbage, _ := nc.Subscribe(solveSubject("test", f.g.IDs[2]), func(m *nats.Msg) {
		var req district.Request
		_ = json.Unmarshal(m.Data, &req)
		if req.Round >= 1 {
			_ = m.Respond([]byte(`{"site": 7}`))
		}
	})
	defer func() { _ = garbage.Unsubscribe() }()
	// A duplicate of site 3 is refused.
	refused := make(chan error, 2)
	f.start(t, 3, "intruder", func(p *Participant) { p.OnRefused = func(err error) { refused <- err } })
	select {
	case err := <-refused:
		if !errors.Is(err, ErrDuplicate) {
			t.Fatalf("duplicate refused with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a second instance of a registered site id was not refused")
	}
	waitRegistered(t, co, len(f.g.IDs)-1)
	var events []district.Event
	co.OnResult = func(r *district.Result) { events = r.Events }
	res, err := co.RunOnce(context.Background(), f.g.Scenarios[0].Start)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]bool{}
	for _, e := range events {
		if kinds[e.Site] == nil {
			kinds[e.Site] = map[string]bool{}
		}
		kinds[e.Site][e.Kind] = true
	}
	if !kinds[f.g.IDs[1]][district.EventSiteTimeout] {
		t.Errorf("silent site: events %v", kinds)
	}
	if !kinds[f.g.IDs[2]][district.EventSiteGarbage] {
		t.Errorf("garbage site: events %v", kinds)
	}
	if len(res.Excluded) != 2 {
		t.Errorf("excluded %v, want the silent and the garbage site", res.Excluded)
	}
	if ex, where := district.Check(res.CapsKW, f.g.Limits); ex > 1e-9 {
		t.Errorf("caps break a shared limit: %s", where)
	}
	if counts := streamCounts(t, co.Bus); counts["event"] < 2 {
		t.Errorf("stream events %v, want the exclusions", counts)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestRedactCredentials: every URL's user information is hidden, in a list
// of servers and in the error a bad URL gives, and no server is dropped.
func TestRedactCredentials(t *testing.T) {
	for _, tc := range []struct{ urls, want string }{
		{"nats://alice:pw1@n1:4222,nats://bob:secret2@n2:4222", "nats://…@n1:4222,nats://…@n2:4222"},
		{"nats://n1:4222,nats://bob:secret2@n2:4222", "nats://n1:4222,nats://…@n2:4222"},
		{"tls://token@n1:4222", "tls://…@n1:4222"},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
	} {
		if got := Redact(tc.urls, tc.urls); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.urls, got, tc.want)
		}
	}
	url := "nats://alice:pw1@127.0.0.1:bad"
	_, err := Connect(url, "redact-test")
	if err == nil {
		t.Fatal("a bad port connected")
	}
	if strings.Contains(err.Error(), "pw1") || strings.Contains(err.Error(), "alice") {
		t.Errorf("connect error shows the credentials: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:bad") {
		t.Errorf("connect error does not name the server: %v", err)
	}
}
