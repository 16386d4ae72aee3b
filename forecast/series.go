package forecast

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// prepared is a history cleaned and indexed for interval means: sorted,
// de-duplicated, non-finite values removed, each value holding over
// [start, end) with intervals non-overlapping and ending no later than cutoff.
type prepared struct {
	series string
	cutoff time.Time
	starts []time.Time
	ends   []time.Time
	vals   []float64
	// prefix sums over samples: cumVD[i] = Σ_{j<i} vals[j]·dur[j], cumD[i] = Σ_{j<i} dur[j] (seconds)
	cumVD []float64
	cumD  []float64
	stats InputStats
}

// prepare cleans hist for use before cutoff. interval is the time each value
// holds (0: infer as the median spacing, fallback if fewer than two points).
func prepare(series string, hist []Point, cutoff time.Time, interval, fallback time.Duration) (*prepared, error) {
	cutoff = cutoff.UTC()
	p := &prepared{series: series, cutoff: cutoff}

	// Keep points before cutoff, in input order, with their index for messages.
	type row struct {
		t time.Time
		v float64
	}
	rows := make([]row, 0, len(hist))
	for i, pt := range hist {
		if pt.Time.IsZero() {
			return nil, fmt.Errorf("forecast %q: History[%d]: zero timestamp", series, i)
		}
		t := pt.Time.UTC()
		if !t.Before(cutoff) {
			p.stats.AfterOrigin++
			continue
		}
		if !math.IsInf(pt.Value, 0) && math.Abs(pt.Value) > MaxAbsValue {
			return nil, fmt.Errorf("forecast %q: History[%d] at %s: value %g exceeds ±%g",
				series, i, t.Format(time.RFC3339Nano), pt.Value, MaxAbsValue)
		}
		rows = append(rows, row{t, pt.Value})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("forecast: %w for %s before %s", ErrNoHistory, series, cutoff.Format(time.RFC3339))
	}

	// Stable sort keeps input order among equal times; the last of each run wins.
	// (Telemetry comes in time order: the sort is skipped when it would change nothing.)
	before := func(i, j int) bool { return rows[i].t.Before(rows[j].t) }
	if !sort.SliceIsSorted(rows, before) {
		sort.SliceStable(rows, before)
	}
	dedup := rows[:0]
	for i := range rows {
		if i+1 < len(rows) && rows[i+1].t.Equal(rows[i].t) {
			p.stats.Duplicates++
			continue
		}
		dedup = append(dedup, rows[i])
	}
	rows = dedup

	if interval == 0 {
		interval = fallback
		if len(rows) > 1 {
			diffs := make([]time.Duration, len(rows)-1)
			for i := 1; i < len(rows); i++ {
				diffs[i-1] = rows[i].t.Sub(rows[i-1].t)
			}
			sort.Slice(diffs, func(i, j int) bool { return diffs[i] < diffs[j] })
			interval = diffs[len(diffs)/2]
		}
	}
	p.stats.SampleInterval = interval

	n := 0
	p.starts = make([]time.Time, 0, len(rows))
	p.ends = make([]time.Time, 0, len(rows))
	p.vals = make([]float64, 0, len(rows))
	for i, r := range rows {
		if math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			p.stats.NonFinite++
			continue
		}
		end := r.t.Add(interval)
		if i+1 < len(rows) && rows[i+1].t.Before(end) {
			end = rows[i+1].t
		}
		if cutoff.Before(end) {
			end = cutoff
		}
		p.starts = append(p.starts, r.t)
		p.ends = append(p.ends, end)
		p.vals = append(p.vals, r.v)
		n++
	}
	p.stats.Used = n
	if n == 0 {
		return nil, fmt.Errorf("forecast: %w for %s before %s: all %d values are NaN or Inf",
			ErrNoHistory, series, cutoff.Format(time.RFC3339), p.stats.NonFinite)
	}
	p.cumVD = make([]float64, n+1)
	p.cumD = make([]float64, n+1)
	for i := 0; i < n; i++ {
		d := p.ends[i].Sub(p.starts[i]).Seconds()
		p.cumVD[i+1] = p.cumVD[i] + p.vals[i]*d
		p.cumD[i+1] = p.cumD[i] + d
	}
	return p, nil
}

// firstStart is the start of the earliest usable value.
func (p *prepared) firstStart() time.Time { return p.starts[0] }

// mean returns the time-weighted mean of the values over [a, b) and whether any
// part of [a, b) is covered. Uncovered parts are gaps and do not count.
func (p *prepared) mean(a, b time.Time) (float64, bool) {
	n := len(p.vals)
	lo := sort.Search(n, func(i int) bool { return p.ends[i].After(a) })
	hi := sort.Search(n, func(i int) bool { return !p.starts[i].Before(b) })
	if lo >= hi {
		return 0, false
	}
	var sumVD, sumD float64
	if hi-lo <= 16 {
		for i := lo; i < hi; i++ {
			s, e := p.starts[i], p.ends[i]
			if s.Before(a) {
				s = a
			}
			if b.Before(e) {
				e = b
			}
			d := e.Sub(s).Seconds()
			sumVD += p.vals[i] * d
			sumD += d
		}
	} else {
		sumVD = p.cumVD[hi] - p.cumVD[lo]
		sumD = p.cumD[hi] - p.cumD[lo]
		if p.starts[lo].Before(a) {
			cut := a.Sub(p.starts[lo]).Seconds()
			sumVD -= p.vals[lo] * cut
			sumD -= cut
		}
		if b.Before(p.ends[hi-1]) {
			cut := p.ends[hi-1].Sub(b).Seconds()
			sumVD -= p.vals[hi-1] * cut
			sumD -= cut
		}
	}
	if !(sumD > 0) {
		return 0, false
	}
	return sumVD / sumD, true
}

// lastEnd returns the end of the latest value starting before t, clipped at t.
func (p *prepared) lastEnd(t time.Time) (time.Time, bool) {
	i := sort.Search(len(p.starts), func(i int) bool { return !p.starts[i].Before(t) }) - 1
	if i < 0 {
		return time.Time{}, false
	}
	e := p.ends[i]
	if t.Before(e) {
		e = t
	}
	return e, true
}
