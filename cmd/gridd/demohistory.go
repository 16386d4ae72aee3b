package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// demoHistoryDays is how much history the demo stores before its first cycle.
const demoHistoryDays = 28

// seedHistory stores days of telemetry before start for every load and PV device
// that has none yet: per step, the mean of the same open-data series the simulator
// replays (sim.series, sim.scale, sim.shift), so the first cycle forecasts from a real
// daily shape instead of a flat line at the first reading. It returns how many
// samples it stored.
func seedHistory(ctx context.Context, cfg *site.Config, st storage.Store, start time.Time, days int) (int, error) {
	from := start.Add(-time.Duration(days) * 24 * time.Hour)
	h, err := replay.LoadHistory(cfg, "", gridd.Files, from, start)
	if err != nil {
		return 0, fmt.Errorf("demo history: %w", err)
	}
	step := cfg.Site.Step.D
	n := 0
	for _, d := range cfg.Devices {
		if d.Kind != site.KindLoad && d.Kind != site.KindPV {
			continue
		}
		have, err := st.TelemetryRange(ctx, d.ID, "active_power_kw", from, start)
		if err != nil {
			return n, fmt.Errorf("demo history of %s: %w", d.ID, err)
		}
		if len(have) > 0 {
			continue
		}
		samples := make([]storage.Sample, 0, int(start.Sub(from)/step))
		for t := from; t.Before(start); t = t.Add(step) {
			v, err := h.MeanKW(d.ID, t, t.Add(step))
			if err != nil {
				return n, fmt.Errorf("demo history of %s: %w", d.ID, err)
			}
			if d.Kind == site.KindPV {
				v = -v // generation is negative in the site sign convention
			}
			samples = append(samples, storage.Sample{Time: t, DeviceID: d.ID, Point: "active_power_kw", Value: v, Quality: storage.QualityGood})
		}
		if err := st.WriteTelemetry(ctx, samples); err != nil {
			return n, fmt.Errorf("demo history of %s: %w", d.ID, err)
		}
		n += len(samples)
	}
	return n, nil
}
