package forecast

import (
	"context"
	"math"
	"testing"
	"time"
)

// noisyDaily is a daily shape plus deterministic noise that differs every hour.
func noisyDaily(t time.Time) float64 {
	h := t.Sub(t0).Hours()
	x := uint64(h*2654435761) % 1000
	return 50 + 20*math.Sin(2*math.Pi*h/24) + float64(x)/50
}

// dailyResiduals independently computes, per lead k (hourly steps, k < 24), the
// residuals actual − daily-naive forecast at origins O − j days, j = 1..n.
func dailyResiduals(O time.Time, n, steps int) [][]float64 {
	out := make([][]float64, steps)
	for j := 1; j <= n; j++ {
		oj := O.Add(-time.Duration(j) * Day)
		for k := 0; k < steps; k++ {
			t := oj.Add(time.Duration(k) * time.Hour)
			out[k] = append(out[k], noisyDaily(t)-noisyDaily(t.Add(-Day)))
		}
	}
	return out
}

func TestBandLeadTime(t *testing.T) {
	O := t0.Add(40 * Day)
	hist := series(t0, O, time.Hour, noisyDaily)
	res, err := SeasonalNaive{Period: Day}.Forecast(context.Background(), Request{Series: "s", History: hist, Origin: O, Step: time.Hour, Steps: 24})
	if err != nil {
		t.Fatal(err)
	}
	if res.Band != BandLeadTime {
		t.Fatalf("Band = %q, want %q", res.Band, BandLeadTime)
	}
	if res.Residuals != 28*24 {
		t.Errorf("Residuals = %d, want %d", res.Residuals, 28*24)
	}
	rs := dailyResiduals(O, 28, 24)
	for k := range res.P50 {
		if w := res.P50[k] + sortedQuantile(rs[k], 0.1); !near(res.P10[k], w) {
			t.Errorf("P10[%d] = %v, want %v", k, res.P10[k], w)
		}
		if w := res.P50[k] + sortedQuantile(rs[k], 0.9); !near(res.P90[k], w) {
			t.Errorf("P90[%d] = %v, want %v", k, res.P90[k], w)
		}
	}
}

func TestBandOverall(t *testing.T) {
	O := t0.Add(40 * Day)
	hist := series(t0, O, time.Hour, noisyDaily)
	cases := []struct {
		name    string
		hist    []Point
		band    BandOptions
		origins int
	}{
		{"buckets below minimum", hist, BandOptions{MinPerBucket: 29}, 28},
		{"short history gives too few origins", series(O.Add(-11*Day), O, time.Hour, noisyDaily), BandOptions{}, 10},
		{"custom origin count", hist, BandOptions{Origins: 5}, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := SeasonalNaive{Period: Day, Band: c.band}.Forecast(context.Background(), Request{Series: "s", History: c.hist, Origin: O, Step: time.Hour, Steps: 24})
			if err != nil {
				t.Fatal(err)
			}
			if res.Band != BandOverall {
				t.Fatalf("Band = %q, want %q", res.Band, BandOverall)
			}
			var abs []float64
			for _, r := range dailyResiduals(O, c.origins, 24) {
				for _, x := range r {
					abs = append(abs, math.Abs(x))
				}
			}
			if res.Residuals != len(abs) {
				t.Errorf("Residuals = %d, want %d", res.Residuals, len(abs))
			}
			q := sortedQuantile(abs, 0.8)
			for k := range res.P50 {
				if !near(res.P90[k]-res.P50[k], q) || !near(res.P50[k]-res.P10[k], q) {
					t.Errorf("step %d: band %v..%v around %v, want ±%v", k, res.P10[k], res.P90[k], res.P50[k], q)
				}
			}
		})
	}
}

func TestBandNone(t *testing.T) {
	O := t0.Add(Day)
	res, err := Fallback{}.Forecast(context.Background(), Request{Series: "s", History: series(O.Add(-3*time.Hour), O, time.Hour, noisyDaily), Origin: O, Step: time.Hour, Steps: 6})
	if err != nil {
		t.Fatal(err)
	}
	if res.Band != BandNone || res.Residuals != 0 {
		t.Fatalf("Band = %q with %d residuals, want %q", res.Band, res.Residuals, BandNone)
	}
	for k := range res.P50 {
		if res.P10[k] != res.P50[k] || res.P90[k] != res.P50[k] {
			t.Errorf("step %d: %v/%v/%v, want equal", k, res.P10[k], res.P50[k], res.P90[k])
		}
	}
}

func TestNonNegative(t *testing.T) {
	pv := func(tm time.Time) float64 {
		h := tm.Sub(t0).Hours()
		s := math.Sin(2 * math.Pi * (h - 6) / 24)
		if s <= 0 {
			return 0
		}
		return s * (2 + float64(uint64(h*2654435761)%1000)/250)
	}
	O := t0.Add(40 * Day)
	req := Request{Series: "pv", History: series(t0, O, time.Hour, pv), Origin: O, Step: time.Hour, Steps: 48}
	raw, err := Fallback{}.Forecast(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	negatives := 0
	for _, v := range raw.P10 {
		if v < 0 {
			negatives++
		}
	}
	if negatives == 0 {
		t.Fatal("test series gives no negative P10 without NonNegative; it tests nothing")
	}
	req.NonNegative = true
	floored, err := Fallback{}.Forecast(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	for k := range raw.P50 {
		for _, c := range []struct {
			name     string
			raw, got float64
		}{{"P10", raw.P10[k], floored.P10[k]}, {"P50", raw.P50[k], floored.P50[k]}, {"P90", raw.P90[k], floored.P90[k]}} {
			if c.got != math.Max(0, c.raw) {
				t.Errorf("%s[%d] = %v, want max(0, %v)", c.name, k, c.got, c.raw)
			}
		}
	}
}

func TestBandOptionsValidation(t *testing.T) {
	O := t0.Add(Day)
	req := Request{Series: "s", History: series(t0, O, time.Hour, noisyDaily), Origin: O, Step: time.Hour, Steps: 4}
	cases := []struct {
		b     BandOptions
		parts []string
	}{
		{BandOptions{Origins: -1}, []string{"Band.Origins", "-1"}},
		{BandOptions{Origins: MaxBacktestOrigins + 1}, []string{"Band.Origins", "10001"}},
		{BandOptions{Spacing: -time.Hour}, []string{"Band.Spacing", "-1h0m0s"}},
		{BandOptions{Bucket: -time.Hour}, []string{"Band.Bucket", "-1h0m0s"}},
		{BandOptions{MinPerBucket: -1}, []string{"Band.MinPerBucket", "-1"}},
	}
	for _, c := range cases {
		for _, f := range []Forecaster{Fallback{Band: c.b}, SeasonalNaive{Period: Day, Band: c.b}, Persistence{Band: c.b}} {
			_, err := f.Forecast(context.Background(), req)
			wantErrContains(t, err, c.parts...)
		}
	}
}

// TestBandSkip checks that Band.Skip leaves the median of every method unchanged
// and sets P10 = P50 = P90 with Band "skipped" and no residuals.
func TestBandSkip(t *testing.T) {
	O := t0.Add(40 * Day)
	hist := series(t0, O, time.Hour, noisyDaily)
	req := Request{Series: "s", History: hist, Origin: O, Step: time.Hour, Steps: 36}
	for _, tc := range []struct {
		name       string
		with, skip Forecaster
	}{
		{"fallback", Fallback{}, Fallback{Band: BandOptions{Skip: true}}},
		{"seasonal-daily", SeasonalNaive{Period: Day}, SeasonalNaive{Period: Day, Band: BandOptions{Skip: true}}},
		{"select", Select{}, Select{Band: BandOptions{Skip: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full, err := tc.with.Forecast(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if full.Band == BandSkipped || full.Residuals == 0 {
				t.Fatalf("without Skip: Band = %q, Residuals = %d; want a computed band", full.Band, full.Residuals)
			}
			res, err := tc.skip.Forecast(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Band != BandSkipped || res.Residuals != 0 {
				t.Errorf("Band = %q, Residuals = %d; want %q, 0", res.Band, res.Residuals, BandSkipped)
			}
			if res.Method != full.Method {
				t.Errorf("Method = %q, want %q", res.Method, full.Method)
			}
			for k := range full.P50 {
				if res.P50[k] != full.P50[k] {
					t.Errorf("P50[%d] = %v, want %v (as without Skip)", k, res.P50[k], full.P50[k])
				}
				if res.P10[k] != res.P50[k] || res.P90[k] != res.P50[k] {
					t.Errorf("step %d: P10/P50/P90 = %v/%v/%v, want all equal", k, res.P10[k], res.P50[k], res.P90[k])
				}
			}
			res.P10[0]++
			if res.P50[0] == res.P10[0] || res.P90[0] == res.P10[0] {
				t.Error("P10 shares its backing array with P50 or P90")
			}
		})
	}
}
