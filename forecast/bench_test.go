package forecast

import (
	"context"
	"testing"
	"time"
)

// BenchmarkFallback48h forecasts 48 h ahead from a year of hourly history (all of the
// Cambridge data), including the backtested P10/P90 band.
func BenchmarkFallback48h(b *testing.B) {
	hist := readData(b, "cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh")
	origin := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, step := range []time.Duration{time.Hour, 15 * time.Minute} {
		b.Run(step.String(), func(b *testing.B) {
			req := Request{Series: "load:b36", History: hist, Origin: origin, Step: step, Steps: int(48 * time.Hour / step)}
			for b.Loop() {
				res, err := Fallback{}.Forecast(context.Background(), req)
				if err != nil {
					b.Fatal(err)
				}
				if res.Method != MethodWeekly {
					b.Fatalf("method %q", res.Method)
				}
			}
		})
	}
}

// BenchmarkSelect48h fits every Select candidate and forecasts 48 h ahead with
// the band from two years of hourly history (the Cambridge year repeated).
func BenchmarkSelect48h(b *testing.B) {
	one := readData(b, "cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh")
	hist := make([]Point, 0, 2*len(one))
	for _, p := range one {
		hist = append(hist, Point{Time: p.Time.AddDate(-1, 0, 0), Value: p.Value})
	}
	hist = append(hist, one...)
	for _, c := range []struct {
		name string
		f    Forecaster
		step time.Duration
	}{
		{"select", Select{}, time.Hour},
		{"select/15m", Select{}, 15 * time.Minute},
		{"regression", Regression{}, time.Hour},
		{"double_seasonal", DoubleSeasonal{}, time.Hour},
		// A new Auto each time: its daily fit.
		{"auto-fit/15m", nil, 15 * time.Minute},
	} {
		req := Request{Series: "load:b36", History: hist, Origin: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Step: c.step, Steps: int(48 * time.Hour / c.step)}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				f := c.f
				if f == nil {
					f = &Auto{}
				}
				if _, err := f.Forecast(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAutoUpdate is Auto's per-cycle cost once the day's model is fitted:
// 48 h ahead in 15-minute steps at the day's later origins, given the day's
// history (what dispatch reads after HistoryFrom).
func BenchmarkAutoUpdate(b *testing.B) {
	hist := readData(b, "cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh")
	day := time.Date(2019, 12, 2, 0, 0, 0, 0, time.UTC)
	step := 15 * time.Minute
	a := &Auto{}
	ctx := context.Background()
	req := Request{Series: "load:b36", History: hist, Origin: day, Step: step, Steps: 192}
	if _, err := a.Forecast(ctx, req); err != nil {
		b.Fatal(err)
	}
	var today []Point
	for _, p := range hist {
		if !p.Time.Before(day) && p.Time.Before(day.Add(Day)) {
			today = append(today, p)
		}
	}
	req.History = today
	k := 0
	for b.Loop() {
		k = k%95 + 1
		req.Origin = day.Add(time.Duration(k) * step)
		if _, err := a.Forecast(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
	if a.fits != 1 {
		b.Fatalf("%d fits, want 1", a.fits)
	}
}
