package dispatch_test

import (
	"context"
	"testing"
	"time"
)

// TestSubscribeLive: every tick of the real-time layer and every cycle sends what it
// read to the live subscribers; the snapshot holds the last values.
func TestSubscribeLive(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 30, at8)
	ch, stop := r.svc.SubscribeLive(4)
	r.cycle(t, at8)
	got := func(source string) {
		t.Helper()
		select {
		case u := <-ch:
			if u.Source != source || !u.At.Equal(r.clk.Now()) {
				t.Fatalf("update from %q at %v, want %q at %v", u.Source, u.At, source, r.clk.Now())
			}
			found := false
			for _, v := range u.Values {
				found = found || (v.DeviceID == "bess" && v.Point == "soc_pct" && v.Quality == "good" && v.Value > 0)
			}
			if !found {
				t.Fatalf("%s update without the battery's SoC: %+v", source, u.Values)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s update", source)
		}
	}
	got("cycle")
	r.clk.Set(at8.Add(2 * time.Second))
	if _, err := r.svc.ControlTick(context.Background(), r.clk.Now(), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	got("tick")
	snap := r.svc.LiveSnapshot()
	if snap.At.IsZero() || len(snap.Values) == 0 {
		t.Fatalf("snapshot %+v", snap)
	}
	stop()
	if _, ok := <-ch; ok {
		t.Fatal("channel open after stop")
	}
}
