package forecast

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// MethodCombined names Select's combination candidate (mean of Regression
// and DoubleSeasonal).
const MethodCombined = "combined"

// DefaultFittedBandOrigins is Band.Origins of Select, Regression and
// DoubleSeasonal when that is 0: their band residuals are partly in-sample (the
// parameters come from the fit at Origin), and a longer window keeps the
// P10–P90 band from being too narrow.
const DefaultFittedBandOrigins = 56

// fittedBand applies DefaultFittedBandOrigins.
func fittedBand(b BandOptions) BandOptions {
	if b.Origins == 0 {
		b.Origins = DefaultFittedBandOrigins
	}
	return b
}

// DefaultSelectOrigins is how many earlier daily origins Select scores its
// candidates on when Origins is 0.
const DefaultSelectOrigins = 14

// Select is the model-selecting forecaster. At every forecast it fits its
// candidates (weekly seasonal naive, Regression, DoubleSeasonal and the mean of
// the last two), issues each of them at Origins earlier daily origins (each
// seeing only measurements before its own origin; the regression is refitted on
// data before the first of them, the smoothing weights are those fitted at
// Origin) and keeps the one with the lowest mean absolute error over the
// horizon: a rolling-origin backtest. Candidates that cannot be fitted (too
// little history, a Step that does not divide a day) are skipped; with none
// left it behaves as Fallback. Result.Method names the winner.
type Select struct {
	Origins int // rolling-origin backtest origins; 0 means DefaultSelectOrigins
	// Regression configures the regression candidate (Location, Holidays,
	// Temperature, Window); its Band is ignored.
	Regression Regression
	// DoubleSeasonal configures the exponential smoothing candidate.
	DoubleSeasonal DoubleSeasonal
	// Band as for the other methods, but Origins 0 means DefaultFittedBandOrigins.
	Band BandOptions
}

type combined struct{ parts []pointMethod }

func (combined) name() string { return MethodCombined }

func (c combined) point(p *prepared, origin time.Time, step time.Duration, steps int) []float64 {
	out := make([]float64, steps)
	for _, m := range c.parts {
		f := m.point(p, origin, step, steps)
		for k, v := range f {
			out[k] += v / float64(len(c.parts))
		}
	}
	return out
}

// Forecast implements Forecaster.
func (s Select) Forecast(ctx context.Context, req Request) (*Result, error) {
	if s.Origins < 0 || s.Origins > MaxBacktestOrigins {
		return nil, fmt.Errorf("forecast %q: Select.Origins must be in [0, %d], got %d", req.Series, MaxBacktestOrigins, s.Origins)
	}
	p, err := prepareRequest(ctx, req, s.Band)
	if err != nil {
		return nil, err
	}
	origin := req.Origin.UTC()
	band := fittedBand(s.Band)
	best, err := s.choose(ctx, p, origin, req.Step, req.Steps, req.Steps, s.Regression)
	if err != nil {
		return nil, err
	}
	if best == nil {
		return Fallback{Band: s.Band}.Forecast(ctx, req)
	}
	return finish(ctx, req, p, best, best.point(p, origin, req.Step, req.Steps), band)
}

// choose fits Select's candidates at origin and returns the one with the lowest
// rolling-origin MAE over steps, or nil when none can be fitted and scored.
// A candidate must fill the first need steps from origin. reg is the
// regression candidate's configuration.
func (s Select) choose(ctx context.Context, p *prepared, origin time.Time, step time.Duration, steps, need int, reg Regression) (pointMethod, error) {
	nOrig := s.Origins
	if nOrig == 0 {
		nOrig = DefaultSelectOrigins
	}
	band := fittedBand(s.Band)
	lookback := max(band.lookback(step), time.Duration(nOrig+1)*Day)
	// Each candidate is scored with score (fitted without the scoring window
	// where a fit would otherwise see it) and issued with final.
	type candidate struct{ score, final pointMethod }
	var cands []candidate
	if stepsPerDay(step) > 0 && !p.firstStart().After(origin.Add(-Week)) {
		naive := seasonal{period: Week, gap: DefaultMaxGapPeriods}
		cands = append(cands, candidate{naive, naive})
		// The three fits are independent: they run concurrently.
		var rc, dc candidate
		var regFinal, regEarly, ds pointMethod
		var regErr, earlyErr, dsErr error
		parallel(
			func() { regFinal, regErr = reg.fit(p, origin, step, lookback) },
			// The regression's coefficients would be in-sample on the scoring
			// days: score a fit that ends before them.
			func() {
				regEarly, earlyErr = reg.fitUntil(p, origin, step, lookback, origin.Add(-time.Duration(nOrig)*Day))
			},
			func() { ds, dsErr = s.DoubleSeasonal.fit(p, origin, step, lookback) },
		)
		if regErr == nil && earlyErr == nil {
			rc = candidate{regEarly, regFinal}
			cands = append(cands, rc)
		}
		if dsErr == nil {
			// Smoothing states are causal; only the three weights saw the window.
			dc = candidate{ds, ds}
			cands = append(cands, dc)
		}
		if rc.final != nil && dc.final != nil {
			cands = append(cands, candidate{combined{parts: []pointMethod{rc.score, dc.score}}, combined{parts: []pointMethod{rc.final, dc.final}}})
		}

	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Scored concurrently, chosen in candidate order (ties go to the first).
	maes := make([]float64, len(cands))
	oks := make([]bool, len(cands))
	fns := make([]func(), len(cands))
	for i, c := range cands {
		fns[i] = func() {
			if anyNaN(c.final.point(p, origin, step, need)) {
				return
			}
			maes[i], oks[i] = rollingMAE(p, c.score, origin, step, steps, nOrig)
		}
	}
	parallel(fns...)
	var best pointMethod
	bestMAE := math.Inf(1)
	for i, c := range cands {
		if oks[i] && maes[i] < bestMAE {
			bestMAE, best = maes[i], c.final
		}
	}
	return best, nil
}

// parallel runs fns concurrently, on up to GOMAXPROCS goroutines (the
// caller's included), and returns when all are done. The functions must not
// share written state.
func parallel(fns ...func()) {
	workers := min(len(fns), runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for _, f := range fns {
			f()
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	run := func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(fns) {
				return
			}
			fns[i]()
		}
	}
	for w := 1; w < workers; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); run() }()
	}
	run()
	wg.Wait()
}

// rollingMAE is the mean absolute error of m issued at the nOrig daily origins
// before origin, over the steps whose actual is known before origin.
func rollingMAE(p *prepared, m pointMethod, origin time.Time, step time.Duration, steps, nOrig int) (float64, bool) {
	var sum float64
	var n int
	for j := 1; j <= nOrig; j++ {
		oj := origin.Add(-time.Duration(j) * Day)
		f := m.point(p, oj, step, steps)
		for k, v := range f {
			t := oj.Add(time.Duration(k) * step)
			end := t.Add(step)
			if end.After(origin) {
				break
			}
			a, ok := p.mean(t, end)
			if !ok || math.IsNaN(v) {
				continue
			}
			sum += math.Abs(a - v)
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}
