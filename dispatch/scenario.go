package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// historyWindow is how much telemetry the forecasts look back on by default
// (Options.ForecastHistory): what forecast.Auto fits on.
const historyWindow = forecast.AutoHistory

// historyFromer is a Forecaster that says how much history a request needs
// (forecast.Auto: the whole window once a day, the day's values otherwise).
type historyFromer interface {
	HistoryFrom(req forecast.Request) time.Time
}

// BuildScenario turns the site config, the latest readings and fresh forecasts into an
// optimisation scenario starting at the step that contains at. Forecasts are stored.
func (s *Service) BuildScenario(ctx context.Context, at time.Time, readings []fieldbus.Reading) (*optimizer.Scenario, error) {
	scn, stored, err := s.buildScenario(ctx, at, readings)
	if werr := stored(); werr != nil {
		return nil, werr
	}
	return scn, err
}

// buildScenario is BuildScenario with the forecasts stored in the background:
// stored waits for that write and returns its error (wrapped "store forecasts"),
// which takes precedence over err. stored is never nil and must be called. The
// cycle solves while the forecasts are written; nothing on its way reads them.
func (s *Service) buildScenario(ctx context.Context, at time.Time, readings []fieldbus.Reading) (scn *optimizer.Scenario, stored func() error, err error) {
	stored = func() error { return nil }
	cfg := s.cfg
	step := cfg.Site.Step.D
	steps := cfg.Site.Steps()
	start := at.Truncate(step)
	s.reloadPrices(ctx, at)
	imp, exp, err := s.prices.Prices(ctx, start, step, steps)
	if err != nil {
		return nil, stored, err
	}
	scn = &optimizer.Scenario{
		Start: start, StepMinutes: int(step / time.Minute), Steps: steps,
		Grid: optimizer.Grid{
			ImportLimitKW: cfg.Grid.ImportLimitKW, ExportLimitKW: cfg.Grid.ExportLimitKW,
			ImportPrice: imp, ExportPrice: exp, DemandChargePerKW: cfg.Tariff.DemandChargePerKW,
		},
	}
	for _, n := range cfg.Nodes {
		scn.Nodes = append(scn.Nodes, optimizer.Node{ID: n.ID, Parent: n.Parent, LimitKW: n.LimitKW})
	}
	if cfg.Tariff.DemandChargePerKW > 0 {
		peak, err := s.peakSoFar(ctx, at)
		if err != nil {
			return nil, stored, err
		}
		scn.Grid.PeakSoFarKW = peak
		scn.Grid.PeakPeriodStarts = cfg.Tariff.PeriodStartsIn(start, step, steps, cfg.Site.Location)
		if scn.Grid.PeakCostSteps, err = s.peakCostSteps(ctx, at, start.Add(time.Duration(steps)*step), peak); err != nil {
			return nil, stored, err
		}
	}
	// bandSq sums, per step, the squared forecast band of every series that can
	// raise import above its forecast (see peakMargins).
	bandSq := make([]float64, steps)
	byID := map[string]fieldbus.Reading{}
	for _, r := range readings {
		byID[r.DeviceID] = r
	}

	forecasts, err := s.forecastAll(ctx, cfg, byID, at, start, steps)
	if err != nil {
		return nil, stored, err
	}
	var fcs []storage.ForecastPoint
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		r, polled := byID[d.ID]
		fresh := polled && !r.Stale
		switch d.Kind {
		case site.KindLoad:
			res := forecasts[i]
			fcs = append(fcs, forecastPoints(res, at)...)
			addBandSq(bandSq, res.P50, res.P90)
			scn.Loads = append(scn.Loads, optimizer.Load{ID: d.ID, Node: d.Node, ForecastKW: res.P50})
		case site.KindPV:
			res := forecasts[i]
			fcs = append(fcs, forecastPoints(res, at)...)
			addBandSq(bandSq, res.P10, res.P50)
			curtailable := d.PV.Curtailable && fresh
			scn.PV = append(scn.PV, optimizer.PV{ID: d.ID, Node: d.Node, ForecastKW: res.P50, Curtailable: curtailable})
		case site.KindBESS:
			if !fresh {
				s.log.Warn("battery left out of this cycle: no fresh reading", "device", d.ID)
				continue
			}
			socPct, ok := value(r, "soc_pct")
			if !ok {
				s.log.Warn("battery left out of this cycle: no good soc_pct", "device", d.ID)
				continue
			}
			b := d.BESS
			capKWh := b.CapacityKWh
			// The reserve is the lower SoC bound, never below min_soc.
			minKWh, maxKWh := capKWh*math.Max(b.MinSoCPct, cfg.ReserveSoCPct(d))/100, capKWh*b.MaxSoCPct/100
			socKWh := capKWh * socPct / 100
			if socKWh < minKWh || socKWh > maxKWh {
				// The battery is outside its band (e.g. after a manual operation, or below
				// its reserve): plan from where it is, with no further discharge below it.
				s.log.Warn("battery SoC outside its configured band; planning from the measured SoC", "device", d.ID, "soc_pct", socPct)
				minKWh, maxKWh = math.Min(minKWh, socKWh), math.Max(maxKWh, socKWh)
			}
			chKW, disKW := envelopeKW(d, b.MaxChargeKW, b.MaxDischargeKW)
			bat := optimizer.Battery{
				ID: d.ID, Node: d.Node, SoCKWh: socKWh, MinSoCKWh: minKWh, MaxSoCKWh: maxKWh,
				MaxChargeKW: chKW, MaxDischargeKW: disKW,
				ChargeEfficiency: b.ChargeEfficiency, DischargeEfficiency: b.DischargeEfficiency,
				WearCostPerKWh: b.WearCostPerKWh,
			}
			if b.TerminalSoCPct != nil {
				t := math.Min(capKWh**b.TerminalSoCPct/100, maxKWh)
				bat.TerminalSoCKWh = &t
			}
			scn.Batteries = append(scn.Batteries, bat)
		case site.KindEVCharger:
			ev, ok := s.evSession(d, r, fresh, at, start)
			if ok {
				scn.EVSessions = append(scn.EVSessions, ev)
			}
		}
	}
	if cfg.Tariff.DemandChargePerKW > 0 {
		scn.Grid.PeakMarginKW = peakMargins(bandSq, cfg.Tariff.MarginFactor())
	}
	if len(fcs) > 0 {
		done := make(chan error, 1)
		go func() {
			if err := s.store.WriteForecasts(ctx, fcs); err != nil {
				done <- fmt.Errorf("store forecasts: %w", err)
				return
			}
			done <- nil
		}()
		stored = sync.OnceValue(func() error { return <-done })
	}
	s.keepBase(scn, at)
	s.applyLimits(ctx, scn, at)
	if err := scn.Validate(); err != nil {
		return nil, stored, fmt.Errorf("scenario: %w", err)
	}
	return scn, stored, nil
}

// forecastAll forecasts every load and PV device of cfg, concurrently (the
// series are independent and a day's first cycle fits a model per series), and
// returns the results by device index; the first error in device order wins.
func (s *Service) forecastAll(ctx context.Context, cfg *site.Config, byID map[string]fieldbus.Reading, at, start time.Time, steps int) ([]*forecast.Result, error) {
	out := make([]*forecast.Result, len(cfg.Devices))
	errs := make([]error, len(cfg.Devices))
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if d.Kind != site.KindLoad && d.Kind != site.KindPV {
			continue
		}
		r, polled := byID[d.ID]
		fresh := polled && !r.Stale
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = s.forecastDevice(ctx, d, r, fresh, at, start, steps, d.Kind == site.KindPV)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// forecastDevice forecasts a load (positive kW) or a PV plant (generation, positive kW).
// The request carries the site's weather and, for PV on a site with a location, the
// array for the clear-sky model. A load with no history before the forecast origin
// (a fresh installation, the first cycle) but a fresh reading now gets a flat
// forecast at the current reading (method "current_reading", no band); so does a PV
// plant on a site without a location, while one with a location gets the
// forecaster's clear-sky shape (forecast.MethodPVPrior).
func (s *Service) forecastDevice(ctx context.Context, d *site.Device, r fieldbus.Reading, fresh bool, at, start time.Time, steps int, generation bool) (*forecast.Result, error) {
	series := "load:" + d.ID
	if generation {
		series = "pv:" + d.ID
	}
	step := s.cfg.Site.Step.D
	// Both are magnitudes the optimiser requires to be >= 0: a fitted model can
	// dip below 0 where the series runs near it, so the quantiles are floored.
	req := forecast.Request{Series: series, Origin: start, Step: step, Steps: steps, NonNegative: true}
	req.Temperature, req.GHI = s.weather.series()
	if generation {
		req.PV = s.pvSite(d)
	}
	from := at.Add(-s.forecastHistory)
	if hf, ok := s.forecaster.(historyFromer); ok {
		// The window ends at the start of the day the forecaster fits on, so
		// its fit sees the same history whichever cycle of the day runs it.
		from = start.Truncate(24 * time.Hour).Add(-s.forecastHistory)
		if t := hf.HistoryFrom(req); t.After(from) {
			from = t
		}
	}
	hist, err := s.store.TelemetryRange(ctx, d.ID, "active_power_kw", from, at.Add(storage.TimePrecision))
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", d.ID, err)
	}
	pts := make([]forecast.Point, 0, len(hist))
	for _, h := range hist {
		if h.Quality != storage.QualityGood {
			continue
		}
		v := h.Value
		if generation {
			v = -v
		}
		pts = append(pts, forecast.Point{Time: h.Time, Value: v})
	}
	req.History = pts
	res, err := s.forecaster.Forecast(ctx, req)
	if errors.Is(err, forecast.ErrNoHistory) && fresh {
		if now, ok := value(r, "active_power_kw"); ok {
			if generation {
				now = math.Max(0, -now)
			}
			res = flatForecast(series, start, step, steps, now)
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("forecast %s: %w", series, err)
	}
	if len(res.P50) != steps || len(res.P10) != steps || len(res.P90) != steps {
		return nil, fmt.Errorf("forecast %s: %d/%d/%d values for %d steps", series, len(res.P10), len(res.P50), len(res.P90), steps)
	}
	for k := range res.P50 {
		for _, v := range []float64{res.P10[k], res.P50[k], res.P90[k]} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("forecast %s: value %v at step %d (%s) is not finite", series, v, k, res.Times[k].Format(time.RFC3339))
			}
		}
	}
	return res, nil
}

// pvSite is the clear-sky model's description of a PV device, or nil when the
// site has no location.
func (s *Service) pvSite(d *site.Device) *forecast.PVSite {
	c := s.cfg.Site
	if c.LatitudeDeg == nil || c.LongitudeDeg == nil || d.PV == nil {
		return nil
	}
	pv := &forecast.PVSite{LatitudeDeg: *c.LatitudeDeg, LongitudeDeg: *c.LongitudeDeg, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: d.PV.CapacityKW}
	if pv.LatitudeDeg < 0 {
		pv.AzimuthDeg = 0
	}
	if d.PV.TiltDeg != nil {
		pv.TiltDeg = *d.PV.TiltDeg
	}
	if d.PV.AzimuthDeg != nil {
		pv.AzimuthDeg = *d.PV.AzimuthDeg
	}
	return pv
}

func flatForecast(series string, start time.Time, step time.Duration, steps int, v float64) *forecast.Result {
	res := &forecast.Result{Series: series, Method: "current_reading", IssuedAt: start, Band: "none"}
	for k := 0; k < steps; k++ {
		res.Times = append(res.Times, start.Add(time.Duration(k)*step))
		res.P10 = append(res.P10, v)
		res.P50 = append(res.P50, v)
		res.P90 = append(res.P90, v)
	}
	return res
}

func forecastPoints(res *forecast.Result, issued time.Time) []storage.ForecastPoint {
	out := make([]storage.ForecastPoint, 0, 3*len(res.Times))
	for k, t := range res.Times {
		for _, q := range []struct {
			q float64
			v []float64
		}{{0.1, res.P10}, {0.5, res.P50}, {0.9, res.P90}} {
			if k < len(q.v) {
				out = append(out, storage.ForecastPoint{IssuedAt: issued, ValidAt: t, Series: res.Series, Quantile: q.q, Value: q.v[k], Method: res.Method})
			}
		}
	}
	return out
}

// evSession turns a charger reading into a charging session starting now.
func (s *Service) evSession(d *site.Device, r fieldbus.Reading, fresh bool, at, start time.Time) (optimizer.EVSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	step := s.cfg.Site.Step.D
	rep, reported := s.sessions[d.ID]
	if reported && !rep.Departure.After(at) {
		delete(s.sessions, d.ID)
		reported = false
	}
	if !fresh || !connected(r) {
		if fresh {
			delete(s.pluggedAt, d.ID)
		}
		if reported && fresh && rep.Arrival.After(at) {
			// A reported future session: plan for it from its arrival step.
			arr := int(math.Ceil(float64(rep.Arrival.Sub(start)) / float64(step)))
			dep := int(math.Floor(float64(rep.Departure.Sub(start)) / float64(step)))
			if arr < s.cfg.Site.Steps() && dep > arr {
				e := d.EV
				chKW, disKW := envelopeKW(d, e.MaxChargeKW, e.MaxDischargeKW)
				return s.session(optimizer.EVSession{
					ID: d.ID, Node: d.Node, ArrivalStep: arr, DepartureStep: dep, EnergyKWh: rep.EnergyKWh,
					MaxChargeKW: chKW, MaxDischargeKW: disKW, V2GBudgetKWh: e.V2GBudgetKWh,
				}), true
			}
		}
		return optimizer.EVSession{}, false
	}
	plugged, ok := s.pluggedAt[d.ID]
	if !ok {
		plugged = at
		s.pluggedAt[d.ID] = at
	}
	departure := plugged.Add(s.cfg.EV.DefaultDwell.D)
	if u, ok := value(r, "session_departure_unix"); ok && u > 0 {
		departure = time.Unix(int64(u), 0).UTC()
	}
	if reported {
		departure = rep.Departure
	}
	// The vehicle is gone during the step in which it leaves, so plan only whole steps
	// before the departure (a plan for the partial step would deliver less than it says).
	depStep := int(math.Floor(float64(departure.Sub(start)) / float64(step)))
	if depStep < 1 {
		depStep = 1 // overdue: still charge in this step
	}
	need := s.cfg.EV.DefaultEnergyKWh
	if req, ok := value(r, "session_energy_request_kwh"); ok && req > 0 {
		need = req
	}
	if reported {
		need = rep.EnergyKWh
	}
	if got, ok := value(r, "session_energy_kwh"); ok {
		need -= got
	}
	if need < 0 {
		need = 0
	}
	e := d.EV
	chKW, disKW := envelopeKW(d, e.MaxChargeKW, e.MaxDischargeKW)
	return s.session(optimizer.EVSession{
		ID: d.ID, Node: d.Node, ArrivalStep: 0, DepartureStep: depStep, EnergyKWh: need,
		MaxChargeKW: chKW, MaxDischargeKW: disKW, V2GBudgetKWh: e.V2GBudgetKWh,
	}), true
}

// session completes a session with the site's EV costs and vehicle losses.
func (s *Service) session(e optimizer.EVSession) optimizer.EVSession {
	return SessionCosts(s.cfg, e)
}

// SessionCosts sets a session's unmet penalty, V2G wear and vehicle efficiencies from
// the site's ev section (defaults filled in), as dispatch plans every session.
func SessionCosts(cfg *site.Config, e optimizer.EVSession) optimizer.EVSession {
	e.UnmetPenaltyPerKWh = cfg.EV.UnmetPenaltyPerKWh
	e.WearCostPerKWh = cfg.EV.WearPerKWh()
	e.ChargeEfficiency, e.DischargeEfficiency = cfg.EV.Efficiencies()
	return e
}

// addBandSq adds, per step, the square of how far hi lies above lo (never below 0).
func addBandSq(sq, lo, hi []float64) {
	for k := range sq {
		if k < len(lo) && k < len(hi) {
			if d := hi[k] - lo[k]; d > 0 && !math.IsInf(d, 0) {
				sq[k] += d * d
			}
		}
	}
}

// peakMargins turns the summed squared forecast bands into the per-step headroom the
// plan keeps under its peak target: factor × √Σ band². The band of a load is P90−P50
// (consumption above its forecast) and of a PV plant P50−P10 (generation below it),
// each the one-sided 80 % quantile of that series' error. Combined by root sum of
// squares, as the spread of a sum of independent errors is: a plain sum would
// assume every series misses in the same direction at once and hold back headroom
// for a coincidence the site rarely sees, at the demand charge's price; with one
// series the two agree, and factor > 1 covers correlated errors.
func peakMargins(bandSq []float64, factor float64) []float64 {
	if factor <= 0 {
		return nil
	}
	out := make([]float64, len(bandSq))
	for k, v := range bandSq {
		out[k] = factor * math.Sqrt(v)
	}
	return out
}

// envelopeKW narrows a device's rated charge and discharge power to its configured
// safety range (safety.min_kw / max_kw), so the plan stays inside the envelope the
// safety layer enforces and auto-approval is not held by clamps the plan caused.
func envelopeKW(d *site.Device, chargeKW, dischargeKW float64) (float64, float64) {
	if d.Safety == nil {
		return chargeKW, dischargeKW
	}
	if d.Safety.MaxKW != nil {
		chargeKW = math.Min(chargeKW, math.Max(0, *d.Safety.MaxKW))
	}
	if d.Safety.MinKW != nil {
		dischargeKW = math.Min(dischargeKW, math.Max(0, -*d.Safety.MinKW))
	}
	return chargeKW, dischargeKW
}

// peakSoFar is the billing period's demand peak before at, as the utility meters
// it: the highest mean net import over one closed demand interval
// (tariff.demand_interval) since the period began (tariff.demand_period, in site
// time), so the demand charge prices only a new peak. The means are the root meter's
// site.PointImportAvgKW samples, one per closed interval; for the part of the period
// before the first of them (older data), the mean of the meter's active_power_kw
// samples in each closed interval. The interval in progress is left out: it is not
// yet metered, and a poll is one instant of it. Without a root meter it is 0.
func (s *Service) peakSoFar(ctx context.Context, at time.Time) (float64, error) {
	meter := s.rootMeter()
	if meter == "" {
		return 0, nil
	}
	from, _ := s.cfg.Tariff.DemandPeriodAt(at, s.cfg.Site.Location)
	iv := s.cfg.Tariff.DemandIntervalD()
	if !from.Before(at) {
		return 0, nil
	}
	peak := 0.0
	avgs, err := s.store.TelemetryBuckets(ctx, meter, site.PointImportAvgKW, from, at, iv)
	if err != nil {
		return 0, fmt.Errorf("peak so far from %s %s: %w", meter, site.PointImportAvgKW, err)
	}
	for _, b := range avgs {
		peak = math.Max(peak, b.Max)
	}
	// Intervals the averages do not cover yet: means of the polls in closed intervals.
	upTo := at.Truncate(iv)
	if len(avgs) > 0 && avgs[0].Time.Before(upTo) {
		upTo = avgs[0].Time
	}
	if from.Before(upTo) {
		polls, err := s.store.TelemetryBuckets(ctx, meter, "active_power_kw", from, upTo, iv)
		if err != nil {
			return 0, fmt.Errorf("peak so far from %s: %w", meter, err)
		}
		for _, b := range polls {
			if b.Count > 0 {
				peak = math.Max(peak, b.Mean)
			}
		}
	}
	return peak, nil
}

// Expected demand charge. The billing period's peak is its highest demand
// interval; raising it now costs the demand charge only if none of the days still
// to come after the horizon would have raised it as far anyway. peakCostSteps
// prices the peak above the peak so far by that probability: with the root meter's
// daily peaks (the highest demand-interval average of each day) over the last
// peakHistoryDays days taken as draws for each remaining day, a kW at level u costs
// demand_charge × (1 − p(u))^D, where p(u) is the share of those days that peaked
// above u and D the days left in the period after the horizon. The result is a list
// of bands with non-decreasing prices (optimizer.Grid.PeakCostSteps); none, and so
// the full demand charge, with fewer than peakHistoryMinDays days of history or no
// day left after the horizon.
const (
	peakHistoryDays    = 28
	peakHistoryMinDays = 7
)

func (s *Service) peakCostSteps(ctx context.Context, at, horizonEnd time.Time, peakSoFarKW float64) ([]optimizer.PeakCostStep, error) {
	if !s.cfg.Tariff.ExpectedPeakOn() {
		return nil, nil
	}
	meter := s.rootMeter()
	if meter == "" {
		return nil, nil
	}
	loc := s.cfg.Site.Location
	_, periodEnd := s.cfg.Tariff.DemandPeriodAt(at, loc)
	daysLeft := periodEnd.Sub(horizonEnd).Hours() / 24
	if daysLeft <= 0 {
		return nil, nil
	}
	y, m, d := at.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	peaks, err := s.dailyPeaks(ctx, meter, today)
	if err != nil {
		return nil, err
	}
	if len(peaks) < peakHistoryMinDays {
		return nil, nil
	}
	return peakBands(append([]float64(nil), peaks...), peakSoFarKW, daysLeft, s.cfg.Tariff.DemandChargePerKW), nil
}

// dailyPeaks returns the root meter's daily peaks over the peakHistoryDays days
// before today. Closed days do not change, so they are read once a day, not at every
// cycle.
func (s *Service) dailyPeaks(ctx context.Context, meter string, today time.Time) ([]float64, error) {
	s.mu.Lock()
	c := s.peakDays
	s.mu.Unlock()
	if c.day.Equal(today) && c.peaks != nil {
		return c.peaks, nil
	}
	peaks := []float64{}
	for k := 1; k <= peakHistoryDays; k++ {
		day := today.AddDate(0, 0, -k)
		b, err := s.store.TelemetryBuckets(ctx, meter, site.PointImportAvgKW, day, day.AddDate(0, 0, 1), 24*time.Hour)
		if err != nil {
			return nil, fmt.Errorf("daily peaks of %s %s: %w", meter, site.PointImportAvgKW, err)
		}
		// The buckets are cut on the store's grid, not the site's midnight: the
		// day's peak is the highest of them.
		dayPeak, seen := 0.0, false
		for _, x := range b {
			if x.Count > 0 {
				dayPeak, seen = math.Max(dayPeak, x.Max), true
			}
		}
		if seen {
			peaks = append(peaks, dayPeak)
		}
	}
	s.mu.Lock()
	s.peakDays = peakDays{day: today, peaks: peaks}
	s.mu.Unlock()
	return peaks, nil
}

// peakDays caches dailyPeaks for one day.
type peakDays struct {
	day   time.Time
	peaks []float64
}

// peakBands turns past daily peaks into priced bands above peakSoFarKW (see
// peakCostSteps).
func peakBands(peaks []float64, peakSoFarKW, daysLeft, chargePerKW float64) []optimizer.PeakCostStep {
	sort.Float64s(peaks)
	n := float64(len(peaks))
	var out []optimizer.PeakCostStep
	lo := peakSoFarKW
	for i, u := range peaks {
		if u <= lo {
			continue
		}
		// Below u, the days that peaked at u or above (len − i of them) exceed the level.
		p := float64(len(peaks)-i) / n
		price := chargePerKW * math.Pow(1-p, daysLeft)
		out = append(out, optimizer.PeakCostStep{WidthKW: u - lo, PricePerKW: price})
		lo = u
	}
	return out
}
