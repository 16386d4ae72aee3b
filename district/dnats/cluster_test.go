//go:build linux

package dnats

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/internal/natstest"
	"github.com/gridd/gridd/optimizer"
)

// openReplicated waits until the cluster has a JetStream meta leader and opens
// the district's bus with three replicas.
func openReplicated(t *testing.T, url, name string) *Bus {
	t.Helper()
	nc, err := Connect(url, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		bus, err := Open(ctx, nc, "cluster", 3)
		cancel()
		if err == nil {
			return bus
		}
		if time.Now().After(deadline) {
			t.Fatalf("district stream on the cluster: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestDistrictOnNATSCluster runs a district on a three-node cluster of Debian's
// nats-server on loopback, the sites as in-process site runners on connections of
// their own spread over the nodes. Mid-cycle one NATS node and one site die: the
// coordination finishes, the dead site is excluded and capped from its last known
// plan, every shared limit holds, the stream (three replicas) holds every message
// the coordinator published; both restart and the site rejoins the next cycle.
func TestDistrictOnNATSCluster(t *testing.T) {
	bin := natstest.Bin(t)
	oldHB, oldTTL := HeartbeatInterval, RegistrationTTL
	HeartbeatInterval, RegistrationTTL = 500*time.Millisecond, 3*time.Second
	t.Cleanup(func() { HeartbeatInterval, RegistrationTTL = oldHB, oldTTL })

	nodes, urls := natstest.StartCluster(t, bin)
	nodeURL := strings.Split(urls, ",")
	g, err := district.Generate(context.Background(), gridd.Files, district.GenParams{Sites: 6, Seed: 11, Steps: 24, StepMinutes: 60, EVs: 6, SitesPerTransformer: 3})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := g.Config("cluster")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Coordination.RoundTimeout.D = 5 * time.Second
	cfg.Coordination.MaxRounds = 12
	bus := openReplicated(t, urls, "coordinator")
	co := &Coordinator{Bus: bus, Config: cfg}

	var cycle atomic.Int64 // the coordinator's cycle, as the sites see it
	var killOnce sync.Once
	killed := make(chan struct{})
	type runner struct {
		cancel context.CancelFunc
		done   chan struct{}
		close  func()
	}
	runners := make([]*runner, len(g.IDs))
	var mu sync.Mutex
	caps := map[string]Caps{}
	startSite := func(i int, inst string) {
		// Each site prefers its own node and fails over to the others.
		order := append([]string{nodeURL[i%3]}, nodeURL...)
		nc, err := Connect(strings.Join(order, ","), inst)
		if err != nil {
			t.Fatal(err)
		}
		sb := &Bus{NC: nc, District: "cluster"}
		if sb.JS, err = jetstream.New(nc); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			sb.KV, err = sb.JS.KeyValue(ctx, BucketName("cluster"))
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("site %d: bucket: %v", i, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		scn := g.Scenarios[i]
		var calls atomic.Int64
		p := &Participant{Bus: sb, Site: g.IDs[i], Instance: inst,
			Scenario: func(ctx context.Context, start time.Time, steps int) (*optimizer.Scenario, error) {
				// Site 0 dies in its second round of cycle 2, and with it
				// NATS node 3.
				if i == 0 && cycle.Load() == 2 && calls.Add(1) == 2 {
					killOnce.Do(func() { close(killed) })
					<-ctx.Done()
					return nil, ctx.Err()
				}
				return scn, nil
			},
			Apply: func(_ context.Context, c Caps) error {
				mu.Lock()
				caps[c.Site] = c
				mu.Unlock()
				return nil
			}}
		ctx, cancel := context.WithCancel(context.Background())
		r := &runner{cancel: cancel, done: make(chan struct{}), close: nc.Close}
		go func() { _ = p.Run(ctx); close(r.done) }()
		runners[i] = r
		t.Cleanup(func() { cancel(); nc.Close(); <-r.done })
	}
	for i := range g.IDs {
		startSite(i, fmt.Sprintf("proc-%d-a", i))
	}
	waitRegistered(t, co, len(g.IDs))

	start := g.Scenarios[0].Start
	check := func(res *district.Result, what string) {
		t.Helper()
		if ex, where := district.Check(res.CapsKW, g.Limits); ex > 1e-9 {
			t.Fatalf("%s: caps break a shared limit: %s", what, where)
		}
	}
	// Cycle 1: everyone.
	cycle.Store(1)
	res1, err := co.RunOnce(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	if len(res1.Excluded) != 0 {
		t.Fatalf("cycle 1 excluded %v: %+v", res1.Excluded, res1.Events)
	}
	check(res1, "cycle 1")

	// Cycle 2: site 0 and node 3 die mid-cycle.
	cycle.Store(2)
	go func() {
		<-killed
		runners[0].close() // the site's process is gone: no goodbye
		nodes[2].Kill()
	}()
	res2, err := co.RunOnce(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	check(res2, "cycle 2")
	if len(res2.Excluded) != 1 || res2.Excluded[0] != g.IDs[0] {
		t.Fatalf("cycle 2 excluded %v, want %s; events %+v", res2.Excluded, g.IDs[0], res2.Events)
	}
	// Capped from its last known plan: no more than what it planned under
	// cycle 1's caps.
	for k, v := range res2.CapsKW[0] {
		if v > res1.CapsKW[0][k]+1e-6 {
			t.Errorf("dead site's cap at step %d: %v above its cycle-1 cap %v", k, v, res1.CapsKW[0][k])
		}
	}
	// Nothing published was lost: the replicated stream holds every message.
	counts := streamCounts(t, bus)
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != co.Published() || counts["result"] != 2 || counts["event"] < 1 {
		t.Errorf("stream holds %v (%d), the coordinator published %d", counts, total, co.Published())
	}

	// Both come back; the site registers again once its old entry expires.
	nodes[2].Start(t)
	runners[0].cancel()
	<-runners[0].done
	startSite(0, "proc-0-b")
	waitRegistered(t, co, len(g.IDs))
	deadline := time.Now().Add(15 * time.Second)
	for {
		regs, _ := co.Registered(context.Background())
		if regs[g.IDs[0]].Instance == "proc-0-b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted site did not register: %+v", regs[g.IDs[0]])
		}
		time.Sleep(200 * time.Millisecond)
	}
	cycle.Store(3)
	res3, err := co.RunOnce(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	check(res3, "cycle 3")
	if len(res3.Excluded) != 0 {
		t.Fatalf("cycle 3 (after the restart) excluded %v: %+v", res3.Excluded, res3.Events)
	}
	mu.Lock()
	defer mu.Unlock()
	if c := caps[g.IDs[0]]; c.Cycle != 3 {
		t.Errorf("restarted site holds caps of cycle %d, want 3", c.Cycle)
	}
}
