package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

// TestDemoJiangsu: `gridd demo --site jiangsu` runs the Suzhou site in Shanghai time,
// its schedules wait for approval, and it starts with history: the first cycle's PV
// forecast has a day (generation around local noon, none at local midnight) and the
// load forecast is not a flat line held from the first reading.
func TestDemoJiangsu(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "demo", "--site", "jiangsu", "--cycles", "1", "--start", "2019-06-03T00:00:00Z", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("demo --site jiangsu exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{`site "suzhou-industrial-park"`, "cycle 2019-06-03 08:00 +08:00:", "schedule 1 proposed", "days of the simulated devices' recorded history written"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	issued := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
	fc := func(series string) map[time.Time]float64 {
		t.Helper()
		pts, err := st.ForecastAsOf(ctx, series, 0.5, issued, issued, issued.Add(24*time.Hour))
		if err != nil || len(pts) < 90 {
			t.Fatalf("forecast %s: %d points, %v", series, len(pts), err)
		}
		out := map[time.Time]float64{}
		for _, p := range pts {
			out[p.ValidAt] = p.Value
			if p.Method == "current_reading" {
				t.Errorf("%s forecast method %q: no history", series, p.Method)
			}
		}
		return out
	}
	pv := fc("pv:pv-roof")
	noon, midnight := time.Date(2019, 6, 3, 4, 0, 0, 0, time.UTC), time.Date(2019, 6, 3, 16, 0, 0, 0, time.UTC) // 12:00 and 00:00 in Suzhou
	if pv[noon] < 50 || pv[midnight] > 1 {
		t.Errorf("PV forecast %.1f kW at local noon, %.1f kW at local midnight", pv[noon], pv[midnight])
	}
	load := fc("load:factory-1")
	lo, hi := 1e9, -1e9
	for _, v := range load {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi-lo < 20 {
		t.Errorf("factory load forecast flat: %.1f to %.1f kW", lo, hi)
	}
	sc, err := st.ListSchedules(ctx, storage.Epoch, storage.End, storage.StatusApproved)
	if err != nil || len(sc) != 0 {
		t.Errorf("approved schedules %v %v: the Jiangsu site waits for a dispatcher", sc, err)
	}
}
