package forecast

import (
	"context"
	"testing"
	"time"
)

// BenchmarkFallback48h forecasts 48 h ahead from a year of hourly history (all of the
// Cambridge testdata), including the backtested P10/P90 band.
func BenchmarkFallback48h(b *testing.B) {
	hist := readTestdata(b, "cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh")
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
	one := readTestdata(b, "cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh")
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
	} {
		req := Request{Series: "load:b36", History: hist, Origin: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Step: c.step, Steps: int(48 * time.Hour / c.step)}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.f.Forecast(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
