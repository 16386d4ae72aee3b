package forecast

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestDayAheadRealData backtests day-ahead forecasts (issued at 00:00 UTC for the
// next 24 hours) over four weeks of daily origins on real open data.
func TestDayAheadRealData(t *testing.T) {
	cases := []struct {
		file, col   string
		nonNegative bool
		start       time.Time
	}{
		{"cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh", false, time.Date(2019, 3, 4, 0, 0, 0, 0, time.UTC)},
		{"konstanz_residential4_hourly_2016.csv", "pv_kwh", true, time.Date(2016, 5, 30, 0, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		hist := readData(t, c.file, c.col)
		var origins []time.Time
		for d := 0; d < 28; d++ {
			origins = append(origins, c.start.AddDate(0, 0, d))
		}
		end := origins[len(origins)-1].Add(Day)

		// Scale of the data over the scored window: mean absolute deviation from
		// its mean, i.e. the MAE of forecasting the window's own mean.
		var window []float64
		for _, p := range hist {
			if !p.Time.Before(c.start) && p.Time.Before(end) {
				window = append(window, p.Value)
			}
		}
		var mean, mad float64
		for _, v := range window {
			mean += v
		}
		mean /= float64(len(window))
		for _, v := range window {
			mad += math.Abs(v - mean)
		}
		mad /= float64(len(window))

		for _, m := range []struct {
			name   string
			f      Forecaster
			method string
		}{
			{"weekly", SeasonalNaive{Period: Week}, MethodWeekly},
			{"daily", SeasonalNaive{Period: Day}, MethodDaily},
			{"fallback", Fallback{}, MethodWeekly},
		} {
			t.Run(c.col+"/"+m.name, func(t *testing.T) {
				base := Request{Series: c.col, History: hist, Step: time.Hour, Steps: 24, NonNegative: c.nonNegative}
				for _, o := range origins {
					req := base
					req.Origin = o
					res, err := m.f.Forecast(context.Background(), req)
					if err != nil {
						t.Fatal(err)
					}
					if res.Method != m.method || res.Band != BandLeadTime {
						t.Fatalf("origin %s: method %q band %q, want %q %q", o, res.Method, res.Band, m.method, BandLeadTime)
					}
					for k := range res.P50 {
						for _, v := range []float64{res.P10[k], res.P50[k], res.P90[k]} {
							if math.IsNaN(v) || math.IsInf(v, 0) {
								t.Fatalf("origin %s step %d: non-finite %v", o, k, v)
							}
						}
						if res.P10[k] > res.P90[k] {
							t.Fatalf("origin %s step %d: P10 %v > P90 %v", o, k, res.P10[k], res.P90[k])
						}
					}
				}
				s, err := Backtest(context.Background(), m.f, base, origins)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("points %d MAE %.3f (window MAD %.3f) RMSE %.3f bias %.3f coverage %.3f pinball %.3f",
					s.Points, s.MAE, mad, s.RMSE, s.Bias, s.Coverage, s.Pinball)
				if s.Points < 28*24*9/10 {
					t.Errorf("only %d of %d steps scored", s.Points, 28*24)
				}
				// A seasonal method must clearly beat forecasting the window's mean.
				if bound := 0.75 * mad; !(s.MAE < bound) {
					t.Errorf("MAE %.3f is not below 0.75 × the window's mean absolute deviation %.3f = %.3f", s.MAE, mad, bound)
				}
				if s.Coverage < 0.5 || s.Coverage > 0.95 {
					t.Errorf("P10–P90 coverage %.3f outside [0.5, 0.95]", s.Coverage)
				}
			})
		}
	}
}
