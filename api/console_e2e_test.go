package api_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/storage"
)

// TestConsoleApproveInChromium: a dispatcher logs in to the console in a real headless
// Chromium, opens the proposed schedule, sees its chart, approves it with a reason, and
// the setpoint reaches the simulated battery. A screenshot is kept under
// $GRIDD_ARTIFACTS (default: the test's temporary directory).
func TestConsoleApproveInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("GRIDD_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium not found and GRIDD_REQUIRE_PEERS=1 (scripts/lib/browser.sh installs it)")
		}
		t.Skip("chromium not found (apt-get install chromium, or set GRIDD_CHROMIUM)")
	}
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

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := startBrowser(t, bin)
	step := stepper(t, b, "console-failure.png")
	step("open console", b.open(ctx, hs.URL+"/"))
	step("login form", b.waitFor(ctx, `document.querySelector("#login") && !document.querySelector("#login").hidden`))
	step("type user", b.typeText(ctx, "#user", "dana"))
	step("type password", b.typeText(ctx, "#password", password))
	step("submit", b.click(ctx, "#login-btn"))
	step("logged in", b.waitFor(ctx, `!document.querySelector("#app").hidden && document.querySelector("#whoami").textContent.includes("dana")`))
	step("site tree", b.waitFor(ctx, `document.querySelectorAll("#tree .dev-row").length >= 5`))
	step("schedules tab", b.click(ctx, `nav button[data-view="schedules"]`))
	open := fmt.Sprintf(`button[data-open="%d"]`, r.sched.ID)
	step("schedule listed", b.waitFor(ctx, fmt.Sprintf(`document.querySelector(%q)`, open)))
	step("open schedule", b.click(ctx, open))
	step("chart drawn", b.waitFor(ctx, `document.querySelectorAll("#plan-svg path.layer").length >= 2 && document.querySelector('#plan-svg path.layer[data-asset="bess"]') && document.querySelector("#plan-svg path.price-line")`))
	step("status proposed", b.waitFor(ctx, `document.querySelector("#d-status").textContent === "proposed"`))
	var disabled bool
	step("approve needs a reason", b.eval(ctx, `document.querySelector("#approve").disabled`, &disabled))
	if !disabled {
		t.Fatal("approve button enabled without a reason")
	}
	step("type reason", b.typeText(ctx, "#reason", "checked the cheap-hour charge"))
	step("approve enabled", b.waitFor(ctx, `!document.querySelector("#approve").disabled`))
	step("approve", b.click(ctx, "#approve"))
	step("approved", b.waitFor(ctx, `document.querySelector("#d-status").textContent === "approved"`))
	shot := filepath.Join(artifacts(t), "console-approved.png")
	step("screenshot", b.screenshot(ctx, shot))
	t.Logf("screenshot: %s", shot)

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

// stepper returns a check for one browser step: on error it keeps a screenshot named
// failureShot under artifacts(t) and fails the test naming the step.
func stepper(t *testing.T, b *browser, failureShot string) func(what string, err error) {
	return func(what string, err error) {
		t.Helper()
		if err != nil {
			shot := filepath.Join(artifacts(t), failureShot)
			_ = b.screenshot(context.Background(), shot)
			t.Fatalf("%s: %v (screenshot %s)", what, err, shot)
		}
	}
}

func artifacts(t *testing.T) string {
	dir := os.Getenv("GRIDD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConsoleOperatorLive: a charging operator logs in, sees only its chargers, a new
// setpoint for one of them appears live (Server-Sent Events) and is acknowledged.
func TestConsoleOperatorLive(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		if os.Getenv("GRIDD_REQUIRE_PEERS") == "1" {
			t.Fatal("chromium not found and GRIDD_REQUIRE_PEERS=1")
		}
		t.Skip("chromium not found")
	}
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
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b := startBrowser(t, bin)
	step := stepper(t, b, "operator-failure.png")
	step("open", b.open(ctx, hs.URL+"/"))
	step("login form", b.waitFor(ctx, `!document.querySelector("#login").hidden`))
	step("user", b.typeText(ctx, "#user", "olga"))
	step("password", b.typeText(ctx, "#password", password))
	step("submit", b.click(ctx, "#login-btn"))
	step("chargers view", b.waitFor(ctx, `!document.querySelector("#view-chargers").hidden && document.querySelector("#stream-state").textContent === "live"`))
	var opts []string
	step("charger list", b.waitFor(ctx, `document.querySelectorAll("#s-device option").length > 0`))
	step("read options", b.eval(ctx, `[...document.querySelectorAll("#s-device option")].map(o => o.value)`, &opts))
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
	step("setpoint arrives live", b.waitFor(ctx, `[...document.querySelectorAll("#op-setpoints tbody tr")].some(tr => tr.textContent.includes("ev-2"))`))
	var text string
	step("table text", b.eval(ctx, `document.querySelector("#op-setpoints").textContent`, &text))
	if strings.Contains(text, "ev-3") {
		t.Fatalf("operator sees ev-3: %s", text)
	}
	step("ack", b.click(ctx, `#op-setpoints button[data-ack]`))
	step("acknowledged", b.waitFor(ctx, `document.querySelector("#op-setpoints").textContent.includes("user:olga")`))
	step("screenshot", b.screenshot(ctx, filepath.Join(artifacts(t), "console-operator.png")))
}
