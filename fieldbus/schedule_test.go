package fieldbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// restart serves the image again on a stopped device's endpoint.
func restart(t *testing.T, srvs []*sim.Registers, devs []fieldbus.Device, i int, img []uint16) {
	t.Helper()
	var err error
	for range 50 { // the port may linger briefly after Stop
		if srvs[i], err = sim.ServeRegisters(devs[i].Endpoint, 1, 0, img, quiet); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("restart %s: %v", devs[i].Endpoint, err)
}

// TestPollDueIntervals checks that each device is read on its own interval, that a
// device killed mid-run is reported stale within two of its intervals while the
// others stay good, and that it recovers on its own once it answers again.
func TestPollDueIntervals(t *testing.T) {
	devs, _, _, srvs, img := imageDevices(t, 3)
	intervals := []time.Duration{time.Second, 2 * time.Second, time.Second}
	for i := range devs {
		devs[i].PollInterval = intervals[i]
		devs[i].Timeout.D = time.Second
	}
	const victim = 2
	clk := clock.NewSim(testStart)
	b := fieldbus.Breaker{Threshold: 2, Backoff: 3 * time.Second, MaxBackoff: 3 * time.Second}
	p := fieldbus.NewPoller(devs, clk, quiet, fieldbus.WithBreaker(b))
	defer p.Close()
	ctx := context.Background()
	const killAt, reviveAt, ticks = 3, 7, 16
	firstStale, recovered := -1, -1
	for tick := range ticks {
		switch tick {
		case killAt:
			srvs[victim].Stop()
		case reviveAt:
			restart(t, srvs, devs, victim, img)
		}
		got := map[string]fieldbus.Reading{}
		for _, r := range p.PollDue(ctx) {
			got[r.DeviceID] = r
		}
		for i, d := range devs {
			r, polled := got[d.ID]
			if want := tick%int(intervals[i]/time.Second) == 0; polled != want {
				t.Fatalf("tick %d: %s polled %v, want %v (interval %v)", tick, d.ID, polled, want, intervals[i])
			}
			if !polled {
				continue
			}
			if i != victim {
				if r.Stale || r.Err != nil {
					t.Fatalf("tick %d: %s affected by the dead device: %v", tick, d.ID, r.Err)
				}
				continue
			}
			switch {
			case tick < killAt && (r.Stale || r.Err != nil):
				t.Fatalf("tick %d: victim failed before it was killed: %v", tick, r.Err)
			case tick >= killAt && tick < reviveAt && !r.Stale:
				t.Fatalf("tick %d: dead victim not stale", tick)
			case r.Stale && firstStale < 0:
				firstStale = tick
			case tick >= reviveAt && !r.Stale && r.Err == nil && recovered < 0:
				recovered = tick
				if v, ok := r.Value("heartbeat"); !ok || v.Quality != fieldbus.Good {
					t.Fatalf("tick %d: recovered victim heartbeat %+v", tick, v)
				}
			}
			if r.Stale {
				if v, ok := r.Value("soc_pct"); !ok || v.Quality != fieldbus.Stale {
					t.Fatalf("tick %d: stale victim soc %+v, want the last good value marked stale", tick, v)
				}
			}
		}
		if next := p.NextDue(); !next.After(clk.Now()) {
			t.Fatalf("tick %d: next due %v not after now %v", tick, next, clk.Now())
		}
		clk.Advance(time.Second)
	}
	if firstStale < 0 || firstStale-killAt >= 2 {
		t.Errorf("victim killed at tick %d first stale at %d, want within 2 intervals", killAt, firstStale)
	}
	// The breaker may hold the revived device for one backoff (3 intervals).
	if recovered < 0 || recovered-reviveAt > 4 {
		t.Errorf("victim revived at tick %d recovered at %d, want within 4 intervals", reviveAt, recovered)
	}
}

// TestRetryReconnects restarts a device between polls: its pooled connection is dead,
// and one retry with a fresh connection reads it in the same poll. Without retries
// that poll is stale.
func TestRetryReconnects(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retry     fieldbus.Retry
		wantStale bool
	}{
		{"default retry", fieldbus.DefaultRetry(), false},
		{"no retry", fieldbus.Retry{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			devs, _, _, srvs, img := imageDevices(t, 1)
			p := fieldbus.NewPoller(devs, clock.NewSim(testStart), quiet, fieldbus.WithRetry(tc.retry), fieldbus.WithBreaker(fieldbus.Breaker{}))
			defer p.Close()
			ctx := context.Background()
			if r := p.Poll(ctx)[0]; r.Stale || r.Err != nil {
				t.Fatalf("first poll: %v", r.Err)
			}
			srvs[0].Stop()
			restart(t, srvs, devs, 0, img)
			r := p.Poll(ctx)[0]
			if r.Stale != tc.wantStale {
				t.Fatalf("poll after restart: stale %v (err %v), want %v", r.Stale, r.Err, tc.wantStale)
			}
			if r.Stale && errors.Is(r.Err, modbus.ErrTimeout) {
				t.Errorf("dead connection reported as a timeout: %v", r.Err)
			}
			if r := p.Poll(ctx)[0]; r.Stale || r.Err != nil {
				t.Fatalf("third poll: %v", r.Err)
			}
		})
	}
}

// TestPriorityOrder polls a slow device and a fast one with one worker and a context
// deadline shorter than the slow device's answer: the meter gets its values only if
// its priority puts it ahead of the slow pv.
func TestPriorityOrder(t *testing.T) {
	r := startRig(t, testSite(t))
	r.sim.SetSlowDelay(1200 * time.Millisecond)
	if err := r.sim.SetFault("pv", sim.FaultSlow); err != nil {
		t.Fatal(err)
	}
	var pv, meter fieldbus.Device
	for _, d := range r.devices {
		switch d.ID {
		case "pv":
			pv = d
			pv.Timeout.D = 5 * time.Second // the slow answer arrives; the deadline decides
		case "meter":
			meter = d
		}
	}
	for _, tc := range []struct {
		name              string
		pvPrio, meterPrio int
		wantMeter         bool
	}{
		{"meter first", 0, 10, true},
		{"pv first", 10, 0, false},
		{"equal: config order, pv first", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv.Priority, meter.Priority = tc.pvPrio, tc.meterPrio
			// pv is listed first: only its priority can move the meter ahead.
			p := fieldbus.NewPoller([]fieldbus.Device{pv, meter}, r.clk, quiet, fieldbus.WithWorkers(1), fieldbus.WithRetry(fieldbus.Retry{}))
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			got := byID(p.Poll(ctx))
			if len(got) != 2 {
				t.Fatalf("got %d readings", len(got))
			}
			if m := got["meter"]; m.Stale == tc.wantMeter {
				t.Fatalf("meter stale %v (err %v), want read %v", m.Stale, m.Err, tc.wantMeter)
			}
			if !got["pv"].Stale {
				t.Errorf("slow pv read inside a deadline shorter than its delay")
			}
		})
	}
}
