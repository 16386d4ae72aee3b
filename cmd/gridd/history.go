package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// seedHistory gives the demo's store the recorded history of its simulated loads and
// PV (the bundled series its devices replay, mapped by day of year as the simulator
// maps them) for the forecasters' window before start, so that the first cycle
// forecasts with fitted models rather than a flat line from the first reading. A
// store that already holds telemetry of those devices from before start (a data
// directory used before) is left as it is. It returns the days written (0: none).
func seedHistory(ctx context.Context, cfg *site.Config, st storage.Store, start time.Time) (int, error) {
	from := start.Add(-forecast.AutoHistory)
	seeded := false
	for _, d := range cfg.Devices {
		if d.Kind != site.KindLoad && d.Kind != site.KindPV {
			continue
		}
		seeded = true
		old, err := st.TelemetryRange(ctx, d.ID, "active_power_kw", from, start)
		if err != nil {
			return 0, fmt.Errorf("history of %s: %w", d.ID, err)
		}
		if len(old) > 0 {
			return 0, nil
		}
	}
	if !seeded {
		return 0, nil
	}
	h, err := replay.LoadHistory(cfg, "builtin", gridd.Files, start, start.Add(cfg.Site.Step.D))
	if err != nil {
		return 0, fmt.Errorf("recorded history for the simulated devices: %w", err)
	}
	if err := replay.WriteWarmup(ctx, st, cfg, h, start); err != nil {
		return 0, err
	}
	return int(forecast.AutoHistory / (24 * time.Hour)), nil
}
