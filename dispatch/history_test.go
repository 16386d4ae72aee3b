package dispatch_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/storage"
)

// oldestSeen records, per series, the oldest history point a forecast was given.
type oldestSeen struct {
	mu     sync.Mutex
	oldest map[string]time.Time
}

func (o *oldestSeen) Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error) {
	o.mu.Lock()
	for _, p := range req.History {
		if t, ok := o.oldest[req.Series]; !ok || p.Time.Before(t) {
			o.oldest[req.Series] = p.Time
		}
	}
	o.mu.Unlock()
	return forecast.Fallback{}.Forecast(ctx, req)
}

// TestForecastHistory checks how much stored telemetry the load forecast is given:
// forecast.AutoHistory by default, Options.ForecastHistory when set; a negative
// value is refused.
func TestForecastHistory(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 30, at8)
	var smp []storage.Sample
	for ts := at8.Add(-forecast.AutoHistory - 4*24*time.Hour); ts.Before(at8); ts = ts.Add(15 * time.Minute) {
		smp = append(smp, storage.Sample{Time: ts, DeviceID: "building", Point: "active_power_kw", Value: 100, Quality: storage.QualityGood})
	}
	if err := r.st.WriteTelemetry(context.Background(), smp); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		window time.Duration
		oldest time.Time
	}{
		{"default", 0, at8.Add(-forecast.AutoHistory)},
		{"ten days", 10 * 24 * time.Hour, at8.Add(-10 * 24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &oldestSeen{oldest: map[string]time.Time{}}
			svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk, Forecaster: rec, ForecastHistory: tc.window})
			if err != nil {
				t.Fatal(err)
			}
			r.clk.Set(at8)
			if _, err := svc.RunCycle(context.Background(), at8); err != nil {
				t.Fatal(err)
			}
			got, ok := rec.oldest["load:building"]
			if !ok {
				t.Fatal("no forecast of load:building")
			}
			if got.Before(tc.oldest) || got.After(tc.oldest.Add(15*time.Minute)) {
				t.Errorf("oldest history point %s, want %s (within a step)", got.Format(time.RFC3339), tc.oldest.Format(time.RFC3339))
			}
		})
	}
	_, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, ForecastHistory: -time.Hour})
	if err == nil || !strings.Contains(err.Error(), "ForecastHistory") || !strings.Contains(err.Error(), "-1h0m0s") {
		t.Errorf("negative ForecastHistory: %v, want an error naming the field and value", err)
	}
}

// seenAuto is production's forecaster, recording the oldest history point of
// each call.
type seenAuto struct {
	forecast.Auto
	oldest []time.Time
}

func (s *seenAuto) Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error) {
	if req.Series == "load:building" && len(req.History) > 0 {
		s.oldest = append(s.oldest, req.History[0].Time)
	}
	return s.Auto.Forecast(ctx, req)
}

// TestForecastHistoryAuto: with production's forecaster a cycle reads the
// AutoHistory before the day when the day's model is fitted (the first cycle of
// the day), and only the day's telemetry on the next cycles.
func TestForecastHistoryAuto(t *testing.T) {
	r := newRig(t, "{auto: true}", "", 30, at8)
	day := at8.Truncate(24 * time.Hour)
	var smp []storage.Sample
	for ts := day.Add(-forecast.AutoHistory - 4*24*time.Hour); ts.Before(at8); ts = ts.Add(15 * time.Minute) {
		v := 100 + 30*float64(ts.Hour()%12) + 10*float64(ts.Weekday())
		smp = append(smp, storage.Sample{Time: ts, DeviceID: "building", Point: "active_power_kw", Value: v, Quality: storage.QualityGood})
	}
	if err := r.st.WriteTelemetry(context.Background(), smp); err != nil {
		t.Fatal(err)
	}
	rec := &seenAuto{}
	svc, err := dispatch.New(dispatch.Options{Config: r.cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk, Forecaster: rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{at8, at8.Add(15 * time.Minute)} {
		r.clk.Set(at)
		if _, err := svc.RunCycle(context.Background(), at); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.oldest) != 2 {
		t.Fatalf("%d forecasts of load:building, want 2", len(rec.oldest))
	}
	if want := day.Add(-forecast.AutoHistory); !rec.oldest[0].Equal(want) {
		t.Errorf("first cycle: oldest history point %s, want %s", rec.oldest[0].Format(time.RFC3339), want.Format(time.RFC3339))
	}
	if rec.oldest[1].Before(day) {
		t.Errorf("second cycle: oldest history point %s, want the day's only (from %s)", rec.oldest[1].Format(time.RFC3339), day.Format(time.RFC3339))
	}
}
