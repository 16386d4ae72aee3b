package fieldbus_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// TestCircuitBreaker kills a device mid-run: it is stale from the first failed poll,
// skipped once the breaker opens, tried again after the backoff and recovers on its
// own once it answers.
func TestCircuitBreaker(t *testing.T) {
	r := startRig(t, testSite(t))
	b := fieldbus.Breaker{Threshold: 2, Backoff: 10 * time.Second, MaxBackoff: 30 * time.Second}
	p := fieldbus.NewPoller(r.devices, r.clk, quiet, fieldbus.WithBreaker(b))
	defer p.Close()
	ctx := context.Background()
	interval := 5 * time.Second
	timeout := r.devices[3].Timeout.D
	poll := func() fieldbus.Reading {
		r.clk.Advance(interval)
		return byID(p.Poll(ctx))["pv"]
	}
	if pv := poll(); pv.Stale {
		t.Fatalf("pv stale before the fault: %v", pv.Err)
	}
	r.sim.SetFault("pv", sim.FaultNoAnswer)
	steps := []struct {
		name      string
		advance   time.Duration
		wantStale bool
		wantOpen  bool // skipped without I/O
	}{
		{"first failed poll is stale", 0, true, false},
		{"second failure opens the breaker", 0, true, false},
		{"skipped while open", 0, true, true},
		{"tried again after the backoff", b.Backoff, true, false},
		{"backoff doubled", b.Backoff, true, true},
		{"tried after the doubled backoff", b.Backoff, true, false},
	}
	for _, s := range steps {
		r.clk.Advance(s.advance)
		pv := poll()
		if pv.Stale != s.wantStale || errors.Is(pv.Err, fieldbus.ErrCircuitOpen) != s.wantOpen {
			t.Fatalf("%s: stale=%v err=%v", s.name, pv.Stale, pv.Err)
		}
		if s.wantOpen && pv.Latency != 0 {
			t.Errorf("%s: skipped device has latency %v", s.name, pv.Latency)
		}
		if !s.wantOpen && pv.Latency < timeout {
			t.Errorf("%s: latency %v, want a real attempt bounded by the %v timeout", s.name, pv.Latency, timeout)
		}
		if v, ok := pv.Value("active_power_kw"); !ok || v.Quality != fieldbus.Stale {
			t.Errorf("%s: power %+v, want the last good value marked stale", s.name, v)
		}
	}
	r.sim.SetFault("pv", sim.FaultNone)
	if pv := poll(); !errors.Is(pv.Err, fieldbus.ErrCircuitOpen) {
		t.Fatalf("breaker closed before its backoff ran out: %v", pv.Err)
	}
	r.clk.Advance(2 * b.Backoff)
	if pv := poll(); pv.Stale || pv.Err != nil {
		t.Fatalf("pv did not recover: %v", pv.Err)
	}
	if pv := poll(); pv.Stale || pv.Err != nil {
		t.Fatalf("pv not polled normally after recovery: %v", pv.Err)
	}
}

// TestFaultsKeepOthersFast compares the other devices' median poll latency with one
// device dead, one slow and one answering exceptions against a fault-free run.
func TestFaultsKeepOthersFast(t *testing.T) {
	r := startRig(t, testSite(t))
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	ctx := context.Background()
	faulty := map[string]sim.Fault{"pv": sim.FaultNoAnswer, "load": sim.FaultSlow, "bess": sim.FaultException}
	const rounds = 15
	measure := func() map[string]time.Duration {
		lat := map[string][]time.Duration{}
		for range rounds {
			r.clk.Advance(time.Second)
			for _, rd := range p.Poll(ctx) {
				if _, bad := faulty[rd.DeviceID]; !bad {
					if rd.Stale || rd.Err != nil {
						t.Fatalf("%s: %v", rd.DeviceID, rd.Err)
					}
					lat[rd.DeviceID] = append(lat[rd.DeviceID], rd.Latency)
				}
			}
		}
		med := map[string]time.Duration{}
		for id, ls := range lat {
			slices.Sort(ls)
			med[id] = ls[len(ls)/2]
		}
		return med
	}
	p.Poll(ctx) // connect
	normal := measure()
	r.sim.SetSlowDelay(100 * time.Millisecond)
	for id, f := range faulty {
		r.sim.SetFault(id, f)
	}
	faulted := measure()
	// Loopback round trips take tens of microseconds; 10% of that is below the
	// scheduler's noise on a loaded machine, so allow at least 1 ms.
	for id, n := range normal {
		allowed := max(n+n/10, n+time.Millisecond)
		if f := faulted[id]; f > allowed {
			t.Errorf("%s: median latency %v with faulty neighbours, %v without (allowed %v)", id, f, n, allowed)
		}
	}
	if len(normal) != len(r.devices)-len(faulty) {
		t.Fatalf("measured %d devices", len(normal))
	}
}
