package forecast

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// weekly15 is a 15-minute load with a daily shape, a weekend dip and noise-free
// structure that the fitted methods reproduce and weekly naive lags on when
// the level moves.
func weekly15(t time.Time) float64 {
	v := 50 + 20*math.Sin(2*math.Pi*float64(t.Hour()*60+t.Minute())/1440)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		v -= 15
	}
	// A slow level drift, so a week-old copy is off.
	return v + 5*math.Sin(2*math.Pi*t.Sub(t0).Hours()/(24*9))
}

// TestAutoDailyFit checks that Auto fits once per series and day (on the
// forecast origin, not the wall clock), that its forecast at the day's start is
// Select's, and that every forecast of the day is finite and from a fitted
// method.
func TestAutoDailyFit(t *testing.T) {
	step := 15 * time.Minute
	day := t0.Add(70 * Day)
	hist := series(t0, day.Add(2*Day), step, weekly15)
	a := &Auto{}
	ctx := context.Background()
	for _, tc := range []struct {
		origin   time.Time
		wantFits int
	}{
		{day, 1}, {day.Add(step), 1}, {day.Add(13 * time.Hour), 1}, {day.Add(Day - step), 1},
		{day.Add(Day), 2}, {day.Add(Day + time.Hour), 2},
	} {
		req := Request{Series: "load:x", History: hist, Origin: tc.origin, Step: step, Steps: 96}
		res, err := a.Forecast(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if a.fits != tc.wantFits {
			t.Errorf("origin %s: %d fits, want %d", tc.origin.Format(time.RFC3339), a.fits, tc.wantFits)
		}
		switch res.Method {
		case MethodRegression, MethodDoubleSeasonal, MethodCombined:
		default:
			t.Errorf("origin %s: method %q, want a fitted one", tc.origin.Format(time.RFC3339), res.Method)
		}
		for k := range res.P50 {
			for _, v := range []float64{res.P10[k], res.P50[k], res.P90[k]} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("origin %s step %d: %v", tc.origin.Format(time.RFC3339), k, v)
				}
			}
			if res.P10[k] > res.P90[k] {
				t.Fatalf("step %d: P10 %v > P90 %v", k, res.P10[k], res.P90[k])
			}
		}
		if tc.origin.Equal(day) {
			sel, err := Select{}.Forecast(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for k := range sel.P50 {
				if math.Abs(sel.P50[k]-res.P50[k]) > 1e-9 {
					t.Fatalf("step %d at the day's start: Auto %v, Select %v", k, res.P50[k], sel.P50[k])
				}
			}
		}
	}
	// HistoryFrom asks for the day only once the day's model exists.
	req := Request{Series: "load:x", Origin: day.Add(Day + 2*time.Hour), Step: step, Steps: 96}
	if got := a.HistoryFrom(req); !got.Equal(day.Add(Day)) {
		t.Errorf("HistoryFrom with the day fitted = %s, want %s", got, day.Add(Day))
	}
	req.Series = "load:other"
	if got := a.HistoryFrom(req); !got.Equal(day.Add(Day - AutoHistory)) {
		t.Errorf("HistoryFrom unfitted = %s, want %s", got, day.Add(Day-AutoHistory))
	}
	// Nothing fitted (three days of history): the whole window is still asked for.
	few := series(day.Add(-3*Day), day.Add(time.Hour), step, weekly15)
	fb, err := a.Forecast(ctx, Request{Series: "load:few", History: few, Origin: day.Add(time.Hour), Step: step, Steps: 96})
	if err != nil {
		t.Fatal(err)
	}
	if fb.Method != MethodDaily {
		t.Errorf("three days of history: method %q, want %q", fb.Method, MethodDaily)
	}
	if got := a.HistoryFrom(Request{Series: "load:few", Origin: day.Add(2 * time.Hour), Step: step, Steps: 96}); !got.Equal(day.Add(-AutoHistory)) {
		t.Errorf("HistoryFrom with nothing fitted = %s, want %s", got, day.Add(-AutoHistory))
	}
	// With only the day's history the cached model still forecasts the same.
	var short []Point
	for _, p := range hist {
		if !p.Time.Before(day.Add(Day)) {
			short = append(short, p)
		}
	}
	o := day.Add(Day + time.Hour)
	full, _ := a.Forecast(ctx, Request{Series: "load:x", History: hist, Origin: o, Step: step, Steps: 96})
	part, err := a.Forecast(ctx, Request{Series: "load:x", History: short, Origin: o, Step: step, Steps: 96})
	if err != nil {
		t.Fatal(err)
	}
	for k := range full.P50 {
		if math.Abs(full.P50[k]-part.P50[k]) > 1e-9 {
			t.Fatalf("step %d: %v with full history, %v with the day's", k, full.P50[k], part.P50[k])
		}
	}
}

// TestAutoNowcast checks that a deviation measured since the day's fit moves
// the first steps toward it and fades with lead time.
func TestAutoNowcast(t *testing.T) {
	step := 15 * time.Minute
	day := t0.Add(70 * Day)
	o := day.Add(10 * time.Hour)
	// A fixed weekly shape plus noise whose persistence fades within hours
	// (AR(1), 0.9 per step), so the carried share of an error must fade too.
	rng := rand.New(rand.NewPCG(1, 2))
	e := 0.0
	hist := series(t0, o, step, func(tm time.Time) float64 {
		e = 0.9*e + 2*rng.NormFloat64()
		return weekly15(tm) - 5*math.Sin(2*math.Pi*tm.Sub(t0).Hours()/(24*9)) + e
	})
	ctx := context.Background()
	a := &Auto{}
	before, err := a.Forecast(ctx, Request{Series: "s", History: hist, Origin: o, Step: step, Steps: 96})
	if err != nil {
		t.Fatal(err)
	}
	// The last hour reads 30 above what it was.
	shifted := append([]Point(nil), hist...)
	for i := range shifted {
		if !shifted[i].Time.Before(o.Add(-time.Hour)) {
			shifted[i].Value += 30
		}
	}
	after, err := a.Forecast(ctx, Request{Series: "s", History: shifted, Origin: o, Step: step, Steps: 96})
	if err != nil {
		t.Fatal(err)
	}
	if a.fits != 1 {
		t.Fatalf("%d fits, want 1 (same day)", a.fits)
	}
	d0 := after.P50[0] - before.P50[0]
	dLast := after.P50[95] - before.P50[95]
	if !(d0 > 5) || !(math.Abs(dLast) < d0/2) {
		t.Errorf("nowcast: first step moved %.2f, last %.2f; want the first up by more than 5 and the last by less than half of it", d0, dLast)
	}
}

// TestAutoBadInput: NaN and Inf in history and weather are gaps; the forecast
// stays finite. Weather that misses part of the horizon leaves the model's
// other steps to the naive floor, never NaN.
func TestAutoBadInput(t *testing.T) {
	day := t0.Add(70 * Day)
	hist := series(t0, day.Add(5*time.Hour), time.Hour, weekly15)
	for i := range hist {
		switch i % 17 {
		case 3:
			hist[i].Value = math.NaN()
		case 5:
			hist[i].Value = math.Inf(1)
		}
	}
	temp := series(t0, day.Add(6*time.Hour), time.Hour, func(tm time.Time) float64 { return 10 + 5*math.Sin(float64(tm.Hour())) })
	temp[10].Value = math.NaN()
	res, err := (&Auto{}).Forecast(context.Background(), Request{Series: "s", History: hist, Temperature: temp, Origin: day.Add(5 * time.Hour), Step: time.Hour, Steps: 24})
	if err != nil {
		t.Fatal(err)
	}
	if res.Input.NonFinite == 0 {
		t.Error("no non-finite value counted")
	}
	for k := range res.P50 {
		for _, v := range []float64{res.P10[k], res.P50[k], res.P90[k]} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("step %d: %v", k, v)
			}
		}
	}
	if _, err := (&Auto{}).Forecast(context.Background(), Request{Series: "s", History: []Point{{Time: day, Value: math.NaN()}}, Origin: day.Add(time.Hour), Step: time.Hour, Steps: 4}); err == nil {
		t.Error("only NaN history: no error")
	}
}

// TestAutoPVPrior checks the PV forecast of a fresh site: the clear-sky shape
// (zero at night, highest around noon), never a flat line from one reading.
func TestAutoPVPrior(t *testing.T) {
	site := PVSite{LatitudeDeg: 52.2, LongitudeDeg: 0.1, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 100}
	o := time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		hist []Point
	}{
		{"no history", nil},
		{"one night reading", []Point{{Time: o.Add(-15 * time.Minute), Value: 0}}},
		{"an evening", series(o.Add(-4*time.Hour), o, 15*time.Minute, func(time.Time) float64 { return 0 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := (&Auto{}).Forecast(context.Background(), Request{Series: "pv", History: tc.hist, Origin: o, Step: 15 * time.Minute, Steps: 96, NonNegative: true, PV: &site})
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != MethodPVPrior {
				t.Errorf("method %q, want %q", res.Method, MethodPVPrior)
			}
			night, noon := res.P50[4], res.P50[48] // 01:00 and 12:00 UTC
			if night != 0 || !(noon > 20) {
				t.Errorf("01:00 %.2f kW, 12:00 %.2f kW; want 0 at night and the clear-sky shape by day", night, noon)
			}
		})
	}
}

// TestAutoPVBandByTimeOfDay: at a midday cycle the PV band is as wide as the
// midday residuals say, not as narrow as the night's (the leads from midnight).
func TestAutoPVBandByTimeOfDay(t *testing.T) {
	site := PVSite{LatitudeDeg: 47.66, LongitudeDeg: 9.18, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 10}
	day := time.Date(2024, 6, 20, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(3, 4))
	idx := map[int64]float64{}
	hist := series(day.Add(-70*Day), day.Add(11*time.Hour), 15*time.Minute, func(tm time.Time) float64 {
		d := tm.Truncate(Day).Unix()
		if _, ok := idx[d]; !ok {
			idx[d] = 0.3 + 0.7*rng.Float64() // a cloudiness per day
		}
		return idx[d] * site.ClearSkyKW(tm, tm.Add(15*time.Minute))
	})
	a := &Auto{}
	o := day.Add(11 * time.Hour)
	res, err := a.Forecast(context.Background(), Request{Series: "pv", History: hist, Origin: o, Step: 15 * time.Minute, Steps: 96, NonNegative: true, PV: &site})
	if err != nil {
		t.Fatal(err)
	}
	if w := res.P90[0] - res.P10[0]; !(w > 1) {
		t.Errorf("method %s: P10–P90 width at 11:00 is %.2f kW, want the midday spread (over 1 kW of a 10 kW array)", res.Method, w)
	}
	if w := res.P90[60] - res.P10[60]; w != 0 {
		t.Errorf("P10–P90 width at 02:00 is %.2f kW, want 0 at night", w)
	}
}
