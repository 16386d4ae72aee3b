package dispatch_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// wfSite: power is cheap 08:00-09:00 and dear 17:00-20:00; BESS_EXTRA and APPROVAL are
// filled in per test.
const wfSite = `
site: {name: wf, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 24h}
tariff:
  import:
    - {from: "00:00", to: "08:00", price_per_kwh: 0.30}
    - {from: "08:00", to: "09:00", price_per_kwh: 0.05}
    - {from: "09:00", to: "17:00", price_per_kwh: 0.30}
    - {from: "17:00", to: "20:00", price_per_kwh: 0.60}
    - {from: "20:00", to: "24:00", price_per_kwh: 0.30}
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes:
  - {id: sub, parent: "", limit_kw: 500}
  - {id: f1, parent: sub, limit_kw: 400}
approval: APPROVAL
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:PORT1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: f1, endpoint: "127.0.0.1:PORT1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: f1
    endpoint: "127.0.0.1:PORT2"
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50, charge_efficiency: 0.9, discharge_efficiency: 0.9}
    sim: {initial_soc_pct: SOC}
    BESS_EXTRA
`

type rig struct {
	svc    *dispatch.Service
	st     storage.Store
	sm     *sim.Sim
	clk    *clock.Sim
	cfg    *site.Config
	poller *fieldbus.Poller
	writer *fieldbus.Writer
}

func newRig(t *testing.T, approval, bessExtra string, soc float64, start time.Time) *rig {
	t.Helper()
	p1, p2 := testsite.FreePort(t), testsite.FreePort(t)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(p1), "PORT2", strconv.Itoa(p2), "APPROVAL", approval,
		"BESS_EXTRA", bessExtra, "SOC", strconv.FormatFloat(soc, 'f', -1, 64)).Replace(wfSite)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := testsite.Start(t, "wf.yaml", yml, start, log)
	return &rig{s.Service, s.Store, s.Sim, s.Clock, s.Config, s.Poller, s.Writer}
}

func (r *rig) cycle(t *testing.T, at time.Time) *dispatch.CycleResult {
	t.Helper()
	r.clk.Set(at)
	res, err := r.svc.RunCycle(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (r *rig) audit(t *testing.T, action string) []storage.AuditEvent {
	t.Helper()
	all, err := r.st.ListAudit(context.Background(), storage.Epoch, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.AuditEvent
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func planned(sc *storage.Schedule, dev string, step int) float64 {
	for _, sp := range sc.Setpoints {
		if sp.DeviceID == dev && sp.Step == step {
			return sp.PowerKW
		}
	}
	return math.NaN()
}

var at8 = time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)

// TestEnvelopeClampsRamp: the plan exceeds a ramp limit; the written value is
// clamped, the write row keeps requested vs written, an audit event says why, and the
// device's register never holds a value outside the envelope. (The plan holds the
// reserve itself: TestPlanHoldsReserve.)
func TestEnvelopeClampsRamp(t *testing.T) {
	cases := []struct {
		name       string
		extra      string
		soc        float64
		start      time.Time
		wantSign   float64 // sign of the planned step-0 power
		wantKW     float64 // written
		wantReason string
	}{
		{"ramp", "safety: {ramp_kw_per_min: 2}", 30, at8, 1, 30, "ramp limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, "{auto: true}", tc.extra, tc.soc, tc.start)
			res := r.cycle(t, tc.start)
			if res.Schedule == nil || res.Schedule.Status != storage.StatusApproved {
				t.Fatalf("schedule not approved: %+v %s", res.Schedule, res.Run.Error)
			}
			p := planned(res.Schedule, "bess", 0)
			if p*tc.wantSign < 5 {
				t.Fatalf("test premise: plan step 0 for bess is %v kW", p)
			}
			var w *storage.SetpointWrite
			for i := range res.Writes {
				if res.Writes[i].DeviceID == "bess" {
					w = &res.Writes[i]
				}
			}
			if w == nil {
				t.Fatalf("no bess write: %+v", res.Writes)
			}
			if w.Status != storage.WriteOK || math.Abs(w.WrittenKW-tc.wantKW) > 0.051 || math.Abs(w.RequestedKW-p) > 0.051 {
				t.Fatalf("write %+v, want requested %.1f written %.1f", *w, p, tc.wantKW)
			}
			state, _ := r.sm.State("bess")
			if math.Abs(state.SetpointKW-tc.wantKW) > 0.051 {
				t.Fatalf("device setpoint %v, want the clamped %v", state.SetpointKW, tc.wantKW)
			}
			clamps := r.audit(t, "safety.clamp")
			if len(clamps) != 1 || clamps[0].Subject != "device:bess" || !strings.Contains(audit.Text(clamps[0].Detail), tc.wantReason) {
				t.Fatalf("clamp audit: %+v", clamps)
			}
			// Further cycles: never outside the envelope.
			for k := 1; k <= 3; k++ {
				res := r.cycle(t, tc.start.Add(time.Duration(k)*15*time.Minute))
				st, _ := r.sm.State("bess")
				for _, w := range res.Writes {
					if w.DeviceID != "bess" {
						continue
					}
					if w.WrittenKW > 30*float64(k+1)+0.051 {
						t.Errorf("cycle %d: wrote %v, beyond the ramp (SoC %.1f %%)", k, w.WrittenKW, st.SoCPct)
					}
				}
			}
		})
	}
}

func TestDeadlineExpiresAndSafeState(t *testing.T) {
	r := newRig(t, "{auto: false, deadline: 10m, safe_state: zero}", "", 50, at8)
	res := r.cycle(t, at8)
	if res.Schedule.Status != storage.StatusProposed {
		t.Fatalf("status %s", res.Schedule.Status)
	}
	// No approved schedule: the safe state writes zero.
	if len(res.Writes) != 1 || res.Writes[0].DeviceID != "bess" || res.Writes[0].WrittenKW != 0 || res.Writes[0].ScheduleID != 0 {
		t.Fatalf("safe-state writes %+v", res.Writes)
	}
	r.clk.Set(at8.Add(12 * time.Minute))
	_, err := r.svc.Approve(context.Background(), res.Schedule.ID, "user:ann", "late")
	if !errors.Is(err, dispatch.ErrExpired) {
		t.Fatalf("approve after the deadline: %v", err)
	}
	sc, _ := r.st.GetSchedule(context.Background(), res.Schedule.ID)
	if sc.Status != storage.StatusExpired {
		t.Fatalf("status after deadline %s", sc.Status)
	}
	if ev := r.audit(t, "schedule.expire"); len(ev) != 1 || ev[0].Subject != "schedule:1" {
		t.Fatalf("expire audit %+v", ev)
	}
	// The next cycle's proposal, approved in time, goes into force.
	res = r.cycle(t, at8.Add(15*time.Minute))
	r.clk.Set(at8.Add(20 * time.Minute))
	writes, err := r.svc.Approve(context.Background(), res.Schedule.ID, "user:ann", "ok")
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != 1 || writes[0].ScheduleID != res.Schedule.ID {
		t.Fatalf("writes after approval %+v", writes)
	}
	if ev := r.audit(t, "schedule.approve"); len(ev) != 1 || ev[0].Actor != "user:ann" || audit.Text(ev[0].Detail) != "ok" {
		t.Fatalf("approve audit %+v", ev)
	}
}

func TestAutoApproveBounds(t *testing.T) {
	// The second proposal is compared with the first (approved); a 0.001 kW bound on the
	// setpoint change holds it back as soon as anything moves.
	r := newRig(t, "{auto: true, max_setpoint_change_kw: 0.001}", "", 30, at8.Add(-30*time.Minute))
	res1 := r.cycle(t, at8.Add(-30*time.Minute))
	if res1.Schedule.Status != storage.StatusApproved {
		t.Fatalf("first schedule %s (nothing to compare with, must pass)", res1.Schedule.Status)
	}
	// Pin the battery: the new plan differs by tens of kW.
	sc, err := r.svc.Pin(context.Background(), dispatch.Pin{DeviceID: "bess", PowerKW: -20, Until: at8.Add(30 * time.Minute), Actor: "user:ann", Reason: "test discharge"})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != storage.StatusProposed {
		t.Fatalf("pinned schedule %s, want held for a person", sc.Status)
	}
	if got := planned(sc, "bess", 0); got != -20 {
		t.Errorf("pinned step 0 = %v", got)
	}
	if got := planned(sc, "bess", 4); got < 1 {
		t.Errorf("after the pin = %v, want the battery planned again (charging in the cheap hour)", got)
	}
	holds := r.audit(t, "schedule.hold")
	if len(holds) != 1 || !strings.Contains(audit.Text(holds[0].Detail), "setpoint of bess at 08:") {
		t.Fatalf("hold audit %+v", holds)
	}
	if pins := r.audit(t, "schedule.pin"); len(pins) != 1 || pins[0].Actor != "user:ann" {
		t.Fatalf("pin audit %+v", pins)
	}
	ex, err := r.svc.Explain(context.Background(), sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Previous != res1.Schedule.ID || ex.Policy == nil || ex.Policy.Approve {
		t.Fatalf("explanation previous %d policy %+v", ex.Previous, ex.Policy)
	}
	if len(ex.Reasons) == 0 || !strings.Contains(ex.Reasons[0].Text, "pinned at -20 kW by user:ann") {
		t.Fatalf("reasons %+v", ex.Reasons)
	}
	if len(ex.Diff) != 1 || ex.Diff[0].MaxChangeKW < 1 {
		t.Fatalf("diff %+v", ex.Diff)
	}
	if _, err := r.svc.Pin(context.Background(), dispatch.Pin{DeviceID: "bess", PowerKW: 500, Until: at8.Add(time.Hour), Actor: "a", Reason: "x"}); !errors.Is(err, dispatch.ErrInvalid) || !strings.Contains(err.Error(), "power_kw") {
		t.Errorf("pin beyond rating: %v", err)
	}
	if _, err := r.svc.Pin(context.Background(), dispatch.Pin{DeviceID: "meter", PowerKW: 1, Until: at8.Add(time.Hour), Actor: "a", Reason: "x"}); !errors.Is(err, dispatch.ErrInvalid) || !strings.Contains(err.Error(), "device_id") {
		t.Errorf("pin a meter: %v", err)
	}
}

func TestExplainReasons(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 30, at8)
	res := r.cycle(t, at8)
	ex, err := r.svc.Explain(context.Background(), res.Schedule.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Steps) != 96 || ex.Steps[0].ImportPrice != 0.05 || len(ex.Steps[0].NodePrices) == 0 {
		t.Fatalf("steps: %d, first %+v", len(ex.Steps), ex.Steps[0])
	}
	want := "bess charges 50 kW: price 0.05 now vs 0.60 at 17:00 +00:00"
	if ex.Reasons[0].DeviceID != "bess" || !strings.HasPrefix(ex.Reasons[0].Text, want) {
		t.Fatalf("reason %q, want prefix %q", ex.Reasons[0].Text, want)
	}
	near := func(v any, want float64) bool { f, ok := v.(float64); return ok && math.Abs(f-want) < 1e-4 }
	a := ex.Reasons[0].Args
	if ex.Reasons[0].Key != "bess.charge" || !near(a["kw"], 50) || !near(a["then"], 0.60) || !near(a["now"], 0.05) || !a["at"].(time.Time).Equal(time.Date(2019, 6, 3, 17, 0, 0, 0, time.UTC)) {
		t.Fatalf("reason key %q args %v", ex.Reasons[0].Key, a)
	}
	if len(ex.Cost) != 7 || ex.Cost[6].Term != "total" || ex.Cost[6].This != res.Schedule.Objective || ex.Cost[6].Previous != nil {
		t.Fatalf("cost %+v", ex.Cost)
	}
}

func TestKillSwitchAndComms(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: true}", "safety: {comms_loss: zero}", 30, at8)
	if err := r.svc.Pause(ctx, "user:ann", "storm"); err != nil {
		t.Fatal(err)
	}
	res := r.cycle(t, at8)
	if res.Schedule.Status != storage.StatusProposed || len(res.Writes) != 0 {
		t.Fatalf("paused: schedule %s, writes %+v", res.Schedule.Status, res.Writes)
	}
	r.clk.Set(at8.Add(time.Minute))
	if _, err := r.svc.Approve(ctx, res.Schedule.ID, "user:ann", "manual"); err != nil {
		t.Fatal(err)
	}
	if ws, _ := r.st.ListSetpointWrites(ctx, 0); len(ws) != 0 {
		t.Fatalf("written while paused: %+v", ws)
	}
	ws, err := r.svc.Resume(ctx, "user:ann", "clear")
	if err != nil || len(ws) != 1 || ws[0].WrittenKW < 49 {
		t.Fatalf("resume writes %+v %v", ws, err)
	}
	// The battery stops answering: suspect, then lost; the zero action is attempted (and
	// fails, the device does not answer) and recorded.
	if err := r.sm.SetFault("bess", sim.FaultException); err != nil {
		t.Fatal(err)
	}
	r.cycle(t, at8.Add(15*time.Minute))
	res = r.cycle(t, at8.Add(30*time.Minute))
	var zero *storage.SetpointWrite
	for i := range res.Writes {
		if res.Writes[i].DeviceID == "bess" {
			zero = &res.Writes[i]
		}
	}
	if zero == nil || zero.RequestedKW != 0 || zero.Status != storage.WriteFailed || zero.ScheduleID != 0 {
		t.Fatalf("comms-loss write %+v; comms audit %+v", res.Writes, r.audit(t, "device.comms"))
	}
	ev := r.audit(t, "device.comms")
	if len(ev) != 2 || !strings.Contains(audit.Text(ev[1].Detail), "suspect → lost") {
		t.Fatalf("comms audit %+v", ev)
	}
	r.sm.SetFault("bess", sim.FaultNone)
	r.cycle(t, at8.Add(45*time.Minute))
	if got := r.svc.Envelope().Comms("bess"); got != "online" {
		t.Fatalf("after recovery: %s", got)
	}
	rep, err := audit.Verify(ctx, r.st)
	if err != nil || !rep.OK() || rep.Legacy != 0 {
		t.Fatalf("audit chain: %+v %v", rep, err)
	}
}

func TestRestoreStateAfterRestart(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: true}", "", 50, at8)
	r.cycle(t, at8)
	if err := r.svc.Pause(ctx, "user:ann", "maintenance on feeder f1"); err != nil {
		t.Fatal(err)
	}
	keep, _, err := r.svc.AddOverride(ctx, safety.Override{DeviceID: "bess", ValueKW: 10, Until: at8.Add(2 * time.Hour), Actor: "user:ann", Reason: "hold 10 kW"})
	if err != nil {
		t.Fatal(err)
	}
	gone, _, err := r.svc.AddOverride(ctx, safety.Override{DeviceID: "bess", ValueKW: 5, Until: at8.Add(3 * time.Hour), Actor: "user:ann", Reason: "cancelled later"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.CancelOverride(ctx, gone.ID, "user:ann", "not needed"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Pin(ctx, dispatch.Pin{DeviceID: "bess", PowerKW: 10, Until: at8.Add(time.Hour), Actor: "user:ann", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                  string
		at                    time.Time
		wantOverride, wantPin bool
	}{
		{"within the leases", at8.Add(30 * time.Minute), true, true},
		{"pin expired", at8.Add(90 * time.Minute), true, false},
		{"all expired", at8.Add(3 * time.Hour), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewSim(tc.at)
			svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			if svc.Envelope().KillSwitch().Engaged {
				t.Fatal("a fresh service starts paused without restoring")
			}
			sum, err := svc.RestoreState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ks := svc.Envelope().KillSwitch()
			if !ks.Engaged || ks.By != "user:ann" || ks.Reason != "maintenance on feeder f1" {
				t.Fatalf("kill switch not restored: %+v (%s)", ks, sum)
			}
			ovs := svc.Envelope().Overrides()
			if tc.wantOverride != (len(ovs) == 1) || (tc.wantOverride && (ovs[0].ID != keep.ID || ovs[0].ValueKW != 10)) {
				t.Fatalf("overrides %+v, want kept %v (%s)", ovs, tc.wantOverride, sum)
			}
			if pins := svc.Pins(); tc.wantPin != (len(pins) == 1) {
				t.Fatalf("pins %+v (%s)", pins, sum)
			}
		})
	}
}
