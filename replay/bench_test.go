package replay

import (
	"context"
	"testing"
	"time"
)

// BenchmarkReplayDay replays one day (96 cycles) of the demo site with 50 chargers
// through the full dispatch path and reports cycles per second. bench/replay runs
// the year.
func BenchmarkReplayDay(b *testing.B) {
	for _, bc := range []struct {
		name    string
		horizon string
		every   int
		skip    bool
	}{
		{"horizon24h", "24h", 1, false},
		{"horizon6h-forecast-every4", "6h", 4, false},
		{"horizon6h-forecast-every4-skip-band", "6h", 4, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg, err := ApplySets(demoConfig(b), []string{"ev.chargers=50", "site.horizon=" + bc.horizon})
			if err != nil {
				b.Fatal(err)
			}
			from := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
			to := from.Add(24 * time.Hour)
			h := demoHistory(b, cfg, from, to)
			b.ResetTimer()
			cycles := 0
			for i := 0; i < b.N; i++ {
				r, err := Run(context.Background(), Options{Config: cfg, History: h, From: from, To: to, Strategy: Optimize, ForecastEvery: bc.every, SkipForecastBand: bc.skip})
				if err != nil {
					b.Fatal(err)
				}
				cycles += len(r.Steps)
			}
			b.ReportMetric(float64(cycles)/b.Elapsed().Seconds(), "cycles/s")
		})
	}
}
