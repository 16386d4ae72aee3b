package replay

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

// TestReplayDayAheadPrices replays the small site with a day-ahead price file: the
// steps are accounted at the file's prices (not the flat band), the optimiser plans
// with them (the battery charges in the cheap hour), hindsight too; and a file that
// stops inside the period fails the replay naming the step.
func TestReplayDayAheadPrices(t *testing.T) {
	t0 := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	to := t0.Add(4 * time.Hour)
	price := func(h int) float64 { return []float64{0.30, 0.02, 0.40, 0.35, 0.30, 0.30, 0.30, 0.30}[h] }
	var csv strings.Builder
	csv.WriteString("timestamp_utc,import_price_per_kwh\n")
	for h := range 8 {
		fmt.Fprintf(&csv, "%s,%g\n", t0.Add(time.Duration(h)*time.Hour).Format(time.RFC3339), price(h))
	}
	dir := writeSmallHistory(t, t0.Add(-time.Hour), 10, func(int) float64 { return 10 }, func(int) float64 { return 0 }, "")
	must(t, os.WriteFile(filepath.Join(dir, "prices.csv"), []byte(csv.String()), 0o644))
	yml := strings.Replace(smallSite, "  export_price_per_kwh: 0.05\n", "  export_price_per_kwh: 0.05\n  day_ahead: {file: prices.csv, interval: 1h, fallback: none}\n", 1)
	must(t, os.WriteFile(filepath.Join(dir, "small.yaml"), []byte(yml), 0o644))
	cfg, err := site.Load(filepath.Join(dir, "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := LoadHistory(cfg, dir, nil, t0, to)
	if err != nil {
		t.Fatal(err)
	}
	for _, strategy := range []string{Optimize, Hindsight} {
		r, err := Run(context.Background(), Options{Config: cfg, History: h, From: t0, To: to, Strategy: strategy})
		if err != nil {
			t.Fatal(err)
		}
		if r.FailedCycles != 0 {
			t.Fatalf("%s: failed cycles %v", strategy, r.CycleErrors)
		}
		var cheapKWh, dearKWh float64
		for _, s := range r.Steps {
			hr := int(s.Time.Sub(t0) / time.Hour)
			if s.ImportPrice != price(hr) || s.ExportPrice != min(0.05, price(hr)) {
				t.Fatalf("%s: step %s accounted at %v/%v, want %v/%v", strategy, s.Time.Format(time.RFC3339), s.ImportPrice, s.ExportPrice, price(hr), min(0.05, price(hr)))
			}
			if hr == 1 {
				cheapKWh += s.GridKW / 4
			} else {
				dearKWh += s.GridKW / 4
			}
		}
		// The load is 10 kW all through; the plan shifts import into the 0.02 hour.
		if cheapKWh <= 10 {
			t.Errorf("%s: imported %.1f kWh in the cheap hour (the load alone is 10): the plan did not see the file's prices", strategy, cheapKWh)
		}
	}

	// The what-if price scale applies to bands, not to a feed: refused, not ignored.
	if _, err := ApplySets(cfg, []string{"tariff.import_scale=2"}); err == nil || !strings.Contains(err.Error(), "tariff.day_ahead") {
		t.Errorf("import_scale on a day-ahead site: %v", err)
	}

	// A file that ends at 02:00 without a fallback: the replay cannot account the
	// step after it, and says so.
	short := strings.Join(strings.SplitAfter(csv.String(), "\n")[:3], "")
	must(t, os.WriteFile(filepath.Join(dir, "prices.csv"), []byte(short), 0o644))
	cfg, err = site.Load(filepath.Join(dir, "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{Config: cfg, History: h, From: t0, To: to, Strategy: Optimize})
	if err == nil || !strings.Contains(err.Error(), "no price for step 0 (2020-05-01T02:00:00Z)") {
		t.Fatalf("short file: err %v", err)
	}
}
