package replay

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage/memstore"
)

// TestSkipForecastBand checks that leaving the forecast band out changes neither
// the report nor the KPIs, and that the stored forecasts then have P10 = P90 while
// production's do not.
func TestSkipForecastBand(t *testing.T) {
	cfg := demoConfig(t)
	from := time.Date(2019, 6, 4, 0, 0, 0, 0, time.UTC)
	to := from.Add(6 * time.Hour)
	h := demoHistory(t, cfg, from, to)
	var load string
	for _, d := range cfg.Devices {
		if d.Kind == site.KindLoad {
			load = "load:" + d.ID
			break
		}
	}
	for _, every := range []int{1, 4} {
		var reports [2]string
		for i, skip := range []bool{false, true} {
			st := memstore.New()
			r, err := Run(context.Background(), Options{Config: cfg, History: h, From: from, To: to, Strategy: Optimize, Store: st, ForecastEvery: every, SkipForecastBand: skip})
			if err != nil {
				t.Fatal(err)
			}
			reports[i] = t.TempDir()
			if err := r.WriteReport(reports[i]); err != nil {
				t.Fatal(err)
			}
			// The forecasts known at the end for the last hours of the period.
			p10, err := st.ForecastAsOf(context.Background(), load, 0.1, to, to.Add(-3*time.Hour), to)
			if err != nil {
				t.Fatal(err)
			}
			p90, err := st.ForecastAsOf(context.Background(), load, 0.9, to, to.Add(-3*time.Hour), to)
			if err != nil {
				t.Fatal(err)
			}
			if len(p10) == 0 || len(p10) != len(p90) {
				t.Fatalf("every %d, skip %v: %d P10 and %d P90 forecast points of %s", every, skip, len(p10), len(p90), load)
			}
			differ := 0
			for k := range p10 {
				if p10[k].Value != p90[k].Value {
					differ++
				}
			}
			if skip && differ > 0 {
				t.Errorf("every %d: band skipped, yet P10 != P90 at %d of %d points", every, differ, len(p10))
			}
			if !skip && differ == 0 {
				t.Errorf("every %d: band computed, yet P10 = P90 at all %d points", every, len(p10))
			}
		}
		for _, f := range []string{KPIFile, StepsFile, ReportFile} {
			a, err := os.ReadFile(filepath.Join(reports[0], f))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(reports[1], f))
			if err != nil {
				t.Fatal(err)
			}
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("every %d: %s differs with the band skipped (%d and %d bytes)", every, f, len(a), len(b))
			}
		}
	}
}
