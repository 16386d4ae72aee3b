package prices

import (
	"context"
	"fmt"
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
	f.file = &priceFile{path: path, timeCol: da.TimeColumn, importCol: da.ImportColumn, exportCol: da.ExportColumn}
	if _, err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}
