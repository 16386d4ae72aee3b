package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/gridd/gridd/prices"
)

// PriceSource prices a run of steps (per kWh): package prices has the time-of-use
// bands and the day-ahead feed.
type PriceSource interface {
	Prices(ctx context.Context, start time.Time, step time.Duration, steps int) (imp, exp []float64, err error)
}

// pricePusher is a PriceSource that takes prices pushed over the API (prices.Feed).
type pricePusher interface {
	Put(pts []prices.Point) error
	Prune(before time.Time)
	Coverage() (first, end time.Time, n int)
}

// priceReloader is a PriceSource with a file it reads again when it changes
// (prices.Feed with tariff.day_ahead.file).
type priceReloader interface {
	Reload() (bool, error)
}

// AlarmPriceFile is the alarm raised while the day-ahead price file's last version
// could not be read.
const AlarmPriceFile = "prices.file"

// reloadPrices reads the price file again before a cycle when it changed. A version
// that does not parse raises the alarm AlarmPriceFile naming its line and value, and
// the prices held stay in use; the next good version clears it.
func (s *Service) reloadPrices(ctx context.Context, at time.Time) {
	r, ok := s.prices.(priceReloader)
	if !ok {
		return
	}
	read, err := r.Reload()
	switch {
	case err != nil:
		s.raiseAlarm(ctx, at, AlarmPriceFile, SeverityWarning, "tariff", err.Error()+"; the prices held stay in use")
	case read:
		s.log.Info("day-ahead price file read again")
		s.clearAlarm(ctx, at, AlarmPriceFile, "the day-ahead price file was read")
	}
}

// priceKeep is how long pushed prices are kept after their interval ended.
const priceKeep = 48 * time.Hour

// SetPrices merges day-ahead prices into the feed the next cycles are priced from
// (tariff.day_ahead): later prices replace earlier ones for the same interval. An
// invalid point rejects the whole call with an error naming the point, the field and
// the value; a site priced by its time-of-use bands only takes no prices. An accepted
// call is audited (prices.set).
func (s *Service) SetPrices(ctx context.Context, pts []prices.Point, actor string) error {
	feed, ok := s.prices.(pricePusher)
	if !ok {
		return fmt.Errorf("%w: tariff: the site is priced by its time-of-use bands; set tariff.day_ahead to take day-ahead prices", ErrInvalid)
	}
	if err := feed.Put(pts); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	now := s.clock.Now()
	feed.Prune(now.Add(-priceKeep))
	first, end, n := feed.Coverage()
	s.auditData(ctx, now, actor, "prices.set", "tariff",
		fmt.Sprintf("day-ahead prices: %d points; the feed covers %s to %s", len(pts), first.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)),
		map[string]any{"points": len(pts), "first": first.UTC(), "end": end.UTC(), "held": n})
	return nil
}
