package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus/sim"
)

// A battery whose SoC reads as garbage raises an alarm the dispatcher sees in the API
// and acknowledges with a reason; the acknowledgement is audited, and the real-time
// layer's status is served.
func TestAlarmsListAndAck(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	if err := r.sm.ApplyFaults([]sim.FaultSetting{{Device: "bess", Fault: sim.FaultGarbage, Point: "soc_pct"}}); err != nil {
		t.Fatal(err)
	}
	for k := 1; k <= 2; k++ {
		at := start.Add(time.Duration(k) * 2 * time.Second)
		r.clk.Set(at)
		_, _ = r.svc.ControlTick(ctx, at, 2*time.Second)
	}
	var list struct {
		Alarms []struct {
			Key, Severity, Text string
			Active, Acked       bool
		} `json:"alarms"`
	}
	rep := r.do(t, "viewer", http.MethodGet, "/api/v1/alarms", nil)
	if rep.code != http.StatusOK {
		t.Fatalf("GET alarms: %d %s", rep.code, rep.body)
	}
	rep.json(t, &list)
	if len(list.Alarms) == 0 || list.Alarms[0].Key != "control.lost:bess" || !list.Alarms[0].Active || !strings.Contains(list.Alarms[0].Text, "soc_pct") {
		t.Fatalf("alarms %+v, want control.lost:bess naming soc_pct", list.Alarms)
	}
	path := "/api/v1/alarms/control.lost:bess/ack"
	if rep := r.do(t, "viewer", http.MethodPost, path, map[string]string{"reason": "seen"}); rep.code != http.StatusForbidden {
		t.Fatalf("viewer ack: %d", rep.code)
	}
	if rep := r.do(t, "disp", http.MethodPost, path, map[string]string{"reason": " "}); rep.code != http.StatusBadRequest || !strings.Contains(string(rep.body), "reason") {
		t.Fatalf("ack without reason: %d %s", rep.code, rep.body)
	}
	if rep := r.do(t, "disp", http.MethodPost, "/api/v1/alarms/nope/ack", map[string]string{"reason": "x"}); rep.code != http.StatusNotFound {
		t.Fatalf("ack of an unknown alarm: %d %s", rep.code, rep.body)
	}
	if rep := r.do(t, "disp", http.MethodPost, path, map[string]string{"reason": "technician on the way"}); rep.code != http.StatusOK {
		t.Fatalf("ack: %d %s", rep.code, rep.body)
	}
	r.do(t, "viewer", http.MethodGet, "/api/v1/alarms", nil).json(t, &list)
	if len(list.Alarms) != 1 || !list.Alarms[0].Acked || !list.Alarms[0].Active {
		t.Fatalf("after ack: %+v, want the alarm active and acknowledged", list.Alarms)
	}
	ev, err := r.st.ListAudit(ctx, start.Add(-time.Hour), start.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ev {
		found = found || (e.Action == "alarm.ack" && strings.Contains(e.Actor, "disp") && strings.Contains(e.Detail, "technician on the way"))
	}
	if !found {
		t.Fatal("no alarm.ack audit event by disp with the reason")
	}
	var ctl map[string]any
	rep = r.do(t, "viewer", http.MethodGet, "/api/v1/control", nil)
	if rep.code != http.StatusOK {
		t.Fatalf("GET control: %d %s", rep.code, rep.body)
	}
	rep.json(t, &ctl)
	if ctl["enabled"] != true || ctl["interval_seconds"].(float64) != 2 || ctl["ticks"].(float64) < 2 {
		t.Fatalf("control status %v", ctl)
	}
}
