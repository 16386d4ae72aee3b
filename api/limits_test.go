package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/optimizer"
)

// An external import limit put through the API is enforced at once by the real-time
// layer (the site's import drops under it before any cycle), the next cycle plans
// within it, it is audited, and ending it lifts it. Bad limits are refused naming
// the field.
func TestExternalLimitThroughAPI(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	// Approve the first proposal so the battery charges in the cheap hour.
	if rep := r.do(t, "disp", http.MethodPost, "/api/v1/schedules/"+itoa(r.sched.ID)+"/approve", map[string]string{"reason": "ok"}); rep.code != http.StatusOK {
		t.Fatalf("approve: %d %s", rep.code, rep.body)
	}
	at := start.Add(2 * time.Second)
	r.clk.Set(at)
	meter := func() float64 {
		st, ok := r.sm.State("meter")
		if !ok {
			t.Fatal("no meter")
		}
		return st.PowerKW
	}
	before := meter()
	limit := before - 30
	if limit <= 0 {
		t.Fatalf("import %.1f kW too small for the test", before)
	}
	until := start.Add(2 * time.Hour).UTC().Format(time.RFC3339)

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"import_kw": -1, "until": until, "reason": "x"}, "import_kw"},
		{map[string]any{"import_kw": 10000, "until": until, "reason": "x"}, "import_kw"},
		{map[string]any{"import_kw": 10, "reason": "x"}, "until"},
		{map[string]any{"import_kw": 10, "until": start.Add(-time.Hour).UTC().Format(time.RFC3339), "reason": "x"}, "until"},
		{map[string]any{"until": until, "reason": "x"}, "import_kw"},
		{map[string]any{"import_kw": 10, "until": until}, "reason"},
		{map[string]any{"import_steps_kw": []float64{10, -2}, "until": until, "reason": "x"}, "import_steps_kw[1]"},
		{map[string]any{"import_kw": 10, "until": until, "reason": "x", "Import_KW": 5}, ""},
	} {
		rep := r.do(t, "disp", http.MethodPut, "/api/v1/limits", bad.body)
		if rep.code != http.StatusBadRequest || !strings.Contains(string(rep.body), bad.field) {
			t.Errorf("PUT %v: %d %s, want 400 naming %q", bad.body, rep.code, rep.body, bad.field)
		}
	}
	if rep := r.do(t, "planner", http.MethodPut, "/api/v1/limits", map[string]any{"import_kw": limit, "until": until, "reason": "x"}); rep.code != http.StatusForbidden {
		t.Fatalf("planner PUT: %d", rep.code)
	}

	rep := r.do(t, "disp", http.MethodPut, "/api/v1/limits", map[string]any{"import_kw": limit, "until": until, "reason": "DSO dimming request 17"})
	if rep.code != http.StatusOK {
		t.Fatalf("PUT limit: %d %s", rep.code, rep.body)
	}
	var out struct {
		Limit struct {
			ID     int64
			Source string
		}
	}
	rep.json(t, &out)
	if out.Limit.ID == 0 || out.Limit.Source != "api" {
		t.Fatalf("limit %+v", out.Limit)
	}
	if got := meter(); got > limit+0.5 {
		t.Fatalf("import %.1f kW right after the limit %.1f kW was put (was %.1f): not enforced at once", got, limit, before)
	}
	var list struct{ Limits []map[string]any }
	r.do(t, "viewer", http.MethodGet, "/api/v1/limits", nil).json(t, &list)
	if len(list.Limits) != 1 {
		t.Fatalf("limits %v", list.Limits)
	}
	// The next cycle plans within it.
	next := start.Add(15 * time.Minute)
	r.clk.Set(next)
	res, err := r.svc.RunCycle(ctx, next)
	if err != nil || res.Schedule == nil {
		t.Fatalf("cycle: %v", err)
	}
	scn, plan := r.planOf(t, res.Schedule.ID)
	if len(scn.Grid.ImportCapKW) == 0 || scn.Grid.ImportCapKW[0] != limit {
		t.Fatalf("scenario import caps %v, want %v from the first step", scn.Grid.ImportCapKW, limit)
	}
	if plan.GridImportKW[0] > limit+1e-3 {
		t.Fatalf("plan imports %.2f at the first step, above the limit %.2f", plan.GridImportKW[0], limit)
	}
	// Audited, and ended by a dispatcher.
	if rep := r.do(t, "disp", http.MethodDelete, "/api/v1/limits/"+itoa(out.Limit.ID), map[string]string{"reason": "request withdrawn"}); rep.code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", rep.code, rep.body)
	}
	if rep := r.do(t, "disp", http.MethodDelete, "/api/v1/limits/"+itoa(out.Limit.ID), map[string]string{"reason": "again"}); rep.code != http.StatusNotFound {
		t.Fatalf("DELETE of an ended limit: %d", rep.code)
	}
	ev, err := r.st.ListAudit(ctx, start.Add(-time.Hour), start.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var set, end bool
	for _, e := range ev {
		set = set || (e.Action == "limit.set" && strings.Contains(e.Detail, "DSO dimming request 17"))
		end = end || (e.Action == "limit.end" && strings.Contains(e.Detail, "request withdrawn"))
	}
	if !set || !end {
		t.Fatalf("audit: limit.set %v, limit.end %v", set, end)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// planOf reads a schedule's stored scenario and plan.
func (r *rig) planOf(t *testing.T, id int64) (*optimizer.Scenario, *optimizer.Plan) {
	t.Helper()
	sc, err := r.st.GetSchedule(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Scenario *optimizer.Scenario `json:"scenario"`
		Plan     *optimizer.Plan     `json:"plan"`
	}
	if err := json.Unmarshal(sc.Plan, &doc); err != nil || doc.Scenario == nil || doc.Plan == nil {
		t.Fatalf("plan document of schedule %d: %v", id, err)
	}
	return doc.Scenario, doc.Plan
}
