package dispatch_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/storage"
)

// TestCycleStoresSelectedForecast runs the production cycle with the default
// forecaster on ten weeks of stored load and checks that the stored forecasts
// were made by a fitted, selected method (not seasonal naive), in every cycle of
// the day, and that they are finite.
func TestCycleStoresSelectedForecast(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 50, at8)
	ctx := context.Background()
	var smp []storage.Sample
	for ts := at8.Add(-70 * 24 * time.Hour); ts.Before(at8); ts = ts.Add(15 * time.Minute) {
		h := float64(ts.Hour()*60+ts.Minute()) / 1440
		v := 120 + 60*math.Sin(2*math.Pi*h) + 20*math.Sin(2*math.Pi*ts.Sub(at8).Hours()/(24*9))
		if wd := ts.Weekday(); wd == time.Saturday || wd == time.Sunday {
			v -= 40
		}
		smp = append(smp, storage.Sample{Time: ts, DeviceID: "building", Point: "active_power_kw", Value: v, Quality: storage.QualityGood})
	}
	if err := r.st.WriteTelemetry(ctx, smp); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{at8, at8.Add(15 * time.Minute), at8.Add(30 * time.Minute)} {
		r.cycle(t, at)
		pts, err := r.st.ForecastAsOf(ctx, "load:building", 0.5, at, at, at.Add(6*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != 24 {
			t.Fatalf("%s: %d stored P50 points, want 24", at.Format(time.RFC3339), len(pts))
		}
		for _, p := range pts {
			switch p.Method {
			case forecast.MethodRegression, forecast.MethodDoubleSeasonal, forecast.MethodCombined:
			default:
				t.Fatalf("%s: stored forecast made by %q, want the selected fitted method", at.Format(time.RFC3339), p.Method)
			}
			if !p.IssuedAt.Equal(at) || math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				t.Fatalf("stored point %+v", p)
			}
		}
	}
}

// TestWeatherFeed checks the weather file and the API path: a file or feed that
// does not cover the horizon is refused naming the field and hour, NaN and
// out-of-range values naming the field and value; a covering feed is accepted.
func TestWeatherFeed(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 50, at8)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	rows := func(from time.Time, hours int) string {
		var b strings.Builder
		b.WriteString("timestamp_utc,temperature_c,ghi_wm2\n")
		for h := 0; h < hours; h++ {
			b.WriteString(from.Add(time.Duration(h)*time.Hour).Format(time.RFC3339) + ",12.5,300\n")
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, body, want string
	}{
		{"covers", rows(at8, 24), ""},
		{"short", rows(at8, 20), "temperature_c: no value for the hour from 2019-06-04T04:00:00Z"},
		{"nan", "timestamp_utc,temperature_c\n2019-06-03T08:00:00Z,NaN\n", `column temperature_c: "NaN" is not a finite number`},
		{"range", "timestamp_utc,ghi_wm2\n2019-06-03T08:00:00Z,2000\n", "ghi_wm2: 2000 is outside"},
		{"no column", "timestamp_utc,wind\n2019-06-03T08:00:00Z,3\n", "neither temperature_c nor ghi_wm2"},
	} {
		t.Run("file/"+tc.name, func(t *testing.T) {
			cfg := *r.cfg
			cfg.Weather.File = write(tc.name+".csv", tc.body)
			_, err := dispatch.New(dispatch.Options{Config: &cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "weather.file") {
				t.Fatalf("err = %v, want one naming weather.file and %q", err, tc.want)
			}
		})
	}
	f := func(v float64) *float64 { return &v }
	hours := func(n int) []dispatch.WeatherPoint {
		var out []dispatch.WeatherPoint
		for h := 0; h < n; h++ {
			out = append(out, dispatch.WeatherPoint{Time: at8.Add(time.Duration(h) * time.Hour), TemperatureC: f(10)})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pts  []dispatch.WeatherPoint
		want string
	}{
		{"covers", hours(24), ""},
		{"short", hours(3), "temperature_c: no value for the hour from 2019-06-03T11:00:00Z"},
		{"range", []dispatch.WeatherPoint{{Time: at8, TemperatureC: f(99)}}, "points[0].temperature_c: 99 is outside"},
		{"off the hour", []dispatch.WeatherPoint{{Time: at8.Add(time.Minute), TemperatureC: f(9)}}, "points[0].time: 2019-06-03T08:01:00Z is not on the hour"},
		{"empty", nil, "points: empty"},
	} {
		t.Run("api/"+tc.name, func(t *testing.T) {
			svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk})
			if err != nil {
				t.Fatal(err)
			}
			r.clk.Set(at8)
			before := len(r.audit(t, "weather.set"))
			err = svc.SetWeather(context.Background(), tc.pts, "test")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ev := r.audit(t, "weather.set"); len(ev) != before+1 || ev[len(ev)-1].Actor != "test" {
					t.Fatalf("weather.set audit events %d after %d (want one more, by test)", len(ev), before)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParseWeatherCSV: any input is parsed or refused without panic, and what
// is parsed holds only finite values.
func FuzzParseWeatherCSV(f *testing.F) {
	f.Add("timestamp_utc,temperature_c,ghi_wm2\n2019-06-03T08:00:00Z,12.5,300\n")
	f.Add("timestamp_utc,ghi_wm2\n2019-06-03T08:00:00Z,\n")
	f.Add("timestamp_utc,temperature_c\nx,Inf\n")
	f.Fuzz(func(t *testing.T, s string) {
		pts, err := dispatch.ParseWeatherCSV(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, p := range pts {
			for _, v := range []*float64{p.TemperatureC, p.GHIWm2} {
				if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
					t.Fatalf("non-finite value parsed: %+v", p)
				}
			}
			if p.TemperatureC == nil && p.GHIWm2 == nil {
				t.Fatalf("point without values: %+v", p)
			}
		}
	})
}

// negativeForecaster returns a load forecast that dips below 0 unless the
// request asks for the floor.
type negativeForecaster struct{}

func (negativeForecaster) Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error) {
	res, err := forecast.Fallback{Band: forecast.BandOptions{Skip: true}}.Forecast(ctx, req)
	if err != nil {
		return nil, err
	}
	for k := range res.P50 {
		v := -5.0
		if req.NonNegative {
			v = 0
		}
		res.P10[k], res.P50[k], res.P90[k] = v, v, v
	}
	return res, nil
}

// TestLoadForecastFloored: a load forecast is asked for as a non-negative
// magnitude, so a model that would dip below 0 near a zero load cannot make the
// cycle's scenario invalid.
func TestLoadForecastFloored(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 50, at8)
	var smp []storage.Sample
	for ts := at8.Add(-8 * 24 * time.Hour); ts.Before(at8); ts = ts.Add(15 * time.Minute) {
		smp = append(smp, storage.Sample{Time: ts, DeviceID: "building", Point: "active_power_kw", Value: 1, Quality: storage.QualityGood})
	}
	if err := r.st.WriteTelemetry(context.Background(), smp); err != nil {
		t.Fatal(err)
	}
	svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk, Forecaster: negativeForecaster{}})
	if err != nil {
		t.Fatal(err)
	}
	r.clk.Set(at8)
	res, err := svc.RunCycle(context.Background(), at8)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Error != "" {
		t.Fatalf("cycle error: %s", res.Run.Error)
	}
}
