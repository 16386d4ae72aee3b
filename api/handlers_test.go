package api_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/storage"
)

// The tests in this file run the handlers against a fake api.Dispatcher: no site, no
// simulator, no cycle. Each checks what the handler asked of the dispatcher and how it
// answered the dispatcher's reply.

func TestApproveHandler(t *testing.T) {
	written := []storage.SetpointWrite{{ID: 5, ScheduleID: 7, DeviceID: "bess", Point: "p_set_kw", RequestedKW: 20, WrittenKW: 20, ReadBackKW: 19.9, Status: storage.WriteOK}}
	cases := []struct {
		name      string
		user      string
		path      string
		body      any
		writes    []storage.SetpointWrite
		err       error
		wantCode  int
		wantField string
		wantCall  string // "" = the dispatcher must not be called
		wantBody  string
	}{
		{"approved with writes", "disp", "/api/v1/schedules/7/approve", map[string]string{"reason": "looks right"}, written, nil,
			200, "", "Approve 7 user:disp looks right", `"read_back_kw": 19.9`},
		{"written with an error", "admin", "/api/v1/schedules/7/approve", map[string]string{"reason": "go"}, written, errors.New("bess: read-back mismatch"),
			200, "", "Approve 7 user:admin go", `"write_error": "bess: read-back mismatch"`},
		{"no longer proposed", "disp", "/api/v1/schedules/7/approve", map[string]string{"reason": "late"}, nil, fmt.Errorf("schedule 7: %w", dispatch.ErrNotProposed),
			409, "id", "Approve 7 user:disp late", "not in state proposed"},
		{"deadline passed", "disp", "/api/v1/schedules/7/approve", map[string]string{"reason": "late"}, nil, dispatch.ErrExpired,
			409, "id", "Approve 7 user:disp late", "deadline"},
		{"unknown schedule", "disp", "/api/v1/schedules/8/approve", map[string]string{"reason": "x"}, nil, fmt.Errorf("schedule 8: %w", storage.ErrNotFound),
			404, "id", "Approve 8 user:disp x", "no schedule 8"},
		{"store down", "disp", "/api/v1/schedules/7/approve", map[string]string{"reason": "x"}, nil, errors.New("disk full"),
			500, "", "Approve 7 user:disp x", "disk full"},
		{"no reason", "disp", "/api/v1/schedules/7/approve", map[string]string{"reason": "  "}, nil, nil, 400, "reason", "", "reason"},
		{"someone else's name", "disp", "/api/v1/schedules/7/approve", map[string]string{"reason": "x", "user": "admin"}, nil, nil, 400, "user", "", `"admin"`},
		{"bad id", "disp", "/api/v1/schedules/-3/approve", map[string]string{"reason": "x"}, nil, nil, 400, "id", "", `"-3"`},
		{"viewer may not", "viewer", "/api/v1/schedules/7/approve", map[string]string{"reason": "x"}, nil, nil, 403, "", "", "viewer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.approveWrites, f.approveErr = tc.writes, tc.err
			c := newFakeServer(t, f)
			got := c.do(t, tc.user, "POST", tc.path, tc.body)
			checkReply(t, got, tc.wantCode, tc.wantField, tc.wantBody)
			if calls := f.Calls(); tc.wantCall == "" && len(calls) > 0 {
				t.Errorf("dispatcher called: %q", calls)
			}
			if tc.wantCall != "" {
				f.wantCall(t, tc.wantCall)
			}
		})
	}
}

func TestRejectHandler(t *testing.T) {
	f := newFake(t)
	c := newFakeServer(t, f)
	got := c.do(t, "disp", "POST", "/api/v1/schedules/4/reject", map[string]string{"reason": "too expensive"})
	checkReply(t, got, 200, "", `"status": "rejected"`)
	f.wantCall(t, "Reject 4 user:disp too expensive")
	f.rejectErr = fmt.Errorf("schedule 4: %w", dispatch.ErrNotProposed)
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/schedules/4/reject", map[string]string{"reason": "again"}), 409, "id", "proposed")
}

func TestLimitHandlers(t *testing.T) {
	f := newFake(t)
	c := newFakeServer(t, f)
	until := start.Add(2 * time.Hour).Format(time.RFC3339)

	// An empty list is [] (not null).
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/limits", nil), 200, "", `"limits": []`)

	// Missing until, then a reason of spaces: refused before the dispatcher is asked.
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/limits", map[string]any{"import_kw": 100, "reason": "dso"}), 400, "until", "until is required")
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/limits", map[string]any{"import_kw": 100, "until": until, "reason": " "}), 400, "reason", "reason")
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/limits", map[string]any{"import_kw": "100", "until": until, "reason": "dso"}), 400, "import_kw", "import_kw")
	if n := len(f.Calls()); n != 0 {
		t.Fatalf("dispatcher called %d times for refused requests: %q", n, f.Calls())
	}

	// Accepted: the limit reaches the dispatcher as the API's, with the caller as actor.
	got := c.do(t, "disp", "PUT", "/api/v1/limits", map[string]any{"import_kw": 100, "until": until, "reason": "dso request"})
	checkReply(t, got, 200, "", `"import_kw": 100`)
	f.wantCall(t, "SetLimit "+dispatch.LimitSourceAPI+" user:disp dso request")
	var put struct {
		Limit dispatch.ExternalLimit `json:"limit"`
	}
	got.json(t, &put)
	if put.Limit.ID != 1 || put.Limit.Until.Format(time.RFC3339) != until || put.Limit.ImportKW == nil || *put.Limit.ImportKW != 100 {
		t.Errorf("limit %+v", put.Limit)
	}
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/limits", nil), 200, "", `"reason": "dso request"`)

	// The dispatcher's refusal names the field: 400 with that field.
	f.setLimit = func(l dispatch.ExternalLimit) (dispatch.ExternalLimit, *dispatch.TickResult, error) {
		return dispatch.ExternalLimit{}, nil, fmt.Errorf("%w: import_kw: -5 is negative", dispatch.ErrInvalid)
	}
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/limits", map[string]any{"import_kw": -5, "until": until, "reason": "x"}), 400, "import_kw", "-5 is negative")

	// Stored but the tick's writes failed: 200 with the limit and the write error.
	f.setLimit = func(l dispatch.ExternalLimit) (dispatch.ExternalLimit, *dispatch.TickResult, error) {
		l.ID = 9
		return l, &dispatch.TickResult{}, errors.New("bess: no answer")
	}
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/limits", map[string]any{"export_kw": 10, "until": until, "reason": "x"}), 200, "", `"write_error": "bess: no answer"`)

	// Ending one: the id and reason reach the dispatcher; an unknown one is 404.
	checkReply(t, c.do(t, "disp", "DELETE", "/api/v1/limits/1", map[string]string{"reason": "lifted"}), 200, "", `"limits"`)
	f.wantCall(t, "EndLimit 1 user:disp lifted")
	f.endLimitErr = fmt.Errorf("limit 3: %w", storage.ErrNotFound)
	checkReply(t, c.do(t, "disp", "DELETE", "/api/v1/limits/3", map[string]string{"reason": "lifted"}), 404, "", "limit 3")
	checkReply(t, c.do(t, "planner", "DELETE", "/api/v1/limits/1", map[string]string{"reason": "lifted"}), 403, "", "")
}

func TestAlarmAckHandler(t *testing.T) {
	f := newFake(t)
	f.alarms = []dispatch.Alarm{{Key: "control.lost:bess", Severity: dispatch.SeverityCritical, Subject: "device:bess", Text: "bess lost for control", Since: start, Active: true}}
	c := newFakeServer(t, f)

	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/alarms", nil), 200, "", `"key": "control.lost:bess"`)
	checkReply(t, c.do(t, "viewer", "POST", "/api/v1/alarms/control.lost:bess/ack", map[string]string{"reason": "seen"}), 403, "", "")
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/alarms/control.lost:bess/ack", map[string]string{}), 400, "reason", "reason")
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/alarms/nope/ack", map[string]string{"reason": "x"}), 404, "", `alarm "nope"`)

	got := c.do(t, "disp", "POST", "/api/v1/alarms/control.lost:bess/ack", map[string]string{"reason": "technician on the way"})
	checkReply(t, got, 200, "", `"acked_by": "user:disp"`)
	f.wantCall(t, "AckAlarm control.lost:bess user:disp technician on the way")
	f.ackErr = fmt.Errorf("%w: actor and reason are required", dispatch.ErrInvalid)
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/alarms/control.lost:bess/ack", map[string]string{"reason": "again"}), 400, "", "actor and reason are required")
}

func TestReadHandlersOnFake(t *testing.T) {
	f := newFake(t)
	c := newFakeServer(t, f)
	// The control status reads the peak target and the counters from the dispatcher.
	f.peakKW = 321
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/control", nil), 200, "", `"peak_target_kw": 321`)
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/control", nil), 200, "", `"ticks": 3`)
	// An operator sees only its own chargers.
	got := c.do(t, "op1", "GET", "/api/v1/devices", nil)
	checkReply(t, got, 200, "", `"ev-1"`)
	if strings.Contains(string(got.body), "ev-3") || strings.Contains(string(got.body), "bess") {
		t.Errorf("op1 sees others' devices: %s", got.body)
	}
	// Schedules come from the store; an unknown one is 404, an unknown status 400.
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/schedules/12", nil), 404, "id", "no schedule 12")
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/schedules?status=maybe", nil), 400, "status", `"maybe"`)
	checkReply(t, c.do(t, "viewer", "GET", "/api/v1/schedules/3/explain", nil), 404, "id", "no schedule 3")
	// The store down: healthz says so.
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	checkReply(t, c.do(t, "", "GET", "/healthz", nil), 503, "", "closed")
}

func TestPinAndWeatherHandlersOnFake(t *testing.T) {
	f := newFake(t)
	c := newFakeServer(t, f)
	until := start.Add(time.Hour).Format(time.RFC3339)
	// A planner's pin only proposes; a dispatcher's may be approved automatically.
	checkReply(t, c.do(t, "planner", "POST", "/api/v1/pins", map[string]any{"device_id": "bess", "power_kw": -20, "until": until, "reason": "test"}), 200, "", `"status": "proposed"`)
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/pins", map[string]any{"device_id": "bess", "power_kw": 10, "until": until, "reason": "test"}), 200, "", `"id": 2`)
	f.wantCall(t, "Pin bess -20 user:planner propose-only=true")
	f.wantCall(t, "Pin bess 10 user:disp propose-only=false")
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/pins", map[string]any{"device_id": "bess", "until": until, "reason": "test"}), 400, "power_kw", "power_kw is required")
	checkReply(t, c.do(t, "disp", "DELETE", "/api/v1/pins/ev-9", map[string]string{"reason": "done"}), 404, "device", "ev-9")
	// An override the dispatcher refuses names the field.
	checkReply(t, c.do(t, "disp", "POST", "/api/v1/overrides", map[string]any{"device_id": "pv", "value_kw": 1, "until": until, "reason": "x"}), 400, "device_id", `"pv"`)
	// Weather: a point without a time is refused by the handler; the dispatcher's
	// refusal comes back with its text.
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/weather", map[string]any{"points": []map[string]any{{"temperature_c": 3}}}), 400, "points", "points[0].time")
	f.weatherErr = fmt.Errorf("%w: points[0].ghi_wm2: -1 is negative", dispatch.ErrInvalid)
	checkReply(t, c.do(t, "disp", "PUT", "/api/v1/weather", map[string]any{"points": []map[string]any{{"time": until, "ghi_wm2": -1}}}), 400, "points", "points[0].ghi_wm2: -1")
	// A session for another operator's charger never reaches the dispatcher.
	checkReply(t, c.do(t, "op1", "POST", "/api/v1/operator/sessions", map[string]any{"device_id": "ev-3", "arrival": until, "departure": until, "energy_kwh": 5}), 400, "device_id", `"ev-3"`)
	for _, x := range f.Calls() {
		if strings.HasPrefix(x, "ReportSession") {
			t.Errorf("session for ev-3 reached the dispatcher: %q", x)
		}
	}
}

// checkReply checks a reply's status, the error's field ("" for none) and that the
// body, or the error text, contains want.
func checkReply(t *testing.T, got reply, code int, field, want string) {
	t.Helper()
	if got.code != code {
		t.Fatalf("status %d, want %d: %s", got.code, code, got.body)
	}
	var e struct {
		Error string `json:"error"`
		Field string `json:"field"`
	}
	if code >= 400 && code != 403 {
		got.json(t, &e)
	}
	if e.Field != field {
		t.Errorf("field %q, want %q: %s", e.Field, field, got.body)
	}
	if !strings.Contains(string(got.body), want) && !strings.Contains(e.Error, want) {
		t.Errorf("body does not contain %s: %s", want, got.body)
	}
}
