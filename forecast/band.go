package forecast

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"
)

// Band defaults, used when the BandOptions field is 0.
const (
	DefaultBandOrigins      = 28
	DefaultBandSpacing      = Day
	DefaultBandBucket       = time.Hour
	DefaultBandMinPerBucket = 20
)

// BandOptions controls how P10/P90 are estimated. The method is run on the
// history itself at Origins earlier issue times (Origin − j·Spacing, j = 1..Origins),
// each seeing only history before its own issue time; residuals (actual − forecast)
// are collected for every step whose actual interval ends at or before Origin.
// Zero fields take the defaults above.
type BandOptions struct {
	Origins      int           // backtest issue times
	Spacing      time.Duration // between backtest issue times (24h keeps the time of day)
	Bucket       time.Duration // lead-time bucket width (at least Step)
	MinPerBucket int           // residuals every bucket needs for a per-lead-time band
	// Skip leaves the band out: no backtest runs, P10 = P90 = P50 and Result.Band
	// is BandSkipped. For callers that use only the median (the band's backtest is
	// most of a seasonal-naive forecast's cost).
	Skip bool
}

func (o BandOptions) validate(series string) error {
	switch {
	case o.Origins < 0 || o.Origins > MaxBacktestOrigins:
		return fmt.Errorf("forecast %q: Band.Origins must be in [0, %d], got %d", series, MaxBacktestOrigins, o.Origins)
	case o.Spacing < 0 || o.Spacing > MaxPeriod:
		return fmt.Errorf("forecast %q: Band.Spacing must be in [0, %v], got %v", series, MaxPeriod, o.Spacing)
	case o.Bucket < 0:
		return fmt.Errorf("forecast %q: Band.Bucket must be >= 0, got %v", series, o.Bucket)
	case o.MinPerBucket < 0:
		return fmt.Errorf("forecast %q: Band.MinPerBucket must be >= 0, got %d", series, o.MinPerBucket)
	}
	return nil
}

func (o BandOptions) withDefaults(step time.Duration) BandOptions {
	if o.Origins == 0 {
		o.Origins = DefaultBandOrigins
	}
	if o.Spacing == 0 {
		o.Spacing = DefaultBandSpacing
	}
	if o.Bucket == 0 {
		o.Bucket = DefaultBandBucket
	}
	if o.Bucket < step {
		o.Bucket = step
	}
	if o.MinPerBucket == 0 {
		o.MinPerBucket = DefaultBandMinPerBucket
	}
	return o
}

type band struct {
	p10, p90 []float64
	kind     string
	n        int
}

// computeBand backtests m on the history and turns the residuals into P10/P90
// around p50.
func computeBand(ctx context.Context, req Request, p *prepared, m pointMethod, p50 []float64, opts BandOptions) (band, error) {
	if opts.Skip {
		return band{p10: append([]float64(nil), p50...), p90: append([]float64(nil), p50...), kind: BandSkipped}, nil
	}
	o := opts.withDefaults(req.Step)
	origin := req.Origin.UTC()
	step := req.Step
	nb := int((time.Duration(req.Steps-1)*step)/o.Bucket) + 1
	buckets := make([][]float64, nb)
	total := 0
	first := p.firstStart()
	oj := origin
	for j := 1; j <= o.Origins; j++ {
		if err := ctx.Err(); err != nil {
			return band{}, err
		}
		oj = oj.Add(-o.Spacing)
		if !oj.After(first) {
			break
		}
		fc := m.point(p, oj, step, req.Steps)
		for k, f := range fc {
			t := oj.Add(time.Duration(k) * step)
			end := t.Add(step)
			if end.After(origin) {
				break
			}
			if math.IsNaN(f) {
				continue
			}
			a, ok := p.mean(t, end)
			if !ok {
				continue
			}
			b := int((time.Duration(k) * step) / o.Bucket)
			buckets[b] = append(buckets[b], a-f)
			total++
		}
	}

	out := band{p10: make([]float64, req.Steps), p90: make([]float64, req.Steps), n: total}
	if total == 0 {
		copy(out.p10, p50)
		copy(out.p90, p50)
		out.kind = BandNone
		return out, nil
	}
	perLead := true
	for _, b := range buckets {
		if len(b) < o.MinPerBucket {
			perLead = false
			break
		}
	}
	if perLead {
		lo := make([]float64, nb)
		hi := make([]float64, nb)
		for i, b := range buckets {
			sort.Float64s(b)
			lo[i] = quantileSorted(b, 0.1)
			hi[i] = quantileSorted(b, 0.9)
		}
		for k, v := range p50 {
			b := int((time.Duration(k) * step) / o.Bucket)
			out.p10[k] = v + lo[b]
			out.p90[k] = v + hi[b]
		}
		out.kind = BandLeadTime
		return out, nil
	}
	abs := make([]float64, 0, total)
	for _, b := range buckets {
		for _, r := range b {
			abs = append(abs, math.Abs(r))
		}
	}
	sort.Float64s(abs)
	q := quantileSorted(abs, 0.8)
	for k, v := range p50 {
		out.p10[k] = v - q
		out.p90[k] = v + q
	}
	out.kind = BandOverall
	return out, nil
}

// quantileSorted is the linearly interpolated q-quantile of sorted xs
// (Hyndman & Fan type 7). xs must not be empty.
func quantileSorted(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	i := int(math.Floor(h))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	return xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
}
