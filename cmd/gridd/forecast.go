package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/forecast"
)

const forecastUsage = `usage: gridd forecast backtest --data FILE.csv --value-column V --from DATE [flags]`

// cmdForecast runs "gridd forecast backtest": day-ahead (or --horizon) forecasts
// issued at 00:00 UTC of every day in [--from, --to), each seeing only data
// before its origin, scored against the measured series.
func cmdForecast(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "backtest" {
		return usageError{errors.New(forecastUsage)}
	}
	fl := flag.NewFlagSet("forecast backtest", flag.ContinueOnError)
	cliFlags(fl, stderr)
	data := fl.String("data", "", "CSV file with the measured series")
	tcol := fl.String("time-column", "timestamp_utc", "RFC 3339 time column")
	vcol := fl.String("value-column", "", "value column")
	weather := fl.String("weather", "", "CSV file with a weather series covering the horizon, used as a perfect forecast: temperature (°C) for the regression, GHI (W/m²) for --method pv")
	wtcol := fl.String("weather-time-column", "timestamp_utc", "time column of --weather")
	wcol := fl.String("weather-column", "", "temperature column of --weather")
	horizon := fl.Duration("horizon", 24*time.Hour, "forecast horizon")
	step := fl.Duration("step", time.Hour, "forecast step")
	from := fl.String("from", "", "first origin date, YYYY-MM-DD (origins at 00:00 UTC)")
	to := fl.String("to", "", "end date, exclusive (default: the day after the last measurement minus the horizon)")
	method := fl.String("method", "auto", "auto (what dispatch runs: daily model selection with nowcast; for PV give --pv-*), select (model selection refitted at every origin), naive (weekly seasonal naive), daily, persistence, regression, des (double seasonal smoothing), fallback (the naive chain), pv (clear-sky index; needs --pv-*)")
	ghiCol := fl.String("weather-ghi-column", "", "GHI (W/m²) column of --weather, given to auto for a PV series")
	holidays := fl.String("holidays", "", "file of YYYY-MM-DD dates (one a line) treated as Sundays by the regression")
	var pv forecast.PVSite
	fl.Float64Var(&pv.LatitudeDeg, "pv-lat", math.NaN(), "PV array latitude, degrees (required for --method pv)")
	fl.Float64Var(&pv.LongitudeDeg, "pv-lon", math.NaN(), "PV array longitude, degrees (required for --method pv)")
	fl.Float64Var(&pv.TiltDeg, "pv-tilt", 30, "PV module tilt from horizontal, degrees")
	fl.Float64Var(&pv.AzimuthDeg, "pv-azimuth", 180, "direction the modules face, degrees clockwise from north")
	fl.Float64Var(&pv.CapacityKW, "pv-capacity", 0, "PV DC capacity, kW")
	tz := fl.String("tz", "UTC", "time zone of calendar features (e.g. Europe/London)")
	nonneg := fl.Bool("nonnegative", false, "floor forecasts at 0")
	out := fl.String("out", "", "write origin,timestamp,p10,p50,p90 rows to this CSV file")
	asJSON := fl.Bool("json", false, "print the scores as JSON")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case *data == "":
		return usageError{errors.New("--data is required")}
	case *vcol == "":
		return usageError{errors.New("--value-column is required")}
	case *from == "":
		return usageError{errors.New("--from is required")}
	case *weather != "" && *wcol == "" && *ghiCol == "":
		return usageError{errors.New("--weather needs --weather-column or --weather-ghi-column")}
	case *weather == "" && (*wcol != "" || *ghiCol != ""):
		return usageError{errors.New("--weather-column and --weather-ghi-column need --weather")}
	case *step <= 0 || *horizon < *step || *horizon%*step != 0:
		return usageError{fmt.Errorf("--horizon %v must be a positive multiple of --step %v", *horizon, *step)}
	}
	hist, err := readSeries(*data, *tcol, *vcol)
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		return fmt.Errorf("%s: no values in column %q", *data, *vcol)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usageError{fmt.Errorf("--tz: %w", err)}
	}
	reg := forecast.Regression{Location: loc}
	var wx []forecast.Point
	if *weather != "" && *wcol != "" {
		if wx, err = readSeries(*weather, *wtcol, *wcol); err != nil {
			return err
		}
		if *method != "pv" {
			reg.Temperature = wx
		}
	}
	if *holidays != "" {
		if reg.Holidays, err = readDates(*holidays); err != nil {
			return err
		}
	}
	var f forecast.Forecaster
	switch *method {
	case "auto":
		a := autoBacktest{a: &forecast.Auto{Location: loc, Holidays: reg.Holidays}, temp: reg.Temperature}
		if !math.IsNaN(pv.LatitudeDeg) || pv.CapacityKW != 0 {
			if err := pv.Validate(); err != nil {
				return usageError{fmt.Errorf("--pv-*: %w", err)}
			}
			a.pv, a.temp = &pv, nil
			*nonneg = true
			if *ghiCol != "" {
				if a.ghi, err = readSeries(*weather, *wtcol, *ghiCol); err != nil {
					return err
				}
			}
		}
		f = a
	case "select":
		f = forecast.Select{Regression: reg}
	case "naive":
		f = forecast.SeasonalNaive{Period: forecast.Week}
	case "daily":
		f = forecast.SeasonalNaive{Period: forecast.Day}
	case "persistence":
		f = forecast.Persistence{}
	case "regression":
		f = reg
	case "des":
		f = forecast.DoubleSeasonal{}
	case "fallback":
		f = forecast.Fallback{}
	case "pv":
		if err := pv.Validate(); err != nil {
			return usageError{fmt.Errorf("--pv-*: %w", err)}
		}
		f = forecast.PVClearSky{Site: pv, Irradiance: wx}
		*nonneg = true
	default:
		return usageError{fmt.Errorf("--method %q: want auto, select, naive, daily, persistence, regression, des, fallback or pv", *method)}
	}
	d0, err := time.Parse(time.DateOnly, *from)
	if err != nil {
		return usageError{fmt.Errorf("--from %q: want YYYY-MM-DD", *from)}
	}
	var d1 time.Time
	if *to != "" {
		if d1, err = time.Parse(time.DateOnly, *to); err != nil {
			return usageError{fmt.Errorf("--to %q: want YYYY-MM-DD", *to)}
		}
	} else {
		last := hist[0].Time
		for _, p := range hist {
			if p.Time.After(last) {
				last = p.Time
			}
		}
		d1 = last.Add(*step).Add(-*horizon).Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	var origins []time.Time
	for d := d0; d.Before(d1); d = d.AddDate(0, 0, 1) {
		origins = append(origins, d)
	}
	if len(origins) == 0 {
		return usageError{fmt.Errorf("no origins in [%s, %s)", d0.Format(time.DateOnly), d1.Format(time.DateOnly))}
	}

	var w *csv.Writer
	if *out != "" {
		fo, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer fo.Close()
		w = csv.NewWriter(fo)
		if err := w.Write([]string{"origin", "timestamp", "p10", "p50", "p90"}); err != nil {
			return err
		}
	}
	each := func(r *forecast.Result) error {
		if w == nil {
			return nil
		}
		o := r.IssuedAt.Format(time.RFC3339)
		for k, t := range r.Times {
			if err := w.Write([]string{o, t.Format(time.RFC3339), num(r.P10[k]), num(r.P50[k]), num(r.P90[k])}); err != nil {
				return err
			}
		}
		return nil
	}
	base := forecast.Request{Series: *vcol, History: hist, Step: *step, Steps: int(*horizon / *step), NonNegative: *nonneg}
	s, err := forecast.BacktestWith(ctx, f, base, origins, each)
	if err != nil {
		return err
	}
	if w != nil {
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("--out %s: %w", *out, err)
		}
	}
	chosen := ""
	for m, n := range s.Methods {
		if n > s.Methods[chosen] || (n == s.Methods[chosen] && m < chosen) {
			chosen = m
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{
			"series": *vcol, "method": *method, "chosen": chosen, "methods": s.Methods,
			"origins": s.Forecasts, "points": s.Points,
			"wape": jnum(s.WAPE), "mase": jnum(s.MASE), "mae": jnum(s.MAE), "rmse": jnum(s.RMSE), "bias": jnum(s.Bias),
			"pinball": jnum(s.Pinball), "coverage_p10_p90": jnum(s.Coverage),
		})
	}
	fmt.Fprintf(stdout, "%s: %d origins, %d points, method %s (most chosen %s)\nWAPE %.4f  MASE %.4f (vs weekly seasonal naive)  pinball %.4f  P10-P90 coverage %.3f\n",
		*vcol, s.Forecasts, s.Points, *method, chosen, s.WAPE, s.MASE, s.Pinball, s.Coverage)
	return nil
}

// autoBacktest hands forecast.Auto the weather and, for a PV series, the array
// with every request, as dispatch does.
type autoBacktest struct {
	a         *forecast.Auto
	temp, ghi []forecast.Point
	pv        *forecast.PVSite
}

func (b autoBacktest) Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error) {
	req.Temperature, req.GHI, req.PV = b.temp, b.ghi, b.pv
	return b.a.Forecast(ctx, req)
}

func readSeries(path, tcol, vcol string) ([]forecast.Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pts, err := forecast.ReadCSV(f, tcol, vcol)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pts, nil
}

// readDates reads one YYYY-MM-DD date a line; blank lines and lines starting
// with # are skipped.
func readDates(path string) ([]time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []time.Time
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		d, err := time.Parse(time.DateOnly, line)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: %q is not a YYYY-MM-DD date", path, i+1, line)
		}
		out = append(out, d)
	}
	return out, nil
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// jnum maps NaN (e.g. MASE without a naive value) to null.
func jnum(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
