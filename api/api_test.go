package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/gridd/gridd/storage/spool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/storage"
)

const apiSite = `
site: {name: api-test, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 24h}
tariff:
  import:
    - {from: "00:00", to: "08:00", price_per_kwh: 0.30}
    - {from: "08:00", to: "09:00", price_per_kwh: 0.05}
    - {from: "09:00", to: "24:00", price_per_kwh: 0.30}
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes:
  - {id: sub, parent: "", limit_kw: 500}
  - {id: f1, parent: sub, limit_kw: 400}
approval: {auto: false}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:PORT1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: f1, endpoint: "127.0.0.1:PORT1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: f1
    endpoint: "127.0.0.1:PORT2"
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}
    sim: {initial_soc_pct: 30}
  - {id: ev-1, kind: ev_charger, node: f1, endpoint: "127.0.0.1:PORT3", unit_id: 1, profile: "builtin:ev-charger", owner: chargeco, ev_charger: {max_charge_kw: 11}, sim: {series: trondheim, user: "Bl2-5"}}
  - {id: ev-2, kind: ev_charger, node: f1, endpoint: "127.0.0.1:PORT3", unit_id: 2, profile: "builtin:ev-charger", owner: chargeco, ev_charger: {max_charge_kw: 11}, sim: {series: trondheim, user: "Bl2-2"}}
  - {id: ev-3, kind: ev_charger, node: f1, endpoint: "127.0.0.1:PORT3", unit_id: 3, profile: "builtin:ev-charger", owner: otherco, ev_charger: {max_charge_kw: 11}, sim: {series: trondheim, user: "Bl2-1"}}
`

var start = time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)

type rig struct {
	*client
	svc   *dispatch.Service
	st    storage.Store
	sm    *sim.Sim
	clk   *clock.Sim
	sched *storage.Schedule // proposed by the first cycle
	now   *time.Time        // the server's wall clock for sessions and rate limits
}

// newRig starts a simulated site, a dispatch service with the embedded store, one
// cycle, and an authenticated API server with one user per role (two operators).
func newRig(t testing.TB) *rig { t.Helper(); return newRigSite(t, apiSite) }

// newRigSite is newRig with another site config (apiSite's ports as PORT1..3).
func newRigSite(t testing.TB, siteYAML string) *rig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(testsite.FreePort(t)), "PORT2", strconv.Itoa(testsite.FreePort(t)), "PORT3", strconv.Itoa(testsite.FreePort(t))).Replace(siteYAML)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := testsite.Start(t, "api.yaml", yml, start, log)
	res, err := s.Service.RunCycle(ctx, start)
	if err != nil || res.Schedule == nil {
		t.Fatalf("first cycle: %v %+v", err, res)
	}
	users, tokens, wall := testUsers(t)
	r := &rig{svc: s.Service, st: s.Store, sm: s.Sim, clk: s.Clock, sched: res.Schedule}
	r.now = &wall
	// Metrics as gridd run registers them: the poller's, the writer's and a spool's.
	reg := prometheus.NewRegistry()
	sp, err := spool.New(s.Store, t.TempDir(), spool.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface {
		RegisterMetrics(prometheus.Registerer) error
	}{s.Poller, s.Writer, sp} {
		if err := c.RegisterMetrics(reg); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := api.NewServer(s.Service, api.Options{Logger: log, Users: users, Now: func() time.Time { return *r.now }, LoginFailures: 3, LoginWindow: time.Minute, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	r.client = newClient(t, srv, tokens)
	return r
}

// testUsers returns an account store with one user per role (two operators: op1 of
// chargeco by owner, op2 with ev-3 listed), a bearer token per user, and the wall time
// they were made at.
func testUsers(t testing.TB) (*api.Users, map[string]string, time.Time) {
	t.Helper()
	users := api.NewUsers()
	tokens := map[string]string{}
	wall := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, u := range []api.User{
		{Name: "admin", Role: api.RoleAdmin},
		{Name: "disp", Role: api.RoleDispatcher},
		{Name: "planner", Role: api.RolePlanner},
		{Name: "viewer", Role: api.RoleViewer},
		{Name: "op1", Role: api.RoleOperator, Operator: "chargeco"},
		{Name: "op2", Role: api.RoleOperator, Chargers: []string{"ev-3"}},
	} {
		if err := users.Put(u, "", wall); err != nil {
			t.Fatal(err)
		}
		tok, err := users.NewToken(u.Name, wall)
		if err != nil {
			t.Fatal(err)
		}
		tokens[u.Name] = tok
	}
	return users, tokens, wall
}

// client calls a test server as one of the test users; http checks every exchange
// against the server's OpenAPI document (openapi_check_test.go).
type client struct {
	srv      *httptest.Server
	tokens   map[string]string // user -> token
	http     *http.Client
	contract *contract
}

func newClient(t testing.TB, srv *api.Server, tokens map[string]string) *client {
	c := &client{srv: httptest.NewServer(srv), tokens: tokens, contract: newContract(t, srv)}
	c.http = c.contract.Client(nil)
	t.Cleanup(c.srv.Close)
	return c
}

type reply struct {
	code int
	body []byte
	hdr  http.Header
}

func (x reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(x.body, v); err != nil {
		t.Fatalf("decode %s: %v", x.body, err)
	}
}

// do sends a request as user ("" = anonymous) with an optional JSON body.
func (r *client) do(t *testing.T, user, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, r.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+r.tokens[user])
	}
	resp, err := r.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return reply{code: resp.StatusCode, hdr: resp.Header}
	}
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b, resp.Header}
}

// TestEveryRouteEnforcesRoles walks the OpenAPI document and calls every route as
// every role: a role outside the route's x-roles gets 403, one inside never gets 401
// or 403, and an anonymous caller gets 401 on every protected route.
func TestEveryRouteEnforcesRoles(t *testing.T) {
	r := newRig(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Roles    []string `json:"x-roles"`
			Security []any    `json:"security"`
		} `json:"paths"`
	}
	r.do(t, "", "GET", "/api/v1/openapi.json", nil).json(t, &doc)
	if len(doc.Paths) < 25 {
		t.Fatalf("openapi lists %d paths", len(doc.Paths))
	}
	users := []string{"admin", "disp", "planner", "viewer", "op1"}
	roleOf := map[string]string{"admin": "admin", "disp": "dispatcher", "planner": "planner", "viewer": "viewer", "op1": "operator"}
	checked := 0
	for path, ops := range doc.Paths {
		p := strings.NewReplacer("{id}", "99999", "{device}", "nope").Replace(path)
		for method, op := range ops {
			method = strings.ToUpper(method)
			if path == "/api/v1/login" || path == "/api/v1/logout" {
				continue // covered by TestLogin
			}
			var body any
			if method != "GET" {
				body = map[string]any{}
			}
			if op.Roles == nil {
				if got := r.do(t, "", method, p, body); got.code == 401 || got.code == 403 {
					t.Errorf("public %s %s: %d", method, path, got.code)
				}
				continue
			}
			if got := r.do(t, "", method, p, body); got.code != 401 {
				t.Errorf("anonymous %s %s: %d, want 401", method, path, got.code)
			}
			for _, u := range users {
				allowed := false
				for _, role := range op.Roles {
					allowed = allowed || role == roleOf[u]
				}
				got := r.do(t, u, method, p, body)
				if !allowed && got.code != 403 {
					t.Errorf("%s (%s) %s %s: %d, want 403", u, roleOf[u], method, path, got.code)
				}
				if allowed && (got.code == 401 || got.code == 403) {
					t.Errorf("%s (%s) %s %s: %d %s, want access", u, roleOf[u], method, path, got.code, got.body)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d role checks ran", checked)
	}
	// Each of those exchanges was checked against the document.
	if n := r.contract.Checks(); n < checked {
		t.Fatalf("only %d of the %d exchanges were checked against the OpenAPI document", n, checked)
	}
	// A bad token is no token.
	r.tokens["forged"] = "gridd_" + strings.Repeat("0", 48)
	if got := r.do(t, "forged", "GET", "/api/v1/site", nil); got.code != 401 {
		t.Errorf("forged token: %d", got.code)
	}
}

func TestOperatorBoundaries(t *testing.T) {
	r := newRig(t)
	// An operator cannot approve.
	if got := r.do(t, "op1", "POST", fmt.Sprintf("/api/v1/schedules/%d/approve", r.sched.ID), map[string]string{"reason": "mine"}); got.code != 403 {
		t.Fatalf("operator approve: %d %s", got.code, got.body)
	}
	sc, _ := r.st.GetSchedule(context.Background(), r.sched.ID)
	if sc.Status != storage.StatusProposed {
		t.Fatalf("schedule changed to %s by a refused request", sc.Status)
	}
	// Devices and telemetry: only its own chargers.
	var devs []struct{ ID string }
	r.do(t, "op1", "GET", "/api/v1/devices", nil).json(t, &devs)
	if len(devs) != 2 || devs[0].ID != "ev-1" || devs[1].ID != "ev-2" {
		t.Fatalf("op1 devices %+v", devs)
	}
	r.do(t, "op2", "GET", "/api/v1/devices", nil).json(t, &devs)
	if len(devs) != 1 || devs[0].ID != "ev-3" {
		t.Fatalf("op2 devices %+v", devs)
	}
	var samples []struct {
		DeviceID string `json:"device_id"`
	}
	r.do(t, "op1", "GET", "/api/v1/telemetry/latest", nil).json(t, &samples)
	if len(samples) == 0 {
		t.Fatal("op1 sees no telemetry of its chargers")
	}
	for _, x := range samples {
		if x.DeviceID != "ev-1" && x.DeviceID != "ev-2" {
			t.Fatalf("op1 sees telemetry of %s", x.DeviceID)
		}
	}
	if got := r.do(t, "op1", "GET", "/api/v1/telemetry/latest?device=ev-3", nil); got.code != 400 {
		t.Fatalf("op1 reads ev-3: %d", got.code)
	}
	// Setpoints: a dispatcher overrides ev-1 and ev-3; each operator sees only its own.
	until := start.Add(time.Hour).Format(time.RFC3339)
	for _, dev := range []string{"ev-1", "ev-3"} {
		if got := r.do(t, "disp", "POST", "/api/v1/overrides", map[string]any{"device_id": dev, "value_kw": 7, "until": until, "reason": "test"}); got.code != 200 {
			t.Fatalf("override %s: %d %s", dev, got.code, got.body)
		}
	}
	var sps []struct {
		ID       int64   `json:"id"`
		DeviceID string  `json:"device_id"`
		Written  float64 `json:"written_kw"`
	}
	r.do(t, "op1", "GET", "/api/v1/operator/setpoints", nil).json(t, &sps)
	if len(sps) != 1 || sps[0].DeviceID != "ev-1" || sps[0].Written != 7 {
		t.Fatalf("op1 setpoints %+v", sps)
	}
	mine := sps[0].ID
	r.do(t, "op2", "GET", "/api/v1/operator/setpoints", nil).json(t, &sps)
	if len(sps) != 1 || sps[0].DeviceID != "ev-3" {
		t.Fatalf("op2 setpoints %+v", sps)
	}
	theirs := sps[0].ID
	if got := r.do(t, "op1", "POST", fmt.Sprintf("/api/v1/operator/setpoints/%d/ack", theirs), map[string]string{}); got.code != 404 {
		t.Fatalf("op1 acks op2's write: %d", got.code)
	}
	if got := r.do(t, "op1", "POST", fmt.Sprintf("/api/v1/operator/setpoints/%d/ack", mine), map[string]string{"note": "seen"}); got.code != 200 {
		t.Fatalf("ack own: %d %s", got.code, got.body)
	}
	// Sessions only for its own chargers.
	sess := map[string]any{"device_id": "ev-3", "arrival": start.Format(time.RFC3339), "departure": start.Add(4 * time.Hour).Format(time.RFC3339), "energy_kwh": 10}
	if got := r.do(t, "op1", "POST", "/api/v1/operator/sessions", sess); got.code != 400 || !strings.Contains(string(got.body), `"field": "device_id"`) {
		t.Fatalf("op1 session for ev-3: %d %s", got.code, got.body)
	}
	sess["device_id"] = "ev-1"
	if got := r.do(t, "op1", "POST", "/api/v1/operator/sessions", sess); got.code != 202 {
		t.Fatalf("op1 session for ev-1: %d %s", got.code, got.body)
	}
	if ss := r.svc.Sessions(); len(ss) != 1 || ss[0].Actor != "user:op1" || ss[0].EnergyKWh != 10 {
		t.Fatalf("sessions %+v", ss)
	}
}

func TestBadPayloadNamesField(t *testing.T) {
	r := newRig(t)
	arr, dep := start.Format(time.RFC3339), start.Add(3*time.Hour).Format(time.RFC3339)
	cases := []struct {
		name, user, method, path string
		body                     any
		field                    string
	}{
		{"approve without reason", "disp", "POST", "/api/v1/schedules/1/approve", map[string]any{}, "reason"},
		{"approve unknown field", "disp", "POST", "/api/v1/schedules/1/approve", map[string]any{"reason": "x", "urgent": true}, "urgent"},
		{"approve as someone else", "disp", "POST", "/api/v1/schedules/1/approve", map[string]any{"reason": "x", "user": "admin"}, "user"},
		{"reason wrong type", "disp", "POST", "/api/v1/schedules/1/reject", map[string]any{"reason": 5}, "reason"},
		{"bad schedule id", "disp", "POST", "/api/v1/schedules/x/approve", map[string]any{"reason": "x"}, "id"},
		{"session missing arrival", "op1", "POST", "/api/v1/operator/sessions", map[string]any{"device_id": "ev-1", "departure": dep, "energy_kwh": 5}, "arrival"},
		{"session negative energy", "op1", "POST", "/api/v1/operator/sessions", map[string]any{"device_id": "ev-1", "arrival": arr, "departure": dep, "energy_kwh": -5}, "energy_kwh"},
		{"session departs before arrival", "op1", "POST", "/api/v1/operator/sessions", map[string]any{"device_id": "ev-1", "arrival": dep, "departure": arr, "energy_kwh": 5}, "departure"},
		{"session bad time", "op1", "POST", "/api/v1/operator/sessions", map[string]any{"device_id": "ev-1", "arrival": "soon", "departure": dep, "energy_kwh": 5}, "arrival"},
		{"pin beyond rating", "disp", "POST", "/api/v1/pins", map[string]any{"device_id": "bess", "power_kw": 900, "until": dep, "reason": "x"}, "power_kw"},
		{"pin a meter", "disp", "POST", "/api/v1/pins", map[string]any{"device_id": "meter", "power_kw": 1, "until": dep, "reason": "x"}, "device_id"},
		{"pin without until", "disp", "POST", "/api/v1/pins", map[string]any{"device_id": "bess", "power_kw": 1, "reason": "x"}, "until"},
		{"override beyond limits", "disp", "POST", "/api/v1/overrides", map[string]any{"device_id": "bess", "value_kw": 70, "until": dep, "reason": "x"}, "value_kw"},
		{"unknown status filter", "viewer", "GET", "/api/v1/schedules?status=maybe", nil, "status"},
		{"unknown forecast series", "viewer", "GET", "/api/v1/forecasts?series=load:nope", nil, "series"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := r.do(t, tc.user, tc.method, tc.path, tc.body)
			var e struct{ Error, Field string }
			got.json(t, &e)
			if got.code != 400 || e.Field != tc.field || e.Error == "" {
				t.Fatalf("%d %s, want 400 naming %q", got.code, got.body, tc.field)
			}
		})
	}
}

func TestApproveAuditsUser(t *testing.T) {
	r := newRig(t)
	got := r.do(t, "disp", "POST", fmt.Sprintf("/api/v1/schedules/%d/approve", r.sched.ID), map[string]string{"reason": "checked"})
	if got.code != 200 {
		t.Fatalf("approve: %d %s", got.code, got.body)
	}
	if got := r.do(t, "disp", "POST", fmt.Sprintf("/api/v1/schedules/%d/approve", r.sched.ID), map[string]string{"reason": "again"}); got.code != 409 {
		t.Fatalf("approve twice: %d", got.code)
	}
	var ev []struct{ Actor, Action, Detail, Hash string }
	r.do(t, "viewer", "GET", "/api/v1/audit", nil).json(t, &ev)
	found := false
	for _, e := range ev {
		if e.Action == "schedule.approve" && e.Actor == "user:disp" && e.Detail == "checked" && len(e.Hash) == 64 {
			found = true
		}
	}
	if !found {
		t.Fatalf("approval not audited as user:disp: %+v", ev)
	}
	var v struct{ OK bool }
	r.do(t, "admin", "GET", "/api/v1/audit/verify", nil).json(t, &v)
	if !v.OK {
		t.Fatal("audit chain not intact")
	}
	var ex struct {
		Reasons []struct{ Text string }
		Steps   []struct {
			NodePrices map[string]float64 `json:"node_prices"`
		}
	}
	r.do(t, "planner", "GET", fmt.Sprintf("/api/v1/schedules/%d/explain", r.sched.ID), nil).json(t, &ex)
	if len(ex.Reasons) == 0 || len(ex.Steps) != 96 || len(ex.Steps[0].NodePrices) != 2 {
		t.Fatalf("explain: %d reasons, %d steps", len(ex.Reasons), len(ex.Steps))
	}
}

func TestLoginRateLimitAndCookie(t *testing.T) {
	r := newRig(t)
	srvUsers := api.NewUsers()
	_ = srvUsers
	// A user with a password: re-create the rig's server with a password user.
	users := api.NewUsers()
	if err := users.Put(api.User{Name: "ann", Role: api.RoleDispatcher}, "correct horse battery", *r.now); err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(r.svc, api.Options{Users: users, Now: func() time.Time { return *r.now }, LoginFailures: 3, LoginWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	hs := newClient(t, srv, nil)
	post := func(path string, body any, cookie *http.Cookie, ctype string) *http.Response {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", hs.srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", ctype)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := hs.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := 0; i < 3; i++ {
		if resp := post("/api/v1/login", map[string]string{"user": "ann", "password": "wrong"}, nil, "application/json"); resp.StatusCode != 401 {
			t.Fatalf("wrong password %d: %d", i, resp.StatusCode)
		}
	}
	resp := post("/api/v1/login", map[string]string{"user": "ann", "password": "correct horse battery"}, nil, "application/json")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	*r.now = r.now.Add(61 * time.Second)
	resp = post("/api/v1/login", map[string]string{"user": "ann", "password": "correct horse battery"}, nil, "application/json")
	if resp.StatusCode != 200 {
		t.Fatalf("login after the window: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == api.SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v", cookie)
	}
	// A state change with the cookie needs a JSON body.
	if resp := post("/api/v1/safety/pause", map[string]string{"reason": "x"}, cookie, "text/plain"); resp.StatusCode != 415 {
		t.Fatalf("form-like post with cookie: %d", resp.StatusCode)
	}
	if resp := post("/api/v1/safety/pause", map[string]string{"reason": "drill"}, cookie, "application/json"); resp.StatusCode != 200 {
		t.Fatalf("pause with cookie: %d", resp.StatusCode)
	}
	if !r.svc.Envelope().KillSwitch().Engaged || r.svc.Envelope().KillSwitch().By != "user:ann" {
		t.Fatalf("kill switch %+v", r.svc.Envelope().KillSwitch())
	}
	// Session expiry.
	*r.now = r.now.Add(13 * time.Hour)
	if resp := post("/api/v1/safety/resume", map[string]string{"reason": "x"}, cookie, "application/json"); resp.StatusCode != 401 {
		t.Fatalf("expired session: %d", resp.StatusCode)
	}
}

func TestOperatorStream(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", r.srv.URL+"/api/v1/operator/stream", nil)
	req.Header.Set("Authorization", "Bearer "+r.tokens["op1"])
	resp, err := r.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	until := start.Add(time.Hour).Format(time.RFC3339)
	go func() {
		// ev-3 first: op1 must not see it; then ev-2.
		for _, dev := range []string{"ev-3", "ev-2"} {
			b, _ := json.Marshal(map[string]any{"device_id": dev, "value_kw": 4, "until": until, "reason": "stream test"})
			req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/overrides", bytes.NewReader(b))
			req.Header.Set("Authorization", "Bearer "+r.tokens["disp"])
			req.Header.Set("Content-Type", "application/json")
			resp, err := r.http.Do(req)
			if err != nil {
				t.Error(err)
				continue
			}
			resp.Body.Close()
		}
	}()
	buf := make([]byte, 0, 4096)
	tmp := make([]byte, 1024)
	for !strings.Contains(string(buf), `"device_id": "ev-2"`) && !strings.Contains(string(buf), `"device_id":"ev-2"`) {
		n, err := resp.Body.Read(tmp)
		if err != nil {
			t.Fatalf("stream ended: %v\n%s", err, buf)
		}
		buf = append(buf, tmp[:n]...)
	}
	s := string(buf)
	if strings.Contains(s, "ev-3") {
		t.Fatalf("op1 received another operator's setpoint:\n%s", s)
	}
	if !strings.Contains(s, "event: setpoint\n") || !strings.Contains(s, "id: ") {
		t.Fatalf("not SSE setpoint events:\n%s", s)
	}
}

func TestMetricsAndHealth(t *testing.T) {
	r := newRig(t)
	// Two real-time ticks for the control-loop latency.
	for k := 1; k <= 2; k++ {
		at := start.Add(time.Duration(k) * 2 * time.Second)
		r.clk.Set(at)
		if _, err := r.svc.ControlTick(t.Context(), at, 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if rep := r.do(t, "viewer", "GET", "/api/v1/site", nil); rep.code != 200 {
		t.Fatalf("site: %d", rep.code)
	}
	got := r.do(t, "viewer", "GET", "/metrics", nil)
	if got.code != 200 || !strings.HasPrefix(got.hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", got.code, got.hdr.Get("Content-Type"))
	}
	if anon := r.do(t, "", "GET", "/metrics", nil); anon.code != http.StatusUnauthorized {
		t.Fatalf("anonymous /metrics on the API address: %d, want 401", anon.code)
	}
	// The whole exposition parses with Prometheus' own text parser.
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(got.body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, got.body)
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		f, ok := fams[name]
		if !ok {
			return 0, false
		}
	metrics:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == k && lp.GetValue() == v)
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount()), true
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
	}{
		{"gridd_poll_device_duration_seconds", map[string]string{"device": "bess"}, 2}, // per-device poll latency: two ticks
		{"gridd_control_latency_seconds", nil, 2},                                      // control-loop latency
		{"gridd_spool_pending_records", nil, 0},                                        // spool depth
		{"gridd_cycle_phase_duration_seconds", map[string]string{"phase": "solve"}, 1},
		{"gridd_schedule_transitions_total", map[string]string{"event": "propose"}, 1},
		{"gridd_devices_comms", map[string]string{"state": "online"}, 4},
		{"gridd_http_request_duration_seconds", map[string]string{"route": "/api/v1/site", "code": "200"}, 1},
		{"go_goroutines", nil, 1},
	} {
		v, ok := value(c.name, c.labels)
		if !ok || v < c.min {
			t.Errorf("metric %s%v = %v (present %v), want at least %v", c.name, c.labels, v, ok, c.min)
		}
	}
	if got := r.do(t, "", "GET", "/healthz", nil); got.code != 200 {
		t.Fatalf("healthz %d", got.code)
	}
	var doc map[string]any
	r.do(t, "", "GET", "/api/v1/openapi.json", nil).json(t, &doc)
	if doc["openapi"] != "3.0.3" {
		t.Fatalf("openapi version %v", doc["openapi"])
	}
}
