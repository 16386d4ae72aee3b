package forecast

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Score summarises forecast accuracy against measured actuals.
type Score struct {
	Forecasts int     // forecasts issued
	Points    int     // forecast steps that had a measured actual
	MAE       float64 // mean |P50 − actual|
	RMSE      float64 // root mean square of P50 − actual
	Bias      float64 // mean (P50 − actual)
	Coverage  float64 // fraction of actuals within [P10, P90]
	Pinball   float64 // mean pinball loss over the 0.1, 0.5 and 0.9 quantiles
	// WAPE is Σ|P50 − actual| / Σ|actual| over the scored steps.
	WAPE float64
	// MASE is the MAE relative to weekly seasonal naive issued at the same
	// origins and scored on the same steps (steps the naive cannot fill are left
	// out of both sums): below 1 beats weekly seasonal naive. NaN if no step had a
	// naive value.
	MASE float64
	// NaiveMAE is the weekly seasonal naive MAE on the steps MASE was computed on.
	NaiveMAE float64
	Methods  map[string]int // forecasts per Result.Method
}

// farFuture is the cutoff used when reading actuals (everything is "before" it).
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Backtest issues one forecast per origin with f, using base as the request
// template (its Origin is replaced; History is the full measured series and each
// forecast sees only the part before its own origin), and scores every step
// against the interval mean of History over [t, t+Step). Steps whose actual
// interval is a gap are not scored. It is the yardstick any new method must beat.
func Backtest(ctx context.Context, f Forecaster, base Request, origins []time.Time) (*Score, error) {
	return BacktestWith(ctx, f, base, origins, nil)
}

// BacktestWith is Backtest calling each (if not nil) with every forecast, in
// origin order; an error from each stops the backtest and is returned wrapped.
func BacktestWith(ctx context.Context, f Forecaster, base Request, origins []time.Time, each func(*Result) error) (*Score, error) {
	if len(origins) == 0 {
		return nil, fmt.Errorf("backtest %q: no origins", base.Series)
	}
	base.Origin = origins[0]
	if err := validateRequest(base); err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	actual, err := prepare(base.Series, base.History, farFuture, base.SampleInterval, base.Step)
	if err != nil {
		return nil, fmt.Errorf("backtest: %w", err)
	}
	s := &Score{Methods: map[string]int{}}
	var absSum, sqSum, biasSum, pinSum, actSum, mAbs, nAbs float64
	var nN int
	naive := seasonal{period: Week, gap: DefaultMaxGapPeriods}
	var covered int
	for _, o := range origins {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		req := base
		req.Origin = o
		res, err := f.Forecast(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("backtest %q at origin %s: %w", base.Series, o.UTC().Format(time.RFC3339), err)
		}
		if len(res.Times) != base.Steps || len(res.P10) != base.Steps || len(res.P50) != base.Steps || len(res.P90) != base.Steps {
			return nil, fmt.Errorf("backtest %q at origin %s: result has %d times, %d/%d/%d quantile values, want %d each",
				base.Series, o.UTC().Format(time.RFC3339), len(res.Times), len(res.P10), len(res.P50), len(res.P90), base.Steps)
		}
		if each != nil {
			if err := each(res); err != nil {
				return nil, fmt.Errorf("backtest %q at origin %s: %w", base.Series, o.UTC().Format(time.RFC3339), err)
			}
		}
		s.Forecasts++
		s.Methods[res.Method]++
		// Weekly seasonal naive only reads intervals ending by its origin, so the
		// full series can serve as its history.
		var nv []float64
		if base.Step <= Week {
			nv = naive.point(actual, o.UTC(), base.Step, base.Steps)
		}
		for k, t := range res.Times {
			a, ok := actual.mean(t, t.Add(base.Step))
			if !ok {
				continue
			}
			e := res.P50[k] - a
			s.Points++
			actSum += math.Abs(a)
			if nv != nil && !math.IsNaN(nv[k]) {
				mAbs += math.Abs(e)
				nAbs += math.Abs(nv[k] - a)
				nN++
			}
			absSum += math.Abs(e)
			sqSum += e * e
			biasSum += e
			if res.P10[k] <= a && a <= res.P90[k] {
				covered++
			}
			pinSum += pinball(a, res.P10[k], 0.1) + pinball(a, res.P50[k], 0.5) + pinball(a, res.P90[k], 0.9)
		}
	}
	if s.Points == 0 {
		return nil, fmt.Errorf("backtest %q: no forecast step has a measured actual", base.Series)
	}
	n := float64(s.Points)
	s.MAE = absSum / n
	s.RMSE = math.Sqrt(sqSum / n)
	s.Bias = biasSum / n
	s.Coverage = float64(covered) / n
	s.Pinball = pinSum / (3 * n)
	s.WAPE = absSum / actSum
	s.MASE = math.NaN()
	if nAbs > 0 {
		s.MASE = mAbs / nAbs
		s.NaiveMAE = nAbs / float64(nN)
	}
	return s, nil
}

// pinball is the quantile loss of forecast f for quantile q given actual a.
func pinball(a, f, q float64) float64 {
	if a >= f {
		return q * (a - f)
	}
	return (1 - q) * (f - a)
}
