package api_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/storage"
)

// TestConsoleApproveInChromium: a dispatcher logs in to the console in a real headless
// Chromium, opens the proposed schedule, sees its chart, approves it with a reason, and
// the setpoint reaches the simulated battery. A screenshot is kept under
// $GRIDD_ARTIFACTS (default: the test's temporary directory).
func TestConsoleApproveInChromium(t *testing.T) {
	bin := needChromium(t)
	r := newRig(t)
	users := api.NewUsers()
	const password = "dispatch-me-please"
	if err := users.Put(api.User{Name: "dana", Role: api.RoleDispatcher}, password, time.Now()); err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(r.svc, api.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close) // after the browser (cleanups run last-in first-out)

	planned := math.NaN()
	for _, sp := range r.sched.Setpoints {
		if sp.DeviceID == "bess" && sp.Step == 0 {
			planned = sp.PowerKW
		}
	}
	if !(planned > 10) {
		t.Fatalf("test premise: the battery should charge in the cheap hour, plan says %v", planned)
	}
	if st, _ := r.sm.State("bess"); math.Abs(st.SetpointKW-planned) < 1 {
		t.Fatalf("test premise: setpoint already %v before approval", st.SetpointKW)
	}

	p := openPage(t, bin, "console", hs.URL+"/", desktop)
	p.wait("login form", `document.querySelector("#login") && !document.querySelector("#login").hidden`)
	p.typeText("#user", "dana")
	p.typeText("#password", password)
	p.click("#login-btn")
	p.wait("logged in", `!document.querySelector("#app").hidden && document.querySelector("#whoami").textContent.includes("dana")`)
	p.wait("site tree", `document.querySelectorAll("#tree .dev-row").length >= 5`)
	p.click(`nav button[data-view="schedules"]`)
	open := fmt.Sprintf(`button[data-open="%d"]`, r.sched.ID)
	p.wait("schedule listed", fmt.Sprintf(`document.querySelector(%q)`, open))
	p.click(open)
	p.wait("chart drawn", `document.querySelectorAll("#plan-svg path.layer").length >= 2 && document.querySelector('#plan-svg path.layer[data-asset="bess"]') && document.querySelector("#plan-svg path.price-line")`)
	p.wait("status proposed", `document.querySelector("#d-status").dataset.status === "proposed"`)
	if !eval[bool](p, `document.querySelector("#approve").disabled`) {
		t.Fatal("approve button enabled without a reason")
	}
	p.typeText("#reason", "checked the cheap-hour charge")
	p.wait("approve enabled", `!document.querySelector("#approve").disabled`)
	p.click("#approve")
	p.wait("approved", `document.querySelector("#d-status").dataset.status === "approved"`)
	shot := p.screenshot("console-approved")
	t.Logf("screenshot: %s", shot)

	ctx := context.Background()
	// The setpoint reached the simulated device.
	st, _ := r.sm.State("bess")
	if math.Abs(st.SetpointKW-planned) > 0.051 {
		t.Fatalf("device setpoint %v, approved plan %v", st.SetpointKW, planned)
	}
	sc, err := r.st.GetSchedule(ctx, r.sched.ID)
	if err != nil || sc.Status != storage.StatusApproved || sc.Approver != "user:dana" || sc.Reason != "checked the cheap-hour charge" {
		t.Fatalf("stored schedule %+v %v", sc, err)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10000 {
		t.Fatalf("screenshot %v %v", fi, err)
	}
}

// TestConsoleOperatorLive: a charging operator logs in, sees only its chargers, a new
// setpoint for one of them appears live (Server-Sent Events) and is acknowledged.
func TestConsoleOperatorLive(t *testing.T) {
	bin := needChromium(t)
	r := newRig(t)
	users := api.NewUsers()
	const password = "operate-the-chargers"
	if err := users.Put(api.User{Name: "olga", Role: api.RoleOperator, Operator: "chargeco"}, password, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := users.Put(api.User{Name: "disp", Role: api.RoleDispatcher}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	tok, _ := users.NewToken("disp", time.Now())
	srv, err := api.NewServer(r.svc, api.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close) // after the browser (cleanups run last-in first-out)
	p := openPage(t, bin, "operator", hs.URL+"/", desktop)
	p.wait("login form", `!document.querySelector("#login").hidden`)
	p.typeText("#user", "olga")
	p.typeText("#password", password)
	p.click("#login-btn")
	p.wait("chargers view", `!document.querySelector("#view-chargers").hidden && document.querySelector("#stream-state").dataset.state === "live"`)
	p.wait("charger list", `document.querySelectorAll("#s-device option").length > 0`)
	opts := eval[[]string](p, `[...document.querySelectorAll("#s-device option")].map(o => o.value)`)
	if len(opts) != 2 || opts[0] != "ev-1" || opts[1] != "ev-2" {
		t.Fatalf("operator sees chargers %v, want ev-1 and ev-2", opts)
	}
	// A dispatcher sets ev-3 (another operator's) and ev-2 through the API.
	for _, dev := range []string{"ev-3", "ev-2"} {
		body := fmt.Sprintf(`{"device_id":%q,"value_kw":6,"until":%q,"reason":"live test"}`, dev, start.Add(time.Hour).Format(time.RFC3339))
		req, _ := http.NewRequest("POST", hs.URL+"/api/v1/overrides", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("override %s: %v %v", dev, err, resp)
		}
		resp.Body.Close()
	}
	p.wait("setpoint arrives live", `[...document.querySelectorAll("#op-setpoints tbody tr")].some(tr => tr.textContent.includes("ev-2"))`)
	if text := eval[string](p, `document.querySelector("#op-setpoints").textContent`); strings.Contains(text, "ev-3") {
		t.Fatalf("operator sees ev-3: %s", text)
	}
	p.click(`#op-setpoints button[data-ack]`)
	p.wait("acknowledged", `document.querySelector("#op-setpoints").textContent.includes("user:olga")`)
	// The plan ahead lists both chargers, free or not; a session is reported, listed
	// with the time it was reported and what the next cycle does with it, and cancelled.
	p.wait("plan ahead", `document.querySelectorAll("#op-plan tbody tr").length === 2`)
	if n := eval[int](p, `document.querySelectorAll("#op-chargers tbody tr").length`); n != 2 {
		t.Errorf("chargers table has %d rows, want ev-1 and ev-2", n)
	}
	arr, dep := start.Add(-30*time.Minute).Format("2006-01-02T15:04"), start.Add(4*time.Hour).Format("2006-01-02T15:04")
	p.do("session fields", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector("#s-device"); s.value = "ev-1";
		document.querySelector("#s-arrival").value = %q; document.querySelector("#s-departure").value = %q; })()`, arr, dep)))
	p.typeText("#s-energy", "15")
	p.click("#s-submit")
	p.wait("answered", `document.querySelector("#s-msg").dataset.status === "plugged_in"`)
	p.wait("session listed", `[...document.querySelectorAll("#op-sessions tbody tr")].some(tr => tr.textContent.includes("ev-1") && tr.textContent.includes("2019-06-03 08:00 +00:00"))`)
	p.screenshot("console-operator")
	p.typeText("#sess-reason", "driver left early")
	p.click(`#op-sessions button[data-cancel-session="ev-1"]`)
	p.wait("session cancelled", `document.querySelectorAll("#op-sessions tbody tr").length === 0`)
}

// loginAs opens the console at vp and logs in.
func loginAs(t *testing.T, bin, name, url, user, password string, vp viewport) *page {
	t.Helper()
	p := openPage(t, bin, name, url, vp)
	p.wait("login form", `document.querySelector("#login") && !document.querySelector("#login").hidden`)
	p.typeText("#user", user)
	p.typeText("#password", password)
	p.click("#login-btn")
	p.wait("logged in", `!document.querySelector("#app").hidden`)
	p.wait("first view drawn", `document.body.dataset.rendered`)
	return p
}

// consoleServer serves the rig's service with one account per role, all with password.
func consoleServer(t *testing.T, r *rig, password string) string {
	t.Helper()
	users := api.NewUsers()
	for _, u := range []api.User{
		{Name: "dana", Role: api.RoleDispatcher},
		{Name: "pat", Role: api.RolePlanner},
		{Name: "olga", Role: api.RoleOperator, Operator: "chargeco"},
		{Name: "vic", Role: api.RoleViewer},
	} {
		if err := users.Put(u, password, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := api.NewServer(r.svc, api.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs.URL
}

// TestConsoleSiteTimeInChromium: on an Asia/Shanghai site the schedule chart's time
// axis, the header's site time and the reasons are in Shanghai time with +08:00, not
// in UTC and not in the browser's zone.
func TestConsoleSiteTimeInChromium(t *testing.T) {
	bin := needChromium(t)
	r := newRigSite(t, strings.Replace(apiSite, "timezone: UTC", "timezone: Asia/Shanghai", 1))
	url := consoleServer(t, r, "site-time-check")
	p := loginAs(t, bin, "sitetime", url+"/", "dana", "site-time-check", desktop)
	p.wait("header site time", `document.querySelector("#now").textContent.includes("+08:00")`)
	p.click(`nav button[data-view="schedules"]`)
	open := fmt.Sprintf(`button[data-open="%d"]`, r.sched.ID)
	p.wait("schedule listed", fmt.Sprintf(`document.querySelector(%q)`, open))
	p.click(open)
	p.wait("chart drawn", `document.querySelectorAll("#plan-svg .tick-x").length >= 4`)
	type tick struct{ Time, Text string }
	ticks := eval[[]tick](p, `[...document.querySelectorAll("#plan-svg .tick-x")].map(e => ({Time: e.dataset.time, Text: e.textContent}))`)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	if ticks[0].Time != r.sched.Start.UTC().Format("2006-01-02T15:04:05.000Z") || ticks[0].Text != r.sched.Start.In(sh).Format("15:04") {
		t.Errorf("first tick %+v, schedule starts %s (%s in Shanghai)", ticks[0], r.sched.Start.UTC(), r.sched.Start.In(sh).Format("15:04"))
	}
	for _, tk := range ticks {
		at, err := time.Parse(time.RFC3339, tk.Time)
		if err != nil {
			t.Fatalf("tick %+v: %v", tk, err)
		}
		if want := at.In(sh).Format("15:04"); tk.Text != want {
			t.Errorf("tick at %s reads %q, want Shanghai time %q", tk.Time, tk.Text, want)
		}
	}
	if axis := eval[string](p, `document.querySelector("#plan-svg .axis-x").textContent`); !strings.Contains(axis, "+08:00") {
		t.Errorf("time axis label %q names no +08:00", axis)
	}
	p.wait("reasons", `document.querySelectorAll("#reasons li").length > 0`)
	first := eval[string](p, `document.querySelector("#reasons li").textContent`)
	if want := r.sched.Start.In(sh).Format("2006-01-02 15:04 +08:00"); !strings.HasPrefix(first, want) {
		t.Errorf("first reason %q, want it to start with %q", first, want)
	}
	p.screenshot("console-site-time-shanghai")
}
