package forecast

import (
	"context"
	"math"
	"testing"
	"time"
)

func TestBacktest(t *testing.T) {
	O := t0.Add(10 * Day)
	hist := append(series(O.Add(-3*time.Hour), O, time.Hour, func(time.Time) float64 { return 1 }),
		series(O, O.Add(4*time.Hour), time.Hour, func(time.Time) float64 { return 3 })...)
	cases := []struct {
		name    string
		hist    []Point
		origins []time.Time
		steps   int
		want    Score
	}{
		{"one origin, persistence misses by 2", hist, []time.Time{O}, 4,
			// pinball per point: 0.1·2 + 0.5·2 + 0.9·2 = 3, averaged over 3 quantiles.
			Score{Forecasts: 1, Points: 4, MAE: 2, RMSE: 2, Bias: -2, Coverage: 0, Pinball: 1}},
		{"gap in actuals is not scored", without(hist, O.Add(2*time.Hour), O.Add(3*time.Hour)), []time.Time{O}, 4,
			Score{Forecasts: 1, Points: 3, MAE: 2, RMSE: 2, Bias: -2, Coverage: 0, Pinball: 1}},
		{"two origins", hist, []time.Time{O, O.Add(time.Hour)}, 2,
			// second origin forecasts 3 exactly, with a zero-width band that covers.
			Score{Forecasts: 2, Points: 4, MAE: 1, RMSE: math.Sqrt2, Bias: -1, Coverage: 0.5, Pinball: 0.5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Backtest(context.Background(), Persistence{}, Request{Series: "s", History: c.hist, Step: time.Hour, Steps: c.steps}, c.origins)
			if err != nil {
				t.Fatal(err)
			}
			if s.Forecasts != c.want.Forecasts || s.Points != c.want.Points || s.Methods[MethodPersistence] != c.want.Forecasts {
				t.Errorf("counts %+v, want %+v", *s, c.want)
			}
			for _, m := range []struct {
				name      string
				got, want float64
			}{{"MAE", s.MAE, c.want.MAE}, {"RMSE", s.RMSE, c.want.RMSE}, {"Bias", s.Bias, c.want.Bias},
				{"Coverage", s.Coverage, c.want.Coverage}, {"Pinball", s.Pinball, c.want.Pinball}} {
				if !near(m.got, m.want) {
					t.Errorf("%s = %v, want %v", m.name, m.got, m.want)
				}
			}
		})
	}
}

func TestBacktestErrors(t *testing.T) {
	O := t0.Add(Day)
	hist := series(t0, O, time.Hour, hourOfWeek)
	base := Request{Series: "load:q", History: hist, Step: time.Hour, Steps: 4}
	_, err := Backtest(context.Background(), Fallback{}, base, nil)
	wantErrContains(t, err, "load:q", "no origins")
	_, err = Backtest(context.Background(), Fallback{}, base, []time.Time{t0})
	wantErrContains(t, err, "load:q", "origin "+t0.Format(time.RFC3339), "no history")
	// Forecasting past the end of the data has nothing to score against.
	_, err = Backtest(context.Background(), Fallback{}, base, []time.Time{O.Add(Day)})
	wantErrContains(t, err, "load:q", "no forecast step has a measured actual")
	bad := base
	bad.Steps = 0
	_, err = Backtest(context.Background(), Fallback{}, bad, []time.Time{O})
	wantErrContains(t, err, "Steps", "0")
}
