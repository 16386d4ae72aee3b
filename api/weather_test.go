package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestPutWeather: dispatchers and admins feed a weather forecast; others are
// refused; payloads that are invalid or do not cover the horizon get 400 naming
// the field and value; unknown fields are refused.
func TestPutWeather(t *testing.T) {
	r := newRig(t)
	hours := func(n int) []map[string]any {
		var out []map[string]any
		for h := 0; h < n; h++ {
			out = append(out, map[string]any{"time": start.Add(time.Duration(h) * time.Hour).Format(time.RFC3339), "temperature_c": 14.5, "ghi_wm2": 420})
		}
		return out
	}
	for _, tc := range []struct {
		name, user string
		body       any
		code       int
		want       string
	}{
		{"short", "disp", map[string]any{"points": hours(5)}, 400, "temperature_c: no value for the hour from 2019-06-03T13:00:00Z"},
		{"dispatcher", "disp", map[string]any{"points": hours(24)}, 200, `"points": 24`},
		{"admin", "admin", map[string]any{"points": hours(30)}, 200, `"points": 30`},
		{"viewer", "viewer", map[string]any{"points": hours(24)}, 403, ""},
		{"planner", "planner", map[string]any{"points": hours(24)}, 403, ""},
		{"range", "disp", map[string]any{"points": []map[string]any{{"time": start.Format(time.RFC3339), "ghi_wm2": -3}}}, 400, "points[0].ghi_wm2: -3 is outside"},
		{"no time", "disp", map[string]any{"points": []map[string]any{{"ghi_wm2": 3}}}, 400, "points[0].time is required"},
		{"unknown field", "disp", map[string]any{"points": hours(24), "wind": 3}, 400, "wind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := r.do(t, tc.user, "PUT", "/api/v1/weather", tc.body)
			if x.code != tc.code || !strings.Contains(string(x.body), tc.want) {
				t.Fatalf("status %d body %s, want %d containing %q", x.code, x.body, tc.code, tc.want)
			}
		})
	}
}
