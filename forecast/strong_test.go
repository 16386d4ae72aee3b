package forecast

import (
	"context"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// TestStrongMethodsBeatNaive backtests day-ahead forecasts over four weeks of
// daily origins on real data and fails if a method's skill falls to weekly
// seasonal naive's (MASE >= 1) or its P10–P90 band is badly calibrated.
func TestStrongMethodsBeatNaive(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	cases := []struct {
		file, col string
		f         Forecaster
	}{
		{"cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh", Select{Regression: Regression{Location: london}}},
		{"cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh", DoubleSeasonal{}},
		{"cambridge_buildings_load_hourly_2019.csv", "building_b9_kwh", Select{Regression: Regression{Location: london}}},
		{"konstanz_residential4_hourly_2016.csv", "site_load_kwh", Select{}},
		{"konstanz_residential4_hourly_2016.csv", "site_load_kwh", Regression{}},
		// The production forecaster: it must never fall below seasonal naive.
		{"cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh", &Auto{Location: london}},
		{"cambridge_buildings_load_hourly_2019.csv", "building_b57_kwh", &Auto{Location: london}},
		{"konstanz_residential4_hourly_2016.csv", "site_load_kwh", &Auto{}},
	}
	for _, c := range cases {
		hist := readData(t, c.file, c.col)
		var origins []time.Time
		// 61 origins, every 4th day from April to November.
		for d := 0; d < 61; d++ {
			origins = append(origins, time.Date(hist[0].Time.Year(), 4, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 4*d))
		}
		name := c.col + "/" + strings.TrimPrefix(strings.Split(strings.TrimPrefix(strings.TrimPrefix(typeName(c.f), "forecast."), "{"), "{")[0], "")
		t.Run(name, func(t *testing.T) {
			base := Request{Series: c.col, History: hist, Step: time.Hour, Steps: 24}
			s, err := Backtest(context.Background(), c.f, base, origins)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("methods %v WAPE %.3f MASE %.3f coverage %.3f pinball %.3f", s.Methods, s.WAPE, s.MASE, s.Coverage, s.Pinball)
			if !(s.MASE < 1) {
				t.Errorf("MASE %.3f against weekly seasonal naive, want < 1", s.MASE)
			}
			if s.Coverage < 0.6 || s.Coverage > 0.95 {
				t.Errorf("P10–P90 coverage %.3f outside [0.6, 0.95]", s.Coverage)
			}
		})
	}
}

func typeName(f Forecaster) string {
	switch f.(type) {
	case Select:
		return "select"
	case DoubleSeasonal:
		return "double_seasonal"
	case Regression:
		return "regression"
	case *Auto:
		return "auto"
	}
	return "other"
}

// profile is a load with a distinct value for every hour and day type, plus a
// heating term in temperature.
func profile(t time.Time, temp float64) float64 {
	base := 10 + 3*math.Sin(float64(t.Hour())/24*2*math.Pi)
	switch t.Weekday() {
	case time.Saturday:
		base -= 2
	case time.Sunday:
		base -= 4
	}
	return base + 0.5*math.Max(0, 15.5-temp)
}

func tempAt(t time.Time) float64 {
	h := t.Sub(t0).Hours()
	return 12 + 6*math.Sin(h/24*2*math.Pi/9.3) + 2*math.Cos(h/24*2*math.Pi)
}

func TestRegressionRecoversModel(t *testing.T) {
	origin := t0.Add(12 * Week)
	temp := series(t0, origin.Add(3*Day), time.Hour, tempAt)
	hist := series(t0, origin.Add(2*Day), time.Hour, func(t time.Time) float64 { return profile(t, tempAt(t)) })
	cases := []struct {
		name    string
		r       Regression
		maxErr  float64
		wantErr bool
	}{
		{"with temperature", Regression{Temperature: temp}, 1e-6, false},
		{"calendar only", Regression{}, 1e-6, false},
		{"short window", Regression{Window: Day}, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, tf := hist, tempAt
			if c.r.Temperature == nil {
				// Warm throughout: no heating term.
				tf = func(time.Time) float64 { return 20 }
				h = series(t0, origin, time.Hour, func(t time.Time) float64 { return profile(t, tf(t)) })
			}
			res, err := c.r.Forecast(context.Background(), Request{Series: "s", History: h, Origin: origin, Step: time.Hour, Steps: 48})
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "Window") {
					t.Fatalf("err = %v, want a Window error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != MethodRegression {
				t.Errorf("method %q", res.Method)
			}
			var worst float64
			for k, tm := range res.Times {
				worst = math.Max(worst, math.Abs(res.P50[k]-profile(tm, tf(tm))))
			}
			if worst > c.maxErr {
				t.Errorf("max |error| %g > %g", worst, c.maxErr)
			}
		})
	}
}

func TestRegressionNeedsTemperatureOverHorizon(t *testing.T) {
	origin := t0.Add(10 * Week)
	temp := series(t0, origin.Add(5*time.Hour), time.Hour, tempAt)
	// A 2-hour gap is filled from the hours around it; the end is not.
	temp = without(temp, origin.Add(-10*time.Hour), origin.Add(-8*time.Hour))
	hist := series(t0, origin, time.Hour, func(t time.Time) float64 { return profile(t, tempAt(t)) })
	_, err := Regression{Temperature: temp}.Forecast(context.Background(), Request{Series: "s", History: hist, Origin: origin, Step: time.Hour, Steps: 24})
	if err == nil || !strings.Contains(err.Error(), "step 8") {
		t.Fatalf("err = %v, want one naming step 8 (3 hours past the last temperature)", err)
	}
}

// TestStrongNoLeak: values at or after Origin must not change any fitted method.
func TestStrongNoLeak(t *testing.T) {
	origin := t0.Add(6*Week + 7*time.Hour)
	full := series(t0, origin.Add(4*Day), time.Hour, func(t time.Time) float64 { return profile(t, tempAt(t)) + math.Sin(float64(t.Unix())/7e3) })
	cut := without(full, origin, origin.Add(4*Day))
	poisoned := append(append([]Point(nil), cut...), series(origin, origin.Add(4*Day), time.Hour, func(time.Time) float64 { return 1e9 })...)
	site := PVSite{LatitudeDeg: 52, LongitudeDeg: 0, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 5}
	for _, f := range []Forecaster{Regression{}, DoubleSeasonal{Window: 5 * Week}, Select{}, PVClearSky{Site: site}} {
		t.Run(typeName(f), func(t *testing.T) {
			req := Request{Series: "s", History: cut, Origin: origin, Step: time.Hour, Steps: 36}
			a, err := f.Forecast(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			req.History = poisoned
			b, err := f.Forecast(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if a.Method != b.Method {
				t.Fatalf("method %q vs %q", a.Method, b.Method)
			}
			for k := range a.P50 {
				if a.P10[k] != b.P10[k] || a.P50[k] != b.P50[k] || a.P90[k] != b.P90[k] {
					t.Fatalf("step %d differs: %v/%v/%v vs %v/%v/%v", k, a.P10[k], a.P50[k], a.P90[k], b.P10[k], b.P50[k], b.P90[k])
				}
			}
		})
	}
}

func TestSelectFallsBackToFallback(t *testing.T) {
	origin := t0.Add(3 * Day)
	hist := series(t0, origin, time.Hour, hourOfWeek)
	res, err := Select{}.Forecast(context.Background(), Request{Series: "s", History: hist, Origin: origin, Step: time.Hour, Steps: 24})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != MethodDaily {
		t.Errorf("method %q, want %q with three days of history", res.Method, MethodDaily)
	}
	if _, err := (Select{Origins: -1}).Forecast(context.Background(), Request{Series: "s", History: hist, Origin: origin, Step: time.Hour, Steps: 24}); err == nil || !strings.Contains(err.Error(), "Origins") {
		t.Errorf("err = %v, want an Origins error", err)
	}
}

func TestSunPosition(t *testing.T) {
	cases := []struct {
		name         string
		lat, lon     float64
		t            time.Time
		minCZ, maxCZ float64
	}{
		// Equinox, solar noon on the equator at Greenwich: sun near zenith.
		{"equator noon", 0, 0, time.Date(2024, 3, 20, 12, 7, 0, 0, time.UTC), 0.999, 1},
		// Midnight: sun below the horizon.
		{"equator midnight", 0, 0, time.Date(2024, 3, 20, 0, 0, 0, 0, time.UTC), -1, -0.99},
		// Summer solstice noon at 52°N: elevation 61.5°, cos Z = sin 61.5°.
		{"52N solstice", 52, 0, time.Date(2024, 6, 21, 12, 2, 0, 0, time.UTC), 0.875, 0.885},
		// Solar noon moves with longitude: 15°E peaks an hour earlier.
		{"15E 11:00", 0, 15, time.Date(2024, 3, 20, 11, 7, 0, 0, time.UTC), 0.999, 1},
	}
	for _, c := range cases {
		cz, _, _ := SunCosZenith(c.lat, c.lon, c.t)
		if cz < c.minCZ || cz > c.maxCZ {
			t.Errorf("%s: cos zenith %.4f not in [%g, %g]", c.name, cz, c.minCZ, c.maxCZ)
		}
	}
}

func TestPVClearSky(t *testing.T) {
	site := PVSite{LatitudeDeg: 47.66, LongitudeDeg: 9.18, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 5}
	origin := time.Date(2024, 6, 10, 0, 0, 0, 0, time.UTC)
	// A constant clear-sky index of 0.7: the forecast must reproduce it.
	hist := series(origin.Add(-30*Day), origin, time.Hour, func(t time.Time) float64 { return 0.7 * site.ClearSkyKW(t, t.Add(time.Hour)) })
	res, err := PVClearSky{Site: site}.Forecast(context.Background(), Request{Series: "pv", History: hist, Origin: origin, Step: time.Hour, Steps: 48, NonNegative: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != MethodPVClearSky {
		t.Errorf("method %q", res.Method)
	}
	var peak float64
	for k, tm := range res.Times {
		want := 0.7 * site.ClearSkyKW(tm, tm.Add(time.Hour))
		peak = math.Max(peak, want)
		if math.Abs(res.P50[k]-want) > 0.02*site.CapacityKW {
			t.Errorf("%s: P50 %.3f, want %.3f", tm, res.P50[k], want)
		}
	}
	if peak < 0.5*site.CapacityKW*0.7 {
		t.Errorf("clear-sky peak %.2f kW implausibly low for a 5 kW array in June", peak/0.7)
	}

	// With an irradiance series, y = 0.004·GHI·(transposition): the fitted scale
	// recovers it on the horizon.
	ghi := series(origin.Add(-30*Day), origin.Add(3*Day), time.Hour, func(t time.Time) float64 {
		g, _ := site.clearSkyMean(t, t.Add(time.Hour))
		return g * (0.6 + 0.4*math.Sin(float64(t.Unix())/5e4))
	})
	irrHist := series(origin.Add(-30*Day), origin, time.Hour, func(t time.Time) float64 {
		g, kw := site.clearSkyMean(t, t.Add(time.Hour))
		if g <= 1 {
			return 0
		}
		return 0.8 * (g * (0.6 + 0.4*math.Sin(float64(t.Unix())/5e4))) * kw / g
	})
	res, err = PVClearSky{Site: site, Irradiance: ghi}.Forecast(context.Background(), Request{Series: "pv", History: irrHist, Origin: origin, Step: time.Hour, Steps: 48})
	if err != nil {
		t.Fatal(err)
	}
	if res.Method != MethodPVIrradiance {
		t.Errorf("method %q", res.Method)
	}
	for k, tm := range res.Times {
		g, kw := site.clearSkyMean(tm, tm.Add(time.Hour))
		want := 0.0
		if g > 1 {
			want = 0.8 * g * (0.6 + 0.4*math.Sin(float64(tm.Unix())/5e4)) * kw / g
		}
		if math.Abs(res.P50[k]-want) > 1e-6 {
			t.Errorf("%s: P50 %.4f, want %.4f", tm, res.P50[k], want)
		}
	}
}

func TestPVSiteValidate(t *testing.T) {
	ok := PVSite{LatitudeDeg: 47, LongitudeDeg: 9, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 5}
	cases := []struct {
		field string
		mod   func(*PVSite)
	}{
		{"LatitudeDeg", func(s *PVSite) { s.LatitudeDeg = 91 }},
		{"LongitudeDeg", func(s *PVSite) { s.LongitudeDeg = math.NaN() }},
		{"TiltDeg", func(s *PVSite) { s.TiltDeg = -1 }},
		{"AzimuthDeg", func(s *PVSite) { s.AzimuthDeg = 400 }},
		{"CapacityKW", func(s *PVSite) { s.CapacityKW = 0 }},
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		s := ok
		c.mod(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v", c.field, err)
		}
	}
}

func TestEVProfilesBundledData(t *testing.T) {
	f, err := os.Open("../data/trondheim_ev_sessions_2019.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ss, err := ReadEVSessionsCSV(f, "user_id", "plugin_utc", "plugout_utc", "energy_kwh")
	if err != nil {
		t.Fatal(err)
	}
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	profs, err := EVProfiles(ss, oslo)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range profs {
		total += p.Sessions
		var arr float64
		for _, a := range p.ArrivalsPerDay {
			arr += a
		}
		if got := arr * float64(p.Days); math.Abs(got-float64(p.Sessions)) > 1e-6 {
			t.Errorf("%s: arrivals×days %.3f != sessions %d", p.ChargerID, got, p.Sessions)
		}
		if p.MeanDwell <= 0 || p.MeanEnergyKWh < 0 {
			t.Errorf("%s: dwell %v energy %g", p.ChargerID, p.MeanDwell, p.MeanEnergyKWh)
		}
	}
	if total != len(ss) {
		t.Errorf("profiles hold %d sessions, input %d", total, len(ss))
	}
	// Residential charging: most arrivals fall in the afternoon and evening.
	var evening, all float64
	for _, p := range profs {
		for h, a := range p.ArrivalsPerDay {
			all += a * float64(p.Days)
			if h >= 14 && h < 23 {
				evening += a * float64(p.Days)
			}
		}
	}
	if evening/all < 0.5 {
		t.Errorf("only %.0f%% of arrivals between 14:00 and 23:00", 100*evening/all)
	}
	t.Logf("%d chargers, %d sessions, %.0f%% evening arrivals", len(profs), total, 100*evening/all)

	// Expected arrivals over one local day add up to the daily rate, whatever the step.
	p := profs[0]
	var perDay float64
	for _, a := range p.ArrivalsPerDay {
		perDay += a
	}
	day := time.Date(2019, 3, 5, 0, 0, 0, 0, oslo)
	for _, step := range []time.Duration{15 * time.Minute, time.Hour, 3 * time.Hour} {
		arr, err := p.ExpectedArrivals(day, step, int(Day/step), oslo)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, a := range arr {
			sum += a
		}
		if math.Abs(sum-perDay) > 1e-9 {
			t.Errorf("step %v: %g arrivals over a day, want %g", step, sum, perDay)
		}
	}
	if _, err := p.ExpectedArrivals(day, 0, 4, oslo); err == nil || !strings.Contains(err.Error(), "step 0s") {
		t.Errorf("step 0: err = %v", err)
	}
	// Expect uses the medians of the arrival hour.
	in := time.Date(2019, 3, 5, 17, 20, 0, 0, oslo)
	out, e := p.Expect(in, oslo)
	if out.Sub(in) != p.DwellByArrivalHour[17] || e != p.EnergyByArrivalHour[17] {
		t.Errorf("Expect: %v, %g; want dwell %v, %g", out.Sub(in), e, p.DwellByArrivalHour[17], p.EnergyByArrivalHour[17])
	}
}

func TestEVProfilesErrors(t *testing.T) {
	a := time.Date(2024, 1, 1, 18, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		s    EVSession
		want string
	}{
		{"plugout before plugin", EVSession{ChargerID: "c", PlugIn: a, PlugOut: a.Add(-time.Hour), EnergyKWh: 1}, "sessions[1]"},
		{"no charger", EVSession{PlugIn: a, PlugOut: a.Add(time.Hour), EnergyKWh: 1}, "ChargerID"},
		{"negative energy", EVSession{ChargerID: "c", PlugIn: a, PlugOut: a.Add(time.Hour), EnergyKWh: -1}, "EnergyKWh"},
		{"zero time", EVSession{ChargerID: "c", PlugOut: a, EnergyKWh: 1}, "zero"},
	}
	good := EVSession{ChargerID: "c", PlugIn: a, PlugOut: a.Add(time.Hour), EnergyKWh: 5}
	for _, c := range cases {
		if _, err := EVProfiles([]EVSession{good, c.s}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func FuzzReadEVSessionsCSV(f *testing.F) {
	f.Add("c,in,out,e\nx,2024-01-01T10:00:00Z,2024-01-01T12:00:00Z,3.5\n")
	f.Add("c,in,out,e\nx,2024-01-01T10:00:00Z,bad,3.5\n")
	f.Add("c,in,out,e\nx,2024-01-01T10:00:00Z,2024-01-01T12:00:00Z,NaN\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		ss, err := ReadEVSessionsCSV(strings.NewReader(s), "c", "in", "out", "e")
		if err != nil {
			return
		}
		for _, x := range ss {
			if math.IsNaN(x.EnergyKWh) || math.IsInf(x.EnergyKWh, 0) {
				t.Fatalf("non-finite energy accepted: %v", x)
			}
		}
		_, _ = EVProfiles(ss, nil)
	})
}

// arNoise is a deterministic AR(1) series with coefficient 0.9.
func arNoise(n int) []float64 {
	out := make([]float64, n)
	var x float64
	seed := uint64(12345)
	for i := range out {
		seed = seed*6364136223846793005 + 1442695040888963407
		u := float64(seed>>11)/float64(1<<53) - 0.5
		x = 0.9*x + 2*u
		out[i] = x
	}
	return out
}

// TestNowcastBlending: with persistent deviations from the profile, the
// residual correction must cut the error of the first hours.
func TestNowcastBlending(t *testing.T) {
	noise := arNoise(16 * 7 * 24)
	hist := make([]Point, len(noise))
	for i := range hist {
		tm := t0.Add(time.Duration(i) * time.Hour)
		hist[i] = Point{tm, profile(tm, 20) + noise[i]}
	}
	var origins []time.Time
	for d := 0; d < 20; d++ {
		origins = append(origins, t0.Add(13*Week+time.Duration(d)*Day+time.Duration(d%7)*time.Hour))
	}
	base := Request{Series: "s", History: hist, Step: time.Hour, Steps: 4}
	for _, c := range []struct {
		name     string
		with     Forecaster
		without  Forecaster
		maxRatio float64
	}{
		{"regression", Regression{}, Regression{NoAR: true}, 0.7},
		{"double seasonal", DoubleSeasonal{}, SeasonalNaive{Period: Week}, 0.7},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := Backtest(context.Background(), c.with, base, origins)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Backtest(context.Background(), c.without, base, origins)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("first 4 hours MAE %.3f with nowcast, %.3f without", a.MAE, b.MAE)
			if !(a.MAE < c.maxRatio*b.MAE) {
				t.Errorf("MAE %.3f with nowcast is not below %.1f × %.3f", a.MAE, c.maxRatio, b.MAE)
			}
		})
	}
}

// TestRegressionDST: a load that follows local wall-clock time keeps its shape
// across a DST change when the calendar features use the site's zone.
func TestRegressionDST(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	local := func(tm time.Time) float64 { return profile(tm.In(london), 20) }
	origin := time.Date(2024, 3, 31, 0, 0, 0, 0, time.UTC) // clocks go forward at 01:00 UTC
	hist := series(origin.Add(-10*Week), origin, time.Hour, local)
	for _, c := range []struct {
		name   string
		loc    *time.Location
		maxErr float64
		minErr float64
	}{
		{"site zone", london, 1e-6, 0},
		{"UTC", nil, math.Inf(1), 0.1},
	} {
		res, err := Regression{Location: c.loc, NoAR: true}.Forecast(context.Background(), Request{Series: "s", History: hist, Origin: origin, Step: time.Hour, Steps: 48})
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for k, tm := range res.Times {
			worst = math.Max(worst, math.Abs(res.P50[k]-local(tm)))
		}
		if worst > c.maxErr || worst < c.minErr {
			t.Errorf("%s: max |error| %g, want in [%g, %g]", c.name, worst, c.minErr, c.maxErr)
		}
	}
}

// TestEVExpectHoldout: dwell and energy expected from a charger's history must
// beat the fleet-wide medians on later sessions.
func TestEVExpectHoldout(t *testing.T) {
	f, err := os.Open("../data/trondheim_ev_sessions_2019.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ss, err := ReadEVSessionsCSV(f, "user_id", "plugin_utc", "plugout_utc", "energy_kwh")
	if err != nil {
		t.Fatal(err)
	}
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	split := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	var train, test []EVSession
	var dw, en []float64
	for _, s := range ss {
		if s.PlugIn.Before(split) {
			train = append(train, s)
			dw = append(dw, s.PlugOut.Sub(s.PlugIn).Hours())
			en = append(en, s.EnergyKWh)
		} else {
			test = append(test, s)
		}
	}
	profs, err := EVProfiles(train, oslo)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]EVProfile{}
	for _, p := range profs {
		by[p.ChargerID] = p
	}
	fleetDwell, fleetEnergy := median(dw), median(en)
	var n int
	var eDw, eEn, fDw, fEn float64
	for _, s := range test {
		p, ok := by[s.ChargerID]
		if !ok {
			continue
		}
		out, e := p.Expect(s.PlugIn, oslo)
		actual := s.PlugOut.Sub(s.PlugIn).Hours()
		eDw += math.Abs(out.Sub(s.PlugIn).Hours() - actual)
		fDw += math.Abs(fleetDwell - actual)
		eEn += math.Abs(e - s.EnergyKWh)
		fEn += math.Abs(fleetEnergy - s.EnergyKWh)
		n++
	}
	if n < 500 {
		t.Fatalf("only %d held-out sessions at known chargers", n)
	}
	t.Logf("%d held-out sessions: dwell MAE %.2f h (fleet median %.2f h), energy MAE %.2f kWh (fleet median %.2f kWh)",
		n, eDw/float64(n), fDw/float64(n), eEn/float64(n), fEn/float64(n))
	if !(eDw < fDw) || !(eEn < fEn) {
		t.Errorf("per-charger expectations do not beat the fleet medians")
	}
}
