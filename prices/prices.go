package prices

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gridd/gridd/site"
)

// Source prices a run of steps: imp[k] and exp[k] are the import and export price
// per kWh of the step starting at start + k·step.
type Source interface {
	Prices(ctx context.Context, start time.Time, step time.Duration, steps int) (imp, exp []float64, err error)
}

// TOU prices steps from the tariff's time-of-use bands in loc.
type TOU struct {
	Tariff   site.Tariff
	Location *time.Location
}

// Prices implements Source: each step takes the band price in force at its start.
func (t TOU) Prices(ctx context.Context, start time.Time, step time.Duration, steps int) (imp, exp []float64, err error) {
	if err := checkRun(ctx, step, steps); err != nil {
		return nil, nil, err
	}
	imp, exp = t.Tariff.Prices(start, step, steps, t.Location)
	return imp, exp, nil
}

func checkRun(ctx context.Context, step time.Duration, steps int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("prices: %w", err)
	}
	if step <= 0 || steps < 0 {
		return fmt.Errorf("prices: %d steps of %s: want a positive step and steps >= 0", steps, step)
	}
	return nil
}

// FromConfig returns the source the site config selects: a Feed (loaded from
// tariff.day_ahead.file, relative to the config file, when one is named) when
// tariff.day_ahead is set, the time-of-use bands otherwise.
func FromConfig(cfg *site.Config) (Source, error) {
	tou := TOU{Tariff: cfg.Tariff, Location: cfg.Site.Location}
	da := cfg.Tariff.DayAhead
	if da == nil {
		return tou, nil
	}
	f, err := NewFeed(cfg)
	if err != nil {
		return nil, err
	}
	if da.File == "" {
		return f, nil
	}
	path := da.File
	if !filepath.IsAbs(path) && cfg.File != "" {
		path = filepath.Join(filepath.Dir(cfg.File), path)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tariff.day_ahead.file: %w", err)
	}
	defer fh.Close()
	pts, err := ParseCSV(fh, da.TimeColumn, da.ImportColumn, da.ExportColumn)
	if err != nil {
		return nil, fmt.Errorf("tariff.day_ahead.file %s: %w", path, err)
	}
	col := map[string]string{"time": da.TimeColumn, "import_price_per_kwh": da.ImportColumn, "export_price_per_kwh": da.ExportColumn}
	if err := f.put(pts, func(i int, field string) string { return fmt.Sprintf("line %d: %s", i+2, col[field]) }); err != nil {
		return nil, fmt.Errorf("tariff.day_ahead.file %s: %w", path, err)
	}
	return f, nil
}
