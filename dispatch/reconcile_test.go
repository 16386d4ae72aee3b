package dispatch_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// TestRestoreRecoversUnauditedChanges: a crash between storing a schedule change and
// auditing it leaves a gap; the restart's RestoreState appends the missing events.
func TestRestoreRecoversUnauditedChanges(t *testing.T) {
	start := time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)
	r := newRig(t, "{auto: false}", "", 30, start)
	ctx := context.Background()
	// Store a schedule and approve it behind the service's back, as a crash would leave it.
	sc := &storage.Schedule{CreatedAt: start, Start: start, StepMinutes: 15, Steps: 4, Status: storage.StatusProposed,
		InputHash: "x", SolverStatus: "optimal"}
	id, err := r.st.InsertSchedule(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.SetScheduleStatus(ctx, id, storage.StatusProposed, storage.StatusApproved, "user:ann", "looks fine", start.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	count := func(action string) int {
		list, err := r.st.ListAudit(ctx, storage.Epoch, storage.End, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range list {
			if e.Action == action && e.Subject == "schedule:"+strconv.FormatInt(id, 10) {
				n++
			}
		}
		return n
	}
	if count("schedule.propose") != 0 || count("schedule.approve") != 0 {
		t.Fatal("events exist before the restore")
	}
	if _, err := r.svc.RestoreState(ctx); err != nil {
		t.Fatal(err)
	}
	if count("schedule.propose") != 1 || count("schedule.approve") != 1 {
		t.Fatalf("after restore: %d propose, %d approve events; want 1 each", count("schedule.propose"), count("schedule.approve"))
	}
	// A second restore finds nothing missing.
	if _, err := r.svc.RestoreState(ctx); err != nil {
		t.Fatal(err)
	}
	if count("schedule.propose") != 1 || count("schedule.approve") != 1 {
		t.Fatal("a second restore appended the events again")
	}
	list, _ := r.st.ListAudit(ctx, storage.Epoch, storage.End, 0)
	for _, e := range list {
		if e.Action == "schedule.approve" && e.Actor != "user:ann" {
			t.Errorf("recovered approval names actor %q, want the schedule's approver user:ann", e.Actor)
		}
	}
}

// TestScenarioHonoursSafetyRange: a safety range narrower than the ratings reaches the
// optimiser, so the plan never relies on power the safety layer would clamp away.
func TestScenarioHonoursSafetyRange(t *testing.T) {
	start := time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)
	r := newRig(t, "{auto: false}", "safety: {min_kw: -10, max_kw: 20}", 30, start)
	ctx := context.Background()
	res, err := r.svc.RunCycle(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Schedule == nil {
		t.Fatalf("no schedule: %s", res.Run.Error)
	}
	for _, sp := range res.Schedule.Setpoints {
		if sp.DeviceID == "bess" && (sp.PowerKW > 20+1e-6 || sp.PowerKW < -10-1e-6) {
			t.Fatalf("plan step %d has bess at %v kW, outside the safety range [-10, 20]", sp.Step, sp.PowerKW)
		}
	}
	var first float64
	for _, sp := range res.Schedule.Setpoints {
		if sp.DeviceID == "bess" && sp.Step == 0 {
			first = sp.PowerKW
		}
	}
	if first < 19.9 {
		t.Errorf("bess plans %v kW in the cheap hour, want the 20 kW safety maximum", first)
	}
}

// TestInfeasibleProposesLeastViolatingPlan: the building draws more than its feeder's
// 400 kW limit (2019-11-25 11:00, about 488 kW) and the battery cannot cover it for the
// whole horizon; the cycle still proposes a plan (the least-violating one, violations
// listed), and the auto-approve policy holds it for a dispatcher.
func TestInfeasibleProposesLeastViolatingPlan(t *testing.T) {
	start := time.Date(2019, 11, 25, 11, 0, 0, 0, time.UTC)
	r := newRig(t, "{auto: true}", "", 50, start)
	res, err := r.svc.RunCycle(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Schedule == nil {
		t.Fatalf("no schedule proposed for an infeasible scenario: %s", res.Run.Error)
	}
	if res.Schedule.SolverStatus != "relaxed" {
		t.Fatalf("solver status %q, want relaxed", res.Schedule.SolverStatus)
	}
	if res.Schedule.Status != storage.StatusProposed {
		t.Errorf("a plan that violates limits was %s without a person", res.Schedule.Status)
	}
	if len(r.audit(t, "schedule.infeasible")) == 0 {
		t.Error("the infeasibility is not in the audit log")
	}
}

// TestPeakSoFarFromRootMeter: with a demand charge, the scenario starts from the month's
// measured import peak, so the optimiser prices only a new peak.
func TestPeakSoFarFromRootMeter(t *testing.T) {
	start := time.Date(2019, 6, 12, 8, 0, 0, 0, time.UTC)
	r := newRig(t, "{auto: false}", "", 50, start)
	r.cfg.Tariff.DemandChargePerKW = 10
	ctx := context.Background()
	samples := []storage.Sample{
		{Time: time.Date(2019, 5, 30, 12, 0, 0, 0, time.UTC), DeviceID: "meter", Point: "active_power_kw", Value: 900, Quality: storage.QualityGood}, // last month
		{Time: time.Date(2019, 6, 3, 12, 0, 0, 0, time.UTC), DeviceID: "meter", Point: "active_power_kw", Value: 310, Quality: storage.QualityGood},
		{Time: time.Date(2019, 6, 5, 12, 0, 0, 0, time.UTC), DeviceID: "meter", Point: "active_power_kw", Value: 500, Quality: storage.QualityStale},
		{Time: time.Date(2019, 6, 11, 12, 0, 0, 0, time.UTC), DeviceID: "meter", Point: "active_power_kw", Value: 250, Quality: storage.QualityGood},
	}
	if err := r.st.WriteTelemetry(ctx, samples); err != nil {
		t.Fatal(err)
	}
	scn, err := r.svc.BuildScenario(ctx, start, r.poller.Poll(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if scn.Grid.PeakSoFarKW != 310 {
		t.Errorf("peak so far %v kW, want 310 (this month's good readings only)", scn.Grid.PeakSoFarKW)
	}
	if scn.Grid.DemandChargePerKW != 10 {
		t.Errorf("demand charge %v, want 10", scn.Grid.DemandChargePerKW)
	}
}
