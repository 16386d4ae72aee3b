package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Common seasonal periods.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
)

// Method names reported in Result.Method.
const (
	MethodWeekly      = "seasonal_naive_weekly"
	MethodDaily       = "seasonal_naive_daily"
	MethodPersistence = "persistence"
)

// Band kinds reported in Result.Band.
const (
	// BandLeadTime: P10/P90 from empirical residual quantiles per lead-time bucket.
	BandLeadTime = "lead_time"
	// BandOverall: a symmetric band P50 ± the 80th percentile of |residual| over all
	// lead times (used when some lead-time bucket has too few residuals).
	BandOverall = "overall"
	// BandNone: no residual could be computed; P10 = P50 = P90.
	BandNone = "none"
	// BandSkipped: the band was not asked for (BandOptions.Skip); P10 = P50 = P90.
	BandSkipped = "skipped"
)

// Limits that keep every computation bounded. Requests beyond them are rejected.
const (
	MaxSteps   = 1 << 20
	MaxHorizon = 2 * 366 * Day // Steps × Step
	MaxPeriod  = 2 * 366 * Day
	// MaxBacktestOrigins bounds BandOptions.Origins.
	MaxBacktestOrigins = 10000
	// MaxAbsValue bounds the magnitude of finite history values, so sums stay finite.
	MaxAbsValue = 1e15
	// MaxGapPeriodsLimit bounds SeasonalNaive.MaxGapPeriods and Fallback.MaxGapPeriods.
	MaxGapPeriodsLimit = 10000
)

// ErrNoHistory is wrapped by every error that means "nothing usable was measured
// before Origin" (no points, or only NaN/Inf values).
var ErrNoHistory = errors.New("no history")

// errUnfilled is wrapped when a method cannot produce a value for some step.
var errUnfilled = errors.New("insufficient history")

// Point is one measured value. Time labels the start of the interval the value
// describes (see doc.go for how long a value is taken to hold).
type Point struct {
	Time  time.Time
	Value float64
}

// Request asks for one forecast of one series.
type Request struct {
	Series  string        // e.g. "load:building-1" (for errors and the result)
	History []Point       // measured values, any order/irregular spacing; may contain gaps
	Origin  time.Time     // forecast issue time; only History before Origin may be used
	Step    time.Duration // output step, e.g. 15m
	Steps   int           // horizon length in steps

	// NonNegative floors P10, P50 and P90 at 0 (for series that cannot be negative,
	// such as PV generation expressed as a positive magnitude). Without it nothing
	// is floored.
	NonNegative bool

	// SampleInterval is how long each history value holds after its timestamp
	// (it never holds past the next history timestamp). 0 infers it as the median
	// spacing of consecutive history timestamps (Step if there is only one).
	SampleInterval time.Duration

	// Weather and site inputs, read by Auto (the other methods take theirs in
	// their own fields). Temperature (°C) and GHI (global horizontal irradiance,
	// W/m²) are hourly or finer series covering the history and the horizon (a
	// weather forecast for the horizon); NaN/Inf values are gaps, as in History.
	// PV, when set, marks the series as PV generation (a positive magnitude) of
	// an array with that geometry: Auto then forecasts it with the clear-sky (or,
	// with GHI, irradiance) model.
	Temperature []Point
	GHI         []Point
	PV          *PVSite
}

// InputStats reports what was done with Request.History.
type InputStats struct {
	Used           int           // finite values before Origin that entered the forecast
	NonFinite      int           // NaN/Inf values before Origin, treated as gaps
	Duplicates     int           // points dropped because a later point had the same time
	AfterOrigin    int           // points at or after Origin, ignored
	SampleInterval time.Duration // interval each value was taken to hold
}

// Result is one forecast. All slices have length Steps.
type Result struct {
	Series   string
	Method   string
	IssuedAt time.Time   // = Request.Origin, UTC
	Times    []time.Time // Origin + k*Step, k = 0..Steps-1 (interval start), UTC
	P10      []float64
	P50      []float64
	P90      []float64
	Band     string // BandLeadTime, BandOverall, BandNone or BandSkipped
	// Residuals is the number of backtest residuals the band was built from.
	Residuals int
	Input     InputStats
}

// Forecaster produces forecasts. Implementations are safe for concurrent use.
type Forecaster interface {
	Forecast(ctx context.Context, req Request) (*Result, error)
}

// validateRequest checks the fields common to all methods.
func validateRequest(req Request) error {
	name := req.Series
	switch {
	case req.Origin.IsZero():
		return fmt.Errorf("forecast %q: Origin is the zero time", name)
	case req.Step <= 0:
		return fmt.Errorf("forecast %q: Step must be > 0, got %v", name, req.Step)
	case req.Steps <= 0:
		return fmt.Errorf("forecast %q: Steps must be > 0, got %d", name, req.Steps)
	case req.Steps > MaxSteps:
		return fmt.Errorf("forecast %q: Steps must be <= %d, got %d", name, MaxSteps, req.Steps)
	case req.Step > MaxHorizon/time.Duration(req.Steps):
		return fmt.Errorf("forecast %q: horizon Steps×Step = %d×%v exceeds %v", name, req.Steps, req.Step, MaxHorizon)
	case req.SampleInterval < 0:
		return fmt.Errorf("forecast %q: SampleInterval must be >= 0, got %v", name, req.SampleInterval)
	}
	return nil
}

func validatePeriod(series string, period, step time.Duration) error {
	if period <= 0 {
		return fmt.Errorf("forecast %q: seasonal Period must be > 0, got %v", series, period)
	}
	if period > MaxPeriod {
		return fmt.Errorf("forecast %q: seasonal Period must be <= %v, got %v", series, MaxPeriod, period)
	}
	if period < step {
		return fmt.Errorf("forecast %q: seasonal Period %v is shorter than Step %v", series, period, step)
	}
	return nil
}

func validateGap(series string, g int) error {
	if g > MaxGapPeriodsLimit {
		return fmt.Errorf("forecast %q: MaxGapPeriods must be <= %d, got %d", series, MaxGapPeriodsLimit, g)
	}
	return nil
}

// finish builds the Result from a point forecast: band, flooring, times.
func finish(ctx context.Context, req Request, p *prepared, m pointMethod, p50 []float64, opts BandOptions) (*Result, error) {
	b, err := computeBand(ctx, req, p, m, p50, opts)
	if err != nil {
		return nil, err
	}
	origin := req.Origin.UTC()
	res := &Result{
		Series:    req.Series,
		Method:    m.name(),
		IssuedAt:  origin,
		Times:     make([]time.Time, req.Steps),
		P10:       b.p10,
		P50:       p50,
		P90:       b.p90,
		Band:      b.kind,
		Residuals: b.n,
		Input:     p.stats,
	}
	for k := range res.Times {
		res.Times[k] = origin.Add(time.Duration(k) * req.Step)
	}
	if req.NonNegative {
		for _, s := range [][]float64{res.P10, res.P50, res.P90} {
			for k, v := range s {
				s[k] = math.Max(v, 0)
			}
		}
	}
	return res, nil
}
