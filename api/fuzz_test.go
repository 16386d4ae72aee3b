package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
)

// bodyRoute is one route that accepts a JSON body, called as a user allowed to use it.
type bodyRoute struct {
	user, method, path string
	ok                 []int    // success codes
	seeds              []string // valid bodies
}

func bodyRoutes(r *rig) []bodyRoute {
	arr, dep := start.Format(time.RFC3339), start.Add(3*time.Hour).Format(time.RFC3339)
	until := start.Add(time.Hour).Format(time.RFC3339)
	id := r.sched.ID
	return []bodyRoute{
		{"", "POST", "/api/v1/login", []int{200}, []string{`{"user":"admin","password":"wrong"}`}},
		{"disp", "POST", fmt.Sprintf("/api/v1/schedules/%d/approve", id), []int{200}, []string{`{"reason":"checked"}`}},
		{"disp", "POST", fmt.Sprintf("/api/v1/schedules/%d/reject", id), []int{200}, []string{`{"reason":"too dear","user":"disp"}`}},
		{"planner", "POST", "/api/v1/pins", []int{200, 201}, []string{`{"device_id":"bess","power_kw":-10,"until":"` + until + `","reason":"test"}`}},
		{"planner", "DELETE", "/api/v1/pins/bess", []int{200}, []string{`{"reason":"done"}`}},
		{"disp", "POST", "/api/v1/safety/pause", []int{200}, []string{`{"reason":"maintenance"}`}},
		{"disp", "POST", "/api/v1/safety/resume", []int{200}, []string{`{"reason":"maintenance over"}`}},
		{"disp", "POST", "/api/v1/overrides", []int{200, 201}, []string{`{"device_id":"bess","value_kw":5,"until":"` + until + `","reason":"manual"}`}},
		{"disp", "DELETE", "/api/v1/overrides/1", []int{200}, []string{`{"reason":"done"}`}},
		{"op1", "POST", "/api/v1/operator/setpoints/1/ack", []int{200}, []string{`{"note":"seen"}`, ``}},
		{"op1", "POST", "/api/v1/operator/sessions", []int{200, 202}, []string{`{"device_id":"ev-1","arrival":"` + arr + `","departure":"` + dep + `","energy_kwh":12}`}},
		{"disp", "PUT", "/api/v1/weather", []int{200}, []string{`{"points":[{"time":"` + until + `","temperature_c":12}]}`}},
		// The rig's site is priced by its bands: a valid push is a 409.
		{"disp", "PUT", "/api/v1/prices", []int{409}, []string{`{"points":[{"time":"` + until + `","import_price_per_kwh":0.2,"export_price_per_kwh":0.05}]}`}},
		{"disp", "PUT", "/api/v1/limits", []int{200}, []string{`{"import_kw":300,"until":"` + until + `","reason":"dso"}`}},
	}
}

// FuzzAPIBodies sends arbitrary bodies to every route that takes a JSON body, as a
// user allowed to call it, through the whole handler (authentication, role check,
// decoding, validation, dispatch). Invariants: no panic, no 5xx, a JSON reply, and
// every 400 carries an error text; a 400's field, if named, is a field of the route's
// body schema or a name that occurs in the body.
func FuzzAPIBodies(f *testing.F) {
	r := newRig(f)
	routes := bodyRoutes(r)
	h := r.srv.Config.Handler
	schema := schemaFields(f, r)
	bad := []string{``, `{}`, `[]`, `null`, `{"reason":""}`, `{"reason":5}`, `{"reason":"x"}{"reason":"y"}`, `{"reason":"x"} x`,
		`{"device_id":"bess","power_kw":1e400,"until":"x","reason":"r"}`, `{"device_id":"bess","value_kw":"NaN","until":"2019-06-03T09:00:00Z","reason":"r"}`,
		`{"arrival":"2019-06-03T09:00:00+25:00"}`, `{"energy_kwh":-0}`, `{"unknown":1}`, `{"reason":"` + strings.Repeat("é", 600) + `"}`,
		`{"device_id":"ev-3","arrival":"2019-06-03T09:00:00Z","departure":"2019-06-03T08:00:00Z","energy_kwh":5}`, "\x00", `{"reason":"\ud800"}`}
	for i, rt := range routes {
		for _, s := range rt.seeds {
			f.Add(uint8(i), s)
		}
		for _, s := range bad {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		rt := routes[int(which)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "192.0.2.1:1234"
		if rt.user != "" {
			req.Header.Set("Authorization", "Bearer "+r.tokens[rt.user])
		}
		w := serveChecked(t, r.contract, h, req)
		code := w.Code
		if code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, code, w.Body.String())
		}
		var e struct {
			Error string `json:"error"`
			Field string `json:"field"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s %q: reply is not JSON: %d %q", rt.method, rt.path, body, code, w.Body.String())
		}
		switch {
		case contains(rt.ok, code):
		case code == http.StatusBadRequest:
			if e.Error == "" {
				t.Fatalf("%s %s %q: 400 without an error text: %s", rt.method, rt.path, body, w.Body.String())
			}
			if e.Field != "" && !schema[rt.method+" "+rt.path][e.Field] && !pathParam(e.Field) && !strings.Contains(string([]rune(body)), e.Field) && !bodyKeys(body)[e.Field] {
				t.Fatalf("%s %s %q: 400 names field %q, not in the body schema or the body", rt.method, rt.path, body, e.Field)
			}
		case code == http.StatusRequestEntityTooLarge:
			if len(body) <= api.MaxBodyBytes {
				t.Fatalf("%s %s: 413 for a %d-byte body", rt.method, rt.path, len(body))
			}
		case code == http.StatusUnauthorized && rt.user == "", // failed login
			code == http.StatusTooManyRequests && rt.user == "", // login rate limit
			code == http.StatusNotFound,                         // override/ack id that does not exist
			code == http.StatusConflict:                         // schedule no longer proposed
		default:
			t.Fatalf("%s %s %q: unexpected status %d %s", rt.method, rt.path, body, code, w.Body.String())
		}
	})
}

// bodyKeys returns the object keys of a JSON body as decoded (escapes resolved), as
// far as it parses.
func bodyKeys(body string) map[string]bool {
	keys := map[string]bool{}
	dec := json.NewDecoder(strings.NewReader(body))
	var inObject []bool // per open delimiter: an object?
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				inObject = append(inObject, true)
				expectKey = true
				continue
			case '[':
				inObject = append(inObject, false)
			case '}', ']':
				inObject = inObject[:len(inObject)-1]
			}
		case string:
			if expectKey {
				keys[v] = true
				expectKey = false
				continue
			}
		}
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// pathParam: errors about the path's own parameters name them.
func pathParam(field string) bool { return field == "id" || field == "device" }

// schemaFields returns, per "METHOD /path" of the served OpenAPI document, the
// property names of the request body schema (with path parameters filled in as the
// fuzz target calls them).
func schemaFields(tb testing.TB, r *rig) map[string]map[string]bool {
	tb.Helper()
	resp, err := r.http.Get(r.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]any `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		tb.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, rt := range bodyRoutes(r) {
		for path, ops := range doc.Paths {
			if !pathMatches(path, rt.path) {
				continue
			}
			op, ok := ops[strings.ToLower(rt.method)]
			if !ok {
				continue
			}
			m := map[string]bool{}
			for _, c := range op.RequestBody.Content {
				for p := range c.Schema.Properties {
					m[p] = true
				}
			}
			out[rt.method+" "+rt.path] = m
		}
	}
	if len(out) != len(bodyRoutes(r)) {
		tb.Fatalf("OpenAPI document describes %d of the %d body routes", len(out), len(bodyRoutes(r)))
	}
	return out
}

// pathMatches matches "/api/v1/schedules/{id}/approve" against "/api/v1/schedules/1/approve".
func pathMatches(pattern, path string) bool {
	a, b := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(strings.HasPrefix(a[i], "{") && strings.HasSuffix(a[i], "}")) {
			return false
		}
	}
	return true
}
