package forecast

import (
	"context"
	"fmt"
	"math"
	"time"
)

// MethodPVClearSky and MethodPVIrradiance name the PV methods in Result.Method.
const (
	MethodPVClearSky   = "pv_clear_sky_index"
	MethodPVIrradiance = "pv_irradiance"
)

// DefaultPVDays is the learning window of PVClearSky in days when Days is 0.
const DefaultPVDays = 14

// PVSite describes a PV array for the clear-sky model. Azimuth is the direction
// the modules face, degrees clockwise from north (180 = south); tilt is from
// horizontal.
type PVSite struct {
	LatitudeDeg  float64
	LongitudeDeg float64
	TiltDeg      float64
	AzimuthDeg   float64
	CapacityKW   float64 // DC rating; the learned index absorbs losses
}

// Validate reports the first field out of range.
func (s PVSite) Validate() error {
	switch {
	case !(s.LatitudeDeg >= -90 && s.LatitudeDeg <= 90):
		return fmt.Errorf("pv site: LatitudeDeg must be in [-90, 90], got %g", s.LatitudeDeg)
	case !(s.LongitudeDeg >= -180 && s.LongitudeDeg <= 180):
		return fmt.Errorf("pv site: LongitudeDeg must be in [-180, 180], got %g", s.LongitudeDeg)
	case !(s.TiltDeg >= 0 && s.TiltDeg <= 90):
		return fmt.Errorf("pv site: TiltDeg must be in [0, 90], got %g", s.TiltDeg)
	case !(s.AzimuthDeg >= 0 && s.AzimuthDeg <= 360):
		return fmt.Errorf("pv site: AzimuthDeg must be in [0, 360], got %g", s.AzimuthDeg)
	case !(s.CapacityKW > 0 && s.CapacityKW <= MaxAbsValue):
		return fmt.Errorf("pv site: CapacityKW must be > 0, got %g", s.CapacityKW)
	}
	return nil
}

// SunCosZenith returns the cosine of the solar zenith angle at t and the sun's
// direction as (east, north, up) unit vector components (NOAA approximation,
// about 0.1° accuracy).
func SunCosZenith(latDeg, lonDeg float64, t time.Time) (cosZ, east, north float64) {
	t = t.UTC()
	doy := float64(t.YearDay())
	hour := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	g := 2 * math.Pi / 365 * (doy - 1 + (hour-12)/24)
	eqt := 229.18 * (0.000075 + 0.001868*math.Cos(g) - 0.032077*math.Sin(g) - 0.014615*math.Cos(2*g) - 0.040849*math.Sin(2*g))
	decl := 0.006918 - 0.399912*math.Cos(g) + 0.070257*math.Sin(g) - 0.006758*math.Cos(2*g) +
		0.000907*math.Sin(2*g) - 0.002697*math.Cos(3*g) + 0.00148*math.Sin(3*g)
	tst := hour*60 + eqt + 4*lonDeg
	ha := (tst/4 - 180) * math.Pi / 180
	lat := latDeg * math.Pi / 180
	cosZ = math.Sin(lat)*math.Sin(decl) + math.Cos(lat)*math.Cos(decl)*math.Cos(ha)
	east = -math.Cos(decl) * math.Sin(ha)
	north = math.Cos(lat)*math.Sin(decl) - math.Sin(lat)*math.Cos(decl)*math.Cos(ha)
	return cosZ, east, north
}

// clearSky returns clear-sky GHI (W/m², Haurwitz) and the array's clear-sky
// power (kW, plane-of-array irradiance with 10 % diffuse, isotropic sky, albedo
// 0.2, times CapacityKW/1000) at t.
func (s PVSite) clearSky(t time.Time) (ghi, kw float64) {
	cz, e, n := SunCosZenith(s.LatitudeDeg, s.LongitudeDeg, t)
	if cz <= 0.01 {
		return 0, 0
	}
	ghi = 1098 * cz * math.Exp(-0.057/cz)
	dhi := 0.1 * ghi
	dni := (ghi - dhi) / cz
	b := s.TiltDeg * math.Pi / 180
	a := s.AzimuthDeg * math.Pi / 180
	cosInc := e*math.Sin(b)*math.Sin(a) + n*math.Sin(b)*math.Cos(a) + cz*math.Cos(b)
	poa := dni*math.Max(cosInc, 0) + dhi*(1+math.Cos(b))/2 + 0.2*ghi*(1-math.Cos(b))/2
	return ghi, s.CapacityKW * poa / 1000
}

// ClearSkyKW returns the mean clear-sky array power over [from, to), sampled
// every 5 minutes (at least 4 samples).
func (s PVSite) ClearSkyKW(from, to time.Time) float64 {
	_, kw := s.clearSkyMean(from, to)
	return kw
}

func (s PVSite) clearSkyMean(from, to time.Time) (ghi, kw float64) {
	d := to.Sub(from)
	n := max(4, int(d/(5*time.Minute)))
	for i := 0; i < n; i++ {
		g, k := s.clearSky(from.Add(time.Duration((float64(i) + 0.5) * float64(d) / float64(n))))
		ghi += g
		kw += k
	}
	return ghi / float64(n), kw / float64(n)
}

// PVClearSky forecasts PV generation as a positive magnitude (use with
// Request.NonNegative and negate for the site bus): the site's clear-sky power
// times a learned clear-sky index. The index has a profile by step of day (the
// ratio of measured to clear-sky energy in that slot over the last Days days,
// which absorbs shading and orientation errors) scaled by the persistence of the
// latest day: the mean of the last day's index and the Days-day index, relative
// to the Days-day index. With Irradiance (measured or forecast GHI in W/m²
// covering the horizon), the forecast is instead a·GHI·(clear-sky kW / clear-sky
// GHI), a fitted by least squares over the last Days days.
type PVClearSky struct {
	Site       PVSite
	Days       int     // learning window; 0 means DefaultPVDays
	Irradiance []Point // optional GHI series, W/m²
	Band       BandOptions
}

type pvModel struct {
	site  PVSite
	days  int
	irr   *prepared
	g     *grid
	csKW  []float64 // clear-sky kW per grid index, extended over the horizon
	csG   []float64 // clear-sky GHI per grid index, extended over the horizon
	spd   int
	scale float64 // irradiance regression coefficient
}

func (m *pvModel) name() string {
	if m.irr != nil {
		return MethodPVIrradiance
	}
	return MethodPVClearSky
}

// Forecast implements Forecaster.
func (c PVClearSky) Forecast(ctx context.Context, req Request) (*Result, error) {
	if err := c.Site.Validate(); err != nil {
		return nil, fmt.Errorf("forecast %q: %w", req.Series, err)
	}
	if c.Days < 0 || c.Days > 366 {
		return nil, fmt.Errorf("forecast %q: PVClearSky.Days must be in [0, 366], got %d", req.Series, c.Days)
	}
	p, err := prepareRequest(ctx, req, c.Band)
	if err != nil {
		return nil, err
	}
	m, err := c.fit(p, req.Origin.UTC(), req.Step, req.Steps, c.Band.lookback(req.Step))
	if err != nil {
		return nil, err
	}
	return finishFitted(ctx, req, p, m, c.Band)
}

// fit builds the model at origin: clear-sky power over the Days plus lookback
// before origin and the steps after it, and with Irradiance the fitted scale.
func (c PVClearSky) fit(p *prepared, origin time.Time, step time.Duration, steps int, lookback time.Duration) (*pvModel, error) {
	series := p.series
	spd := stepsPerDay(step)
	if spd == 0 {
		return nil, fmt.Errorf("forecast %q: %s: %w: Step %v does not divide a day", series, MethodPVClearSky, errUnfilled, step)
	}
	m := &pvModel{site: c.Site, days: c.Days, spd: spd}
	if m.days == 0 {
		m.days = DefaultPVDays
	}
	if c.Irradiance != nil {
		ip, err := prepare(series+":irradiance", c.Irradiance, farFuture, 0, step)
		if err != nil {
			return nil, fmt.Errorf("forecast %q: Irradiance: %w", series, err)
		}
		m.irr = ip
	}
	n := int((time.Duration(m.days)*Day + lookback) / step)
	m.g = newGrid(p, origin, step, n)
	m.csKW = make([]float64, n+steps)
	m.csG = make([]float64, n+steps)
	for i := range m.csKW {
		t := m.g.time(i)
		m.csG[i], m.csKW[i] = m.site.clearSkyMean(t, t.Add(step))
	}
	if m.irr != nil {
		var num, den float64
		for i := n - m.days*spd; i < n; i++ {
			z, ok := m.irrKW(i)
			if ok && !math.IsNaN(m.g.vals[i]) {
				num += z * m.g.vals[i]
				den += z * z
			}
		}
		if den == 0 {
			return nil, fmt.Errorf("forecast %q: %s: %w: no daylight step with both irradiance and measurement in the last %d days",
				series, MethodPVIrradiance, errUnfilled, m.days)
		}
		m.scale = num / den
	}
	return m, nil
}

// irrKW converts the irradiance at grid index i to array kW at clear-sky
// transposition.
func (m *pvModel) irrKW(i int) (float64, bool) {
	if i < 0 || i >= len(m.csG) {
		return 0, false
	}
	t := m.g.time(i)
	ghi, ok := m.irr.mean(t, t.Add(m.g.step))
	if !ok {
		return 0, false
	}
	if m.csG[i] <= 1 {
		return 0, true
	}
	return ghi * m.csKW[i] / m.csG[i], true
}

func (m *pvModel) point(_ *prepared, origin time.Time, step time.Duration, steps int) []float64 {
	out := nanSlice(steps)
	io, ok := m.g.index(origin)
	if !ok || step != m.g.step || io > len(m.g.vals) {
		return out
	}
	if m.irr != nil {
		for k := range out {
			if z, ok := m.irrKW(io + k); ok {
				out[k] = m.scale * z
			}
		}
		return out
	}
	lo := io - m.days*m.spd
	if lo < 0 {
		return out
	}
	// Index profile by slot, the window's index and the last day's index.
	ys := make([]float64, m.spd)
	cs := make([]float64, m.spd)
	var yAll, cAll, yDay, cDay float64
	for i := lo; i < io; i++ {
		v, c := m.g.vals[i], m.csKW[i]
		if math.IsNaN(v) || c <= 0 {
			continue
		}
		slot := (i - lo) % m.spd
		ys[slot] += v
		cs[slot] += c
		yAll += v
		cAll += c
		if i >= io-m.spd {
			yDay += v
			cDay += c
		}
	}
	if cAll == 0 {
		return out
	}
	kAll := yAll / cAll
	persist := 1.0
	if cDay > 0 && kAll > 0 {
		persist = 0.5 + 0.5*(yDay/cDay)/kAll
	}
	for k := range out {
		i := io + k
		if i >= len(m.csKW) {
			break
		}
		slot := (i - lo) % m.spd
		c := m.csKW[i]
		idx := kAll
		if cs[slot] > 0.05*cAll/float64(m.spd) {
			idx = ys[slot] / cs[slot]
		}
		out[k] = c * idx * persist
	}
	return out
}
