package replay

import (
	"context"
	"sync"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/forecast"
)

// everyForecaster computes a forecast at most every n cycles per series: a forecast
// issued at origin O covers n-1 extra steps, and the next n-1 cycles take their
// horizon from it. Each forecast still sees only the history before its own origin,
// so nothing leaks; it is up to n-1 steps older than production's. For the
// seasonal-naive methods that forecast.Auto picks with enough history the median is
// the same; the band and the persistence fallback differ.
type everyForecaster struct {
	inner dispatch.Forecaster
	n     int
	mu    sync.Mutex
	cache map[string]*forecast.Result
}

func newEveryForecaster(inner dispatch.Forecaster, n int) *everyForecaster {
	return &everyForecaster{inner: inner, n: n, cache: map[string]*forecast.Result{}}
}

func (c *everyForecaster) Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error) {
	c.mu.Lock()
	r, ok := c.cache[req.Series]
	c.mu.Unlock()
	if ok && req.Step > 0 && len(r.Times) > 0 {
		d := req.Origin.Sub(r.Times[0])
		off := int(d / req.Step)
		if d >= 0 && d%req.Step == 0 && off < c.n && off+req.Steps <= len(r.Times) {
			return sliceResult(r, off, req.Steps), nil
		}
	}
	long := req
	long.Steps = req.Steps + c.n - 1
	r, err := c.inner.Forecast(ctx, long)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.cache[req.Series] = r
	c.mu.Unlock()
	return sliceResult(r, 0, req.Steps), nil
}

func sliceResult(r *forecast.Result, off, n int) *forecast.Result {
	out := *r
	cut := func(v []float64) []float64 {
		if off+n > len(v) {
			return v[min(off, len(v)):]
		}
		return append([]float64(nil), v[off:off+n]...)
	}
	out.Times = append([]time.Time(nil), r.Times[off:off+n]...)
	out.P10, out.P50, out.P90 = cut(r.P10), cut(r.P50), cut(r.P90)
	return &out
}
