package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestOperatorSessions: a session on a charger with no vehicle plugged in is answered
// as what it is (kept, nothing planned until a vehicle is plugged in) with the time it
// was reported; one on a plugged-in charger is planned; the operator lists its own
// sessions and cancels one (audited); the plan ahead lists each of its chargers.
func TestOperatorSessions(t *testing.T) {
	r := newRig(t)
	arr, dep := start.Add(-time.Hour).Format(time.RFC3339), start.Add(5*time.Hour).Format(time.RFC3339)
	type reply struct {
		Status  string `json:"status"`
		Text    string `json:"text"`
		Session struct {
			DeviceID string    `json:"device_id"`
			Reported time.Time `json:"reported"`
		} `json:"session"`
	}
	for _, tc := range []struct {
		user, device, status string
	}{
		{"op2", "ev-3", "not_plugged_in"},
		{"op1", "ev-1", "plugged_in"},
	} {
		res := r.do(t, tc.user, "POST", "/api/v1/operator/sessions", map[string]any{"device_id": tc.device, "arrival": arr, "departure": dep, "energy_kwh": 12})
		var got reply
		res.json(t, &got)
		if res.code != 202 || got.Status != tc.status || !strings.Contains(got.Text, tc.device) || got.Session.Reported.IsZero() {
			t.Errorf("%s on %s: %d %s", tc.user, tc.device, res.code, res.body)
		}
	}
	var list []reply
	r.do(t, "op1", "GET", "/api/v1/operator/sessions", nil).json(t, &list)
	if len(list) != 1 || list[0].Session.DeviceID != "ev-1" || list[0].Status != "plugged_in" {
		t.Fatalf("op1 sees sessions %+v", list)
	}
	if res := r.do(t, "op1", "DELETE", "/api/v1/operator/sessions/ev-3", map[string]any{"reason": "not mine"}); res.code != 404 {
		t.Errorf("op1 cancels ev-3's session: %d %s", res.code, res.body)
	}
	if res := r.do(t, "op1", "DELETE", "/api/v1/operator/sessions/ev-1", map[string]any{"reason": "driver left early"}); res.code != 200 {
		t.Fatalf("cancel: %d %s", res.code, res.body)
	}
	r.do(t, "op1", "GET", "/api/v1/operator/sessions", nil).json(t, &list)
	if len(list) != 0 {
		t.Fatalf("after the cancel op1 sees %+v", list)
	}
	var audit []struct{ Action, Actor, Subject string }
	r.do(t, "admin", "GET", "/api/v1/audit", nil).json(t, &audit)
	found := false
	for _, e := range audit {
		found = found || (e.Action == "session.cancel" && e.Actor == "user:op1" && e.Subject == "device:ev-1")
	}
	if !found {
		t.Error("no session.cancel audit event by user:op1")
	}
	var plan struct {
		ScheduleID int64                `json:"schedule_id"`
		Chargers   map[string][]float64 `json:"chargers"`
	}
	r.do(t, "op1", "GET", "/api/v1/operator/plan", nil).json(t, &plan)
	if plan.ScheduleID != r.sched.ID || len(plan.Chargers) != 2 || len(plan.Chargers["ev-1"]) != r.sched.Steps || plan.Chargers["ev-3"] != nil {
		t.Fatalf("plan %+v", plan)
	}
}
