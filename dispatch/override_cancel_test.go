package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
)

// TestCancelOverrideWritesThePlan: cancelling an override writes the approved plan's
// setpoint at once, not at the next cycle.
func TestCancelOverrideWritesThePlan(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: true}", "", 30, at8)
	res := r.cycle(t, at8)
	if res.Schedule.Status != storage.StatusApproved {
		t.Fatalf("test premise: schedule %s", res.Schedule.Status)
	}
	planned := math.NaN()
	for _, sp := range res.Schedule.Setpoints {
		if sp.DeviceID == "bess" && sp.Step == 0 {
			planned = sp.PowerKW
		}
	}
	if math.Abs(planned-(-20)) < 1 {
		t.Fatalf("test premise: plan already at the override value %v", planned)
	}
	r.clk.Set(at8.Add(time.Minute))
	o, _, err := r.svc.AddOverride(ctx, safety.Override{DeviceID: "bess", ValueKW: -20, Until: at8.Add(2 * time.Hour), Actor: "user:ann", Reason: "hold"})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := r.sm.State("bess"); math.Abs(st.SetpointKW-(-20)) > 0.1 {
		t.Fatalf("override not written: device at %v", st.SetpointKW)
	}
	r.clk.Set(at8.Add(2 * time.Minute))
	if err := r.svc.CancelOverride(ctx, o.ID, "user:ann", "done"); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.sm.State("bess"); math.Abs(st.SetpointKW-planned) > 0.1 {
		t.Fatalf("after the cancel the device is at %v kW, the plan says %v", st.SetpointKW, planned)
	}
}

// TestPauseTwiceKeepsTheFirstReason: a second pause does not replace who paused, why
// and since when; it is audited on its own.
func TestPauseTwiceKeepsTheFirstReason(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: true}", "", 30, at8)
	if err := r.svc.Pause(ctx, "user:ann", "storm warning"); err != nil {
		t.Fatal(err)
	}
	r.clk.Set(at8.Add(time.Minute))
	if err := r.svc.Pause(ctx, "user:bob", "testing"); err != nil {
		t.Fatal(err)
	}
	ks := r.svc.Envelope().KillSwitch()
	if !ks.Engaged || ks.By != "user:ann" || ks.Reason != "storm warning" || !ks.Since.Equal(at8) {
		t.Fatalf("kill switch %+v, want ann's storm warning since %v", ks, at8)
	}
	if n := len(r.audit(t, "safety.pause")); n != 1 {
		t.Errorf("%d safety.pause events, want 1", n)
	}
	again := r.audit(t, "safety.pause.again")
	if len(again) != 1 || again[0].Actor != "user:bob" {
		t.Errorf("second pause audited as %+v", again)
	}
}

// TestSupersedeKeepsTheApproval: approving schedule 2 supersedes schedule 1 without
// rewriting who approved schedule 1, why and when; the supersede is audited apart.
func TestSupersedeKeepsTheApproval(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: false}", "", 30, at8)
	first := r.cycle(t, at8).Schedule
	r.clk.Set(at8.Add(time.Minute))
	if _, err := r.svc.Approve(ctx, first.ID, "user:ann", "checked the morning plan"); err != nil {
		t.Fatal(err)
	}
	second := r.cycle(t, at8.Add(15*time.Minute)).Schedule
	r.clk.Set(at8.Add(16 * time.Minute))
	if _, err := r.svc.Approve(ctx, second.ID, "user:bob", "checked the update"); err != nil {
		t.Fatal(err)
	}
	got, err := r.st.GetSchedule(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != storage.StatusSuperseded || got.Approver != "user:ann" || got.Reason != "checked the morning plan" || !got.DecidedAt.Equal(at8.Add(time.Minute)) {
		t.Fatalf("schedule %d after the supersede: %s by %q (%q) at %v", first.ID, got.Status, got.Approver, got.Reason, got.DecidedAt)
	}
	sup := r.audit(t, "schedule.supersede")
	if len(sup) != 1 || sup[0].Subject != fmt.Sprintf("schedule:%d", first.ID) {
		t.Fatalf("supersede audit %+v", sup)
	}
}

// TestPinKeepsBatteryPlanned: a pinned battery is held at the pin over its steps and
// planned as usual after them (with its SoC carried through), not dropped from the
// plan for the rest of the horizon.
func TestPinKeepsBatteryPlanned(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: true}", "", 50, at8)
	r.cycle(t, at8)
	r.clk.Set(at8.Add(time.Minute))
	sc, err := r.svc.Pin(ctx, dispatch.Pin{DeviceID: "bess", PowerKW: 10, Until: at8.Add(time.Hour), Actor: "user:ann", Reason: "hold a slow charge"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.st.GetSchedule(ctx, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	power := map[int]float64{}
	for _, sp := range got.Setpoints {
		if sp.DeviceID == "bess" {
			if _, dup := power[sp.Step]; dup {
				t.Fatalf("two setpoints for bess at step %d", sp.Step)
			}
			power[sp.Step] = sp.PowerKW
		}
	}
	if len(power) != got.Steps {
		t.Fatalf("bess has %d setpoints for %d steps", len(power), got.Steps)
	}
	for k := 0; k < 4; k++ {
		if math.Abs(power[k]-10) > 1e-6 {
			t.Errorf("step %d: %v kW, want the pin's 10", k, power[k])
		}
	}
	moves := 0
	for k := 4; k < got.Steps; k++ {
		if math.Abs(power[k]) > 1 {
			moves++
		}
	}
	if moves == 0 {
		t.Error("the battery idles for the rest of the horizon after the pin: it was dropped from the plan")
	}
	var doc struct {
		Plan struct {
			Assets []struct{ ID string } `json:"assets"`
		} `json:"plan"`
	}
	if err := json.Unmarshal(got.Plan, &doc); err != nil {
		t.Fatal(err)
	}
	for _, a := range doc.Plan.Assets {
		if strings.HasPrefix(a.ID, "pin:") || strings.HasPrefix(a.ID, "pin-gen:") {
			t.Errorf("the plan models the pin as a separate series %s", a.ID)
		}
	}
}
