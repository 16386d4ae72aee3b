package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// Bench measures a backend's hot paths: a cycle's telemetry write, the latest-per-point read,
// a day of one point's samples, a day of one point in 15-minute buckets and a forecast as-of read. open must return a fresh, empty
// store; Bench closes it.
func Bench(b *testing.B, open func(b *testing.B) storage.Store) {
	const devices, points = 20, 10
	batch := func(cycle int) []storage.Sample {
		out := make([]storage.Sample, 0, devices*points)
		tm := base.Add(time.Duration(cycle) * time.Minute)
		for d := range devices {
			for p := range points {
				out = append(out, storage.Sample{Time: tm, DeviceID: fmt.Sprintf("dev-%02d", d),
					Point: fmt.Sprintf("point_%d", p), Value: float64(cycle + d + p), Quality: storage.QualityGood})
			}
		}
		return out
	}
	withStore := func(b *testing.B) storage.Store {
		s := open(b)
		b.Cleanup(func() {
			if err := s.Close(); err != nil {
				b.Errorf("Close: %v", err)
			}
		})
		return s
	}

	b.Run("WriteTelemetry200", func(b *testing.B) {
		s := withStore(b)
		ctx := b.Context()
		cycle := 0
		for b.Loop() {
			if err := s.WriteTelemetry(ctx, batch(cycle)); err != nil {
				b.Fatal(err)
			}
			cycle++
		}
		b.ReportMetric(float64(b.N*devices*points)/b.Elapsed().Seconds(), "samples/s")
	})

	const day = 24 * 60 // one day of one-minute cycles
	filled := func(b *testing.B) storage.Store {
		s := withStore(b)
		for c := range day {
			if err := s.WriteTelemetry(b.Context(), batch(c)); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}

	b.Run("LatestTelemetry", func(b *testing.B) {
		s := filled(b)
		for b.Loop() {
			got, err := s.LatestTelemetry(b.Context(), "")
			if err != nil || len(got) != devices*points {
				b.Fatalf("LatestTelemetry: %d samples, %v", len(got), err)
			}
		}
	})

	b.Run("TelemetryRangeDay", func(b *testing.B) {
		s := filled(b)
		for b.Loop() {
			got, err := s.TelemetryRange(b.Context(), "dev-07", "point_3", base, base.Add(24*time.Hour))
			if err != nil || len(got) != day {
				b.Fatalf("TelemetryRange: %d samples, %v", len(got), err)
			}
		}
	})

	b.Run("TelemetryBucketsDay15m", func(b *testing.B) {
		s := filled(b)
		for b.Loop() {
			got, err := s.TelemetryBuckets(b.Context(), "dev-07", "point_3", base, base.Add(24*time.Hour), 15*time.Minute)
			if err != nil || len(got) < 96 {
				b.Fatalf("TelemetryBuckets: %d buckets, %v", len(got), err)
			}
		}
	})

	b.Run("ForecastAsOf48h", func(b *testing.B) {
		s := withStore(b)
		const issues, steps = 24, 48 * 4
		for i := range issues {
			issued := base.Add(time.Duration(i) * time.Hour)
			pts := make([]storage.ForecastPoint, 0, steps)
			for k := range steps {
				pts = append(pts, storage.ForecastPoint{IssuedAt: issued, ValidAt: issued.Add(time.Duration(k) * 15 * time.Minute),
					Series: "load:site", Quantile: 0.5, Value: float64(k), Method: "bench"})
			}
			if err := s.WriteForecasts(b.Context(), pts); err != nil {
				b.Fatal(err)
			}
		}
		asOf := base.Add(12 * time.Hour)
		for b.Loop() {
			got, err := s.ForecastAsOf(b.Context(), "load:site", 0.5, asOf, asOf, asOf.Add(48*time.Hour))
			if err != nil || len(got) == 0 {
				b.Fatalf("ForecastAsOf: %d points, %v", len(got), err)
			}
		}
	})
}
