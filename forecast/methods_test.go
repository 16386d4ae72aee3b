package forecast

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestSeasonalNaive(t *testing.T) {
	O := t0.Add(21 * Day)
	hourly := series(t0, O, time.Hour, hourOfWeek)
	trunc := func(t time.Time) time.Time { return t.Truncate(time.Hour) }
	minuteVal := func(t time.Time) float64 {
		m := int64(t.Sub(t0) / time.Minute)
		return float64((m * m) % 97)
	}
	quarterVal := func(t time.Time) float64 { return float64(int64(t.Sub(t0)/(15*time.Minute))%11) * 1.5 }

	cases := []struct {
		name    string
		f       SeasonalNaive
		history []Point
		origin  time.Time
		step    time.Duration
		steps   int
		want    func(k int, t time.Time) float64
	}{
		{
			name: "daily hourly", f: SeasonalNaive{Period: Day}, history: hourly, origin: O,
			step: time.Hour, steps: 24,
			want: func(_ int, t time.Time) float64 { return hourOfWeek(t.Add(-Day)) },
		},
		{
			name: "daily horizon beyond period repeats", f: SeasonalNaive{Period: Day}, history: hourly, origin: O,
			step: time.Hour, steps: 60,
			want: func(k int, t time.Time) float64 {
				switch {
				case k < 24:
					return hourOfWeek(t.Add(-Day))
				case k < 48:
					return hourOfWeek(t.Add(-2 * Day))
				}
				return hourOfWeek(t.Add(-3 * Day))
			},
		},
		{
			name: "weekly", f: SeasonalNaive{Period: Week}, history: hourly, origin: O,
			step: time.Hour, steps: 48,
			want: func(_ int, t time.Time) float64 { return hourOfWeek(t.Add(-Week)) },
		},
		{
			name: "weekly horizon nine days", f: SeasonalNaive{Period: Week}, history: hourly, origin: O,
			step: time.Hour, steps: 9 * 24,
			want: func(k int, t time.Time) float64 {
				if k < 168 {
					return hourOfWeek(t.Add(-Week))
				}
				return hourOfWeek(t.Add(-2 * Week))
			},
		},
		{
			name: "daily gap filled from the period before", f: SeasonalNaive{Period: Day},
			history: without(hourly, O.Add(-Day), O.Add(-Day+4*time.Hour)), origin: O,
			step: time.Hour, steps: 24,
			want: func(k int, t time.Time) float64 {
				if k < 4 {
					return hourOfWeek(t.Add(-2 * Day))
				}
				return hourOfWeek(t.Add(-Day))
			},
		},
		{
			name: "origin between samples averages the two hours", f: SeasonalNaive{Period: Day},
			history: hourly, origin: O.Add(-2 * Day).Add(30 * time.Minute),
			step: time.Hour, steps: 24,
			want: func(_ int, t time.Time) float64 {
				src := trunc(t.Add(-Day))
				return (hourOfWeek(src) + hourOfWeek(src.Add(time.Hour))) / 2
			},
		},
		{
			name: "hourly history to 15 min steps", f: SeasonalNaive{Period: Day}, history: hourly, origin: O,
			step: 15 * time.Minute, steps: 96,
			want: func(_ int, t time.Time) float64 { return hourOfWeek(trunc(t.Add(-Day))) },
		},
		{
			name: "hourly history with a missing hour to 15 min steps", f: SeasonalNaive{Period: Day},
			history: without(hourly, O.Add(-Day+5*time.Hour), O.Add(-Day+6*time.Hour)), origin: O,
			step: 15 * time.Minute, steps: 96,
			want: func(k int, t time.Time) float64 {
				if k >= 20 && k < 24 {
					return hourOfWeek(trunc(t.Add(-2 * Day)))
				}
				return hourOfWeek(trunc(t.Add(-Day)))
			},
		},
		{
			name: "15 min history to hourly steps", f: SeasonalNaive{Period: Day},
			history: series(O.Add(-3*Day), O, 15*time.Minute, quarterVal), origin: O,
			step: time.Hour, steps: 24,
			want: func(_ int, t time.Time) float64 {
				s := t.Add(-Day)
				var sum float64
				for i := 0; i < 4; i++ {
					sum += quarterVal(s.Add(time.Duration(i) * 15 * time.Minute))
				}
				return sum / 4
			},
		},
		{
			name: "step not dividing the period", f: SeasonalNaive{Period: time.Hour},
			history: series(O.Add(-6*time.Hour), O, time.Minute, minuteVal), origin: O,
			step: 7 * time.Minute, steps: 30,
			want: func(k int, t time.Time) float64 {
				m := (7*(k+1) + 59) / 60 // periods back so the source ends by the origin
				s := t.Add(-time.Duration(m) * time.Hour)
				var sum float64
				for i := 0; i < 7; i++ {
					sum += minuteVal(s.Add(time.Duration(i) * time.Minute))
				}
				return sum / 7
			},
		},
		{
			name: "minute history to hourly steps", f: SeasonalNaive{Period: Day},
			history: series(O.Add(-2*Day), O, time.Minute, minuteVal), origin: O.Add(-10*time.Minute - 30*time.Second),
			step: time.Hour, steps: 30,
			want: func(k int, t time.Time) float64 {
				// Sources start mid-minute: integrate second by second.
				s := t.Add(-Day * time.Duration(1+k/24))
				var sum float64
				for i := 0; i < 3600; i++ {
					sum += minuteVal(s.Add(time.Duration(i) * time.Second).Truncate(time.Minute))
				}
				return sum / 3600
			},
		},
		{
			name: "time-weighted irregular samples", f: SeasonalNaive{Period: Day},
			history: func() []Point {
				var out []Point
				for h := O.Add(-2 * Day); h.Before(O); h = h.Add(time.Hour) {
					out = append(out, Point{h, 10}, Point{h.Add(45 * time.Minute), 2})
				}
				return out
			}(), origin: O, step: time.Hour, steps: 24,
			// spacing median is 45 min: 10 holds 45 min, 2 holds 15 min.
			want: func(int, time.Time) float64 { return (10*45 + 2*15) / 60.0 },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := c.f.Forecast(context.Background(), Request{
				Series: "load:test", History: c.history, Origin: c.origin, Step: c.step, Steps: c.steps,
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.P50) != c.steps || len(res.Times) != c.steps || len(res.P10) != c.steps || len(res.P90) != c.steps {
				t.Fatalf("lengths %d/%d/%d/%d, want %d", len(res.Times), len(res.P10), len(res.P50), len(res.P90), c.steps)
			}
			for k, tm := range res.Times {
				if wantT := c.origin.Add(time.Duration(k) * c.step); !tm.Equal(wantT) {
					t.Fatalf("Times[%d] = %v, want %v", k, tm, wantT)
				}
				if w := c.want(k, tm); !near(res.P50[k], w) {
					t.Errorf("P50[%d] (%s) = %v, want %v", k, tm.Format(time.RFC3339), res.P50[k], w)
				}
				if res.P10[k] > res.P90[k] {
					t.Errorf("P10[%d] = %v > P90 = %v", k, res.P10[k], res.P90[k])
				}
			}
		})
	}
}

func TestSeasonalNaiveErrors(t *testing.T) {
	O := t0.Add(10 * Day)
	hourly := series(t0, O, time.Hour, hourOfWeek)
	cases := []struct {
		name  string
		f     SeasonalNaive
		hist  []Point
		parts []string
	}{
		{"zero period", SeasonalNaive{}, hourly, []string{"load:x", "Period", "0s"}},
		{"negative period", SeasonalNaive{Period: -time.Hour}, hourly, []string{"Period", "-1h0m0s"}},
		{"period shorter than step", SeasonalNaive{Period: 30 * time.Minute}, hourly, []string{"Period 30m0s", "Step 1h0m0s"}},
		{"period too long", SeasonalNaive{Period: 3 * 366 * Day}, hourly, []string{"Period", "26352h"}},
		{"gap periods too many", SeasonalNaive{Period: Day, MaxGapPeriods: MaxGapPeriodsLimit + 1}, hourly, []string{"MaxGapPeriods", "10001"}},
		{"bad band", SeasonalNaive{Period: Day, Band: BandOptions{Origins: -2}}, hourly, []string{"Band.Origins", "-2"}},
		{
			"step with no data in any period", SeasonalNaive{Period: Day},
			series(O.Add(-20*time.Hour), O, time.Hour, hourOfWeek),
			[]string{"load:x", "step 0", O.Format(time.RFC3339)},
		},
		{
			"gap filling disabled", SeasonalNaive{Period: Day, MaxGapPeriods: -1},
			without(hourly, O.Add(-Day+3*time.Hour), O.Add(-Day+4*time.Hour)),
			[]string{"load:x", "step 3", O.Add(3 * time.Hour).Format(time.RFC3339)},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.f.Forecast(context.Background(), Request{Series: "load:x", History: c.hist, Origin: O, Step: time.Hour, Steps: 24})
			wantErrContains(t, err, c.parts...)
		})
	}
}

func TestPersistence(t *testing.T) {
	O := t0.Add(3 * Day)
	cases := []struct {
		name string
		f    Persistence
		hist []Point
		want float64
	}{
		{"15 min history: mean of last four", Persistence{}, []Point{
			{O.Add(-75 * time.Minute), 100}, {O.Add(-60 * time.Minute), 1}, {O.Add(-45 * time.Minute), 2},
			{O.Add(-30 * time.Minute), 3}, {O.Add(-15 * time.Minute), 6},
		}, 3},
		{"stale history: last hour of data", Persistence{}, []Point{
			{O.Add(-5 * time.Hour), 100}, {O.Add(-4 * time.Hour), 7}, {O.Add(-3 * time.Hour), 9},
		}, 9},
		{"hourly sample straddling origin counts up to origin", Persistence{}, []Point{
			{O.Add(-90 * time.Minute), 4}, {O.Add(-30 * time.Minute), 8},
		}, 6},
		{"two hour window", Persistence{Window: 2 * time.Hour}, []Point{
			{O.Add(-3 * time.Hour), 100}, {O.Add(-2 * time.Hour), 1}, {O.Add(-1 * time.Hour), 5},
		}, 3},
		{"single point", Persistence{}, []Point{{O.Add(-10 * time.Minute), 42}}, 42},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := c.f.Forecast(context.Background(), Request{Series: "s", History: c.hist, Origin: O, Step: 15 * time.Minute, Steps: 8})
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != MethodPersistence {
				t.Errorf("Method = %q", res.Method)
			}
			for k, v := range res.P50 {
				if !near(v, c.want) {
					t.Errorf("P50[%d] = %v, want %v", k, v, c.want)
				}
			}
		})
	}
	_, err := Persistence{Window: -time.Minute}.Forecast(context.Background(), Request{Series: "s", History: []Point{{O.Add(-time.Hour), 1}}, Origin: O, Step: time.Hour, Steps: 1})
	wantErrContains(t, err, "Window", "-1m0s")
}

func TestFallback(t *testing.T) {
	O := t0.Add(42 * Day)
	full := series(t0, O, time.Hour, hourOfWeek)
	cases := []struct {
		name   string
		hist   []Point
		method string
		want   func(k int, t time.Time) float64
	}{
		{"six weeks: weekly", full, MethodWeekly, func(_ int, t time.Time) float64 { return hourOfWeek(t.Add(-Week)) }},
		{"exactly one week: weekly", series(O.Add(-Week), O, time.Hour, hourOfWeek), MethodWeekly,
			func(_ int, t time.Time) float64 { return hourOfWeek(t.Add(-Week)) }},
		{"six days: daily", series(O.Add(-6*Day), O, time.Hour, hourOfWeek), MethodDaily,
			func(k int, t time.Time) float64 { return hourOfWeek(t.Add(-Day * time.Duration(1+k/24))) }},
		{"week reached but weekly source missing: daily",
			append(series(O.Add(-8*Day), O.Add(-6*Day), time.Hour, hourOfWeek), series(O.Add(-2*Day), O, time.Hour, hourOfWeek)...),
			MethodDaily,
			func(k int, t time.Time) float64 { return hourOfWeek(t.Add(-Day * time.Duration(1+k/24))) }},
		{"ten hours: persistence", series(O.Add(-10*time.Hour), O, time.Hour, hourOfWeek), MethodPersistence,
			func(int, time.Time) float64 { return hourOfWeek(O.Add(-time.Hour)) }},
		{"old fragment only: persistence of its last hour", series(O.Add(-8*Day), O.Add(-6*Day-12*time.Hour), time.Hour, hourOfWeek), MethodPersistence,
			func(int, time.Time) float64 { return hourOfWeek(O.Add(-6*Day - 13*time.Hour)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Fallback{}.Forecast(context.Background(), Request{Series: "load:a", History: c.hist, Origin: O, Step: time.Hour, Steps: 48})
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != c.method {
				t.Fatalf("Method = %q, want %q", res.Method, c.method)
			}
			for k, tm := range res.Times {
				if w := c.want(k, tm); !near(res.P50[k], w) {
					t.Errorf("P50[%d] (%s) = %v, want %v", k, tm.Format(time.RFC3339), res.P50[k], w)
				}
			}
		})
	}
}

func TestFallbackNoHistory(t *testing.T) {
	O := t0.Add(Day)
	cases := []struct {
		name  string
		hist  []Point
		parts []string
	}{
		{"empty", nil, []string{"no history for load:z before " + O.Format(time.RFC3339)}},
		{"only after origin", series(O, O.Add(Day), time.Hour, hourOfWeek), []string{"no history for load:z before " + O.Format(time.RFC3339)}},
		{"all NaN or Inf", []Point{{O.Add(-2 * time.Hour), math.NaN()}, {O.Add(-time.Hour), math.Inf(1)}, {O.Add(time.Hour), 5}},
			[]string{"no history for load:z", "all 2 values are NaN or Inf"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Fallback{}.Forecast(context.Background(), Request{Series: "load:z", History: c.hist, Origin: O, Step: time.Hour, Steps: 4})
			wantErrContains(t, err, c.parts...)
			if !errors.Is(err, ErrNoHistory) {
				t.Errorf("error %v does not wrap ErrNoHistory", err)
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	O := t0.Add(10 * Day)
	req := Request{Series: "s", History: series(t0, O, time.Hour, hourOfWeek), Origin: O, Step: time.Hour, Steps: 24}
	for _, f := range []Forecaster{Fallback{}, SeasonalNaive{Period: Day}, Persistence{}} {
		if _, err := f.Forecast(ctx, req); !errors.Is(err, context.Canceled) {
			t.Errorf("%T: err = %v, want context.Canceled", f, err)
		}
	}
}
