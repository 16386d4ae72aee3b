package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
)

// TestPutPricesFeedsTheNextCycle pushes day-ahead prices to a site whose tariff takes
// them (tariff.day_ahead, bands as fallback) and checks that the next cycle is priced
// from them, step by step, and the bands beyond.
func TestPutPricesFeedsTheNextCycle(t *testing.T) {
	yml := strings.Replace(apiSite, "  export_price_per_kwh: 0.01\n", "  export_price_per_kwh: 0.01\n  day_ahead: {fallback: tou}\n", 1)
	r := newRigSite(t, yml)
	next := start.Add(15 * time.Minute)
	var pts []map[string]any
	for k := range 4 { // two hours of half-hourly prices from 08:00
		pts = append(pts, map[string]any{"time": start.Add(time.Duration(k) * 30 * time.Minute).Format(time.RFC3339), "import_price_per_kwh": 0.1 * float64(k+1)})
	}
	pts[1]["export_price_per_kwh"] = 0.005
	checkReply(t, r.do(t, "viewer", "PUT", "/api/v1/prices", map[string]any{"points": pts}), 403, "", "")
	got := r.do(t, "disp", "PUT", "/api/v1/prices", map[string]any{"points": pts})
	checkReply(t, got, 200, "", `"points": 4`)

	r.clk.Set(next)
	res, err := r.svc.RunCycle(context.Background(), next)
	if err != nil || res.Schedule == nil {
		t.Fatalf("cycle: %v", err)
	}
	var ex dispatch.Explanation
	r.do(t, "viewer", "GET", fmt.Sprintf("/api/v1/schedules/%d/explain", res.Schedule.ID), nil).json(t, &ex)
	// Steps of 15 minutes from 08:15: 0.1 (08:15), 0.2 (08:30, 08:45), 0.3, 0.3, 0.4, 0.4,
	// then the bands: 0.30 from 10:00.
	wantImp := []float64{0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.30}
	wantExp := []float64{0.01, 0.005, 0.005, 0.01, 0.01, 0.01, 0.01, 0.01}
	for k := range wantImp {
		if d := ex.Steps[k].ImportPrice - wantImp[k]; d > 1e-9 || d < -1e-9 || ex.Steps[k].ExportPrice != wantExp[k] {
			t.Errorf("step %d (%s): %v/%v, want %v/%v", k, ex.Steps[k].Time.Format(time.RFC3339), ex.Steps[k].ImportPrice, ex.Steps[k].ExportPrice, wantImp[k], wantExp[k])
		}
	}
	// The push is audited.
	var audit []struct {
		Action string `json:"action"`
		Actor  string `json:"actor"`
	}
	r.do(t, "viewer", "GET", "/api/v1/audit", nil).json(t, &audit)
	if !slices.ContainsFunc(audit, func(a struct {
		Action string `json:"action"`
		Actor  string `json:"actor"`
	}) bool {
		return a.Action == "prices.set" && a.Actor == "user:disp"
	}) {
		t.Errorf("no prices.set audit entry by user:disp")
	}

	// Bad points are refused whole, naming the point, the field and the value.
	for _, tc := range []struct {
		pts  []map[string]any
		want string
	}{
		{[]map[string]any{{"time": "2019-06-03T08:10:00Z", "import_price_per_kwh": 0.1}}, "points[0].time: 2019-06-03T08:10:00Z is not on a 30m0s boundary"},
		{[]map[string]any{{"time": "2019-06-03T08:00:00Z"}}, "points[0].import_price_per_kwh is required"},
		{[]map[string]any{{"time": "2019-06-03T08:00:00Z", "import_price_per_kwh": 0.1}, {"time": "2019-06-03T08:30:00Z", "import_price_per_kwh": 120}}, "points[1].import_price_per_kwh: 120"},
		{[]map[string]any{{"time": "2019-06-03T08:00:00Z", "import_price_per_kwh": 0.1, "export_price_per_kwh": 0.2}}, "points[0].export_price_per_kwh: 0.2 is above the import price 0.1"},
		{[]map[string]any{}, "points: empty"},
	} {
		checkReply(t, r.do(t, "disp", "PUT", "/api/v1/prices", map[string]any{"points": tc.pts}), 400, "points", tc.want)
	}
}

// TestPutPricesRefusedOnBands: a site priced by its bands alone takes no prices (409).
func TestPutPricesRefusedOnBands(t *testing.T) {
	r := newRig(t)
	got := r.do(t, "disp", "PUT", "/api/v1/prices", map[string]any{"points": []map[string]any{{"time": "2019-06-03T08:00:00Z", "import_price_per_kwh": 0.1}}})
	checkReply(t, got, 409, "", "set tariff.day_ahead")
}
