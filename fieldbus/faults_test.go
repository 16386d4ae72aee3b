package fieldbus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// TestApplyFaultSpec sets every kind of fault from one spec (as `gridd sim --faults`
// does) and checks what the poller and writer see.
func TestApplyFaultSpec(t *testing.T) {
	r := startRig(t, testSite(t))
	specs, err := sim.ParseFaults("pv=no-answer,load=slow:150ms,bess=exception,meter=garbage,ev1=ignore-writes")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.sim.ApplyFaults(append(specs, sim.FaultSetting{Device: "nope", Fault: sim.FaultSlow})); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown device accepted: %v", err)
	}
	if st, _ := r.sim.State("pv"); st.Fault != sim.FaultNone {
		t.Fatalf("a failed ApplyFaults changed pv to %v", st.Fault)
	}
	if err := r.sim.ApplyFaults(specs); err != nil {
		t.Fatal(err)
	}
	// Generous timeouts keep a loaded machine from turning answers into timeouts;
	// only the dead pv has to time out.
	devs := append([]fieldbus.Device(nil), r.devices...)
	for i := range devs {
		devs[i].Timeout.D = 3 * time.Second
		if devs[i].ID == "pv" {
			devs[i].Timeout.D = 300 * time.Millisecond
		}
	}
	p := fieldbus.NewPoller(devs, r.clk, quiet, fieldbus.WithRetry(fieldbus.Retry{}))
	defer p.Close()
	got := byID(p.Poll(context.Background()))
	if pv := got["pv"]; !pv.Stale || !errors.Is(pv.Err, modbus.ErrTimeout) {
		t.Errorf("no-answer pv: stale %v err %v", pv.Stale, pv.Err)
	}
	if load := got["load"]; load.Stale || load.Err != nil || load.Latency < 150*time.Millisecond {
		t.Errorf("slow load: latency %v err %v", load.Latency, load.Err)
	}
	if bess := got["bess"]; bess.Stale || !errors.Is(bess.Err, modbus.ErrServerDeviceFailure) {
		t.Errorf("exception bess: stale %v err %v", bess.Stale, bess.Err)
	}
	meter := got["meter"]
	if v, _ := meter.Value("frequency_hz"); v.Quality != fieldbus.Bad {
		t.Errorf("garbage meter frequency %+v, want bad", v)
	}
	if ev2 := got["ev2"]; ev2.Stale || ev2.Err != nil {
		t.Errorf("ev2 without a fault: %v", ev2.Err)
	}
	w := fieldbus.NewWriter(devs, r.clk, quiet)
	defer w.Close()
	res, err := w.Write(context.Background(), "ev1", "setpoint_kw", 3)
	if err != nil || !res.Mismatch {
		t.Errorf("ignored write: %+v, %v; want a read-back mismatch", res, err)
	}
}
