package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gridd/gridd/forecast"
)

var (
	pvSite       forecast.PVSite
	bandOrigins  int
	selOrigins   int
	halfLife     time.Duration
	weatherFile  string
	weatherCol   string
	pvName       bool
	originOffset time.Duration
)

// autoWith gives the production forecaster the weather and, for a PV series,
// the array, as dispatch does.
type autoWith struct {
	a    *forecast.Auto
	temp []forecast.Point
	pv   forecast.PVSite
	isPV bool
}

func (w autoWith) Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error) {
	req.Temperature = w.temp
	if w.isPV {
		pv := w.pv
		req.PV = &pv
	}
	return w.a.Forecast(ctx, req)
}

func main() {
	data := flag.String("data", "", "CSV file")
	tcol := flag.String("time-column", "timestamp_utc", "time column")
	vcol := flag.String("value-column", "", "value column")
	from := flag.String("from", "", "first origin date (YYYY-MM-DD, UTC midnight)")
	to := flag.String("to", "", "end date, exclusive")
	every := flag.Int("every", 1, "use every Nth day as an origin")
	flag.DurationVar(&originOffset, "offset", 0, "issue each forecast this long after 00:00 UTC (intraday origins)")
	methods := flag.String("methods", "naive,auto", "comma-separated methods: naive, daily, fallback, regression, des, select, pv, auto (the production forecaster; a PV series with -pv-series)")
	flag.BoolVar(&pvName, "pv-series", false, "the series is PV generation: auto gets the array (-lat, -lon, -tilt, -azimuth, -capacity)")
	tz := flag.String("tz", "UTC", "time zone of calendar features")
	nonneg := flag.Bool("nonnegative", false, "floor forecasts at 0")
	flag.StringVar(&weatherFile, "weather", "", "CSV with temperature (°C) for the regression")
	flag.StringVar(&weatherCol, "weather-column", "air_temperature_degc", "temperature column of --weather")
	flag.DurationVar(&halfLife, "halflife", 0, "Regression.HalfLife (0: default, negative: unweighted)")
	flag.IntVar(&selOrigins, "select-origins", 0, "Select.Origins (0: default)")
	flag.IntVar(&bandOrigins, "band-origins", 0, "BandOptions.Origins (0: default)")
	flag.Float64Var(&pvSite.LatitudeDeg, "lat", 47.66, "PV latitude")
	flag.Float64Var(&pvSite.LongitudeDeg, "lon", 9.18, "PV longitude")
	flag.Float64Var(&pvSite.TiltDeg, "tilt", 30, "PV tilt")
	flag.Float64Var(&pvSite.AzimuthDeg, "azimuth", 180, "PV azimuth")
	flag.Float64Var(&pvSite.CapacityKW, "capacity", 5, "PV capacity kW")
	flag.Parse()
	if err := run(*data, *tcol, *vcol, *from, *to, *every, *methods, *tz, *nonneg); err != nil {
		fmt.Fprintln(os.Stderr, "forecastbench:", err)
		os.Exit(1)
	}
}

func run(data, tcol, vcol, from, to string, every int, methods, tz string, nonneg bool) error {
	f, err := os.Open(data)
	if err != nil {
		return err
	}
	defer f.Close()
	hist, err := forecast.ReadCSV(f, tcol, vcol)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return err
	}
	d0, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return err
	}
	d1, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return err
	}
	var origins []time.Time
	for d := d0; d.Before(d1); d = d.AddDate(0, 0, every) {
		origins = append(origins, d.Add(originOffset))
	}
	reg := forecast.Regression{Location: loc, HalfLife: halfLife}
	if weatherFile != "" {
		wf, err := os.Open(weatherFile)
		if err != nil {
			return err
		}
		defer wf.Close()
		if reg.Temperature, err = forecast.ReadCSV(wf, "timestamp_utc", weatherCol); err != nil {
			return err
		}
	}
	for _, name := range strings.Split(methods, ",") {
		var fc forecast.Forecaster
		switch name {
		case "naive":
			fc = forecast.SeasonalNaive{Period: forecast.Week}
		case "daily":
			fc = forecast.SeasonalNaive{Period: forecast.Day}
		case "regression":
			fc = reg
		case "des":
			fc = forecast.DoubleSeasonal{}
		case "pv":
			fc = forecast.PVClearSky{Site: pvSite}
		case "auto":
			a := &forecast.Auto{Location: loc, Holidays: reg.Holidays, Origins: selOrigins, Band: forecast.BandOptions{Origins: bandOrigins}}
			fc = autoWith{a, reg.Temperature, pvSite, pvName}
		case "fallback":
			fc = forecast.Fallback{}
		case "select":
			fc = forecast.Select{Regression: reg, Origins: selOrigins, Band: forecast.BandOptions{Origins: bandOrigins}}
		default:
			return fmt.Errorf("unknown method %q", name)
		}
		start := time.Now()
		base := forecast.Request{Series: vcol, History: hist, Step: time.Hour, Steps: 24, NonNegative: nonneg}
		s, err := forecast.Backtest(context.Background(), fc, base, origins)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out := map[string]any{
			"series": vcol, "method": name, "origins": len(origins), "points": s.Points,
			"wape": s.WAPE, "mase": s.MASE, "coverage": s.Coverage, "pinball": s.Pinball,
			"methods": s.Methods, "seconds": time.Since(start).Seconds(),
		}
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	}
	return nil
}
