package forecast

import (
	"context"
	"fmt"
	"math"
	"time"
)

// MethodDoubleSeasonal names the double seasonal exponential smoothing method.
const MethodDoubleSeasonal = "double_seasonal_es"

// DefaultDoubleSeasonalWindow is the history DoubleSeasonal smooths over when
// Window is 0.
const DefaultDoubleSeasonalWindow = 16 * Week

// DoubleSeasonal is additive exponential smoothing with a daily and a weekly
// seasonal component (Taylor 2003): a level, a daily profile and a weekly
// profile are updated at every step with smoothing weights α, δ, ω chosen from a
// small grid by the mean absolute error of day-ahead forecasts over the Window.
// The latest one-step error then corrects the forecast (the nowcast): at lead k
// by a coefficient estimated directly for that lead (the error k steps ahead of
// the uncorrected forecast regressed on the latest one-step error, over origins
// every hour of the scored window, up to two days ahead), beyond that by an
// AR(1) decay. Direct estimates keep the slow part of the error that a
// one-step AR(1) lets fade within hours. Steps whose history is a gap leave the
// state unchanged. It needs at least three weeks of history.
type DoubleSeasonal struct {
	Window time.Duration // smoothing window; 0 means DefaultDoubleSeasonalWindow
	// Band as for the other methods, but Origins 0 means DefaultFittedBandOrigins.
	Band BandOptions
}

// Forecast implements Forecaster.
func (d DoubleSeasonal) Forecast(ctx context.Context, req Request) (*Result, error) {
	p, err := prepareRequest(ctx, req, d.Band)
	if err != nil {
		return nil, err
	}
	band := fittedBand(d.Band)
	m, err := d.fit(p, req.Origin.UTC(), req.Step, band.lookback(req.Step))
	if err != nil {
		return nil, err
	}
	return finishFitted(ctx, req, p, m, band)
}

type hwtModel struct {
	g                    *grid
	s1, s2               int
	level, daily, weekly []float64 // state after the update at each grid index
	err1                 []float64 // one-step error at each grid index (NaN if unknown)
	phi                  float64
	// direct[k] is the nowcast coefficient at lead k (the error k steps ahead
	// regressed on the latest one-step error); nil uses phi^(k+1).
	direct              []float64
	alpha, delta, omega float64
	firstState          int // first grid index with a state
}

func (hwtModel) name() string { return MethodDoubleSeasonal }

func (d DoubleSeasonal) fit(p *prepared, origin time.Time, step, lookback time.Duration) (*hwtModel, error) {
	series := p.series
	spd := stepsPerDay(step)
	if spd == 0 {
		return nil, fmt.Errorf("forecast %q: %s: %w: Step %v does not divide a day", series, MethodDoubleSeasonal, errUnfilled, step)
	}
	window := d.Window
	if window == 0 {
		window = DefaultDoubleSeasonalWindow
	}
	if window < 3*Week || window > MaxPeriod {
		return nil, fmt.Errorf("forecast %q: double seasonal Window must be in [%v, %v], got %v", series, 3*Week, MaxPeriod, window)
	}
	s1, s2 := spd, 7*spd
	n := int((window + lookback) / step)
	g := newGrid(p, origin, step, n)
	// Start where the data starts, if later than the grid start.
	first := 0
	for first < n && math.IsNaN(g.vals[first]) {
		first++
	}
	if n-first < 3*s2 {
		return nil, fmt.Errorf("forecast %q: %s: %w: needs 3 weeks of history before %s",
			series, MethodDoubleSeasonal, errUnfilled, origin.Format(time.RFC3339))
	}
	m := &hwtModel{g: g, s1: s1, s2: s2, firstState: first + s2}
	// Score weights on the last part of the window (after a week of burn-in).
	scoreFrom := max(n-int(window/step), first) + 2*s2
	best := math.Inf(1)
	for _, a := range []float64{0, 0.01, 0.03} {
		for _, dl := range []float64{0, 0.05, 0.15} {
			for _, om := range []float64{0.05, 0.1, 0.2, 0.35} {
				e := m.run(first, a, dl, om, scoreFrom)
				if e < best {
					best = e
					m.alpha, m.delta, m.omega = a, dl, om
				}
			}
		}
	}
	if math.IsInf(best, 1) || math.IsNaN(best) {
		return nil, fmt.Errorf("forecast %q: %s: %w: too few measured steps before %s",
			series, MethodDoubleSeasonal, errUnfilled, origin.Format(time.RFC3339))
	}
	m.run(first, m.alpha, m.delta, m.omega, n)
	// AR(1) of the one-step errors.
	var num, den float64
	for i := scoreFrom; i < n; i++ {
		if !math.IsNaN(m.err1[i]) && !math.IsNaN(m.err1[i-1]) {
			num += m.err1[i] * m.err1[i-1]
			den += m.err1[i-1] * m.err1[i-1]
		}
	}
	if den > 0 {
		m.phi = math.Max(0, math.Min(0.99, num/den))
	}
	m.fitDirect(scoreFrom, n)
	return m, nil
}

// run smooths from grid index first with the given weights, storing the states,
// and returns the mean absolute day-ahead error over indices >= scoreFrom (+Inf
// if none was scored).
func (m *hwtModel) run(first int, alpha, delta, omega float64, scoreFrom int) float64 {
	v := m.g.vals
	n := len(v)
	if m.level == nil {
		m.level = make([]float64, n)
		m.daily = make([]float64, n)
		m.weekly = make([]float64, n)
		m.err1 = make([]float64, n)
	}
	s1, s2 := m.s1, m.s2
	// Initial state from the first two weeks: level = their mean, daily = mean by
	// step of day − level, weekly = mean by step of week − level − daily.
	var sum float64
	var cnt int
	dsum := make([]float64, s1)
	dcnt := make([]int, s1)
	wsum := make([]float64, s2)
	wcnt := make([]int, s2)
	for i := first; i < first+2*s2 && i < n; i++ {
		if math.IsNaN(v[i]) {
			continue
		}
		sum += v[i]
		cnt++
		dsum[(i-first)%s1] += v[i]
		dcnt[(i-first)%s1]++
		wsum[(i-first)%s2] += v[i]
		wcnt[(i-first)%s2]++
	}
	if cnt == 0 {
		return math.Inf(1)
	}
	l0 := sum / float64(cnt)
	for j := 0; j < s2; j++ {
		i := first + j
		dj := j % s1
		var dv, wv float64
		if dcnt[dj] > 0 {
			dv = dsum[dj]/float64(dcnt[dj]) - l0
		}
		if wcnt[j] > 0 {
			wv = wsum[j]/float64(wcnt[j]) - l0 - dv
		}
		m.level[i] = l0
		m.daily[i] = dv
		m.weekly[i] = wv
		m.err1[i] = math.NaN()
	}
	var absSum float64
	var scored int
	for i := first + s2; i < n; i++ {
		lp, dp, wp := m.level[i-1], m.daily[i-s1], m.weekly[i-s2]
		if i >= scoreFrom && !math.IsNaN(v[i]) {
			// Day-ahead forecast: level from a day earlier.
			absSum += math.Abs(v[i] - (m.level[i-s1] + dp + wp))
			scored++
		}
		if math.IsNaN(v[i]) {
			m.level[i], m.daily[i], m.weekly[i] = lp, dp, wp
			m.err1[i] = math.NaN()
			continue
		}
		e := v[i] - (lp + dp + wp)
		m.err1[i] = e
		l := lp + alpha*e
		m.level[i] = l
		m.daily[i] = dp + delta*(v[i]-l-wp-dp)
		m.weekly[i] = wp + omega*(v[i]-l-dp-wp)
	}
	if scored == 0 {
		return math.Inf(1)
	}
	return absSum / float64(scored)
}

func (m *hwtModel) point(_ *prepared, origin time.Time, step time.Duration, steps int) []float64 {
	out := nanSlice(steps)
	io, ok := m.g.index(origin)
	if !ok || step != m.g.step || io > len(m.g.vals) || io-1 < m.firstState {
		return out
	}
	last := io - 1
	e := m.err1[last]
	if math.IsNaN(e) {
		e = 0
	}
	adj := e
	for k := range out {
		adj *= m.phi
		if k < len(m.direct) {
			adj = m.direct[k] * e
		}
		i := io + k
		di := i - m.s1*((k+m.s1)/m.s1)
		wi := i - m.s2*((k+m.s2)/m.s2)
		if di < m.firstState-m.s2 || wi < m.firstState-m.s2 {
			continue
		}
		out[k] = m.level[last] + m.daily[di] + m.weekly[wi] + adj
	}
	return out
}

// fitDirect estimates the nowcast coefficient for every lead up to two days
// directly: the error of the forecast without correction at lead k, regressed
// on the latest one-step error, over origins in [from, n).
func (m *hwtModel) fitDirect(from, n int) {
	leads := 2 * m.s1
	num := make([]float64, leads)
	den := make([]float64, leads)
	stride := max(1, m.s1/24)
	for io := max(from, m.firstState+1); io < n; io += stride {
		last := io - 1
		e := m.err1[last]
		if math.IsNaN(e) {
			continue
		}
		for k := 0; k < leads && io+k < n; k++ {
			i := io + k
			v := m.g.vals[i]
			if math.IsNaN(v) {
				continue
			}
			di := i - m.s1*((k+m.s1)/m.s1)
			wi := i - m.s2*((k+m.s2)/m.s2)
			r := v - (m.level[last] + m.daily[di] + m.weekly[wi])
			num[k] += e * r
			den[k] += e * e
		}
	}
	m.direct = make([]float64, leads)
	for k := range m.direct {
		if den[k] > 0 {
			m.direct[k] = math.Max(0, math.Min(1, num[k]/den[k]))
		}
	}
}
