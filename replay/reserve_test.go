package replay

import (
	"context"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

// TestStrategiesHoldReserve: with a reserve above min_soc, the battery never ends a
// step below it under any strategy that moves it: optimize and rule act on dispatch's
// scenario, hindsight on its own, and all of them take the reserve as the lower SoC
// bound (the interlock alone checks only at the start of a cycle).
func TestStrategiesHoldReserve(t *testing.T) {
	from := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	for _, tc := range []struct {
		name, strategy string
		siteWide       bool
	}{
		{"optimize, device reserve", Optimize, false},
		{"rule, device reserve", Rule, false},
		{"hindsight, device reserve", Hindsight, false},
		{"hindsight, site-wide reserve", Hindsight, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := demoConfig(t)
			const reservePct = 45 // the demo battery starts at 50 %
			var capKWh float64
			for i := range cfg.Devices {
				d := &cfg.Devices[i]
				if d.Kind != site.KindBESS {
					continue
				}
				capKWh += d.BESS.CapacityKWh
				if !tc.siteWide {
					d.Safety = &site.DeviceSafety{ReserveSoCPct: reservePct}
				}
			}
			if tc.siteWide {
				cfg.Safety.ReserveSoCPct = reservePct
			}
			r, err := Run(context.Background(), Options{Config: cfg, History: demoHistory(t, cfg, from, to), From: from, To: to, Strategy: tc.strategy})
			if err != nil {
				t.Fatal(err)
			}
			if r.FailedCycles != 0 {
				t.Fatalf("failed cycles: %v", r.CycleErrors)
			}
			floor := capKWh * reservePct / 100
			below, lowest := 0, capKWh
			for _, s := range r.Steps {
				lowest = min(lowest, s.SoCKWh)
				if s.SoCKWh < floor-0.5 {
					below++
				}
			}
			if below > 0 {
				t.Errorf("%d of %d steps end below the reserve %.1f kWh (lowest %.2f kWh)", below, len(r.Steps), floor, lowest)
			}
			if lowest > floor+20 {
				t.Errorf("lowest SoC %.1f kWh: the battery never approached the reserve %.1f kWh, so the test shows nothing", lowest, floor)
			}
		})
	}
}
