package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// Run runs the contract suite against a backend. open must return a fresh, empty store on
// every call (each subtest gets its own, so order does not matter); Run closes it when the
// subtest ends, so cleanups open registers (such as dropping a database) run after Close.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"TelemetryIdempotent", testTelemetryIdempotent},
		{"TelemetryDuplicateKeyInBatch", testTelemetryDuplicateKeyInBatch},
		{"TelemetryLatest", testTelemetryLatest},
		{"TelemetryRange", testTelemetryRange},
		{"TelemetryTimePrecision", testTelemetryTimePrecision},
		{"TelemetryRejectsInvalid", testTelemetryRejectsInvalid},
		{"TelemetryRejectsBadQueries", testTelemetryRejectsBadQueries},
		{"TelemetryBuckets", testTelemetryBuckets},
		{"TelemetryConcurrentWriters", testTelemetryConcurrentWriters},
		{"ForecastAsOf", testForecastAsOf},
		{"ForecastIdempotent", testForecastIdempotent},
		{"ForecastRejectsInvalid", testForecastRejectsInvalid},
		{"ScheduleRoundTrip", testScheduleRoundTrip},
		{"ScheduleNotFound", testScheduleNotFound},
		{"ScheduleRejectsInvalid", testScheduleRejectsInvalid},
		{"ListSchedules", testListSchedules},
		{"SetScheduleStatus", testSetScheduleStatus},
		{"SetpointWrites", testSetpointWrites},
		{"Cycles", testCycles},
		{"Audit", testAudit},
		{"Assets", testAssets},
		{"EmptyStore", testEmptyStore},
		{"CanceledContext", testCanceledContext},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base has a sub-second part with microsecond detail, so every round trip checks precision.
var base = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// norm is what a store must return for t: UTC, truncated to microseconds.
func norm(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(storage.TimePrecision)
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr checks that err wraps target and, if the message should name something, that it does.
func wantErr(t *testing.T, err, target error, mention string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one wrapping %v", err, target)
	}
	if mention != "" && !strings.Contains(err.Error(), mention) {
		t.Fatalf("error %q does not mention %q", err, mention)
	}
}

func count(t *testing.T, s storage.Store, deviceID string) int64 {
	t.Helper()
	n, err := s.CountTelemetry(t.Context(), deviceID)
	must(t, err, "CountTelemetry")
	return n
}

func sample(d time.Duration, device, point string, v float64) storage.Sample {
	return storage.Sample{Time: at(d), DeviceID: device, Point: point, Value: v, Quality: storage.QualityGood}
}

func normSamples(in []storage.Sample) []storage.Sample {
	out := make([]storage.Sample, len(in))
	for i, x := range in {
		x.Time = norm(x.Time)
		out[i] = x
	}
	return out
}

// same compares two slices, treating nil and empty as equal.
func same[T any](t *testing.T, what string, got, want []T) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func testTelemetryIdempotent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var batch []storage.Sample
	devices := []string{"meter-root", "bess-1", "pv-1"}
	for _, d := range devices {
		for _, p := range []string{"active_power_kw", "soc_pct"} {
			for i := range 10 {
				batch = append(batch, sample(time.Duration(i)*time.Minute, d, p, float64(i)+0.25))
			}
		}
	}
	must(t, s.WriteTelemetry(ctx, batch), "WriteTelemetry")
	must(t, s.WriteTelemetry(ctx, batch), "WriteTelemetry again")
	for _, tc := range []struct {
		device string
		want   int64
	}{{"", 60}, {"meter-root", 20}, {"bess-1", 20}, {"pv-1", 20}, {"unknown", 0}} {
		if got := count(t, s, tc.device); got != tc.want {
			t.Errorf("CountTelemetry(%q) after writing the batch twice = %d, want %d", tc.device, got, tc.want)
		}
	}

	// Writing a key again replaces its value and quality.
	re := batch[3]
	re.Value, re.Quality = -7.5, storage.QualityStale
	must(t, s.WriteTelemetry(ctx, []storage.Sample{re}), "WriteTelemetry replacement")
	if got := count(t, s, ""); got != 60 {
		t.Fatalf("CountTelemetry after replacement = %d, want 60", got)
	}
	got, err := s.TelemetryRange(ctx, re.DeviceID, re.Point, re.Time, re.Time.Add(time.Microsecond))
	must(t, err, "TelemetryRange")
	same(t, "replaced sample", got, normSamples([]storage.Sample{re}))
}

func testTelemetryDuplicateKeyInBatch(t *testing.T, s storage.Store) {
	ctx := t.Context()
	first := sample(0, "bess-1", "active_power_kw", 1)
	second := first
	second.Value, second.Quality = 2, storage.QualityBad
	must(t, s.WriteTelemetry(ctx, []storage.Sample{first, second}), "WriteTelemetry")
	if got := count(t, s, ""); got != 1 {
		t.Fatalf("CountTelemetry = %d, want 1", got)
	}
	got, err := s.TelemetryRange(ctx, "bess-1", "active_power_kw", at(0), at(time.Second))
	must(t, err, "TelemetryRange")
	same(t, "range", got, normSamples([]storage.Sample{second}))
	latest, err := s.LatestTelemetry(ctx, "bess-1")
	must(t, err, "LatestTelemetry")
	same(t, "latest", latest, normSamples([]storage.Sample{second}))
}

func testTelemetryLatest(t *testing.T, s storage.Store) {
	ctx := t.Context()
	// Newest first in one batch, then older samples in a later batch: neither order may win.
	must(t, s.WriteTelemetry(ctx, []storage.Sample{
		sample(3*time.Minute, "meter-root", "active_power_kw", 30),
		sample(2*time.Minute, "meter-root", "active_power_kw", 20),
		sample(1*time.Minute, "meter-root", "voltage_v", 231),
		sample(5*time.Minute, "bess-1", "soc_pct", 55),
	}), "WriteTelemetry")
	must(t, s.WriteTelemetry(ctx, []storage.Sample{
		sample(0, "meter-root", "active_power_kw", 1),
		sample(0, "meter-root", "voltage_v", 229),
		sample(4*time.Minute, "bess-1", "active_power_kw", -12.5),
		sample(1*time.Minute, "bess-1", "soc_pct", 50),
	}), "WriteTelemetry older")

	meter := normSamples([]storage.Sample{
		sample(3*time.Minute, "meter-root", "active_power_kw", 30),
		sample(1*time.Minute, "meter-root", "voltage_v", 231),
	})
	bess := normSamples([]storage.Sample{
		sample(4*time.Minute, "bess-1", "active_power_kw", -12.5),
		sample(5*time.Minute, "bess-1", "soc_pct", 55),
	})
	for _, tc := range []struct {
		device string
		want   []storage.Sample
	}{
		{"meter-root", meter},
		{"bess-1", bess},
		{"", append(append([]storage.Sample{}, bess...), meter...)}, // ordered by device, then point
		{"pv-9", nil},
	} {
		got, err := s.LatestTelemetry(ctx, tc.device)
		must(t, err, "LatestTelemetry")
		same(t, fmt.Sprintf("LatestTelemetry(%q)", tc.device), got, tc.want)
	}

	// Rewriting the newest key changes the latest value; a newer sample replaces it.
	re := sample(3*time.Minute, "meter-root", "active_power_kw", 33)
	re.Quality = storage.QualityStale
	must(t, s.WriteTelemetry(ctx, []storage.Sample{re}), "WriteTelemetry rewrite")
	newer := sample(6*time.Minute, "meter-root", "voltage_v", 240)
	must(t, s.WriteTelemetry(ctx, []storage.Sample{newer}), "WriteTelemetry newer")
	got, err := s.LatestTelemetry(ctx, "meter-root")
	must(t, err, "LatestTelemetry")
	same(t, "LatestTelemetry after rewrite", got, normSamples([]storage.Sample{re, newer}))
}

func testTelemetryRange(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const dev, pt = "meter-root", "active_power_kw"
	var series, batch []storage.Sample
	for i := range 10 {
		d := time.Duration(i) * time.Minute
		x := sample(d, dev, pt, float64(i)*1.5)
		series = append(series, x)
		batch = append(batch, x,
			sample(d, dev, "reactive_power_kvar", 100+float64(i)),
			sample(d, "pv-1", pt, -float64(i)))
	}
	// Write in reverse so the store has to order.
	for i, j := 0, len(batch)-1; i < j; i, j = i+1, j-1 {
		batch[i], batch[j] = batch[j], batch[i]
	}
	must(t, s.WriteTelemetry(ctx, batch), "WriteTelemetry")
	want := normSamples(series)
	for _, tc := range []struct {
		name     string
		from, to time.Time
		want     []storage.Sample
	}{
		{"all", at(0), at(10 * time.Minute), want},
		{"from inclusive, to exclusive", at(2 * time.Minute), at(5 * time.Minute), want[2:5]},
		{"from just after a sample", at(2*time.Minute + time.Microsecond), at(5 * time.Minute), want[3:5]},
		{"to just after a sample", at(2 * time.Minute), at(5*time.Minute + time.Microsecond), want[2:6]},
		{"empty range", at(2 * time.Minute), at(2 * time.Minute), nil},
		{"before all", at(-time.Hour), at(0), nil},
		{"after all", at(10 * time.Minute), at(time.Hour), nil},
		{"wide", at(-24 * time.Hour), at(24 * time.Hour), want},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.TelemetryRange(ctx, dev, pt, tc.from, tc.to)
			must(t, err, "TelemetryRange")
			same(t, "TelemetryRange", got, tc.want)
		})
	}
}

func testTelemetryTimePrecision(t *testing.T, s storage.Store) {
	ctx := t.Context()
	cet := time.FixedZone("UTC+1", 3600)
	for i, tc := range []struct {
		name string
		in   time.Time
	}{
		{"microseconds", time.Date(2024, 6, 1, 12, 0, 0, 123456000, time.UTC)},
		{"nanoseconds truncated", time.Date(2024, 6, 1, 12, 0, 1, 123456789, time.UTC)},
		{"other zone", time.Date(2024, 6, 1, 14, 0, 2, 999999000, cet)},
		{"before 1970", time.Date(1969, 12, 31, 23, 59, 59, 500000000, time.UTC)},
		{"far future", time.Date(2199, 1, 1, 0, 0, 0, 1000, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := storage.Sample{Time: tc.in, DeviceID: "d", Point: fmt.Sprintf("p%d", i), Value: math.Pi, Quality: storage.QualityGood}
			must(t, s.WriteTelemetry(ctx, []storage.Sample{x}), "WriteTelemetry")
			got, err := s.TelemetryRange(ctx, "d", x.Point, tc.in.Add(-time.Second), tc.in.Add(time.Second))
			must(t, err, "TelemetryRange")
			if len(got) != 1 {
				t.Fatalf("got %d samples, want 1", len(got))
			}
			want := tc.in.UTC().Truncate(time.Microsecond)
			if !got[0].Time.Equal(want) || got[0].Time.Location() != time.UTC {
				t.Fatalf("Time = %s (%s), want %s UTC", got[0].Time.Format(time.RFC3339Nano), got[0].Time.Location(), want.Format(time.RFC3339Nano))
			}
			if got[0].Value != math.Pi {
				t.Fatalf("Value = %v, want %v", got[0].Value, math.Pi)
			}
		})
	}
}

func testTelemetryRejectsInvalid(t *testing.T, s storage.Store) {
	ctx := t.Context()
	good := sample(0, "meter-root", "active_power_kw", 1)
	for _, tc := range []struct {
		name    string
		mutate  func(*storage.Sample)
		mention string
	}{
		{"zero time", func(x *storage.Sample) { x.Time = time.Time{} }, "Time"},
		{"year 10000", func(x *storage.Sample) { x.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "Time"},
		{"empty device", func(x *storage.Sample) { x.DeviceID = "" }, "DeviceID"},
		{"empty point", func(x *storage.Sample) { x.Point = "" }, "Point"},
		{"NaN value", func(x *storage.Sample) { x.Value = math.NaN() }, "Value"},
		{"infinite value", func(x *storage.Sample) { x.Value = math.Inf(-1) }, "Value"},
		{"empty quality", func(x *storage.Sample) { x.Quality = "" }, "Quality"},
		{"unknown quality", func(x *storage.Sample) { x.Quality = "meh" }, `"meh"`},
		{"NUL in device", func(x *storage.Sample) { x.DeviceID = "a\x00b" }, "DeviceID"},
		{"invalid UTF-8 point", func(x *storage.Sample) { x.Point = "p\xff" }, "Point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			tc.mutate(&bad)
			other := sample(time.Minute, "meter-root", "active_power_kw", 2)
			err := s.WriteTelemetry(ctx, []storage.Sample{other, bad})
			wantErr(t, err, storage.ErrInvalid, tc.mention)
			if n := count(t, s, ""); n != 0 {
				t.Fatalf("a rejected batch stored %d samples, want 0", n)
			}
		})
	}
}

func testTelemetryRejectsBadQueries(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name          string
		device, point string
		from, to      time.Time
		mention       string
	}{
		{"from after to", "d", "p", at(time.Minute), at(0), "from"},
		{"zero from", "d", "p", time.Time{}, at(0), "from"},
		{"empty device", "", "p", at(0), at(time.Minute), "deviceID"},
		{"empty point", "d", "", at(0), at(time.Minute), "point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.TelemetryRange(ctx, tc.device, tc.point, tc.from, tc.to)
			wantErr(t, err, storage.ErrInvalid, tc.mention)
		})
	}
	_, err := s.LatestTelemetry(ctx, "bad\x00id")
	wantErr(t, err, storage.ErrInvalid, "deviceID")
	_, err = s.CountTelemetry(ctx, "bad\xffid")
	wantErr(t, err, storage.ErrInvalid, "deviceID")
}

func testTelemetryConcurrentWriters(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const writers, devices, steps = 4, 5, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every writer writes the same keys, in a different order, with its own values.
			var batch []storage.Sample
			for i := range devices * steps {
				k := (i + w*37) % (devices * steps)
				if w%2 == 1 {
					k = devices*steps - 1 - k
				}
				d, st := k/steps, k%steps
				batch = append(batch, sample(time.Duration(st)*time.Second, fmt.Sprintf("dev-%d", d), "active_power_kw", float64(w)))
			}
			for range 3 {
				if err := s.WriteTelemetry(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent WriteTelemetry: %v", err)
	}
	if got := count(t, s, ""); got != devices*steps {
		t.Fatalf("CountTelemetry = %d, want %d", got, devices*steps)
	}
	latest, err := s.LatestTelemetry(ctx, "")
	must(t, err, "LatestTelemetry")
	if len(latest) != devices {
		t.Fatalf("LatestTelemetry returned %d samples, want %d", len(latest), devices)
	}
	for _, x := range latest {
		if !x.Time.Equal(norm(at((steps - 1) * time.Second))) {
			t.Errorf("latest %s at %s, want the last step", x.DeviceID, x.Time)
		}
	}
}

func fc(issued, valid time.Duration, series string, q, v float64, method string) storage.ForecastPoint {
	return storage.ForecastPoint{IssuedAt: at(issued), ValidAt: at(valid), Series: series, Quantile: q, Value: v, Method: method}
}

func normForecasts(in []storage.ForecastPoint) []storage.ForecastPoint {
	out := make([]storage.ForecastPoint, len(in))
	for i, p := range in {
		p.IssuedAt, p.ValidAt = norm(p.IssuedAt), norm(p.ValidAt)
		out[i] = p
	}
	return out
}

func testForecastAsOf(t *testing.T, s storage.Store) {
	ctx := t.Context()
	const load, pv = "load:building-1", "pv:roof"
	h := time.Hour
	i0, i1 := 0*h, 90*time.Minute
	var older, newer []storage.ForecastPoint
	for k := 1; k <= 4; k++ { // issue 0: valid at +1h..+4h
		older = append(older, fc(i0, time.Duration(k)*h, load, 0.5, 10+float64(k), "seasonal-naive"))
	}
	for k := 2; k <= 5; k++ { // issue 1: valid at +2h..+5h
		newer = append(newer, fc(i1, time.Duration(k)*h, load, 0.5, 20+float64(k), "regression"))
	}
	var noise []storage.ForecastPoint
	for k := 1; k <= 5; k++ {
		noise = append(noise,
			fc(i1, time.Duration(k)*h, load, 0.9, 90+float64(k), "regression"),
			fc(i1, time.Duration(k)*h, pv, 0.5, -float64(k), "clear-sky"))
	}
	must(t, s.WriteForecasts(ctx, newer), "WriteForecasts newer")
	must(t, s.WriteForecasts(ctx, append(older, noise...)), "WriteForecasts older")

	mixed := append([]storage.ForecastPoint{older[0]}, newer...)
	var q90 []storage.ForecastPoint
	for _, p := range noise {
		if p.Series == load && p.Quantile == 0.9 {
			q90 = append(q90, p)
		}
	}
	for _, tc := range []struct {
		name     string
		quantile float64
		asOf     time.Duration
		from, to time.Duration
		want     []storage.ForecastPoint
	}{
		{"before any issue", 0.5, -time.Minute, 0, 6 * h, nil},
		{"at the first issue", 0.5, i0, 0, 6 * h, older},
		{"between issues", 0.5, i1 - time.Microsecond, 0, 6 * h, older},
		{"at the second issue", 0.5, i1, 0, 6 * h, mixed},
		{"after both", 0.5, 24 * h, 0, 6 * h, mixed},
		{"range [from, to)", 0.5, 24 * h, 2 * h, 4 * h, newer[0:2]},
		{"range between issues", 0.5, h, 3 * h, 5 * h, older[2:4]},
		{"other quantile", 0.9, 24 * h, 0, 6 * h, q90},
		{"other quantile before its issue", 0.9, i1 - time.Microsecond, 0, 6 * h, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ForecastAsOf(ctx, load, tc.quantile, at(tc.asOf), at(tc.from), at(tc.to))
			must(t, err, "ForecastAsOf")
			same(t, "ForecastAsOf", got, normForecasts(tc.want))
		})
	}
	got, err := s.ForecastAsOf(ctx, pv, 0.5, at(i1), at(0), at(2*h))
	must(t, err, "ForecastAsOf pv")
	same(t, "ForecastAsOf pv", got, normForecasts([]storage.ForecastPoint{noise[1]}))
}

func testForecastIdempotent(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var pts []storage.ForecastPoint
	for k := range 8 {
		pts = append(pts, fc(0, time.Duration(k)*15*time.Minute, "load:site", 0.5, float64(k), "m1"))
	}
	must(t, s.WriteForecasts(ctx, pts), "WriteForecasts")
	must(t, s.WriteForecasts(ctx, pts), "WriteForecasts again")
	got, err := s.ForecastAsOf(ctx, "load:site", 0.5, at(0), at(0), at(2*time.Hour))
	must(t, err, "ForecastAsOf")
	same(t, "after writing twice", got, normForecasts(pts))

	// The same key again replaces value and method; a duplicate key in one batch: last wins.
	re := pts[3]
	re.Value, re.Method = 99.5, "m2"
	re2 := re
	re2.Value = 100.25
	must(t, s.WriteForecasts(ctx, []storage.ForecastPoint{re, re2}), "WriteForecasts replacement")
	want := append([]storage.ForecastPoint{}, pts...)
	want[3] = re2
	got, err = s.ForecastAsOf(ctx, "load:site", 0.5, at(0), at(0), at(2*time.Hour))
	must(t, err, "ForecastAsOf")
	same(t, "after replacement", got, normForecasts(want))
}

func testForecastRejectsInvalid(t *testing.T, s storage.Store) {
	ctx := t.Context()
	good := fc(0, time.Hour, "load:site", 0.5, 1, "m")
	for _, tc := range []struct {
		name    string
		mutate  func(*storage.ForecastPoint)
		mention string
	}{
		{"zero issued", func(p *storage.ForecastPoint) { p.IssuedAt = time.Time{} }, "IssuedAt"},
		{"zero valid", func(p *storage.ForecastPoint) { p.ValidAt = time.Time{} }, "ValidAt"},
		{"empty series", func(p *storage.ForecastPoint) { p.Series = "" }, "Series"},
		{"quantile above 1", func(p *storage.ForecastPoint) { p.Quantile = 1.5 }, "1.5"},
		{"quantile NaN", func(p *storage.ForecastPoint) { p.Quantile = math.NaN() }, "Quantile"},
		{"infinite value", func(p *storage.ForecastPoint) { p.Value = math.Inf(1) }, "Value"},
		{"NUL in method", func(p *storage.ForecastPoint) { p.Method = "a\x00" }, "Method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			tc.mutate(&bad)
			wantErr(t, s.WriteForecasts(ctx, []storage.ForecastPoint{good, bad}), storage.ErrInvalid, tc.mention)
			got, err := s.ForecastAsOf(ctx, "load:site", 0.5, at(time.Hour), at(0), at(2*time.Hour))
			must(t, err, "ForecastAsOf")
			if len(got) != 0 {
				t.Fatalf("a rejected batch stored %d points", len(got))
			}
		})
	}
	for _, tc := range []struct {
		name           string
		series         string
		quantile       float64
		asOf, from, to time.Time
		mention        string
	}{
		{"empty series", "", 0.5, at(0), at(0), at(time.Hour), "series"},
		{"negative quantile", "s", -0.1, at(0), at(0), at(time.Hour), "Quantile"},
		{"zero asOf", "s", 0.5, time.Time{}, at(0), at(time.Hour), "asOf"},
		{"from after to", "s", 0.5, at(0), at(time.Hour), at(0), "from"},
	} {
		t.Run("query "+tc.name, func(t *testing.T) {
			_, err := s.ForecastAsOf(ctx, tc.series, tc.quantile, tc.asOf, tc.from, tc.to)
			wantErr(t, err, storage.ErrInvalid, tc.mention)
		})
	}
}

// fullSchedule has every field set; setpoints are given out of order.
func fullSchedule(created time.Duration, status storage.ScheduleStatus) *storage.Schedule {
	start := at(created + time.Hour).Truncate(15 * time.Minute)
	sc := &storage.Schedule{
		CreatedAt:     at(created),
		Start:         start,
		StepMinutes:   15,
		Steps:         4,
		Status:        status,
		InputHash:     "sha256:9f86d081884c7d65",
		Objective:     123.456789012345,
		CostBreakdown: map[string]float64{"energy": 100.125, "demand": 20.5, "battery_wear": 2.831789012345, "export": -0.000001},
		SolverStatus:  "optimal",
		Plan:          []byte(`{"steps":[{"bess-1":-5.5}],"note":"ünïcode ✓"}`),
	}
	for _, dev := range []string{"pv-1", "bess-1"} {
		for step := 3; step >= 0; step-- {
			sc.Setpoints = append(sc.Setpoints, storage.ScheduleSetpoint{
				DeviceID: dev, Step: step, Time: start.Add(time.Duration(step) * 15 * time.Minute),
				PowerKW: float64(step)*1.1 - 2.75,
			})
		}
	}
	return sc
}

// wantSchedule is what GetSchedule must return for sc stored under id.
func wantSchedule(sc *storage.Schedule, id int64) *storage.Schedule {
	w := *sc
	w.ID = id
	w.CreatedAt, w.Start, w.DecidedAt = norm(sc.CreatedAt), norm(sc.Start), norm(sc.DecidedAt)
	if len(w.CostBreakdown) == 0 {
		w.CostBreakdown = nil
	}
	if len(w.Plan) == 0 {
		w.Plan = nil
	}
	w.Setpoints = nil
	for _, sp := range sc.Setpoints {
		sp.Time = norm(sp.Time)
		w.Setpoints = append(w.Setpoints, sp)
	}
	// Ordered by Step, then DeviceID.
	sps := w.Setpoints
	for i := 1; i < len(sps); i++ {
		for j := i; j > 0 && (sps[j].Step < sps[j-1].Step || sps[j].Step == sps[j-1].Step && sps[j].DeviceID < sps[j-1].DeviceID); j-- {
			sps[j], sps[j-1] = sps[j-1], sps[j]
		}
	}
	return &w
}

// listed is what ListSchedules must return for sc stored under id: no setpoints, no plan.
func listed(sc *storage.Schedule, id int64) storage.Schedule {
	w := *wantSchedule(sc, id)
	w.Setpoints, w.Plan = nil, nil
	return w
}

func testScheduleRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	full := fullSchedule(0, storage.StatusApproved)
	full.Approver, full.Reason = "user:alice", "looks right"
	full.DecidedAt = at(time.Minute + 1500*time.Nanosecond)
	minimal := &storage.Schedule{
		CreatedAt: at(time.Hour), Start: at(2 * time.Hour), StepMinutes: 60, Steps: 1,
		Status: storage.StatusProposed, CostBreakdown: map[string]float64{}, Plan: []byte{},
	}
	var last int64
	for _, tc := range []struct {
		name string
		sc   *storage.Schedule
	}{{"full", full}, {"minimal", minimal}} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := s.InsertSchedule(ctx, tc.sc)
			must(t, err, "InsertSchedule")
			if id <= last {
				t.Fatalf("InsertSchedule returned id %d, want > %d", id, last)
			}
			last = id
			got, err := s.GetSchedule(ctx, id)
			must(t, err, "GetSchedule")
			if want := wantSchedule(tc.sc, id); !reflect.DeepEqual(got, want) {
				t.Fatalf("GetSchedule:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

func testScheduleNotFound(t *testing.T, s storage.Store) {
	ctx := t.Context()
	id, err := s.InsertSchedule(ctx, fullSchedule(0, storage.StatusProposed))
	must(t, err, "InsertSchedule")
	for _, missing := range []int64{id + 1, 0, -1} {
		_, err := s.GetSchedule(ctx, missing)
		wantErr(t, err, storage.ErrNotFound, "")
	}
}

func testScheduleRejectsInvalid(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name    string
		mutate  func(*storage.Schedule)
		mention string
	}{
		{"zero created", func(sc *storage.Schedule) { sc.CreatedAt = time.Time{} }, "CreatedAt"},
		{"zero start", func(sc *storage.Schedule) { sc.Start = time.Time{} }, "Start"},
		{"zero step minutes", func(sc *storage.Schedule) { sc.StepMinutes = 0 }, "StepMinutes"},
		{"negative steps", func(sc *storage.Schedule) { sc.Steps = -3 }, "-3"},
		{"unknown status", func(sc *storage.Schedule) { sc.Status = "pending" }, `"pending"`},
		{"NaN objective", func(sc *storage.Schedule) { sc.Objective = math.NaN() }, "Objective"},
		{"infinite cost term", func(sc *storage.Schedule) { sc.CostBreakdown["demand"] = math.Inf(1) }, "demand"},
		{"setpoint step out of range", func(sc *storage.Schedule) { sc.Setpoints[2].Step = 4 }, "Setpoints[2].Step"},
		{"setpoint without device", func(sc *storage.Schedule) { sc.Setpoints[1].DeviceID = "" }, "Setpoints[1].DeviceID"},
		{"setpoint NaN power", func(sc *storage.Schedule) { sc.Setpoints[0].PowerKW = math.NaN() }, "Setpoints[0].PowerKW"},
		{"duplicate setpoint", func(sc *storage.Schedule) { sc.Setpoints[1].Step = sc.Setpoints[0].Step }, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := fullSchedule(0, storage.StatusProposed)
			tc.mutate(sc)
			_, err := s.InsertSchedule(ctx, sc)
			wantErr(t, err, storage.ErrInvalid, tc.mention)
			got, err := s.ListSchedules(ctx, at(-time.Hour), at(time.Hour), "")
			must(t, err, "ListSchedules")
			if len(got) != 0 {
				t.Fatalf("a rejected schedule was stored: %+v", got)
			}
		})
	}
	_, err := s.InsertSchedule(ctx, nil)
	wantErr(t, err, storage.ErrInvalid, "nil")
}

func testListSchedules(t *testing.T, s storage.Store) {
	ctx := t.Context()
	h := time.Hour
	statuses := []storage.ScheduleStatus{storage.StatusProposed, storage.StatusApproved, storage.StatusProposed, storage.StatusRejected, storage.StatusProposed}
	var all []storage.Schedule
	// Insert out of creation order, so IDs do not follow CreatedAt.
	for _, k := range []int{2, 0, 4, 1, 3} {
		sc := fullSchedule(time.Duration(k)*h, statuses[k])
		id, err := s.InsertSchedule(ctx, sc)
		must(t, err, "InsertSchedule")
		all = append(all, listed(sc, id))
	}
	byCreated := make([]storage.Schedule, 5)
	for _, sc := range all {
		byCreated[int(sc.CreatedAt.Sub(norm(base))/h)] = sc
	}
	pick := func(ks ...int) []storage.Schedule {
		var out []storage.Schedule
		for _, k := range ks {
			out = append(out, byCreated[k])
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		status   storage.ScheduleStatus
		want     []storage.Schedule
	}{
		{"all, newest first", at(0), at(5 * h), "", pick(4, 3, 2, 1, 0)},
		{"[from, to)", at(1 * h), at(3 * h), "", pick(2, 1)},
		{"to just after", at(1 * h), at(3*h + time.Microsecond), "", pick(3, 2, 1)},
		{"proposed", at(0), at(5 * h), storage.StatusProposed, pick(4, 2, 0)},
		{"proposed in range", at(time.Microsecond), at(5 * h), storage.StatusProposed, pick(4, 2)},
		{"approved", at(0), at(5 * h), storage.StatusApproved, pick(1)},
		{"expired", at(0), at(5 * h), storage.StatusExpired, nil},
		{"empty range", at(2 * h), at(2 * h), "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListSchedules(ctx, tc.from, tc.to, tc.status)
			must(t, err, "ListSchedules")
			same(t, "ListSchedules", got, tc.want)
		})
	}
	_, err := s.ListSchedules(ctx, at(0), at(h), "pending")
	wantErr(t, err, storage.ErrInvalid, `"pending"`)
	_, err = s.ListSchedules(ctx, at(h), at(0), "")
	wantErr(t, err, storage.ErrInvalid, "from")
}

func testSetScheduleStatus(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sc := fullSchedule(0, storage.StatusProposed)
	id, err := s.InsertSchedule(ctx, sc)
	must(t, err, "InsertSchedule")
	want := wantSchedule(sc, id)
	decided := at(2*time.Minute + 7*time.Microsecond)
	for _, step := range []struct {
		name     string
		id       int64
		from, to storage.ScheduleStatus
		actor    string
		reason   string
		wantErr  error
		apply    bool // on success the schedule changes
		mention  string
		decideAt time.Time
	}{
		{"approve", id, storage.StatusProposed, storage.StatusApproved, "user:alice", "ok by me", nil, true, "", decided},
		{"approve again", id, storage.StatusProposed, storage.StatusApproved, "policy:auto", "", storage.ErrConflict, false, "", decided.Add(time.Minute)},
		{"reject an approved one as proposed", id, storage.StatusProposed, storage.StatusRejected, "user:bob", "no", storage.ErrConflict, false, "", decided.Add(time.Minute)},
		{"unknown schedule", id + 100, storage.StatusProposed, storage.StatusApproved, "user:alice", "", storage.ErrNotFound, false, "", decided},
		{"unknown target status", id, storage.StatusApproved, "done", "user:alice", "", storage.ErrInvalid, false, `"done"`, decided},
		{"unknown from status", id, "", storage.StatusApproved, "user:alice", "", storage.ErrInvalid, false, "from", decided},
		{"no actor", id, storage.StatusApproved, storage.StatusSuperseded, "", "", storage.ErrInvalid, false, "actor", decided},
		{"zero time", id, storage.StatusApproved, storage.StatusSuperseded, "system", "", storage.ErrInvalid, false, "at", time.Time{}},
		// The approval stays as recorded: who approved it, why and when (the supersede
		// is the audit log's record, not a rewrite of this one).
		{"supersede", id, storage.StatusApproved, storage.StatusSuperseded, "system", "newer schedule 9", nil, true, "", decided.Add(time.Hour)},
	} {
		t.Run(step.name, func(t *testing.T) {
			err := s.SetScheduleStatus(ctx, step.id, step.from, step.to, step.actor, step.reason, step.decideAt)
			if step.wantErr != nil {
				wantErr(t, err, step.wantErr, step.mention)
			} else {
				must(t, err, "SetScheduleStatus")
			}
			if step.apply {
				want.Status = step.to
				if !storage.KeepsDecision(step.from, step.to) {
					want.Approver, want.Reason, want.DecidedAt = step.actor, step.reason, norm(step.decideAt)
				}
			}
			got, err := s.GetSchedule(ctx, id)
			must(t, err, "GetSchedule")
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("after %s:\n got  %+v\n want %+v", step.name, got, want)
			}
		})
	}
	// Spelled out: after the supersede the approval is still alice's, with her reason and time.
	got, err := s.GetSchedule(ctx, id)
	must(t, err, "GetSchedule")
	if got.Status != storage.StatusSuperseded || got.Approver != "user:alice" || got.Reason != "ok by me" || !got.DecidedAt.Equal(norm(decided)) {
		t.Fatalf("superseding rewrote the approval: %s by %q (%q) at %v", got.Status, got.Approver, got.Reason, got.DecidedAt)
	}
}

func testSetpointWrites(t *testing.T, s storage.Store) {
	ctx := t.Context()
	a, err := s.InsertSchedule(ctx, fullSchedule(0, storage.StatusApproved))
	must(t, err, "InsertSchedule")
	b, err := s.InsertSchedule(ctx, fullSchedule(time.Hour, storage.StatusApproved))
	must(t, err, "InsertSchedule")
	writes := []storage.SetpointWrite{
		{Time: at(2 * time.Minute), ScheduleID: a, DeviceID: "bess-1", Point: "active_power_setpoint_kw", RequestedKW: -5.5, WrittenKW: -5.5, ReadBackKW: -5.5, Status: storage.WriteOK},
		{Time: at(1 * time.Minute), ScheduleID: a, DeviceID: "pv-1", Point: "curtailment_limit_kw", RequestedKW: 30.25, WrittenKW: 30.2, ReadBackKW: 29.9, Status: storage.WriteMismatch},
		{Time: at(3 * time.Minute), ScheduleID: b, DeviceID: "bess-1", Point: "active_power_setpoint_kw", RequestedKW: 10, Status: storage.WriteFailed, Error: "modbus: exception 4 (server device failure)"},
		{Time: at(1 * time.Minute), ScheduleID: 0, DeviceID: "ev-1", Point: "current_limit_kw", RequestedKW: 7.4, WrittenKW: 7.4, ReadBackKW: 7.4, Status: storage.WriteOK},
		{Time: at(2 * time.Minute), ScheduleID: a, DeviceID: "ev-1", Point: "current_limit_kw", RequestedKW: 0, WrittenKW: 0, ReadBackKW: 0, Status: storage.WriteOK},
	}
	var last int64
	for i := range writes {
		id, err := s.RecordSetpointWrite(ctx, writes[i])
		must(t, err, "RecordSetpointWrite")
		if id <= last {
			t.Fatalf("RecordSetpointWrite returned id %d, want > %d", id, last)
		}
		last = id
		writes[i].ID = id
		writes[i].Time = norm(writes[i].Time)
	}
	w := writes
	for _, tc := range []struct {
		name     string
		schedule int64
		want     []storage.SetpointWrite
	}{
		{"schedule a, oldest first, ties by id", a, []storage.SetpointWrite{w[1], w[0], w[4]}},
		{"schedule b", b, []storage.SetpointWrite{w[2]}},
		{"all", 0, []storage.SetpointWrite{w[1], w[3], w[0], w[4], w[2]}},
		{"schedule without writes", b + 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListSetpointWrites(ctx, tc.schedule)
			must(t, err, "ListSetpointWrites")
			same(t, "ListSetpointWrites", got, tc.want)
		})
	}
	bad := writes[0]
	bad.ScheduleID = b + 1000
	_, err = s.RecordSetpointWrite(ctx, bad)
	wantErr(t, err, storage.ErrNotFound, "")
	for _, tc := range []struct {
		name    string
		mutate  func(*storage.SetpointWrite)
		mention string
	}{
		{"unknown status", func(w *storage.SetpointWrite) { w.Status = "maybe" }, `"maybe"`},
		{"no device", func(w *storage.SetpointWrite) { w.DeviceID = "" }, "DeviceID"},
		{"NaN read-back", func(w *storage.SetpointWrite) { w.ReadBackKW = math.NaN() }, "ReadBackKW"},
		{"zero time", func(w *storage.SetpointWrite) { w.Time = time.Time{} }, "Time"},
		{"negative schedule", func(w *storage.SetpointWrite) { w.ScheduleID = -1 }, "ScheduleID"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			x := writes[0]
			tc.mutate(&x)
			_, err := s.RecordSetpointWrite(ctx, x)
			wantErr(t, err, storage.ErrInvalid, tc.mention)
		})
	}
	got, err := s.ListSetpointWrites(ctx, 0)
	must(t, err, "ListSetpointWrites")
	if len(got) != len(writes) {
		t.Fatalf("after rejected writes: %d writes stored, want %d", len(got), len(writes))
	}
	_, err = s.ListSetpointWrites(ctx, -1)
	wantErr(t, err, storage.ErrInvalid, "-1")
}

func testCycles(t *testing.T, s storage.Store) {
	ctx := t.Context()
	sched, err := s.InsertSchedule(ctx, fullSchedule(0, storage.StatusProposed))
	must(t, err, "InsertSchedule")
	cycles := []storage.CycleRun{
		{Started: at(2 * time.Minute), PollMS: 12.5, ForecastMS: 3.25, SolveMS: 140.125, WriteMS: 20, TotalMS: 176.875, Devices: 4, StaleDevices: 1, SolverStatus: "optimal", Iterations: 37, ScheduleID: sched},
		{Started: at(0), PollMS: 10, TotalMS: 10, Devices: 4, StaleDevices: 4, Error: "poll: all devices stale"},
		{Started: at(4 * time.Minute), PollMS: 11, ForecastMS: 2, SolveMS: 5000.5, TotalMS: 5013.5, Devices: 4, SolverStatus: "time_limit", Iterations: 10000},
		{Started: at(1 * time.Minute), PollMS: 9, Devices: 3},
		{Started: at(3 * time.Minute), PollMS: 9.75, Devices: 3, SolverStatus: "infeasible", Error: "optimizer: infeasible"},
	}
	for i := range cycles {
		id, err := s.RecordCycle(ctx, cycles[i])
		must(t, err, "RecordCycle")
		cycles[i].ID, cycles[i].Started = id, norm(cycles[i].Started)
	}
	c := cycles
	for _, tc := range []struct {
		limit int
		want  []storage.CycleRun
	}{
		{1, []storage.CycleRun{c[2]}},
		{3, []storage.CycleRun{c[2], c[4], c[0]}},
		{0, []storage.CycleRun{c[2], c[4], c[0], c[3], c[1]}},
		{100, []storage.CycleRun{c[2], c[4], c[0], c[3], c[1]}},
	} {
		t.Run(fmt.Sprintf("limit %d", tc.limit), func(t *testing.T) {
			got, err := s.ListCycles(ctx, tc.limit)
			must(t, err, "ListCycles")
			same(t, "ListCycles", got, tc.want)
		})
	}
	_, err = s.ListCycles(ctx, -1)
	wantErr(t, err, storage.ErrInvalid, "-1")
	unknown := cycles[0]
	unknown.ScheduleID = sched + 50
	_, err = s.RecordCycle(ctx, unknown)
	wantErr(t, err, storage.ErrNotFound, "")
	for _, tc := range []struct {
		name    string
		mutate  func(*storage.CycleRun)
		mention string
	}{
		{"zero start", func(c *storage.CycleRun) { c.Started = time.Time{} }, "Started"},
		{"negative duration", func(c *storage.CycleRun) { c.SolveMS = -1 }, "SolveMS"},
		{"NaN duration", func(c *storage.CycleRun) { c.TotalMS = math.NaN() }, "TotalMS"},
		{"more stale than devices", func(c *storage.CycleRun) { c.StaleDevices = 5 }, "StaleDevices"},
		{"negative iterations", func(c *storage.CycleRun) { c.Iterations = -2 }, "Iterations"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			x := cycles[0]
			x.ID = 0
			tc.mutate(&x)
			_, err := s.RecordCycle(ctx, x)
			wantErr(t, err, storage.ErrInvalid, tc.mention)
		})
	}
	got, err := s.ListCycles(ctx, 0)
	must(t, err, "ListCycles")
	if len(got) != len(cycles) {
		t.Fatalf("after rejected cycles: %d stored, want %d", len(got), len(cycles))
	}
}

func testAudit(t *testing.T, s storage.Store) {
	ctx := t.Context()
	events := []storage.AuditEvent{
		{Time: at(3 * time.Minute), Actor: "user:alice", Action: "schedule.approve", Subject: "schedule:12", Detail: "approved after review"},
		{Time: at(1 * time.Minute), Actor: "system", Action: "gridd.start", Detail: `{"version":"dev"}`},
		{Time: at(3 * time.Minute), Actor: "policy:auto", Action: "schedule.approve", Subject: "schedule:13"},
		{Time: at(5 * time.Minute), Actor: "user:bob", Action: "asset.update", Subject: "asset:bess-1", Detail: "ünïcode ✓"},
		{Time: at(2 * time.Minute), Actor: "system", Action: "schedule.expire", Subject: "schedule:11"},
	}
	var last int64
	for i := range events {
		id, err := s.AppendAudit(ctx, events[i])
		must(t, err, "AppendAudit")
		if id <= last {
			t.Fatalf("AppendAudit returned id %d, want > %d", id, last)
		}
		last = id
		events[i].ID, events[i].Time = id, norm(events[i].Time)
	}
	e := events
	for _, tc := range []struct {
		name     string
		from, to time.Time
		limit    int
		want     []storage.AuditEvent
	}{
		{"all, oldest first, ties by id", at(0), at(time.Hour), 0, []storage.AuditEvent{e[1], e[4], e[0], e[2], e[3]}},
		{"limit", at(0), at(time.Hour), 2, []storage.AuditEvent{e[1], e[4]}},
		{"[from, to)", at(2 * time.Minute), at(5 * time.Minute), 0, []storage.AuditEvent{e[4], e[0], e[2]}},
		{"limit cuts a tie", at(3 * time.Minute), at(time.Hour), 1, []storage.AuditEvent{e[0]}},
		{"empty", at(6 * time.Minute), at(time.Hour), 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.from, tc.to, tc.limit)
			must(t, err, "ListAudit")
			same(t, "ListAudit", got, tc.want)
		})
	}
	for _, tc := range []struct {
		name    string
		ev      storage.AuditEvent
		mention string
	}{
		{"no actor", storage.AuditEvent{Time: at(0), Action: "x"}, "Actor"},
		{"no action", storage.AuditEvent{Time: at(0), Actor: "system"}, "Action"},
		{"zero time", storage.AuditEvent{Actor: "system", Action: "x"}, "Time"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			_, err := s.AppendAudit(ctx, tc.ev)
			wantErr(t, err, storage.ErrInvalid, tc.mention)
		})
	}
	// ListAuditAll: every event in ID order, whatever its time (what the audit chain is
	// verified and state restored from).
	all, err := s.ListAuditAll(ctx)
	must(t, err, "ListAuditAll")
	same(t, "ListAuditAll", all, []storage.AuditEvent{e[0], e[1], e[2], e[3], e[4]})
	_, err = s.ListAudit(ctx, at(0), at(time.Hour), -1)
	wantErr(t, err, storage.ErrInvalid, "limit")
	_, err = s.ListAudit(ctx, at(time.Hour), at(0), 0)
	wantErr(t, err, storage.ErrInvalid, "from")
}

func testAssets(t *testing.T, s storage.Store) {
	ctx := t.Context()
	meter := storage.Asset{ID: "meter-0", Kind: "meter", Node: "root", Endpoint: "tcp://127.0.0.1:5020/1", Owner: "site", Location: "main switchboard"}
	bess := storage.Asset{ID: "bess-1", Kind: "bess", Node: "lv-1", Endpoint: "tcp://127.0.0.1:5021/1", Owner: "site"}
	pv := storage.Asset{ID: "PV-1", Kind: "pv", Node: "lv-1", Endpoint: "tcp://127.0.0.1:5022/3", Location: "roof"}
	must(t, s.UpsertAssets(ctx, []storage.Asset{meter, bess, pv}), "UpsertAssets")
	got, err := s.ListAssets(ctx)
	must(t, err, "ListAssets")
	// Ordered by ID byte-wise: upper case sorts before lower case.
	same(t, "ListAssets", got, []storage.Asset{pv, bess, meter})

	// Updating changes every field; a repeated ID in one batch: the last entry wins.
	bess2 := storage.Asset{ID: "bess-1", Kind: "bess", Node: "lv-2", Endpoint: "tcp://10.0.0.5:502/2", Owner: "tenant-a", Location: "yard"}
	bess3 := bess2
	bess3.Location = "yard, container 2"
	ev := storage.Asset{ID: "ev-1", Kind: "ev_charger", Node: "lv-2", Endpoint: "tcp://10.0.0.6:502/1"}
	must(t, s.UpsertAssets(ctx, []storage.Asset{bess2, ev, bess3}), "UpsertAssets update")
	got, err = s.ListAssets(ctx)
	must(t, err, "ListAssets")
	same(t, "ListAssets after update", got, []storage.Asset{pv, bess3, ev, meter})

	for _, tc := range []struct {
		name    string
		a       storage.Asset
		mention string
	}{
		{"no id", storage.Asset{Kind: "meter"}, "ID"},
		{"no kind", storage.Asset{ID: "x"}, "Kind"},
		{"NUL in endpoint", storage.Asset{ID: "x", Kind: "meter", Endpoint: "\x00"}, "Endpoint"},
	} {
		t.Run("reject "+tc.name, func(t *testing.T) {
			fresh := storage.Asset{ID: "zz-new", Kind: "meter"}
			wantErr(t, s.UpsertAssets(ctx, []storage.Asset{fresh, tc.a}), storage.ErrInvalid, tc.mention)
			got, err := s.ListAssets(ctx)
			must(t, err, "ListAssets")
			same(t, "ListAssets after a rejected batch", got, []storage.Asset{pv, bess3, ev, meter})
		})
	}
}

func testEmptyStore(t *testing.T, s storage.Store) {
	ctx := t.Context()
	must(t, s.WriteTelemetry(ctx, nil), "WriteTelemetry(nil)")
	must(t, s.WriteForecasts(ctx, []storage.ForecastPoint{}), "WriteForecasts(empty)")
	must(t, s.UpsertAssets(ctx, nil), "UpsertAssets(nil)")
	checks := []struct {
		name string
		n    func() (int, error)
	}{
		{"LatestTelemetry", func() (int, error) { x, err := s.LatestTelemetry(ctx, ""); return len(x), err }},
		{"TelemetryRange", func() (int, error) {
			x, err := s.TelemetryRange(ctx, "d", "p", at(-time.Hour), at(time.Hour))
			return len(x), err
		}},
		{"CountTelemetry", func() (int, error) { n, err := s.CountTelemetry(ctx, ""); return int(n), err }},
		{"ForecastAsOf", func() (int, error) {
			x, err := s.ForecastAsOf(ctx, "s", 0.5, at(0), at(-time.Hour), at(time.Hour))
			return len(x), err
		}},
		{"ListSchedules", func() (int, error) {
			x, err := s.ListSchedules(ctx, at(-time.Hour), at(time.Hour), "")
			return len(x), err
		}},
		{"ListSetpointWrites", func() (int, error) { x, err := s.ListSetpointWrites(ctx, 0); return len(x), err }},
		{"ListCycles", func() (int, error) { x, err := s.ListCycles(ctx, 0); return len(x), err }},
		{"ListAudit", func() (int, error) { x, err := s.ListAudit(ctx, at(-time.Hour), at(time.Hour), 0); return len(x), err }},
		{"ListAssets", func() (int, error) { x, err := s.ListAssets(ctx); return len(x), err }},
	}
	for _, c := range checks {
		n, err := c.n()
		must(t, err, c.name)
		if n != 0 {
			t.Errorf("%s on an empty store returned %d records", c.name, n)
		}
	}
}

func testCanceledContext(t *testing.T, s storage.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.WriteTelemetry(ctx, []storage.Sample{sample(0, "d", "p", 1)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteTelemetry with a canceled context: error = %v, want one wrapping context.Canceled", err)
	}
	_, err = s.AppendAudit(ctx, storage.AuditEvent{Time: at(0), Actor: "system", Action: "x"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("AppendAudit with a canceled context: error = %v, want one wrapping context.Canceled", err)
	}
	if n := count(t, s, ""); n != 0 {
		t.Fatalf("a canceled write stored %d samples", n)
	}
}
