package dispatch_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

// forgeAuditRow inserts an audit row behind the store's back, as someone with write
// access to the database file can while gridd is stopped.
func forgeAuditRow(t *testing.T, st storage.Store, id int64, at time.Time, action, detail string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+st.(*sqlite.Store).Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var q string
	args := []any{at.UnixMicro(), "user:mallory", action, "device:bess", detail}
	if id == 0 {
		q = `INSERT INTO audit_events (time_us, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)`
	} else {
		q = `INSERT INTO audit_events (id, time_us, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?, ?)`
		args = append([]any{id}, args...)
	}
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}

// TestRestoreRefusesForgedAuditEvents: an override inserted into the audit log while
// gridd is stopped — dated past any range query, given an ID the store never assigns,
// or appended with a made-up hash — never reaches the battery at restart. The
// chain does not verify (gridd audit verify and the API say so), and the restarted
// service is in its safe state: kill switch engaged, no override restored, an
// audit.chain_broken event appended.
func TestRestoreRefusesForgedAuditEvents(t *testing.T) {
	now := at8.Add(30 * time.Minute)
	forged := safety.Override{ID: 99, DeviceID: "bess", ValueKW: -40, From: at8, Until: at8.Add(6 * time.Hour), Actor: "user:mallory", Reason: "forged"}
	data, _ := json.Marshal(forged)
	chained := func(prev, hash string) string {
		b, _ := json.Marshal(audit.Entry{Text: "override 99", Data: data, Prev: prev, Hash: hash})
		return string(b)
	}
	cases := []struct {
		name   string
		forge  func(t *testing.T, st storage.Store, head string)
		wantIn string // a word of the first problem
	}{
		{"year 9999, made-up hash", func(t *testing.T, st storage.Store, head string) {
			forgeAuditRow(t, st, 0, time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC), "override.add", chained(head, "forged"))
		}, "hash"},
		{"id below zero", func(t *testing.T, st storage.Store, head string) {
			forgeAuditRow(t, st, -7, at8, "override.add", chained("", "forged"))
		}, "not positive"},
		{"id zero, plain text", func(t *testing.T, st storage.Store, head string) {
			forgeAuditRow(t, st, -1, at8, "safety.resume", "resume")
			forgeAuditRow(t, st, -2, at8, "override.add", `{"text":"x","data":`+string(data)+`,"prev_hash":"","hash":"forged"}`)
		}, "not positive"},
		{"time before year 1", func(t *testing.T, st storage.Store, head string) {
			at := time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC)
			ev := storage.AuditEvent{Time: at, Actor: "user:mallory", Action: "override.add", Subject: "device:bess"}
			forgeAuditRow(t, st, 0, at, "override.add", chained(head, audit.Hash(head, ev, "override 99", data)))
		}, "outside years"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, "{auto: false}", "", 50, at8)
			r.cycle(t, at8)
			rep, err := audit.Verify(ctx, r.st)
			if err != nil || !rep.OK() {
				t.Fatalf("chain before the forgery: %+v %v", rep, err)
			}
			tc.forge(t, r.st, rep.Head)
			rep, err = audit.Verify(ctx, r.st)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatalf("forged chain verifies: %+v", rep)
			}
			if tc.wantIn != "" && !strings.Contains(rep.Problems[0].Msg, tc.wantIn) {
				t.Errorf("first problem %q, want it to mention %q", rep.Problems[0].Msg, tc.wantIn)
			}
			svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: clock.NewSim(now)})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := svc.RestoreState(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ovs := svc.Envelope().Overrides(); len(ovs) != 0 {
				t.Fatalf("forged override restored: %+v (%s)", ovs, sum)
			}
			if ks := svc.Envelope().KillSwitch(); !ks.Engaged || ks.By != "system" || !strings.Contains(ks.Reason, "audit chain") {
				t.Fatalf("kill switch %+v after a broken chain, want engaged by system (%s)", ks, sum)
			}
			list, err := r.st.ListAuditAll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range list {
				found = found || e.Action == "audit.chain_broken"
			}
			if !found {
				t.Fatalf("no audit.chain_broken event (%s)", sum)
			}
			// Nothing the schedule says is written while the kill switch holds.
			res, err := svc.RunCycle(ctx, now)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range res.Writes {
				if w.DeviceID == "bess" && w.WrittenKW == forged.ValueKW {
					t.Fatalf("forged value written: %+v", w)
				}
			}
		})
	}
}

// TestRestoreIntactChainNotPaused: an intact chain restores as before, without the
// alarm (the refusal above is not triggered by a normal restart).
func TestRestoreIntactChainNotPaused(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: false}", "", 50, at8)
	r.cycle(t, at8)
	svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: clock.NewSim(at8.Add(time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := svc.RestoreState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if svc.Envelope().KillSwitch().Engaged || strings.Contains(sum, "BROKEN") {
		t.Fatalf("intact chain: %s", sum)
	}
}

// TestDeviceIgnoringWrites: a battery that acknowledges writes but never applies them
// raises an alarm at every mismatch (a device.write_mismatch audit event) and, after
// repeated mismatches, is no longer "online" but "not_following" (audited as a comms
// change); once it takes its setpoints again it comes back online.
func TestDeviceIgnoringWrites(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "{auto: true}", "", 50, at8)
	// A setpoint far from what the battery does by itself, so the read-back differs.
	if _, _, err := r.svc.AddOverride(ctx, safety.Override{DeviceID: "bess", ValueKW: 30, Until: at8.Add(6 * time.Hour), Actor: "user:ann", Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := r.sm.SetFault("bess", sim.FaultIgnoreWrites); err != nil {
		t.Fatal(err)
	}
	// The override moved the register to 30 already; ask for something else each cycle.
	values := []float64{20, 25, 15, 10}
	for i, v := range values {
		at := at8.Add(time.Duration(i+1) * 15 * time.Minute)
		// The override is applied at once; its write does not read back (an error).
		if _, _, err := r.svc.AddOverride(ctx, safety.Override{DeviceID: "bess", ValueKW: v, Until: at8.Add(6 * time.Hour), Actor: "user:ann", Reason: "test"}); errors.Is(err, dispatch.ErrInvalid) {
			t.Fatal(err)
		}
		r.clk.Set(at)
		r.svc.RunCycle(ctx, at) // the cycle reports the mismatch as an error
	}
	if n := len(r.audit(t, "device.write_mismatch")); n < 2 {
		t.Fatalf("%d device.write_mismatch events, want one per ignored write", n)
	}
	if got := r.svc.Envelope().Comms("bess"); got != safety.CommsNotFollowing {
		t.Fatalf("comms of a battery ignoring its writes: %s, want %s", got, safety.CommsNotFollowing)
	}
	found := false
	for _, e := range r.audit(t, "device.comms") {
		found = found || strings.Contains(audit.Text(e.Detail), "not_following")
	}
	if !found {
		t.Fatal("no device.comms event for the move to not_following")
	}
	active := map[string]bool{}
	for _, a := range r.svc.Alarms() {
		active[a.Key] = a.Active
	}
	if !active["write.mismatch:bess"] || !active["control.not_following:bess"] {
		t.Fatalf("alarms %+v, want write.mismatch:bess and control.not_following:bess active", r.svc.Alarms())
	}
	// It follows again: back online after the next matching write and poll.
	if err := r.sm.SetFault("bess", sim.FaultNone); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		at := at8.Add(time.Duration(len(values)+1+i) * 15 * time.Minute)
		r.clk.Set(at)
		r.svc.RunCycle(ctx, at)
	}
	if got := r.svc.Envelope().Comms("bess"); got != safety.CommsOnline {
		t.Fatalf("comms after the battery follows again: %s, want online", got)
	}
	for _, a := range r.svc.Alarms() {
		if a.Active && (a.Key == "write.mismatch:bess" || a.Key == "control.not_following:bess") {
			t.Fatalf("alarm %s still active after the battery follows again", a.Key)
		}
	}
}

// TestPlannerPinNeverAutoApproved: with approval.auto and no bounds, a schedule shaped
// by a pin that only proposes (a planner's) waits for a dispatcher, in the re-solve and
// in the next cycle while the pin is in force; a dispatcher's pin is approved by the
// policy as before.
func TestPlannerPinNeverAutoApproved(t *testing.T) {
	cases := []struct {
		name        string
		proposeOnly bool
		want        storage.ScheduleStatus
	}{
		{"planner pin", true, storage.StatusProposed},
		{"dispatcher pin", false, storage.StatusApproved},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := newRig(t, "{auto: true}", "", 50, at8)
			r.cycle(t, at8)
			r.clk.Set(at8.Add(time.Minute))
			sc, err := r.svc.Pin(ctx, dispatch.Pin{DeviceID: "bess", PowerKW: -20, Until: at8.Add(3 * time.Hour), Actor: "user:pat", Reason: "test", ProposeOnly: tc.proposeOnly})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := r.st.GetSchedule(ctx, sc.ID); err != nil || got.Status != tc.want {
				t.Fatalf("schedule after the pin: %v %v, want %s", got.Status, err, tc.want)
			}
			res := r.cycle(t, at8.Add(15*time.Minute))
			if res.Schedule == nil || res.Schedule.Status != tc.want {
				t.Fatalf("next cycle's schedule %+v, want %s", res.Schedule, tc.want)
			}
		})
	}
}
