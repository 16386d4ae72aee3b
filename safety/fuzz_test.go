package safety

import (
	"math"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

// FuzzLimit: for any valid limits, state and request, Limit returns a value that Check
// accepts and that lies inside the static limits, or an error for a non-finite request.
func FuzzLimit(f *testing.F) {
	f.Add(-100.0, 100.0, 2.0, 20.0, 5.0, 50.0, 10.0, true, 40.0, 15)
	f.Add(0.0, 11.0, 0.0, 0.0, 0.0, 0.0, 0.0, false, 300.0, 1)
	f.Add(-50.0, 50.0, 0.5, 30.0, 3.0, 25.0, -40.0, true, -60.0, 0)
	f.Fuzz(func(t *testing.T, lo, hi, ramp, reserve, guard, soc, last float64, hasLast bool, req float64, mins int) {
		l := Limits{DeviceID: "d", Kind: site.KindBESS, Point: "setpoint_kw", MinKW: lo, MaxKW: hi, RampKWPerMin: ramp,
			MinSoCPct: 10, MaxSoCPct: 90, ReserveSoCPct: reserve, SoCGuardPct: guard, CommsLoss: site.SafeZero, ZeroKW: 0}
		e, err := New([]Limits{l}, Options{})
		if err != nil {
			return // invalid limits are rejected, which is fine
		}
		e.Observe("d", true, &soc, nil)
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if hasLast && !math.IsNaN(last) && !math.IsInf(last, 0) && last >= lo && last <= hi {
			e.Written("d", last, at.Add(-time.Duration(mins%1000)*time.Minute))
		}
		d, err := e.Limit("d", req, SourceSchedule, at)
		if math.IsNaN(req) || math.IsInf(req, 0) {
			if err == nil {
				t.Fatalf("non-finite request %v accepted", req)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.ValueKW < lo-1e-9 || d.ValueKW > hi+1e-9 || math.IsNaN(d.ValueKW) {
			t.Fatalf("value %v outside [%v, %v]", d.ValueKW, lo, hi)
		}
		if err := e.Check("d", "setpoint_kw", d.ValueKW, at); err != nil {
			t.Fatalf("Limit gave %v, Check refuses: %v", d.ValueKW, err)
		}
	})
}
