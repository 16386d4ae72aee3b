package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/storage"
)

// TestConsoleAlarmAckInChromium: a battery the real-time layer loses for control shows
// in the site view's attention panel (re-read after the poll that found it), and a dispatcher
// acknowledges it there with a reason; the acknowledgement is audited with the user.
func TestConsoleAlarmAckInChromium(t *testing.T) {
	bin := needChromium(t)
	r := newRig(t)
	url := consoleServer(t, r, "alarm-ack-check-pw")
	p := loginAs(t, bin, "alarm", url+"/", "dana", "alarm-ack-check-pw", desktop)
	p.wait("site drawn", `document.body.dataset.rendered === "site:en"`)
	if err := r.sm.ApplyFaults([]sim.FaultSetting{{Device: "bess", Fault: sim.FaultGarbage, Point: "soc_pct"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for k := 1; k <= 2; k++ {
		at := start.Add(time.Duration(k) * 2 * time.Second)
		r.clk.Set(at)
		_, _ = r.svc.ControlTick(ctx, at, 2*time.Second)
	}
	p.wait("alarm shown", `document.querySelector('#alarms li[data-key="control.lost:bess"] button[data-ack]')`)
	p.typeText(`#alarms input[data-ack-reason="control.lost:bess"]`, "battery team")
	// The next poll redraws the panel while the dispatcher types: the text stays.
	at := start.Add(6 * time.Second)
	r.clk.Set(at)
	_, _ = r.svc.ControlTick(ctx, at, 2*time.Second)
	p.wait("redrawn after the poll", `document.querySelector("#asof").dataset.time === "`+at.UTC().Format("2006-01-02T15:04:05.000Z")+`"`)
	p.do("keep typing", chromedpTypeFocused(" informed"))
	p.click(`#alarms button[data-ack="control.lost:bess"]`)
	p.wait("acknowledged", `document.querySelector('#alarms li[data-key="control.lost:bess"]') && !document.querySelector('#alarms li[data-key="control.lost:bess"] button[data-ack]') && document.querySelector('#alarms li[data-key="control.lost:bess"]').textContent.includes("user:dana")`)
	p.screenshot("console-alarm-acknowledged")
	events, err := r.st.ListAudit(ctx, storage.Epoch, storage.End, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Action == "alarm.ack" && e.Actor == "user:dana" && strings.Contains(e.Detail, "battery team informed") {
			return
		}
	}
	t.Fatal("no alarm.ack audit event by user:dana with the reason")
}
