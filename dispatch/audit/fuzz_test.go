package audit_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/storage"
)

// FuzzParse: any Detail decodes without panicking, and a parsed entry's text is what
// Text returns.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "plain", "{", `{"text":"x","prev_hash":"","hash":"ab"}`, `{"text":1}`, `{"hash":"h","data":[1,2]}`, `[]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, detail string) {
		e, ok := audit.Parse(detail)
		if ok && (e.Hash == "" || audit.Text(detail) != e.Text) {
			t.Fatalf("parsed %q as %+v", detail, e)
		}
		if !ok && audit.Text(detail) != detail {
			t.Fatalf("legacy text of %q changed", detail)
		}
	})
}

// FuzzChain: a chain built from arbitrary fields verifies, and changing any one field
// of one event is detected.
func FuzzChain(f *testing.F) {
	f.Add("user:ann", "schedule.approve", "schedule:1", "ok", int64(0), uint8(0))
	f.Add("", "", "", "", int64(123456789), uint8(3))
	f.Fuzz(func(t *testing.T, actor, action, subject, text string, us int64, which uint8) {
		text = strings.ToValidUTF8(text, "\uFFFD") // as Log.Append stores it
		at := time.Unix(0, 0).UTC().Add(time.Duration(us%1e15) * time.Microsecond)
		var evs []storage.AuditEvent
		prev := ""
		for i := 0; i < 3; i++ {
			ev := storage.AuditEvent{ID: int64(i + 1), Time: at, Actor: actor, Action: action, Subject: subject}
			h := audit.Hash(prev, ev, text, nil)
			ev.Detail = `{"text":` + quote(text) + `,"prev_hash":"` + prev + `","hash":"` + h + `"}`
			evs = append(evs, ev)
			prev = h
		}
		if r := audit.VerifyEvents(append([]storage.AuditEvent(nil), evs...)); !r.OK() || r.Head != prev {
			t.Fatalf("intact chain fails: %+v", r)
		}
		bad := append([]storage.AuditEvent(nil), evs...)
		switch which % 4 {
		case 0:
			bad[1].Actor += "x"
		case 1:
			bad[1].Action += "x"
		case 2:
			bad[1].Subject += "x"
		case 3:
			bad[1].Time = bad[1].Time.Add(time.Microsecond)
		}
		if r := audit.VerifyEvents(bad); r.OK() {
			t.Fatalf("edit %d not detected", which%4)
		}
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
