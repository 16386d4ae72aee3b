package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
)

// TestQueryParamsNameField walks every route of the OpenAPI document with query
// parameters and sends each parameter a bad value, and every range (from, to) the
// bad ranges of the review: a time gridd cannot store, from after to. Each is a 400
// whose field names the parameter, never a 500.
func TestQueryParamsNameField(t *testing.T) {
	r := newRig(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	r.do(t, "", "GET", "/api/v1/openapi.json", nil).json(t, &doc)
	type probe struct{ query, field string }
	checked := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			var params []string
			for _, p := range op.Parameters {
				if p.In == "query" {
					params = append(params, p.Name)
				}
			}
			if len(params) == 0 {
				continue
			}
			var probes []probe
			for _, p := range params {
				probes = append(probes, probe{p + "=" + url.QueryEscape("\x01bad"), p})
			}
			if strings.Contains(strings.Join(params, ","), "from") {
				probes = append(probes, []probe{
					{"from=0001-01-01T00:00:00Z", "from"},
					{"to=0001-01-01T00:00:00Z", "to"},
					{"from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z", "from"},
					{"from=" + url.QueryEscape("2024-01-01T00:00:00+23:59") + "&to=2020-01-01T00:00:00Z", "from"},
					{"to=" + url.QueryEscape("0001-01-01T00:00:00+01:00"), "to"},
				}...)
			}
			for _, pr := range probes {
				got := r.do(t, "admin", strings.ToUpper(method), path+"?"+pr.query, nil)
				var e struct {
					Error, Field string
				}
				got.json(t, &e)
				if got.code != 400 || e.Field != pr.field {
					t.Errorf("%s %s?%s: %d %s, want 400 naming %q", method, path, pr.query, got.code, got.body, pr.field)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d probes: the OpenAPI document lists too few query parameters", checked)
	}
}

// loginAt posts a login to h as if from addr.
func loginAt(h http.Handler, addr, user, password string) int {
	b, _ := json.Marshal(map[string]string{"user": user, "password": password})
	req := httptest.NewRequest("POST", "/api/v1/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

func passwordServer(t *testing.T, r *rig, failures, accountFailures int) http.Handler {
	t.Helper()
	users := api.NewUsers()
	if err := users.Put(api.User{Name: "ann", Role: api.RoleDispatcher}, "correct horse battery", *r.now); err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(r.svc, api.Options{Users: users, Now: func() time.Time { return *r.now },
		LoginFailures: failures, AccountFailures: accountFailures, LoginWindow: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return checked(t, srv)
}

// TestLoginLimitCountsBeforeBcrypt: 40 parallel wrong passwords from one address get
// at most LoginFailures answers of 401 (each a bcrypt check and an audit row); the
// rest are 429 without a password check.
func TestLoginLimitCountsBeforeBcrypt(t *testing.T) {
	r := newRig(t)
	h := passwordServer(t, r, 5, 20)
	before := len(auditActions(t, r, "auth.login_failed"))
	codes := make(chan int, 40)
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- loginAt(h, "192.0.2.9:4000", "ann", "wrong password!")
		}()
	}
	wg.Wait()
	close(codes)
	n := map[int]int{}
	for c := range codes {
		n[c]++
	}
	if n[401] > 5 || n[429] < 35 || n[401]+n[429] != 40 {
		t.Fatalf("40 parallel wrong passwords: %v, want at most 5 × 401 and the rest 429", n)
	}
	if got := len(auditActions(t, r, "auth.login_failed")) - before; got > 5 {
		t.Fatalf("%d failed logins audited, want at most 5", got)
	}
}

// TestLoginLimitNoLockout: failures from other addresses do not lock an account's
// owner out. An address that failed is blocked (for every account); the right password
// from another address works; when many addresses together exceed the account limit,
// new addresses wait but one that logged in to the account before still gets in.
func TestLoginLimitNoLockout(t *testing.T) {
	r := newRig(t)
	h := passwordServer(t, r, 3, 6)
	const good = "correct horse battery"
	steps := []struct {
		addr, password string
		want           int
	}{
		{"203.0.113.50:1", good, 200}, // the owner's usual address
		{"192.0.2.1:1", "wrong1", 401},
		{"192.0.2.1:1", "wrong2", 401},
		{"192.0.2.1:1", "wrong3", 401},
		{"192.0.2.1:1", good, 429},    // this address is blocked
		{"198.51.100.7:1", good, 200}, // the owner from a clean address: not locked out
		{"192.0.2.2:1", "wrong4", 401},
		{"192.0.2.2:1", "wrong5", 401},
		{"192.0.2.3:1", "wrong6", 401}, // 6 failures for ann from new addresses
		{"192.0.2.4:1", good, 429},     // a new address waits while the account is under attack
		{"203.0.113.50:1", good, 200},  // the owner's earlier address still works
	}
	for i, st := range steps {
		if got := loginAt(h, st.addr, "ann", st.password); got != st.want {
			t.Fatalf("step %d: login from %s: %d, want %d", i, st.addr, got, st.want)
		}
	}
	*r.now = r.now.Add(61 * time.Second)
	if got := loginAt(h, "192.0.2.1:1", "ann", good); got != 200 {
		t.Fatalf("after the window: %d", got)
	}
}

// TestRevocationLiveReload: the server reads the accounts file again when another
// process (gridd user) changes it: an account added while running works, a revoked
// token and a deleted account stop working, a changed password ends the sessions
// opened with the old one, and logout ends the session or revokes the bearer token
// it was called with.
func TestRevocationLiveReload(t *testing.T) {
	r := newRig(t)
	path := filepath.Join(t.TempDir(), api.UsersFile)
	users, err := api.OpenUsers(path)
	if err != nil {
		t.Fatal(err)
	}
	apiSrv, err := api.NewServer(r.svc, api.Options{Users: users, Now: func() time.Time { return *r.now }})
	if err != nil {
		t.Fatal(err)
	}
	srv := checked(t, apiSrv)
	// cli is what `gridd user` does: its own Users on the same file.
	cli := func() *api.Users {
		u, err := api.OpenUsers(path)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tick := func() { *r.now = r.now.Add(api.ReloadEvery + time.Millisecond) }
	call := func(method, path, token string, cookie *http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	login := func(user, pw string) *http.Cookie {
		b, _ := json.Marshal(map[string]string{"user": user, "password": pw})
		req := httptest.NewRequest("POST", "/api/v1/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("login %s: %d %s", user, rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == api.SessionCookie {
				return c
			}
		}
		t.Fatal("no session cookie")
		return nil
	}

	// An account added while the server runs.
	c := cli()
	if err := c.Put(api.User{Name: "bob", Role: api.RoleViewer}, "bob's long password", *r.now); err != nil {
		t.Fatal(err)
	}
	tok1, _ := c.NewToken("bob", *r.now)
	tok2, _ := c.NewToken("bob", *r.now)
	tick()
	if got := call("GET", "/api/v1/me", tok1, nil).Code; got != 200 {
		t.Fatalf("account added while running: %d", got)
	}
	// A revoked token.
	c = cli()
	u, _ := c.Get("bob")
	if _, err := c.RevokeToken("bob", u.Tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	tick()
	if got := call("GET", "/api/v1/me", tok1, nil).Code; got != 401 {
		t.Fatalf("revoked token: %d, want 401", got)
	}
	if got := call("GET", "/api/v1/me", tok2, nil).Code; got != 200 {
		t.Fatalf("the other token: %d", got)
	}
	// Logout with a bearer token revokes it, in the file too.
	if got := call("POST", "/api/v1/logout", tok2, nil).Code; got != 200 {
		t.Fatalf("logout: %d", got)
	}
	if got := call("GET", "/api/v1/me", tok2, nil).Code; got != 401 {
		t.Fatalf("token after logout: %d, want 401", got)
	}
	if _, ok := cli().ByToken(tok2); ok {
		t.Fatal("token logged out with is still in the accounts file")
	}
	// Logout with the cookie ends the session.
	sess := login("bob", "bob's long password")
	if got := call("GET", "/api/v1/me", "", sess).Code; got != 200 {
		t.Fatalf("session: %d", got)
	}
	if got := call("POST", "/api/v1/logout", "", sess).Code; got != 200 {
		t.Fatalf("logout: %d", got)
	}
	if got := call("GET", "/api/v1/me", "", sess).Code; got != 401 {
		t.Fatalf("session after logout: %d, want 401", got)
	}
	// A changed password ends the sessions opened with the old one.
	sess = login("bob", "bob's long password")
	c = cli()
	if err := c.Put(api.User{Name: "bob", Role: api.RoleViewer}, "bob's new long password", *r.now); err != nil {
		t.Fatal(err)
	}
	tick()
	if got := call("GET", "/api/v1/me", "", sess).Code; got != 401 {
		t.Fatalf("session after a password change: %d, want 401", got)
	}
	// A deleted account: its tokens and sessions stop working.
	sess = login("bob", "bob's new long password")
	c = cli()
	tok3, _ := c.NewToken("bob", *r.now)
	tick()
	if got := call("GET", "/api/v1/me", tok3, nil).Code; got != 200 {
		t.Fatalf("new token: %d", got)
	}
	if err := cli().Delete("bob"); err != nil {
		t.Fatal(err)
	}
	tick()
	if got := call("GET", "/api/v1/me", tok3, nil).Code; got != 401 {
		t.Fatalf("deleted account's token: %d, want 401", got)
	}
	if got := call("GET", "/api/v1/me", "", sess).Code; got != 401 {
		t.Fatalf("deleted account's session: %d, want 401", got)
	}
}

// TestPlannerPinOnlyProposes: a pin made through the API by a planner is marked
// propose-only (the auto-approve policy never approves what it shapes); one by a
// dispatcher is not.
func TestPlannerPinOnlyProposes(t *testing.T) {
	r := newRig(t)
	until := r.clk.Now().Add(2 * time.Hour).Format(time.RFC3339)
	for _, tc := range []struct {
		user string
		want bool
	}{{"planner", true}, {"disp", false}} {
		got := r.do(t, tc.user, "POST", "/api/v1/pins", map[string]any{"device_id": "bess", "power_kw": -20, "until": until, "reason": "test"})
		if got.code != 200 {
			t.Fatalf("%s pin: %d %s", tc.user, got.code, got.body)
		}
		pins := r.svc.Pins()
		if len(pins) != 1 || pins[0].ProposeOnly != tc.want || pins[0].Actor != "user:"+tc.user {
			t.Fatalf("%s pin stored as %+v, want propose_only %v", tc.user, pins, tc.want)
		}
	}
}

// TestUsersFileExactKeys: the accounts file is decoded as strictly as an API body: a
// role given twice (the second in another case, which would win) or an unknown field is
// an error naming the file.
func TestUsersFileExactKeys(t *testing.T) {
	for _, tc := range []struct {
		doc string
		ok  bool
	}{
		{`{"users":[{"name":"ann","role":"viewer"}]}`, true},
		{`{"users":[{"name":"ann","role":"viewer","Role":"admin"}]}`, false},
		{`{"users":[{"name":"ann","role":"viewer","role":"admin"}]}`, false},
		{`{"users":[{"name":"ann","role":"viewer","rights":"all"}]}`, false},
		{`{"Users":[{"name":"ann","role":"admin"}]}`, false},
	} {
		path := filepath.Join(t.TempDir(), api.UsersFile)
		if err := os.WriteFile(path, []byte(tc.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		u, err := api.OpenUsers(path)
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), path)) {
			t.Errorf("%s: %v, want ok=%v", tc.doc, err, tc.ok)
		}
		if err == nil {
			if x, _ := u.Get("ann"); x.Role != api.RoleViewer {
				t.Errorf("%s: role %s", tc.doc, x.Role)
			}
		}
	}
}

// TestMetricsCountNotFollowing: a device that ignores its writes is counted under its
// own comms state in /metrics, not hidden.
func TestMetricsCountNotFollowing(t *testing.T) {
	r := newRig(t)
	r.svc.Envelope().WriteMismatch("bess")
	r.svc.Envelope().WriteMismatch("bess")
	got := r.do(t, "admin", "GET", "/metrics", nil)
	if got.code != 200 || !strings.Contains(string(got.body), `gridd_devices_comms{state="not_following"} 1`) {
		t.Fatalf("metrics %d:\n%s", got.code, got.body)
	}
}
