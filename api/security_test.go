package api_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/storage"
)

// TestSecurityHeaders: the console and the API send the browser hardening headers;
// API replies are not cached.
func TestSecurityHeaders(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		path, user string
		noStore    bool
	}{
		{"/", "", false},
		{"/console.js", "", false},
		{"/common.js", "", false},
		{"/api/v1/me", "viewer", true},
		{"/api/v1/schedules", "viewer", true},
		{"/api/v1/schedules", "", true}, // 401 too
		{"/healthz", "", false},
	} {
		got := r.do(t, tc.user, "GET", tc.path, nil)
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if v := got.hdr.Get(h); v != want {
				t.Errorf("GET %s: %s = %q, want %q", tc.path, h, v, want)
			}
		}
		csp := got.hdr.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", tc.path, csp, d)
			}
		}
		if strings.Contains(csp, "script-src 'self' 'unsafe") {
			t.Errorf("GET %s: CSP allows unsafe script: %q", tc.path, csp)
		}
		if cc := got.hdr.Get("Cache-Control"); tc.noStore != (cc == "no-store") {
			t.Errorf("GET %s: Cache-Control %q", tc.path, cc)
		}
		if got.hdr.Get("Strict-Transport-Security") != "" {
			t.Errorf("GET %s: HSTS sent over plain HTTP", tc.path)
		}
	}
}

// TestBodyLimit: a body over api.MaxBodyBytes is refused with 413 before it is decoded,
// and nothing is changed.
func TestBodyLimit(t *testing.T) {
	r := newRig(t)
	for _, tc := range []struct {
		name string
		size int
		want int
	}{
		{"just under", api.MaxBodyBytes - 100, 200},
		{"over", api.MaxBodyBytes + 1, 413},
		{"far over", 8 * api.MaxBodyBytes, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A reason padded with trailing white space (trimmed, so it stays valid).
			body := `{"reason":"limit test` + strings.Repeat(" ", 10) + `"}`
			body += strings.Repeat(" ", tc.size-len(body))
			req, _ := http.NewRequest("POST", r.srv.URL+"/api/v1/safety/pause", bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+r.tokens["disp"])
			resp, err := r.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d-byte body: %d, want %d", len(body), resp.StatusCode, tc.want)
			}
			paused := r.svc.Envelope().KillSwitch().Engaged
			if paused != (tc.want == 200) {
				t.Fatalf("kill switch engaged=%v after a %d reply", paused, resp.StatusCode)
			}
			if paused {
				if _, err := r.svc.Resume(t.Context(), "user:disp", "limit test"); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestScheduleShowsConfigHashes: GET /schedules/{id} names the config and the profile
// of every device the schedule was made with.
func TestScheduleShowsConfigHashes(t *testing.T) {
	r := newRig(t)
	var got struct {
		Config *struct {
			ConfigSHA256  string            `json:"config_sha256"`
			ProfileSHA256 map[string]string `json:"profile_sha256"`
		} `json:"config"`
		Plan struct {
			Config struct {
				ConfigSHA256 string `json:"config_sha256"`
			} `json:"config"`
		} `json:"plan"`
	}
	rep := r.do(t, "viewer", "GET", "/api/v1/schedules/"+strconv.FormatInt(r.sched.ID, 10), nil)
	if rep.code != 200 {
		t.Fatalf("%d %s", rep.code, rep.body)
	}
	rep.json(t, &got)
	want := r.svc.ConfigHashes()
	if got.Config == nil || got.Config.ConfigSHA256 != want.ConfigSHA256 || got.Plan.Config.ConfigSHA256 != want.ConfigSHA256 {
		t.Fatalf("schedule config %+v, plan %+v, want %s", got.Config, got.Plan.Config, want.ConfigSHA256)
	}
	for _, d := range r.svc.Config().Devices {
		if h := got.Config.ProfileSHA256[d.ID]; h == "" || h != want.ProfileSHA256[d.ID] {
			t.Errorf("device %s profile hash %q, want %q", d.ID, h, want.ProfileSHA256[d.ID])
		}
	}
}

// TestLoginNameBounded: a login with an over-long or control-character user name is a
// 400 naming "user" and leaves no audit event.
func TestLoginNameBounded(t *testing.T) {
	r := newRig(t)
	before := len(auditActions(t, r, "auth.login_failed"))
	for _, name := range []string{strings.Repeat("a", 129), "ann\nforged line", "x\x00"} {
		got := r.do(t, "", "POST", "/api/v1/login", map[string]string{"user": name, "password": "whatever"})
		var e struct{ Field string }
		got.json(t, &e)
		if got.code != 400 || e.Field != "user" {
			t.Errorf("login as %q: %d %s", name, got.code, got.body)
		}
	}
	got := r.do(t, "", "POST", "/api/v1/login", map[string]string{"user": strings.Repeat("a", 128), "password": "whatever"})
	if got.code != 401 {
		t.Errorf("128-character name: %d, want 401 (wrong password)", got.code)
	}
	if n := len(auditActions(t, r, "auth.login_failed")); n != before+1 {
		t.Errorf("%d failed-login events, want %d", n, before+1)
	}
}

func auditActions(t *testing.T, r *rig, action string) []string {
	t.Helper()
	list, err := r.st.ListAudit(t.Context(), storage.Epoch, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		if e.Action == action {
			out = append(out, e.Subject)
		}
	}
	return out
}
