package api_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// TestHistory: a device's power in buckets from the store's bucketed query with the
// forecast band for the same times, a node through its meter, and bad requests named.
func TestHistory(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	var samples []storage.Sample
	for k := 0; k < 8; k++ { // two hours before the first cycle, every 15 min: 100, 110, ...
		samples = append(samples, storage.Sample{Time: start.Add(-2*time.Hour + time.Duration(k)*15*time.Minute), DeviceID: "building", Point: "active_power_kw", Value: 100 + 10*float64(k), Quality: storage.QualityGood})
	}
	if err := r.st.WriteTelemetry(ctx, samples); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"device": {"building"}, "from": {start.Add(-2 * time.Hour).Format(time.RFC3339)}, "to": {start.Add(6 * time.Hour).Format(time.RFC3339)}, "width_seconds": {"3600"}}
	var h struct {
		Width  int `json:"width_seconds"`
		Actual []struct {
			Time           time.Time
			Mean, Min, Max float64
			Count          int64
		} `json:"actual"`
		Forecast struct {
			Series string
			Points []struct {
				Time          time.Time
				P10, P50, P90 float64
			}
		} `json:"forecast"`
	}
	res := r.do(t, "viewer", "GET", "/api/v1/history?"+q.Encode(), nil)
	res.json(t, &h)
	if res.code != 200 || h.Width != 3600 || len(h.Actual) < 3 {
		t.Fatalf("history %d %s", res.code, res.body)
	}
	if a := h.Actual[0]; !a.Time.Equal(start.Add(-2*time.Hour)) || a.Mean != 115 || a.Min != 100 || a.Max != 130 || a.Count != 4 {
		t.Errorf("first hour %+v, want mean 115 of 100..130 (4 samples)", a)
	}
	if h.Forecast.Series != "load:building" || len(h.Forecast.Points) != 24 {
		t.Fatalf("forecast %s with %d points, want 24 quarter hours after the cycle", h.Forecast.Series, len(h.Forecast.Points))
	}
	for _, p := range h.Forecast.Points {
		if p.Time.Before(start) || !(p.P10 <= p.P50 && p.P50 <= p.P90) {
			t.Fatalf("forecast point %+v", p)
		}
	}
	res = r.do(t, "viewer", "GET", "/api/v1/history?node=sub", nil)
	var n struct{ Device string }
	res.json(t, &n)
	if res.code != 200 || n.Device != "meter" {
		t.Errorf("node history %d %s", res.code, res.body)
	}
	for _, tc := range []struct{ query, field string }{
		{"", "device"},
		{"device=nope", "device"},
		{"node=nope", "node"},
		{"device=building&node=sub", "node"},
		{"device=building&width_seconds=0", "width_seconds"},
		{"device=building&from=yesterday", "from"},
	} {
		res := r.do(t, "viewer", "GET", "/api/v1/history?"+tc.query, nil)
		var e struct{ Field string }
		res.json(t, &e)
		if res.code != 400 || e.Field != tc.field {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.query, res.code, res.body, tc.field)
		}
	}
	if res := r.do(t, "op1", "GET", "/api/v1/history?device=building", nil); res.code != 400 {
		t.Errorf("an operator reads a building: %d", res.code)
	}
	if res := r.do(t, "op1", "GET", fmt.Sprintf("/api/v1/history?device=%s", "ev-1"), nil); res.code != 200 {
		t.Errorf("an operator reads its charger: %d %s", res.code, res.body)
	}
}
