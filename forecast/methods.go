package forecast

import (
	"context"
	"fmt"
	"math"
	"time"
)

// DefaultMaxGapPeriods is how many further periods back a seasonal naive step
// looks when its source interval is a gap, when MaxGapPeriods is 0.
const DefaultMaxGapPeriods = 3

// DefaultPersistenceWindow is the window Persistence averages when Window is 0.
const DefaultPersistenceWindow = time.Hour

// pointMethod computes point forecasts from a prepared history. point must only
// read history before origin (which may be earlier than the prepared cutoff, for
// backtests) and returns NaN for steps it cannot fill.
type pointMethod interface {
	name() string
	point(p *prepared, origin time.Time, step time.Duration, steps int) []float64
}

// SeasonalNaive forecasts the value at t as the mean measured value over
// [t−Period, t−Period+Step). When that interval reaches Origin or beyond (horizon
// longer than Period) it uses t−2·Period, and so on. When the interval is a gap it
// looks up to MaxGapPeriods further periods back.
type SeasonalNaive struct {
	Period time.Duration
	// MaxGapPeriods: further periods searched when a source interval is a gap.
	// 0 means DefaultMaxGapPeriods; negative disables gap filling.
	MaxGapPeriods int
	Band          BandOptions
}

// Forecast implements Forecaster. It fails (naming the step) if some step has no
// data in any searched period.
func (s SeasonalNaive) Forecast(ctx context.Context, req Request) (*Result, error) {
	p, err := prepareRequest(ctx, req, s.Band, validatePeriod(req.Series, s.Period, req.Step), validateGap(req.Series, s.MaxGapPeriods))
	if err != nil {
		return nil, err
	}
	m := seasonal{period: s.Period, gap: gapPeriods(s.MaxGapPeriods)}
	origin := req.Origin.UTC()
	p50 := m.point(p, origin, req.Step, req.Steps)
	for k, v := range p50 {
		if math.IsNaN(v) {
			t := origin.Add(time.Duration(k) * req.Step)
			return nil, fmt.Errorf("forecast %q: %s: %w: no value in the %d period(s) before step %d (%s)",
				req.Series, m.name(), errUnfilled, m.gap+1, k, t.Format(time.RFC3339))
		}
	}
	return finish(ctx, req, p, m, p50, s.Band)
}

// Persistence forecasts every step as the mean over the last Window of history
// (ending where the latest value ends, at most at Origin).
type Persistence struct {
	Window time.Duration // 0 means DefaultPersistenceWindow
	Band   BandOptions
}

// Forecast implements Forecaster.
func (s Persistence) Forecast(ctx context.Context, req Request) (*Result, error) {
	var windowErr error
	if s.Window < 0 {
		windowErr = fmt.Errorf("forecast %q: persistence Window must be >= 0, got %v", req.Series, s.Window)
	}
	p, err := prepareRequest(ctx, req, s.Band, windowErr)
	if err != nil {
		return nil, err
	}
	m := persistence{window: s.Window}
	if m.window == 0 {
		m.window = DefaultPersistenceWindow
	}
	p50 := m.point(p, req.Origin.UTC(), req.Step, req.Steps)
	return finish(ctx, req, p, m, p50, s.Band)
}

// Fallback is the cheap chain of naive methods: weekly seasonal naive when the
// history reaches back a full week before Origin and every step can be filled,
// else daily seasonal naive under the same rule, else persistence of the mean of
// the last hour, else an error wrapping ErrNoHistory. Auto falls back to it when
// no fitted model can be issued.
type Fallback struct {
	MaxGapPeriods int // as SeasonalNaive.MaxGapPeriods
	Band          BandOptions
}

// Forecast implements Forecaster.
func (a Fallback) Forecast(ctx context.Context, req Request) (*Result, error) {
	p, err := prepareRequest(ctx, req, a.Band, validateGap(req.Series, a.MaxGapPeriods))
	if err != nil {
		return nil, err
	}
	origin := req.Origin.UTC()
	for _, period := range []time.Duration{Week, Day} {
		if period < req.Step || p.firstStart().After(origin.Add(-period)) {
			continue
		}
		m := seasonal{period: period, gap: gapPeriods(a.MaxGapPeriods)}
		p50 := m.point(p, origin, req.Step, req.Steps)
		if !anyNaN(p50) {
			return finish(ctx, req, p, m, p50, a.Band)
		}
	}
	m := persistence{window: DefaultPersistenceWindow}
	return finish(ctx, req, p, m, m.point(p, origin, req.Step, req.Steps), a.Band)
}

func gapPeriods(g int) int {
	switch {
	case g == 0:
		return DefaultMaxGapPeriods
	case g < 0:
		return 0
	}
	return g
}

func anyNaN(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) {
			return true
		}
	}
	return false
}

type seasonal struct {
	period time.Duration
	gap    int
}

func (m seasonal) name() string {
	switch m.period {
	case Week:
		return MethodWeekly
	case Day:
		return MethodDaily
	}
	return "seasonal_naive_" + m.period.String()
}

func (m seasonal) point(p *prepared, origin time.Time, step time.Duration, steps int) []float64 {
	out := make([]float64, steps)
	first := p.firstStart()
	for k := range out {
		out[k] = math.NaN()
		t := origin.Add(time.Duration(k) * step)
		// Smallest m with t − m·Period + Step <= origin, i.e. m·Period >= (k+1)·Step.
		d := time.Duration(k+1) * step
		m0 := (d + m.period - 1) / m.period
		src := t.Add(-m0 * m.period)
		for g := 0; g <= m.gap; g++ {
			end := src.Add(step)
			if !end.After(first) {
				break
			}
			if v, ok := p.mean(src, end); ok {
				out[k] = v
				break
			}
			src = src.Add(-m.period)
		}
	}
	return out
}

type persistence struct {
	window time.Duration
}

func (persistence) name() string { return MethodPersistence }

func (m persistence) point(p *prepared, origin time.Time, _ time.Duration, steps int) []float64 {
	v := math.NaN()
	if end, ok := p.lastEnd(origin); ok {
		if x, ok := p.mean(end.Add(-m.window), end); ok {
			v = x
		}
	}
	out := make([]float64, steps)
	for k := range out {
		out[k] = v
	}
	return out
}
