package fieldbus_test

import (
	"context"
	"testing"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// TestTextPointsOverModbus polls string, enum and bitfield points from the simulator:
// the text arrives in Value.Text, garbage registers name every set bit, and a read
// answered with an exception keeps the last good text at quality bad.
func TestTextPointsOverModbus(t *testing.T) {
	cfg := testSite(t)
	cfg.File = "testdata/site.yaml" // profiles resolve against testdata/
	for i := range cfg.Devices {
		if cfg.Devices[i].ID == "pv" {
			cfg.Devices[i].Profile = "profiles/pv-status.yaml"
		}
	}
	r := startRig(t, cfg)
	p := fieldbus.NewPoller(r.devices, r.clk, quiet, fieldbus.WithBreaker(fieldbus.Breaker{}), fieldbus.WithRetry(fieldbus.Retry{}))
	defer p.Close()
	ctx := context.Background()
	text := func(rd fieldbus.Reading, point string) (string, fieldbus.Quality) {
		t.Helper()
		v, ok := rd.Value(point)
		if !ok {
			t.Fatalf("no %s in %+v", point, rd.Values)
		}
		return v.Text, v.Quality
	}
	check := func(step string, rd fieldbus.Reading, want map[string]string, q fieldbus.Quality) {
		t.Helper()
		for point, w := range want {
			if got, gq := text(rd, point); got != w || gq != q {
				t.Errorf("%s: %s = %q (%s), want %q (%s)", step, point, got, gq, w, q)
			}
		}
	}
	normal := map[string]string{
		"manufacturer": "gridd", "model": "pv-status", "serial_number": "pv",
		"status": "running", "alarm": "",
	}
	pv := byID(p.Poll(ctx))["pv"]
	if pv.Stale {
		t.Fatal(pv.Err)
	}
	check("normal", pv, normal, fieldbus.Good)
	if v, _ := pv.Value("status"); v.Value != 0 {
		t.Errorf("status number %v, want 0", v.Value)
	}

	if err := r.sim.SetFault("pv", sim.FaultGarbage); err != nil {
		t.Fatal(err)
	}
	pv = byID(p.Poll(ctx))["pv"]
	want := "ground_fault,bit1,bit2,over_temp,bit4,bit5,bit6,bit7,bit8,bit9,bit10,bit11,bit12,bit13,bit14,comms_lost"
	check("garbage", pv, map[string]string{"status": "unknown(65535)", "alarm": want}, fieldbus.Good)

	r.sim.SetFault("pv", sim.FaultNone)
	p.Poll(ctx)
	r.sim.SetFault("pv", sim.FaultException)
	pv = byID(p.Poll(ctx))["pv"]
	check("exception", pv, normal, fieldbus.Bad)
}
