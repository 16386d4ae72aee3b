package forecast

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Method names of Select's combination candidate.
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
// seeing only measurements before its own origin, with the parameters fitted at
// Origin) and keeps the one with the lowest mean absolute error over the
// horizon: a rolling-origin backtest. Candidates that cannot be fitted (too
// little history, a Step that does not divide a day) are skipped; with none
// left it behaves as Auto. Result.Method names the winner.
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
	p, err := prepareStrong(ctx, req, s.Band)
	if err != nil {
		return nil, err
	}
	origin := req.Origin.UTC()
	nOrig := s.Origins
	if nOrig == 0 {
		nOrig = DefaultSelectOrigins
	}
	band := fittedBand(s.Band)
	lookback := max(band.lookback(req.Step), time.Duration(nOrig+1)*Day)
	var cands []pointMethod
	if stepsPerDay(req.Step) > 0 && !p.firstStart().After(origin.Add(-Week)) {
		cands = append(cands, seasonal{period: Week, gap: DefaultMaxGapPeriods})
		var fitted []pointMethod
		if m, err := s.Regression.fit(p, origin, req.Step, lookback); err == nil {
			cands = append(cands, m)
			fitted = append(fitted, m)
		}
		if m, err := s.DoubleSeasonal.fit(p, origin, req.Step, lookback); err == nil {
			cands = append(cands, m)
			fitted = append(fitted, m)
		}
		if len(fitted) == 2 {
			cands = append(cands, combined{parts: fitted})
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var best pointMethod
	bestMAE := math.Inf(1)
	for _, m := range cands {
		if anyNaN(m.point(p, origin, req.Step, req.Steps)) {
			continue
		}
		var sum float64
		var n int
		for j := 1; j <= nOrig; j++ {
			oj := origin.Add(-time.Duration(j) * Day)
			f := m.point(p, oj, req.Step, req.Steps)
			for k, v := range f {
				t := oj.Add(time.Duration(k) * req.Step)
				end := t.Add(req.Step)
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
			continue
		}
		if mae := sum / float64(n); mae < bestMAE {
			bestMAE, best = mae, m
		}
	}
	if best == nil {
		return Auto{Band: s.Band}.Forecast(ctx, req)
	}
	return finish(ctx, req, p, best, best.point(p, origin, req.Step, req.Steps), band)
}
