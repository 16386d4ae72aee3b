package forecast

import (
	"context"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/mat"
)

// MethodRegression names the calendar regression in Result.Method.
const MethodRegression = "regression"

// DefaultRegressionHalfLife is the age at which a training step counts half.
const DefaultRegressionHalfLife = 3 * Week

// DefaultRegressionWindow is the training window of Regression when Window is 0.
const DefaultRegressionWindow = 8 * Week

// Regression forecasts a load from a weighted least-squares fit over the last
// Window of history (weights halving every HalfLife of age) on calendar
// features: local hour of day × day type, with weekdays, Saturdays and
// Sundays/holidays as the day types, and, when Temperature is given, heating
// degrees max(0, 15.5 − T) and cooling degrees max(0, T − 22). The latest
// residual and the residual a day before each target step then correct the
// forecast (the nowcast blending), with coefficients estimated directly for
// each lead time up to a day by least squares over origins every hour of the
// training window (beyond a day, the last lead's coefficient of the latest
// residual).
type Regression struct {
	Window   time.Duration  // training window; 0 means DefaultRegressionWindow
	Location *time.Location // zone of the calendar features; nil means UTC
	// Holidays are dates (year, month, day read in Location) treated as Sundays.
	Holidays []time.Time
	// Temperature in °C, covering the training window and the horizon (a weather
	// forecast for the horizon). A step whose temperature is a gap takes the mean
	// temperature of the 3 hours either side; if that is empty too, the step
	// cannot be forecast (an error naming it). Nil fits without weather.
	Temperature []Point
	NoAR        bool // disable the residual correction
	// HalfLife weights training steps by 0.5^(age/HalfLife), so recent weeks
	// count more; 0 means DefaultRegressionHalfLife, negative weights all equally.
	HalfLife time.Duration
	// Band as for the other methods, but Origins 0 means DefaultFittedBandOrigins.
	Band BandOptions
}

// Forecast implements Forecaster.
func (r Regression) Forecast(ctx context.Context, req Request) (*Result, error) {
	p, err := prepareRequest(ctx, req, r.Band)
	if err != nil {
		return nil, err
	}
	band := fittedBand(r.Band)
	m, err := r.fit(p, req.Origin.UTC(), req.Step, band.lookback(req.Step))
	if err != nil {
		return nil, err
	}
	return finishFitted(ctx, req, p, m, band)
}

// prepareRequest validates a request (then a method's own checks, in order, and its
// band settings) and prepares its history: the start of every method's Forecast.
func prepareRequest(ctx context.Context, req Request, band BandOptions, checks ...error) (*prepared, error) {
	if err := validateRequest(req); err != nil {
		return nil, err
	}
	for _, err := range checks {
		if err != nil {
			return nil, err
		}
	}
	if err := band.validate(req.Series); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return prepare(req.Series, req.History, req.Origin, req.SampleInterval, req.Step)
}

// finishFitted fails naming the first step a fitted method could not fill, or
// builds the result with its band.
func finishFitted(ctx context.Context, req Request, p *prepared, m pointMethod, band BandOptions) (*Result, error) {
	origin := req.Origin.UTC()
	p50 := m.point(p, origin, req.Step, req.Steps)
	for k, v := range p50 {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("forecast %q: %s: %w: no value for step %d (%s)",
				req.Series, m.name(), errUnfilled, k, origin.Add(time.Duration(k)*req.Step).Format(time.RFC3339))
		}
	}
	return finish(ctx, req, p, m, p50, band)
}

// lookback is how far before Origin a fitted model must be able to forecast from
// (the band's backtest origins) beyond its training window.
func (o BandOptions) lookback(step time.Duration) time.Duration {
	d := o.withDefaults(step)
	return time.Duration(d.Origins)*d.Spacing + Day
}

// tempGapFill is how far either side of a temperature gap Regression looks for
// values to fill it with.
const tempGapFill = 3 * time.Hour

const (
	nDayTypes = 3
	nCalendar = 24 * nDayTypes
)

type regModel struct {
	g        *grid
	loc      *time.Location
	holidays map[[3]int]bool
	temp     *prepared // nil without temperature
	col      []int     // feature index → column in beta, -1 if never observed
	beta     []float64
	fitted   []float64 // fitted value per grid index (NaN where features missing)
	resid    []float64 // y − fitted, NaN where unknown
	// direct[k] holds the coefficients of the latest residual and of the
	// residual a day before the target at lead k < a day (nil: no correction).
	direct [][2]float64
}

func (regModel) name() string { return MethodRegression }

func (r Regression) fit(p *prepared, origin time.Time, step, lookback time.Duration) (*regModel, error) {
	return r.fitUntil(p, origin, step, lookback, origin)
}

// fitUntil fits on the Window before trainEnd (at most origin, at least origin −
// lookback) but keeps the grid up to origin, so the model can forecast from any
// origin in between out of sample.
func (r Regression) fitUntil(p *prepared, origin time.Time, step, lookback time.Duration, trainEnd time.Time) (*regModel, error) {
	series := p.series
	spd := stepsPerDay(step)
	if spd == 0 {
		return nil, fmt.Errorf("forecast %q: %s: %w: Step %v does not divide a day", series, MethodRegression, errUnfilled, step)
	}
	window := r.Window
	if window == 0 {
		window = DefaultRegressionWindow
	}
	if window < Week || window > MaxPeriod {
		return nil, fmt.Errorf("forecast %q: regression Window must be in [%v, %v], got %v", series, Week, MaxPeriod, window)
	}
	m := &regModel{loc: r.Location}
	if m.loc == nil {
		m.loc = time.UTC
	}
	if len(r.Holidays) > 0 {
		m.holidays = make(map[[3]int]bool, len(r.Holidays))
		for _, h := range r.Holidays {
			y, mo, d := h.Date()
			m.holidays[[3]int{y, int(mo), d}] = true
		}
	}
	if r.Temperature != nil {
		tp, err := prepare(series+":temperature", r.Temperature, farFuture, 0, step)
		if err != nil {
			return nil, fmt.Errorf("forecast %q: Temperature: %w", series, err)
		}
		m.temp = tp
	}
	span := window + lookback
	n := int(span / step)
	m.g = newGrid(p, origin, step, n)
	nf := nCalendar
	if m.temp != nil {
		nf += 2
	}
	x := make([]float64, nf)
	trainTo, ok := m.g.index(trainEnd)
	if !ok || trainTo > n || trainTo-int(window/step) < 0 {
		return nil, fmt.Errorf("forecast %q: %s: training end %s is off the grid", series, MethodRegression, trainEnd.Format(time.RFC3339))
	}
	trainFrom := trainTo - int(window/step)
	// Which features are observed in the training rows.
	count := make([]int, nf)
	var rows []int
	for i := trainFrom; i < trainTo; i++ {
		if math.IsNaN(m.g.vals[i]) || !m.features(m.g.time(i), x) {
			continue
		}
		rows = append(rows, i)
		for j, v := range x {
			if v != 0 {
				count[j]++
			}
		}
	}
	m.col = make([]int, nf)
	nc := 0
	for j := range m.col {
		m.col[j] = -1
		if count[j] > 0 {
			m.col[j] = nc
			nc++
		}
	}
	if len(rows) < 2*nc || len(rows) < 7*spd/2 {
		return nil, fmt.Errorf("forecast %q: %s: %w: %d usable training steps in the %v before %s",
			series, MethodRegression, errUnfilled, len(rows), window, origin.Format(time.RFC3339))
	}
	// Normal equations, accumulated from the few nonzero features of each row
	// (one calendar dummy and at most two degree terms).
	xtx := mat.NewSymDense(nc, nil)
	xty := mat.NewVecDense(nc, nil)
	raw := xtx.RawSymmetric()
	hl := r.HalfLife
	if hl == 0 {
		hl = DefaultRegressionHalfLife
	}
	nzCol := make([]int, 0, 4)
	nzVal := make([]float64, 0, 4)
	for _, i := range rows {
		m.features(m.g.time(i), x)
		w := 1.0
		if hl > 0 {
			w = math.Exp2(-float64(trainTo-i) * float64(step) / float64(hl))
		}
		nzCol, nzVal = nzCol[:0], nzVal[:0]
		for j, v := range x {
			if v != 0 {
				nzCol = append(nzCol, m.col[j]) // columns increase with j
				nzVal = append(nzVal, v)
			}
		}
		yv := m.g.vals[i]
		for a, ca := range nzCol {
			xty.SetVec(ca, xty.AtVec(ca)+w*nzVal[a]*yv)
			for b := a; b < len(nzCol); b++ {
				raw.Data[ca*raw.Stride+nzCol[b]] += w * nzVal[a] * nzVal[b]
			}
		}
	}
	beta, err := solveNormal(xtx, xty)
	if err != nil {
		return nil, fmt.Errorf("forecast %q: %s: least squares: %w", series, MethodRegression, err)
	}
	m.beta = beta
	m.fitted = make([]float64, n)
	m.resid = make([]float64, n)
	for i := range m.fitted {
		m.fitted[i] = m.predict(m.g.time(i), x)
		m.resid[i] = m.g.vals[i] - m.fitted[i]
	}
	if !r.NoAR {
		m.fitDirect(trainFrom, trainTo, spd)
	}
	return m, nil
}

// features fills x for time t and reports whether all features are known.
func (m *regModel) features(t time.Time, x []float64) bool {
	clear(x)
	lt := t.In(m.loc)
	dt := 0
	y, mo, d := lt.Date()
	switch {
	case lt.Weekday() == time.Sunday || m.holidays[[3]int{y, int(mo), d}]:
		dt = 2
	case lt.Weekday() == time.Saturday:
		dt = 1
	}
	x[dt*24+lt.Hour()] = 1
	if m.temp != nil {
		tc, ok := m.temp.mean(t, t.Add(m.g.step))
		if !ok {
			// Short gaps take the mean of the 3 hours either side.
			if tc, ok = m.temp.mean(t.Add(-tempGapFill), t.Add(m.g.step+tempGapFill)); !ok {
				return false
			}
		}
		x[nCalendar] = math.Max(0, 15.5-tc)
		x[nCalendar+1] = math.Max(0, tc-22)
	}
	return true
}

// predict returns the regression value at t (NaN if a feature is unknown or was
// never observed in training).
func (m *regModel) predict(t time.Time, x []float64) float64 {
	if !m.features(t, x) {
		return math.NaN()
	}
	var s float64
	for j, v := range x {
		if v == 0 {
			continue
		}
		c := m.col[j]
		if c < 0 && j < nCalendar {
			return math.NaN() // an hour and day type never seen in training
		}
		if c < 0 {
			continue // a degree term that was always 0 in training has no effect
		}
		s += v * m.beta[c]
	}
	return s
}

func (m *regModel) point(_ *prepared, origin time.Time, step time.Duration, steps int) []float64 {
	out := nanSlice(steps)
	io, ok := m.g.index(origin)
	if !ok || step != m.g.step || io > len(m.g.vals) || io < 0 {
		return out
	}
	x := make([]float64, len(m.col))
	last := m.residAt(io - 1)
	for k := range out {
		var ar float64
		if d := m.direct; d != nil {
			if k < len(d) {
				ar = d[k][0]*last + d[k][1]*m.residAt(io+k-len(d))
			} else {
				ar = d[len(d)-1][0] * last
			}
		}
		out[k] = m.predict(origin.Add(time.Duration(k)*step), x) + ar
	}
	return out
}

// solveNormal solves (XᵀWX) b = XᵀWy by Cholesky. When the matrix is singular
// (a column that is a combination of others) it retries with a ridge of 1e-9 ×
// the mean diagonal.
func solveNormal(xtx *mat.SymDense, xty *mat.VecDense) ([]float64, error) {
	var ch mat.Cholesky
	var b mat.VecDense
	if ch.Factorize(xtx) {
		if err := ch.SolveVecTo(&b, xty); err == nil {
			return b.RawVector().Data, nil
		}
	}
	p := xtx.SymmetricDim()
	var tr float64
	for i := 0; i < p; i++ {
		tr += xtx.At(i, i)
	}
	reg := mat.NewSymDense(p, nil)
	reg.CopySym(xtx)
	for i := 0; i < p; i++ {
		reg.SetSym(i, i, reg.At(i, i)+1e-9*tr/float64(p)+1e-12)
	}
	if !ch.Factorize(reg) {
		return nil, fmt.Errorf("normal equations are not positive definite")
	}
	if err := ch.SolveVecTo(&b, xty); err != nil {
		return nil, err
	}
	return b.RawVector().Data, nil
}

// residAt is the residual at grid index i, 0 where unknown.
func (m *regModel) residAt(i int) float64 {
	if i < 0 || i >= len(m.resid) || math.IsNaN(m.resid[i]) {
		return 0
	}
	return m.resid[i]
}

// fitDirect estimates, for each lead k < spd, the least-squares coefficients of
// the residual k steps ahead on the latest residual and on the residual a day
// before the target, over origins every hour of the training rows.
func (m *regModel) fitDirect(from, to, spd int) {
	stride := max(1, spd/24)
	d := make([][2]float64, spd)
	for k := 0; k < spd; k++ {
		var a11, a12, a22, b1, b2 float64
		for io := from + spd; io+k < to; io += stride {
			y, x1, x2 := m.resid[io+k], m.resid[io-1], m.resid[io+k-spd]
			if math.IsNaN(y) || math.IsNaN(x1) || math.IsNaN(x2) {
				continue
			}
			a11 += x1 * x1
			a12 += x1 * x2
			a22 += x2 * x2
			b1 += x1 * y
			b2 += x2 * y
		}
		det := a11*a22 - a12*a12
		if !(det > 1e-12*(a11*a22+1e-300)) {
			continue
		}
		d[k] = [2]float64{(b1*a22 - b2*a12) / det, (a11*b2 - a12*b1) / det}
	}
	m.direct = d
}
