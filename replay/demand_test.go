package replay

import (
	"math"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

// TestBilledDemand: the replay bills each billing period's highest demand-interval
// mean import, not the period's highest step.
func TestBilledDemand(t *testing.T) {
	t0 := time.Date(2024, 6, 29, 22, 0, 0, 0, time.UTC) // Berlin: 30 June, 00:00
	steps := func(start time.Time, step time.Duration, kw ...float64) []StepRecord {
		out := make([]StepRecord, len(kw))
		for i, v := range kw {
			out[i] = StepRecord{Time: start.Add(time.Duration(i) * step), GridKW: v}
		}
		return out
	}
	cat := func(a, b []StepRecord) []StepRecord { return append(append([]StepRecord(nil), a...), b...) }
	for _, tc := range []struct {
		name   string
		tariff site.Tariff
		steps  []StepRecord
		want   float64
	}{
		{"15-minute steps, one month", site.Tariff{}, steps(t0, 15*time.Minute, 100, 250, 80), 250},
		{"5-minute steps are averaged over the interval", site.Tariff{}, steps(t0, 5*time.Minute, 100, 300, 100, 90, 90, 90), 500.0 / 3},
		{"export is no demand", site.Tariff{}, steps(t0, 15*time.Minute, -50, -20), 0},
		{"two months bill two peaks", site.Tariff{},
			cat(steps(t0, 15*time.Minute, 200, 100), steps(t0.Add(24*time.Hour), 15*time.Minute, 150, 120)), 350},
		{"one day in a daily period", site.Tariff{DemandPeriod: site.DemandDaily},
			cat(steps(t0, 15*time.Minute, 200, 100), steps(t0.Add(2*time.Hour), 15*time.Minute, 150, 120)), 200},
		{"a 30-minute interval", site.Tariff{DemandInterval: &site.Duration{D: 30 * time.Minute}}, steps(t0, 15*time.Minute, 100, 250, 80, 90), 175},
	} {
		t.Run(tc.name, func(t *testing.T) {
			berlin, err := time.LoadLocation("Europe/Berlin")
			if err != nil {
				t.Fatal(err)
			}
			cfg := &site.Config{Tariff: tc.tariff, Site: site.SiteSection{Location: berlin}}
			if got := billedDemandKW(cfg, tc.steps); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("billed demand %v kW, want %v", got, tc.want)
			}
		})
	}
}
