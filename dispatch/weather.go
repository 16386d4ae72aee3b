package dispatch

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/forecast"
)

// Weather value ranges accepted from files and the API.
const (
	MinTemperatureC = -90
	MaxTemperatureC = 60
	MaxGHIWm2       = 1500
	// MaxWeatherPoints bounds one weather file or API call.
	MaxWeatherPoints = 24 * 800
)

// WeatherPoint is one hour of weather from time Time on: a forecast for the
// hours ahead, a record for the hours past. A nil value is not given.
type WeatherPoint struct {
	Time         time.Time `json:"time"`
	TemperatureC *float64  `json:"temperature_c,omitempty"`
	GHIWm2       *float64  `json:"ghi_wm2,omitempty"`
}

// weather holds the site's hourly weather, sorted by time, for the forecasts.
type weather struct {
	mu         sync.Mutex
	temp, ghi  map[int64]float64 // Unix hour start → value
	tSer, gSer []forecast.Point  // sorted copies, rebuilt on change
}

// validateWeather checks values and ranges, naming the field.
func validateWeather(pts []WeatherPoint) error {
	if len(pts) == 0 {
		return errors.New("points: empty")
	}
	if len(pts) > MaxWeatherPoints {
		return fmt.Errorf("points: %d points, at most %d", len(pts), MaxWeatherPoints)
	}
	for i, p := range pts {
		switch {
		case p.Time.IsZero():
			return fmt.Errorf("points[%d].time: required (RFC 3339)", i)
		case !p.Time.Equal(p.Time.Truncate(time.Hour)):
			return fmt.Errorf("points[%d].time: %s is not on the hour", i, p.Time.Format(time.RFC3339Nano))
		case p.TemperatureC == nil && p.GHIWm2 == nil:
			return fmt.Errorf("points[%d]: neither temperature_c nor ghi_wm2 given", i)
		case p.TemperatureC != nil && !(*p.TemperatureC >= MinTemperatureC && *p.TemperatureC <= MaxTemperatureC):
			return fmt.Errorf("points[%d].temperature_c: %v is outside [%d, %d] °C", i, *p.TemperatureC, MinTemperatureC, MaxTemperatureC)
		case p.GHIWm2 != nil && !(*p.GHIWm2 >= 0 && *p.GHIWm2 <= MaxGHIWm2):
			return fmt.Errorf("points[%d].ghi_wm2: %v is outside [0, %d] W/m²", i, *p.GHIWm2, MaxGHIWm2)
		}
	}
	return nil
}

// coverage reports the first hour in [from, to) that a quantity given in pts
// (merged with have, which may be nil) lacks, naming the field.
func weatherCoverage(pts []WeatherPoint, have *weather, from, to time.Time) error {
	var hasT, hasG bool
	tm, gm := map[int64]bool{}, map[int64]bool{}
	for _, p := range pts {
		if p.TemperatureC != nil {
			hasT = true
			tm[p.Time.Unix()] = true
		}
		if p.GHIWm2 != nil {
			hasG = true
			gm[p.Time.Unix()] = true
		}
	}
	if have != nil {
		have.mu.Lock()
		for h := range have.temp {
			tm[h] = true
		}
		for h := range have.ghi {
			gm[h] = true
		}
		hasT, hasG = hasT || len(have.temp) > 0, hasG || len(have.ghi) > 0
		have.mu.Unlock()
	}
	for _, q := range []struct {
		name string
		has  bool
		m    map[int64]bool
	}{{"temperature_c", hasT, tm}, {"ghi_wm2", hasG, gm}} {
		if !q.has {
			continue
		}
		for h := from.Truncate(time.Hour); h.Before(to); h = h.Add(time.Hour) {
			if !q.m[h.Unix()] {
				return fmt.Errorf("%s: no value for the hour from %s; the horizon needs values from %s to %s",
					q.name, h.UTC().Format(time.RFC3339), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

// merge adds pts (later values replace earlier ones at the same hour) and drops
// values older than keepFrom.
func (w *weather) merge(pts []WeatherPoint, keepFrom time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.temp == nil {
		w.temp, w.ghi = map[int64]float64{}, map[int64]float64{}
	}
	for _, p := range pts {
		h := p.Time.Unix()
		if p.TemperatureC != nil {
			w.temp[h] = *p.TemperatureC
		}
		if p.GHIWm2 != nil {
			w.ghi[h] = *p.GHIWm2
		}
	}
	cut := keepFrom.Unix()
	build := func(m map[int64]float64) []forecast.Point {
		if len(m) == 0 {
			return nil
		}
		out := make([]forecast.Point, 0, len(m))
		for h, v := range m {
			if h < cut {
				delete(m, h)
				continue
			}
			out = append(out, forecast.Point{Time: time.Unix(h, 0).UTC(), Value: v})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
		return out
	}
	w.tSer, w.gSer = build(w.temp), build(w.ghi)
}

// series returns the temperature and GHI series (shared, read-only).
func (w *weather) series() (temp, ghi []forecast.Point) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tSer, w.gSer
}

// weatherKeep is how much past weather is kept: the forecaster's history.
func (s *Service) weatherKeep(now time.Time) time.Time {
	return now.Add(-max(s.forecastHistory, forecast.AutoHistory) - 24*time.Hour)
}

// SetWeather merges a weather forecast (or record) into what the load and PV
// forecasts use from the next cycle on: hourly points, later values replacing
// earlier ones at the same hour. Every quantity the site has must cover the
// optimisation horizon from now; an invalid or short feed is rejected whole
// with an error naming the field and value. An accepted feed is audited
// (weather.set).
func (s *Service) SetWeather(ctx context.Context, pts []WeatherPoint, actor string) error {
	if err := validateWeather(pts); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	now := s.clock.Now()
	start := now.Truncate(s.cfg.Site.Step.D)
	if err := weatherCoverage(pts, &s.weather, start, start.Add(s.cfg.Site.Horizon.D)); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s.weather.merge(pts, s.weatherKeep(now))
	first, last := pts[0].Time, pts[0].Time
	for _, p := range pts {
		if p.Time.Before(first) {
			first = p.Time
		}
		if p.Time.After(last) {
			last = p.Time
		}
	}
	s.auditData(ctx, now, actor, "weather.set", "weather",
		fmt.Sprintf("weather forecast: %d hours from %s to %s", len(pts), first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339)),
		map[string]any{"points": len(pts), "first": first.UTC(), "last": last.UTC()})
	return nil
}

// loadWeatherFile reads the site's weather file (weather.file) and checks that
// it covers the horizon from now.
func (s *Service) loadWeatherFile(path string) error {
	if path == "" {
		return nil
	}
	if !filepath.IsAbs(path) && s.cfg.File != "" {
		path = filepath.Join(filepath.Dir(s.cfg.File), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("weather.file: %w", err)
	}
	pts, err := ParseWeatherCSV(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("weather.file %s: %w", path, err)
	}
	if err := validateWeather(pts); err != nil {
		return fmt.Errorf("weather.file %s: %w", path, err)
	}
	now := s.clock.Now()
	start := now.Truncate(s.cfg.Site.Step.D)
	if err := weatherCoverage(pts, nil, start, start.Add(s.cfg.Site.Horizon.D)); err != nil {
		return fmt.Errorf("weather.file %s: %w", path, err)
	}
	s.weather.merge(pts, s.weatherKeep(now))
	return nil
}

// ParseWeatherCSV reads a weather file: a header row with timestamp_utc and at
// least one of temperature_c and ghi_wm2 (other columns are ignored). A blank
// value is not given; any other value that is not a finite number, and any
// timestamp that is not RFC 3339, is an error naming the line and column.
func ParseWeatherCSV(r io.Reader) ([]WeatherPoint, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	ti, tc, gc := -1, -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "timestamp_utc":
			ti = i
		case "temperature_c":
			tc = i
		case "ghi_wm2":
			gc = i
		}
	}
	if ti < 0 {
		return nil, errors.New("header: no column timestamp_utc")
	}
	if tc < 0 && gc < 0 {
		return nil, errors.New("header: neither temperature_c nor ghi_wm2")
	}
	var out []WeatherPoint
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if len(out) >= MaxWeatherPoints {
			return nil, fmt.Errorf("line %d: more than %d rows", line, MaxWeatherPoints)
		}
		ts := strings.TrimSpace(rec[ti])
		t, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			return nil, fmt.Errorf("line %d column timestamp_utc: %q is not an RFC 3339 time", line, ts)
		}
		p := WeatherPoint{Time: t.UTC()}
		for _, c := range []struct {
			idx  int
			name string
			dst  **float64
		}{{tc, "temperature_c", &p.TemperatureC}, {gc, "ghi_wm2", &p.GHIWm2}} {
			if c.idx < 0 {
				continue
			}
			vs := strings.TrimSpace(rec[c.idx])
			if vs == "" {
				continue
			}
			v, err := strconv.ParseFloat(vs, 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line %d column %s: %q is not a finite number", line, c.name, vs)
			}
			*c.dst = &v
		}
		if p.TemperatureC != nil || p.GHIWm2 != nil {
			out = append(out, p)
		}
	}
}
