package replay

import (
	"context"
	"log/slog"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/memstore"
)

type noField struct{}

func (noField) Poll(context.Context) []fieldbus.Reading { return nil }
func (noField) Write(context.Context, string, string, float64) (fieldbus.WriteResult, error) {
	return fieldbus.WriteResult{}, nil
}

// BenchmarkDemoSiteForecast times the forecast stage of the production cycle
// (dispatch.Service.BuildScenario: read history, forecast the building load and
// the PV plant, store the forecasts, build the scenario) on the demo site over
// a week of 15-minute cycles with a 24 h horizon, the recorded load and PV of
// each step written to the store as the field reports it. It reports the mean
// per cycle (the daily fits included), wall and CPU time (process user and
// system time, which other load on the machine does not inflate), for
// production's forecaster and, as the
// reference in the same run, the naive chain it replaced, with and without its
// band.
func BenchmarkDemoSiteForecast(b *testing.B) {
	for _, fc := range []struct {
		name    string
		f       func(cfg *site.Config) dispatch.Forecaster
		history time.Duration // dispatch.Options.ForecastHistory
	}{
		{"auto", func(cfg *site.Config) dispatch.Forecaster { return &forecast.Auto{Location: cfg.Site.Location} }, 0},
		// The naive chain with the history it was given as dispatch's default.
		{"fallback", func(*site.Config) dispatch.Forecaster { return forecast.Fallback{} }, 36 * 24 * time.Hour},
		{"fallback-no-band", func(*site.Config) dispatch.Forecaster {
			return forecast.Fallback{Band: forecast.BandOptions{Skip: true}}
		}, 15 * 24 * time.Hour},
	} {
		b.Run(fc.name, func(b *testing.B) {
			ctx := context.Background()
			cfg := demoConfig(b)
			from := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
			const days = 7
			h := demoHistory(b, cfg, from, from.Add(days*24*time.Hour))
			step := cfg.Site.Step.D
			n := days * int(24*time.Hour/step)
			cycles := 0
			var spent, cpu time.Duration
			for i := 0; i < b.N; i++ {
				st := memstore.New()
				if err := WriteWarmup(ctx, st, cfg, h, from); err != nil {
					b.Fatal(err)
				}
				clk := clock.NewSim(from)
				svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: noField{}, Writer: noField{}, Clock: clk, Forecaster: fc.f(cfg), ForecastHistory: fc.history, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				for k := 0; k < n; k++ {
					at := from.Add(time.Duration(k) * step)
					clk.Set(at)
					if k > 0 {
						if err := st.WriteTelemetry(ctx, recorded(b, cfg, h, at.Add(-step), at)); err != nil {
							b.Fatal(err)
						}
					}
					t0, c0 := time.Now(), cpuTime()
					if _, err := svc.BuildScenario(ctx, at, nil); err != nil {
						b.Fatal(err)
					}
					spent += time.Since(t0)
					cpu += cpuTime() - c0
					cycles++
				}
			}
			b.ReportMetric(float64(spent.Microseconds())/1000/float64(cycles), "ms/cycle")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(cycles), "cpu-ms/cycle")
		})
	}
}

// cpuTime is the process's user and system CPU time (all threads, the garbage
// collector included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// recorded is the load and PV power of [from, to) as the field reports it.
func recorded(b *testing.B, cfg *site.Config, h *History, from, to time.Time) []storage.Sample {
	var out []storage.Sample
	for _, d := range cfg.Devices {
		if d.Kind != site.KindLoad && d.Kind != site.KindPV {
			continue
		}
		v, err := h.MeanKW(d.ID, from, to)
		if err != nil {
			b.Fatal(err)
		}
		if d.Kind == site.KindPV {
			v = -math.Min(math.Max(v, 0), d.PV.CapacityKW)
		}
		out = append(out, storage.Sample{Time: from, DeviceID: d.ID, Point: "active_power_kw", Value: v, Quality: storage.QualityGood})
	}
	return out
}
