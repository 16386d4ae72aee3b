package fieldbus_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// TestKeepAliveHoldsWatchdog: a BESS with a 30 s command watchdog drops its setpoint
// to 0 when nobody writes; the writer's keep-alive re-writes it in time.
func TestKeepAliveHoldsWatchdog(t *testing.T) {
	cfg := testSite(t)
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	wd := profiles["bess"].Clone()
	wd.Watchdog = 30 * time.Second
	profiles["bess"] = wd
	clk := clock.NewSim(testStart)
	s, err := sim.New(cfg, profiles, clk, os.DirFS("../testdata"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var devs []fieldbus.Device
	for _, d := range cfg.Devices {
		devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	w := fieldbus.NewWriter(devs, clk, quiet)
	defer w.Close()
	ctx := context.Background()

	if _, err := w.Write(ctx, "bess", "setpoint_kw", 40); err != nil {
		t.Fatal(err)
	}
	// Nothing is due before a third of the watchdog.
	clk.Advance(5 * time.Second)
	if res, err := w.KeepAlive(ctx); err != nil || len(res) != 0 {
		t.Fatalf("keep-alive after 5 s: %d re-writes, %v; want none", len(res), err)
	}
	// With the keep-alive every 10 s, the setpoint holds for two minutes.
	for i := 0; i < 12; i++ {
		clk.Advance(10 * time.Second)
		res, err := w.KeepAlive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && (len(res) != 1 || res[0].Written != 40 || res[0].Mismatch) {
			t.Fatalf("tick %d: keep-alive re-writes %+v, want bess.setpoint_kw = 40", i, res)
		}
		if st, _ := s.State("bess"); st.SetpointKW != 40 {
			t.Fatalf("tick %d: device setpoint %v, want 40 held by the keep-alive", i, st.SetpointKW)
		}
	}
	// Without it the device falls back to 0 once the watchdog runs out.
	w.Forget("bess", "setpoint_kw")
	clk.Advance(29 * time.Second)
	if st, _ := s.State("bess"); st.SetpointKW != 40 {
		t.Fatalf("setpoint %v before the watchdog ran out, want 40", st.SetpointKW)
	}
	clk.Advance(2 * time.Second)
	if st, _ := s.State("bess"); st.SetpointKW != 0 {
		t.Fatalf("setpoint %v after the watchdog ran out, want 0", st.SetpointKW)
	}
}

func TestProfileWatchdogValidation(t *testing.T) {
	base := `name: x
kind: bess
watchdog: WD
points:
  - {name: setpoint_kw, register: holding, address: 0, type: i16, scale: 0.1, unit: kW, access: ACC, min: -100, max: 100}
`
	for _, tc := range []struct{ wd, acc, want string }{
		{"60s", "rw", ""},
		{"soon", "rw", "not a duration"},
		{"1s", "rw", "between 3s and 1h"},
		{"60s", "r", "no writable point"},
	} {
		yml := strings.NewReplacer("WD", tc.wd, "ACC", tc.acc).Replace(base)
		if tc.acc == "r" {
			yml = strings.Replace(yml, ", min: -100, max: 100", "", 1)
		}
		p, err := fieldbus.ParseProfile("wd.yaml", []byte(yml))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("watchdog %s: %v", tc.wd, err)
		case tc.want == "" && p.Watchdog != time.Minute:
			t.Errorf("watchdog %s parsed as %v", tc.wd, p.Watchdog)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "watchdog") || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("watchdog %s access %s: error %v, want one naming watchdog and %q", tc.wd, tc.acc, err, tc.want)
		}
	}
}
