package prices_test

import (
	"context"
	"testing"
	"time"

	"github.com/gridd/gridd/prices"
)

// BenchmarkStepPrice compares what replay's field pays per step for its prices: the
// source's one-step Prices call (TOU, and a feed) against the tariff's PriceAt that it
// replaced.
func BenchmarkStepPrice(b *testing.B) {
	cfg := parse(b, b.TempDir(), baseSite+bands+"  day_ahead: {fallback: tou}\n")
	tou := prices.TOU{Tariff: cfg.Tariff, Location: cfg.Site.Location}
	feed, err := prices.NewFeed(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := feed.Put([]prices.Point{{Time: t0, ImportPerKWh: 0.1}}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("reference-PriceAt", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			cfg.Tariff.PriceAt(t0.Add(time.Duration(i%96)*15*time.Minute), cfg.Site.Location)
		}
	})
	for name, src := range map[string]prices.Source{"TOU": tou, "Feed": feed} {
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, _, err := src.Prices(ctx, t0.Add(time.Duration(i%96)*15*time.Minute), 15*time.Minute, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
