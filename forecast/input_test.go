package forecast

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestNoLeak(t *testing.T) {
	O := t0.Add(40 * Day)
	past := series(t0, O, time.Hour, hourOfWeek)
	var wild []Point
	for i, tm := 0, O; tm.Before(O.Add(10 * Day)); i, tm = i+1, tm.Add(20*time.Minute) {
		v := 1e12
		if i%2 == 1 {
			v = -1e12
		}
		wild = append(wild, Point{tm, v})
	}
	wild = append(wild, Point{O, math.NaN()}, Point{O.Add(time.Nanosecond), 5e11})
	// Wild values first, so a sort or dedup that looked past Origin would trip.
	mixed := append(append([]Point(nil), wild...), past...)

	for _, f := range []Forecaster{Fallback{}, SeasonalNaive{Period: Day}, SeasonalNaive{Period: Week}, Persistence{},
		SeasonalNaive{Period: Day, Band: BandOptions{MinPerBucket: 1000}}} {
		for _, steps := range []int{24, 24 * 9} {
			base := Request{Series: "s", History: past, Origin: O, Step: time.Hour, Steps: steps}
			want, err := f.Forecast(context.Background(), base)
			if err != nil {
				t.Fatal(err)
			}
			leaky := base
			leaky.History = mixed
			got, err := f.Forecast(context.Background(), leaky)
			if err != nil {
				t.Fatal(err)
			}
			if got.Input.AfterOrigin != len(wild) {
				t.Errorf("%T: AfterOrigin = %d, want %d", f, got.Input.AfterOrigin, len(wild))
			}
			got.Input.AfterOrigin = 0
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%T steps %d: history after Origin changed the result", f, steps)
			}
			for k := range got.P50 {
				for _, v := range []float64{got.P10[k], got.P50[k], got.P90[k]} {
					if math.Abs(v) > 1e6 || math.IsNaN(v) {
						t.Fatalf("%T: value %v at step %d: leaked", f, v, k)
					}
				}
			}
		}
	}
}

func TestInputPolicy(t *testing.T) {
	O := t0.Add(3 * Day)
	hourly := series(t0, O, time.Hour, hourOfWeek)
	src := O.Add(-Day + 3*time.Hour) // source of step 3 for daily naive
	cet := time.FixedZone("CET", 3600)
	cases := []struct {
		name     string
		hist     []Point
		si       time.Duration
		step3    float64
		dups     int
		nonFin   int
		checkAll bool // every step must still equal hourOfWeek(t−24h) except step 3
	}{
		{"duplicate keeps the last", append(append([]Point{{src, 1e6}}, hourly...), Point{src, 7}), 0, 7, 2, 0, true},
		{"duplicate in another zone is the same instant", append(append([]Point(nil), hourly...), Point{src.In(cet), 11}), 0, 11, 1, 0, true},
		{"NaN is a gap filled from the period before", append(without(hourly, src, src.Add(time.Hour)), Point{src, math.NaN()}), 0,
			hourOfWeek(src.Add(-Day)), 0, 1, true},
		{"Inf is a gap", append(without(hourly, src, src.Add(time.Hour)), Point{src, math.Inf(-1)}), 0,
			hourOfWeek(src.Add(-Day)), 0, 1, true},
		{"NaN ends the previous value", []Point{
			{src.Add(-Day - time.Hour), 3}, {src.Add(-time.Hour), 5}, {src, math.NaN()},
		}, 2 * time.Hour, 3, 0, 1, false},
		{"explicit short sample interval", []Point{{src, 10}, {src.Add(20 * time.Minute), 40}}, 10 * time.Minute, 25, 0, 0, false},
		{"explicit long sample interval cut by next point", []Point{{src, 10}, {src.Add(20 * time.Minute), 40}}, time.Hour, 30, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := Request{Series: "s", History: c.hist, Origin: O, Step: time.Hour, Steps: 24, SampleInterval: c.si}
			k3 := 3
			if !c.checkAll { // sparse history: forecast only the step whose source is src
				req.Origin, req.Steps, k3 = src.Add(Day), 1, 0
			}
			res, err := SeasonalNaive{Period: Day}.Forecast(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !near(res.P50[k3], c.step3) {
				t.Errorf("P50 at %s = %v, want %v", res.Times[k3].Format(time.RFC3339), res.P50[k3], c.step3)
			}
			if res.Input.Duplicates != c.dups || res.Input.NonFinite != c.nonFin {
				t.Errorf("Input = %+v, want Duplicates %d NonFinite %d", res.Input, c.dups, c.nonFin)
			}
			if c.checkAll {
				for k, tm := range res.Times {
					if k != 3 && !near(res.P50[k], hourOfWeek(tm.Add(-Day))) {
						t.Errorf("P50[%d] = %v, want %v", k, res.P50[k], hourOfWeek(tm.Add(-Day)))
					}
				}
			}
		})
	}
}

func TestUnsortedEqualsSorted(t *testing.T) {
	O := t0.Add(36 * Day)
	hist := series(t0, O, time.Hour, func(tm time.Time) float64 { return hourOfWeek(tm) + math.Sin(float64(tm.Unix())) })
	shuffled := append([]Point(nil), hist...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if reflect.DeepEqual(shuffled, hist) {
		t.Fatal("shuffle did nothing")
	}
	for _, f := range []Forecaster{Fallback{}, Persistence{}} {
		a, err := f.Forecast(context.Background(), Request{Series: "s", History: hist, Origin: O, Step: 15 * time.Minute, Steps: 96})
		if err != nil {
			t.Fatal(err)
		}
		b, err := f.Forecast(context.Background(), Request{Series: "s", History: shuffled, Origin: O, Step: 15 * time.Minute, Steps: 96})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%T: shuffled history gives a different result", f)
		}
	}
}

func TestRequestValidation(t *testing.T) {
	O := t0.Add(Day)
	hist := series(t0, O, time.Hour, hourOfWeek)
	ok := Request{Series: "pv:roof", History: hist, Origin: O, Step: time.Hour, Steps: 24}
	cases := []struct {
		name  string
		mod   func(*Request)
		parts []string
	}{
		{"zero step", func(r *Request) { r.Step = 0 }, []string{"pv:roof", "Step", "0s"}},
		{"negative step", func(r *Request) { r.Step = -time.Minute }, []string{"Step", "-1m0s"}},
		{"zero steps", func(r *Request) { r.Steps = 0 }, []string{"pv:roof", "Steps", "0"}},
		{"negative steps", func(r *Request) { r.Steps = -3 }, []string{"Steps", "-3"}},
		{"too many steps", func(r *Request) { r.Steps = MaxSteps + 1; r.Step = time.Second }, []string{"Steps", "1048577"}},
		{"horizon too long", func(r *Request) { r.Steps = 1000; r.Step = 24 * time.Hour }, []string{"horizon", "1000×24h0m0s"}},
		{"zero origin", func(r *Request) { r.Origin = time.Time{} }, []string{"pv:roof", "Origin"}},
		{"negative sample interval", func(r *Request) { r.SampleInterval = -time.Second }, []string{"SampleInterval", "-1s"}},
		{"zero timestamp in history", func(r *Request) {
			r.History = append(append([]Point(nil), hist...), Point{})
		}, []string{"pv:roof", "History[24]", "zero timestamp"}},
		{"absurd value", func(r *Request) {
			r.History = append(append([]Point(nil), hist...), Point{O.Add(-30 * time.Minute), -2e15})
		}, []string{"pv:roof", "History[24]", O.Add(-30 * time.Minute).Format(time.RFC3339), "-2e+15"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := ok
			c.mod(&req)
			for _, f := range []Forecaster{Fallback{}, SeasonalNaive{Period: Day}, Persistence{}} {
				_, err := f.Forecast(context.Background(), req)
				wantErrContains(t, err, c.parts...)
			}
		})
	}
	for _, f := range []Forecaster{Fallback{}, SeasonalNaive{Period: Day}, Persistence{}} {
		if _, err := f.Forecast(context.Background(), ok); err != nil {
			t.Errorf("%T: valid request failed: %v", f, err)
		}
	}
}
