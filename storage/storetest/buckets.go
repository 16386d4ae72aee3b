package storetest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// floorBucket returns the start of t's bucket of width w, aligned to the Unix epoch.
func floorBucket(t time.Time, w time.Duration) time.Time {
	us, wus := t.UnixMicro(), w.Microseconds()
	q := us / wus
	if us%wus != 0 && us < 0 {
		q--
	}
	return time.UnixMicro(q * wus).UTC()
}

// wantBuckets aggregates the good samples in [from, to) the way TelemetryBuckets must.
func wantBuckets(samples []storage.Sample, from, to time.Time, w time.Duration) []storage.Bucket {
	var out []storage.Bucket
	var sum float64
	for _, x := range samples { // samples are sorted by time
		tm := norm(x.Time)
		if x.Quality != storage.QualityGood || tm.Before(norm(from)) || !tm.Before(norm(to)) {
			continue
		}
		b := floorBucket(tm, w)
		if len(out) == 0 || !out[len(out)-1].Time.Equal(b) {
			if len(out) > 0 {
				out[len(out)-1].Mean = sum / float64(out[len(out)-1].Count)
			}
			out = append(out, storage.Bucket{Time: b, Min: x.Value, Max: x.Value})
			sum = 0
		}
		last := &out[len(out)-1]
		last.Count++
		sum += x.Value
		last.Min, last.Max = math.Min(last.Min, x.Value), math.Max(last.Max, x.Value)
	}
	if len(out) > 0 {
		out[len(out)-1].Mean = sum / float64(out[len(out)-1].Count)
	}
	return out
}

func sameBuckets(t *testing.T, what string, got, want []storage.Bucket) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d buckets, want %d:\n got  %+v\n want %+v", what, len(got), len(want), got, want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC || g.Count != w.Count || g.Min != w.Min || g.Max != w.Max ||
			math.Abs(g.Mean-w.Mean) > 1e-9*math.Max(1, math.Abs(w.Mean)) {
			t.Fatalf("%s: bucket %d = %+v, want %+v", what, i, g, w)
		}
	}
}

func testTelemetryBuckets(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const dev, pt = "meter-root", "active_power_kw"
	var series, batch []storage.Sample
	for i := range 30 {
		x := sample(time.Duration(i)*20*time.Second, dev, pt, float64(i*i%17)-4.5)
		switch {
		case i%7 == 3:
			x.Quality = storage.QualityStale
		case i == 10:
			x.Quality = storage.QualityBad
		}
		series = append(series, x)
		// Other points and devices at the same times must not leak in.
		batch = append(batch, x, sample(x.Time.Sub(base), dev, "voltage_v", 1000), sample(x.Time.Sub(base), "pv-1", pt, -1000))
	}
	must(t, s.WriteTelemetry(ctx, batch), "WriteTelemetry")

	for _, w := range []time.Duration{time.Microsecond, 13 * time.Second, time.Minute, 5 * time.Minute, time.Hour, 24 * time.Hour} {
		for _, r := range []struct {
			name     string
			from, to time.Time
		}{
			{"all", at(-time.Hour), at(time.Hour)},
			{"part", at(time.Minute), at(4*time.Minute + time.Microsecond)},
			{"one sample", at(40 * time.Second), at(40*time.Second + time.Microsecond)},
			{"empty", at(time.Minute), at(time.Minute)},
			{"after", at(time.Hour), at(2 * time.Hour)},
		} {
			t.Run(fmt.Sprintf("%s/%s", w, r.name), func(t *testing.T) {
				got, err := s.TelemetryBuckets(ctx, dev, pt, r.from, r.to, w)
				must(t, err, "TelemetryBuckets")
				sameBuckets(t, "TelemetryBuckets", got, wantBuckets(series, r.from, r.to, w))
			})
		}
	}

	// Known values, across the Unix epoch: buckets are aligned to 1970-01-01T00:00:00Z.
	t.Run("epoch alignment", func(t *testing.T) {
		mk := func(tm time.Time, v float64) storage.Sample {
			return storage.Sample{Time: tm, DeviceID: "old", Point: pt, Value: v, Quality: storage.QualityGood}
		}
		must(t, s.WriteTelemetry(ctx, []storage.Sample{
			mk(time.Date(1969, 12, 31, 23, 58, 59, 0, time.UTC), 7),
			mk(time.Date(1969, 12, 31, 23, 59, 30, 0, time.UTC), 1),
			mk(time.Date(1969, 12, 31, 23, 59, 50, 0, time.UTC), 4),
			mk(time.Date(1970, 1, 1, 0, 0, 10, 0, time.UTC), -2),
			mk(time.Date(1970, 1, 1, 0, 0, 59, 999999000, time.UTC), 3),
		}), "WriteTelemetry")
		got, err := s.TelemetryBuckets(ctx, "old", pt, time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC), time.Minute)
		must(t, err, "TelemetryBuckets")
		sameBuckets(t, "epoch buckets", got, []storage.Bucket{
			{Time: time.Date(1969, 12, 31, 23, 59, 0, 0, time.UTC), Mean: 2.5, Min: 1, Max: 4, Count: 2},
			{Time: time.Unix(0, 0).UTC(), Mean: 0.5, Min: -2, Max: 3, Count: 2},
		})
	})

	t.Run("rejects bad queries", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			device  string
			from    time.Time
			width   time.Duration
			mention string
		}{
			{"zero width", dev, at(0), 0, "width"},
			{"negative width", dev, at(0), -time.Minute, "width"},
			{"sub-microsecond width", dev, at(0), 1500 * time.Nanosecond, "1.5µs"},
			{"from after to", dev, at(2 * time.Hour), time.Minute, "from"},
			{"empty device", "", at(0), time.Minute, "deviceID"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.TelemetryBuckets(ctx, tc.device, pt, tc.from, at(time.Hour), tc.width)
				wantErr(t, err, storage.ErrInvalid, tc.mention)
			})
		}
	})
}
