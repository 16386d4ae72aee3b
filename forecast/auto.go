package forecast

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"
)

// MethodPVPrior names the forecast of a PV series with no usable history:
// clear-sky power times DefaultPVPriorIndex.
const MethodPVPrior = "pv_clear_sky_prior"

// DefaultPVPriorIndex is the clear-sky index a PV array is assumed to reach
// before any of its own history is usable (a typical mid-latitude yearly mean).
const DefaultPVPriorIndex = 0.5

// AutoHistory is the history Auto uses: the longest window of its candidates
// (16 weeks of double seasonal smoothing) plus the band's 56 earlier daily
// origins and a day. Callers that store history should pass at least this much;
// less only weakens the fits.
const AutoHistory = DefaultDoubleSeasonalWindow + (DefaultFittedBandOrigins+1)*Day

// Auto is the production forecaster (dispatch's default, `gridd forecast
// backtest`'s default method "auto"). It fits once per series and day and
// updates every call cheaply:
//
//   - Daily fit, at D = Origin truncated to the UTC day (keyed on the series,
//     D, Step, Steps, a fingerprint of the history before D and of the weather
//     inputs; a change of any refits): for a load, Select's rolling-origin
//     choice among weekly seasonal naive, Regression (calendar features in
//     Location, Holidays, and Request.Temperature when given), DoubleSeasonal and
//     the mean of the last two; for a PV series (Request.PV set), the choice
//     between PVClearSky (with Request.GHI as irradiance when given) and daily
//     seasonal naive. The winner's forecast from D over a day plus the horizon is
//     the base; its P10/P90 offsets for every step of the base (by lead from
//     D, so by time of day) come from its residuals at 56 earlier daily
//     origins (as Select's band); the nowcast coefficients c_k say
//     how much of the base's latest error carries k steps ahead, estimated
//     directly for each lead from the base's errors at the 14 scoring origins.
//   - Every call at Origin: P50 at lead k is the base plus c_k times the latest
//     measured error of the base (the last completed step since D; an older
//     step's error counts at a lead longer by its age): the latest measurement
//     blended into the first steps. P10/P90 are P50 plus the offsets.
//
// With no fitted candidate (less than a week of history, a Step that does not
// divide a day) every call runs Fallback. Base steps the chosen model cannot
// fill (e.g. beyond the weather forecast) take Fallback's weekly/daily seasonal
// naive value at that step. A PV series with no usable history gets clear-sky
// power times DefaultPVPriorIndex (P10 0, P90 the clear-sky power), method
// MethodPVPrior, so a fresh site sees the sun's shape, not a flat line.
// The result never holds NaN or Inf: a forecast that would is an error.
//
// The zero value is ready to use; an Auto must not be copied after first use.
type Auto struct {
	Location *time.Location // zone of the regression's calendar features; nil means UTC
	Holidays []time.Time    // dates treated as Sundays by the regression
	// Origins is Select.Origins (rolling-origin scoring days); 0 means
	// DefaultSelectOrigins.
	Origins int
	// Band as for Select: Origins 0 means DefaultFittedBandOrigins; Skip leaves
	// the band out (P10 = P50 = P90).
	Band BandOptions

	mu    sync.Mutex
	cache map[string]*autoModel
	fits  int // daily fits made (for tests)
}

type autoKey struct {
	day         time.Time
	step        time.Duration
	steps       int
	nonNeg      bool
	pv          PVSite
	hasPV       bool
	weatherHash uint64
}

type autoModel struct {
	key    autoKey
	method string
	base   []float64 // forecast issued at key.day, len(spd+steps)
	lo, hi []float64 // P10/P90 offsets by step of the base, len(base); nil when skipped
	band   string
	nres   int
	coef   []float64 // nowcast coefficient by lead, len(steps)
}

// Forecast implements Forecaster.
func (a *Auto) Forecast(ctx context.Context, req Request) (*Result, error) {
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	if a.Origins < 0 || a.Origins > MaxBacktestOrigins {
		return nil, fmt.Errorf("forecast %q: Auto.Origins must be in [0, %d], got %d", req.Series, MaxBacktestOrigins, a.Origins)
	}
	if err := a.Band.validate(req.Series); err != nil {
		return nil, err
	}
	if req.PV != nil {
		if err := req.PV.Validate(); err != nil {
			return nil, fmt.Errorf("forecast %q: PV: %w", req.Series, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	origin := req.Origin.UTC()
	key, ok := autoKeyOf(req)
	if !ok {
		// A Step that does not divide a day: no fitted model.
		p, err := prepare(req.Series, req.History, origin, req.SampleInterval, req.Step)
		if err != nil {
			return nil, err
		}
		return a.fallback(ctx, req, p)
	}
	// History older than AutoHistory before the day is not used.
	from := key.day.Add(-AutoHistory)
	for i, pt := range req.History {
		if pt.Time.Before(from) && !pt.Time.IsZero() {
			hist := req.History
			kept := make([]Point, 0, len(hist))
			kept = append(kept, hist[:i]...)
			hist = hist[i:]
			for _, pt := range hist {
				if !pt.Time.Before(from) || pt.Time.IsZero() {
					kept = append(kept, pt)
				}
			}
			req.History = kept
			break
		}
	}
	p, err := prepare(req.Series, req.History, origin, req.SampleInterval, req.Step)
	if errors.Is(err, ErrNoHistory) && req.PV != nil {
		return pvPrior(req, nil, InputStats{}), nil
	}
	if err != nil {
		return nil, err
	}
	spd := stepsPerDay(req.Step)
	a.mu.Lock()
	m := a.cache[req.Series]
	a.mu.Unlock()
	if m == nil || m.key != key {
		m, err = a.fit(ctx, req, p, key, spd)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.cache == nil {
			a.cache = map[string]*autoModel{}
		}
		a.cache[req.Series] = m
		a.fits++
		a.mu.Unlock()
	}
	if m.method != "" {
		res, err := m.issue(req, p, origin)
		if !errors.Is(err, errUnfilled) {
			return res, err
		}
	}
	// Nothing could be fitted at D, or the model could not fill a step.
	return a.fallback(ctx, req, p)
}

// autoKeyOf is the cache key of req: its day D (Origin truncated to the UTC
// day, moved onto Origin's step grid) and what else the fit depends on. It
// reports false when Step does not divide a day.
func autoKeyOf(req Request) (autoKey, bool) {
	if stepsPerDay(req.Step) == 0 {
		return autoKey{}, false
	}
	origin := req.Origin.UTC()
	day := origin.Truncate(Day)
	day = day.Add(origin.Sub(day) % req.Step)
	key := autoKey{day: day, step: req.Step, steps: req.Steps, nonNeg: req.NonNegative}
	if req.PV != nil {
		key.pv, key.hasPV = *req.PV, true
	}
	key.weatherHash = weatherHash(req, day.Add(-AutoHistory), day.Add(Day+time.Duration(req.Steps)*req.Step))
	return key, true
}

// HistoryFrom is the earliest history time a Forecast of req (History not
// needed) reads: the start of its day once the day's model is fitted (the
// update needs only the day's measurements), else AutoHistory before it.
// Callers that read history from a store use it to read only what is needed.
func (a *Auto) HistoryFrom(req Request) time.Time {
	key, ok := autoKeyOf(req)
	if !ok {
		return req.Origin.Add(-AutoHistory)
	}
	a.mu.Lock()
	m := a.cache[req.Series]
	a.mu.Unlock()
	if m != nil && m.key == key && m.method != "" {
		return key.day
	}
	// Not fitted yet, or nothing fitted (Fallback runs every call on the whole
	// history).
	return key.day.Add(-AutoHistory)
}

// fallback runs Fallback; for PV, a failure or a flat persistence falls back to
// the clear-sky prior.
func (a *Auto) fallback(ctx context.Context, req Request, p *prepared) (*Result, error) {
	res, err := Fallback{Band: a.Band}.Forecast(ctx, req)
	if req.PV != nil && (err != nil || res.Method == MethodPersistence) {
		return pvPrior(req, p, p.stats), nil //nolint:nilerr // PV falls back to its clear-sky prior by design
	}
	return res, err
}

// pvPrior is clear-sky power times the clear-sky index of the history's
// daylight values (p may be nil), or DefaultPVPriorIndex without any.
func pvPrior(req Request, p *prepared, stats InputStats) *Result {
	origin := req.Origin.UTC()
	idx := DefaultPVPriorIndex
	if p != nil {
		var y, c float64
		for i, v := range p.vals {
			d := p.ends[i].Sub(p.starts[i]).Hours()
			if cs := req.PV.ClearSkyKW(p.starts[i], p.ends[i]); cs > 0.05*req.PV.CapacityKW {
				y += v * d
				c += cs * d
			}
		}
		if c > 0 {
			idx = math.Max(0, y/c)
		}
	}
	res := &Result{Series: req.Series, Method: MethodPVPrior, IssuedAt: origin, Band: BandNone, Input: stats,
		Times: make([]time.Time, req.Steps), P10: make([]float64, req.Steps), P50: make([]float64, req.Steps), P90: make([]float64, req.Steps)}
	for k := range res.Times {
		t := origin.Add(time.Duration(k) * req.Step)
		cs := req.PV.ClearSkyKW(t, t.Add(req.Step))
		res.Times[k], res.P50[k], res.P90[k] = t, idx*cs, math.Max(cs, idx*cs)
	}
	return res
}

// weatherHash fingerprints the weather inputs in [from, to), so a new weather
// forecast refits.
func weatherHash(req Request, from, to time.Time) uint64 {
	if req.Temperature == nil && req.GHI == nil {
		return 0
	}
	h := fnv.New64a()
	var b [16]byte
	for i, s := range [][]Point{req.Temperature, req.GHI} {
		binary.LittleEndian.PutUint64(b[:8], uint64(i))
		binary.LittleEndian.PutUint64(b[8:], uint64(len(s)))
		h.Write(b[:])
		for _, pt := range s {
			if pt.Time.Before(from) || !pt.Time.Before(to) {
				continue
			}
			binary.LittleEndian.PutUint64(b[:8], uint64(pt.Time.UnixNano()))
			binary.LittleEndian.PutUint64(b[8:], math.Float64bits(pt.Value))
			h.Write(b[:])
		}
	}
	return h.Sum64()
}

// fit makes the day's model at key.day. A model with an empty method means no
// candidate could be fitted.
func (a *Auto) fit(ctx context.Context, req Request, p *prepared, key autoKey, spd int) (*autoModel, error) {
	day, step, steps := key.day, req.Step, req.Steps
	nb := spd + steps
	m := &autoModel{key: key}
	if !p.firstStart().Before(day) {
		return m, nil // nothing before D
	}
	nOrig := a.Origins
	if nOrig == 0 {
		nOrig = DefaultSelectOrigins
	}
	bandOpts := fittedBand(a.Band)
	var best pointMethod
	if req.PV != nil {
		lookback := max(bandOpts.lookback(step), time.Duration(nOrig+1)*Day)
		var cands []pointMethod
		pv := PVClearSky{Site: *req.PV, Irradiance: req.GHI}
		if pm, err := pv.fit(p, day, step, nb, lookback); err == nil {
			cands = append(cands, pm)
		}
		if !p.firstStart().After(day.Add(-Day)) {
			cands = append(cands, seasonal{period: Day, gap: DefaultMaxGapPeriods})
		}
		bestMAE := math.Inf(1)
		for _, c := range cands {
			if anyNaN(c.point(p, day, step, steps)) {
				continue
			}
			if mae, ok := rollingMAE(p, c, day, step, steps, nOrig); ok && mae < bestMAE {
				bestMAE, best = mae, c
			}
		}
	} else {
		reg := Regression{Location: a.Location, Holidays: a.Holidays}
		if req.Temperature != nil {
			reg.Temperature = req.Temperature
		}
		var err error
		best, err = Select{Origins: nOrig, Band: a.Band}.choose(ctx, p, day, step, steps, steps, reg)
		if err != nil {
			return nil, err
		}
		if best == nil && req.Temperature != nil {
			// The temperature may be what failed (e.g. no overlap with the
			// history): choose again on the calendar alone.
			reg.Temperature = nil
			if best, err = (Select{Origins: nOrig, Band: a.Band}).choose(ctx, p, day, step, steps, steps, reg); err != nil {
				return nil, err
			}
		}
	}
	if best == nil {
		return m, nil
	}
	m.method = best.name()
	m.base = best.point(p, day, step, nb)
	// Steps the model cannot fill take the naive floor.
	if anyNaN(m.base) {
		for _, period := range []time.Duration{Week, Day} {
			f := seasonal{period: period, gap: DefaultMaxGapPeriods}.point(p, day, step, nb)
			for k, v := range m.base {
				if math.IsNaN(v) {
					m.base[k] = f[k]
				}
			}
		}
	}
	// The band offsets by lead time, from the model's residuals at D.
	// Offsets for every step of the base (by its lead from D, so by time of
	// day: a PV band is wide at noon whatever the cycle).
	dreq := req
	dreq.Origin, dreq.Steps = day, nb
	// The band and the nowcast coefficients are independent: concurrently.
	var b band
	var err error
	parallel(
		func() { b, err = computeBand(ctx, dreq, p, best, m.base, bandOpts) },
		func() { m.coef = nowcastCoefs(p, best, day, step, spd, steps, nOrig) },
	)
	if err != nil {
		return nil, err
	}
	m.band, m.nres = b.kind, b.n
	if !bandOpts.Skip {
		m.lo, m.hi = make([]float64, nb), make([]float64, nb)
		for k := range m.lo {
			m.lo[k], m.hi[k] = b.p10[k]-m.base[k], b.p90[k]-m.base[k]
		}
	}
	return m, nil
}

// nowcastCoefs estimates, for every lead k < steps, how much of the latest
// measured error of the day's base carries to k steps ahead: the error of the
// base at offset i+k regressed on its error at offset i−1, pooled over the
// offsets i of a day and the nOrig daily origins before origin (each base
// issued at its own origin, as the day's is). Leads with fewer than 20 pairs
// take the previous lead's coefficient. Coefficients are clamped to [0, 1].
func nowcastCoefs(p *prepared, m pointMethod, origin time.Time, step time.Duration, spd, steps, nOrig int) []float64 {
	num := make([]float64, steps)
	den := make([]float64, steps)
	cnt := make([]int, steps)
	for j := 1; j <= nOrig; j++ {
		oj := origin.Add(-time.Duration(j) * Day)
		n := min(spd+steps, j*spd) // only errors known before origin
		f := m.point(p, oj, step, n)
		r := make([]float64, n)
		for k, v := range f {
			t := oj.Add(time.Duration(k) * step)
			r[k] = math.NaN()
			if a, ok := p.mean(t, t.Add(step)); ok && !math.IsNaN(v) {
				r[k] = a - v
			}
		}
		for i := 1; i < spd; i++ {
			e := r[i-1]
			if math.IsNaN(e) {
				continue
			}
			for k := 0; k < steps && i+k < n; k++ {
				if x := r[i+k]; !math.IsNaN(x) {
					num[k] += e * x
					den[k] += e * e
					cnt[k]++
				}
			}
		}
	}
	c := make([]float64, steps)
	prev := 0.0
	for k := range c {
		if cnt[k] >= 20 && den[k] > 0 {
			prev = math.Max(0, math.Min(1, num[k]/den[k]))
		}
		c[k] = prev
	}
	return c
}

// issue builds the forecast at origin from the day's model.
func (m *autoModel) issue(req Request, p *prepared, origin time.Time) (*Result, error) {
	step := req.Step
	i0 := int(origin.Sub(m.key.day) / step)
	// The latest measured error of the base since D; an older one counts as
	// at a lead that much longer.
	var e float64
	age := 0
	for j := 1; j <= i0; j++ {
		t := origin.Add(-time.Duration(j) * step)
		if a, ok := p.mean(t, t.Add(step)); ok {
			if f := m.base[i0-j]; !math.IsNaN(f) {
				e, age = a-f, j-1
			}
			break
		}
	}
	res := &Result{Series: req.Series, Method: m.method, IssuedAt: origin, Band: m.band, Residuals: m.nres, Input: p.stats,
		Times: make([]time.Time, req.Steps), P10: make([]float64, req.Steps), P50: make([]float64, req.Steps), P90: make([]float64, req.Steps)}
	if m.lo == nil {
		res.Band = BandSkipped
	}
	for k := range res.Times {
		t := origin.Add(time.Duration(k) * step)
		v := m.base[i0+k]
		if e != 0 {
			v += m.coef[min(k+age, len(m.coef)-1)] * e
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("forecast %q: %s: %w: no value for step %d (%s)", req.Series, m.method, errUnfilled, k, t.Format(time.RFC3339))
		}
		res.Times[k], res.P50[k], res.P10[k], res.P90[k] = t, v, v, v
		if m.lo != nil {
			res.P10[k], res.P90[k] = v+m.lo[i0+k], v+m.hi[i0+k]
		}
		if req.NonNegative {
			res.P10[k], res.P50[k], res.P90[k] = math.Max(res.P10[k], 0), math.Max(res.P50[k], 0), math.Max(res.P90[k], 0)
		}
	}
	return res, nil
}
