package replay

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/storage/memstore"
)

// TestNoFutureInForecasts replays a day whose load has a spike no earlier data shows;
// no forecast issued before the spike may contain it.
func TestNoFutureInForecasts(t *testing.T) {
	cfg := smallConfig(t)
	day := time.Date(2020, 6, 10, 0, 0, 0, 0, time.UTC)
	start := day.Add(-40 * 24 * time.Hour)
	spikeH := int(day.Add(14*time.Hour).Sub(start) / time.Hour)
	load := func(h int) float64 {
		if h == spikeH {
			return 90
		}
		return 10
	}
	dir := writeSmallHistory(t, start, 42*24, load, func(int) float64 { return 0 }, "")
	h, err := LoadHistory(cfg, dir, nil, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, every := range []int{1, 4} {
		st := memstore.New()
		if _, err := Run(context.Background(), Options{Config: cfg, History: h, From: day, To: day.Add(24 * time.Hour), Strategy: Optimize, Store: st, ForecastEvery: every}); err != nil {
			t.Fatal(err)
		}
		spike := day.Add(13 * time.Hour) // the linear ramp to the spike starts an hour before it
		checked := 0
		for issued := day; issued.Before(spike); issued = issued.Add(15 * time.Minute) {
			pts, err := st.ForecastAsOf(context.Background(), "load:load-1", 0.5, issued, issued, issued.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pts {
				checked++
				if p.Value > 10+1e-6 {
					t.Fatalf("every=%d: forecast issued %s for %s is %.2f kW: it saw the spike", every, p.IssuedAt.Format(time.RFC3339), p.ValidAt.Format(time.RFC3339), p.Value)
				}
			}
		}
		if checked < 100 {
			t.Fatalf("every=%d: only %d forecast values checked", every, checked)
		}
		// After the spike the persistence-free weekly forecast still says 10, but the
		// telemetry must show the spike: the replay did run through it.
		smp, err := st.TelemetryRange(context.Background(), "load-1", "active_power_kw", day.Add(14*time.Hour), day.Add(14*time.Hour+time.Minute))
		if err != nil || len(smp) != 1 || math.Abs(smp[0].Value-90) > 1e-9 {
			t.Fatalf("telemetry at the spike: %v %v", smp, err)
		}
	}
}

func TestEveryForecaster(t *testing.T) {
	origin := time.Date(2020, 3, 2, 0, 0, 0, 0, time.UTC)
	var hist []forecast.Point
	for t0 := origin.Add(-15 * 24 * time.Hour); t0.Before(origin.Add(2 * time.Hour)); t0 = t0.Add(15 * time.Minute) {
		v := 50 + 20*math.Sin(float64(t0.Unix())/86400*2*math.Pi) + float64(t0.Weekday())
		hist = append(hist, forecast.Point{Time: t0, Value: v})
	}
	c := newEveryForecaster(forecast.Fallback{}, 4)
	ctx := context.Background()
	for k := 0; k < 6; k++ {
		o := origin.Add(time.Duration(k) * 15 * time.Minute)
		var before []forecast.Point
		for _, p := range hist {
			if p.Time.Before(o) {
				before = append(before, p)
			}
		}
		req := forecast.Request{Series: "load:x", History: before, Origin: o, Step: 15 * time.Minute, Steps: 8}
		got, err := c.Forecast(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		want, err := forecast.Fallback{}.Forecast(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.P50) != 8 || !got.Times[0].Equal(o) {
			t.Fatalf("origin +%d: %d values from %s", k, len(got.P50), got.Times[0])
		}
		for j := range got.P50 {
			if math.Abs(got.P50[j]-want.P50[j]) > 1e-9 {
				t.Fatalf("origin +%d step %d: cached P50 %g, fresh %g (method %s)", k, j, got.P50[j], want.P50[j], want.Method)
			}
		}
	}
}
