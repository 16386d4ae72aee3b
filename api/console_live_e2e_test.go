package api_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// TestConsoleLiveInChromium: a dispatcher sets an override from the console; the
// battery is written at once; the next tick of the real-time layer reads the new
// power and the console shows it within seconds (pushed over /api/v1/live, no reload,
// before the 10 s refresh), with its "as of" time; cancelling the override from the
// console writes the plan's setpoint at once.
func TestConsoleLiveInChromium(t *testing.T) {
	bin := needChromium(t)
	r := newRig(t)
	if _, err := r.svc.Approve(context.Background(), r.sched.ID, "user:dana", "plan in force for the test"); err != nil {
		t.Fatal(err)
	}
	planned := math.NaN()
	for _, sp := range r.sched.Setpoints {
		if sp.DeviceID == "bess" && sp.Step == 0 {
			planned = sp.PowerKW
		}
	}
	if math.IsNaN(planned) || math.Abs(planned-(-20)) < 1 {
		t.Fatalf("test premise: plan for bess %v", planned)
	}
	url := consoleServer(t, r, "live-values-pw")
	p := loginAs(t, bin, "live", url+"/", "dana", "live-values-pw", desktop)
	p.wait("site drawn", `document.body.dataset.rendered === "site:en" && document.querySelector('#tree .dev-row[data-device="bess"]')`)
	p.wait("override form", `document.querySelectorAll("#o-device option").length > 0`)
	p.do("pick bess", chromedpSetValue("#o-device", "bess"))
	p.typeText("#o-kw", "-20")
	p.typeText("#ks-reason", "hold the battery for a test")
	p.click("#o-add")
	p.wait("override listed", `[...document.querySelectorAll("#overrides tbody tr")].some(tr => tr.textContent.includes("bess"))`)
	if st, _ := r.sm.State("bess"); math.Abs(st.SetpointKW-(-20)) > 0.1 {
		t.Fatalf("override not written at once: bess setpoint %v", st.SetpointKW)
	}
	// The real-time layer's next tick reads the field; the console shows it at once.
	tick := r.clk.Now().Add(2 * time.Second)
	r.clk.Set(tick)
	if _, err := r.svc.ControlTick(context.Background(), tick, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.waitWithin("pushed value", `document.querySelector('#tree .dev-row[data-device="bess"] .pw').textContent.startsWith("-20.0")`, 5*time.Second)
	p.waitWithin("as of the tick", `document.querySelector("#asof").dataset.time === "`+tick.UTC().Format("2006-01-02T15:04:05.000Z")+`"`, 5*time.Second)
	if asof := eval[string](p, `document.querySelector("#asof").textContent`); !strings.Contains(asof, tick.UTC().Format("15:04")) || !strings.Contains(asof, "+00:00") {
		t.Errorf("as-of text %q", asof)
	}
	// The single-line diagram shows the substation's flow against its limit.
	p.wait("diagram", `document.querySelector('#sld-svg text.sld-flow[data-node="sub"]') && document.querySelector('#sld-svg text.sld-flow[data-node="sub"]').textContent.includes("/ 500 kW")`)
	p.screenshot("console-live-override")

	p.typeText("#ks-reason", "test over")
	p.click(`#overrides button[data-cancel]`)
	p.wait("override gone", `document.querySelectorAll("#overrides tbody tr").length === 0`)
	if st, _ := r.sm.State("bess"); math.Abs(st.SetpointKW-planned) > 0.1 {
		t.Fatalf("after cancelling bess is at %v kW, the plan says %v", st.SetpointKW, planned)
	}

	// History: the building's load from the store's buckets with the forecast band.
	var samples []storage.Sample
	for k := 0; k < 16; k++ {
		samples = append(samples, storage.Sample{Time: start.Add(-4*time.Hour + time.Duration(k)*15*time.Minute), DeviceID: "building", Point: "active_power_kw", Value: 150 + float64(k), Quality: storage.QualityGood})
	}
	if err := r.st.WriteTelemetry(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	p.click(`nav button[data-view="history"]`)
	p.wait("history options", `document.querySelector("#h-what").value === "device:building"`)
	p.do("range 6 h", chromedpSetValue("#h-range", "6"))
	p.wait("history drawn", `document.querySelector("#hist-svg path.actual") && document.querySelector("#hist-svg path.band") && document.querySelector("#hist-svg path.p50")`)
	p.screenshot("console-history")
}
