package scengen

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gridd/gridd/optimizer"
)

// Data file paths inside the file system passed to Generate (gridd.Files
// holds them).
const (
	LoadFile  = "data/cambridge_buildings_load_hourly_2019.csv"
	PVFile    = "data/konstanz_residential4_hourly_2016.csv"
	PriceFile = "data/agile_octopus_import_price_hourly_2019.csv"
	EVFile    = "data/trondheim_ev_sessions_2019.csv"
)

// Params say what to generate.
type Params struct {
	// Seed selects every random choice; equal Params give equal scenarios.
	Seed uint64
	// EVs, Batteries and Feeders count EV sessions, stationary batteries
	// and feeder nodes below the root (0 feeders: everything on the root).
	EVs, Batteries, Feeders int
	// Steps is the horizon length in steps of StepMinutes (default 15,
	// which must divide 60). The horizon must fit in the data year.
	Steps       int
	StepMinutes int
	// V2GShare is the fraction of EV sessions allowed to discharge
	// (default 0.1; a negative value means none).
	V2GShare float64
}

// Limits on Params.
const (
	MaxEVs       = 1_000_000
	MaxBatteries = 100_000
	MaxFeeders   = 10_000
)

func (p *Params) check() error {
	var errs []error
	if p.EVs < 0 || p.EVs > MaxEVs {
		errs = append(errs, fmt.Errorf("evs: %d must be in 0..%d", p.EVs, MaxEVs))
	}
	if p.Batteries < 0 || p.Batteries > MaxBatteries {
		errs = append(errs, fmt.Errorf("batteries: %d must be in 0..%d", p.Batteries, MaxBatteries))
	}
	if p.Feeders < 0 || p.Feeders > MaxFeeders {
		errs = append(errs, fmt.Errorf("feeders: %d must be in 0..%d", p.Feeders, MaxFeeders))
	}
	if p.StepMinutes == 0 {
		p.StepMinutes = 15
	}
	if p.StepMinutes <= 0 || p.StepMinutes > 60 || 60%p.StepMinutes != 0 {
		errs = append(errs, fmt.Errorf("step_minutes: %d must divide 60", p.StepMinutes))
	} else if maxSteps := 300 * 24 * 60 / p.StepMinutes; p.Steps <= 0 || p.Steps > maxSteps {
		errs = append(errs, fmt.Errorf("steps: %d must be in 1..%d (300 days)", p.Steps, maxSteps))
	}
	if math.IsNaN(p.V2GShare) || p.V2GShare > 1 {
		errs = append(errs, fmt.Errorf("v2g_share: %v must be at most 1", p.V2GShare))
	}
	if p.V2GShare == 0 {
		p.V2GShare = 0.1
	}
	return errors.Join(errs...)
}

// series is an hourly data column with its first timestamp; NaN marks a
// missing value.
type series struct {
	start time.Time
	v     []float64
}

func (s series) at(t time.Time) float64 {
	i := int(t.Sub(s.start) / time.Hour)
	if i < 0 || i >= len(s.v) {
		return math.NaN()
	}
	return s.v[i]
}

// readHourly reads an hourly CSV with a timestamp_utc first column and
// returns the named columns.
func readHourly(fsys fs.FS, path string, cols ...string) ([]series, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scengen: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("scengen: %s: header: %w", path, err)
	}
	idx := make([]int, len(cols))
	for k, c := range cols {
		idx[k] = -1
		for i, h := range head {
			if h == c {
				idx[k] = i
			}
		}
		if idx[k] < 0 {
			return nil, fmt.Errorf("scengen: %s: no column %q", path, c)
		}
	}
	out := make([]series, len(cols))
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("scengen: %s: %w", path, err)
		}
		ts, err := time.Parse(time.RFC3339, rec[0])
		if err != nil {
			return nil, fmt.Errorf("scengen: %s line %d: timestamp_utc %q: %w", path, line, rec[0], err)
		}
		for k := range cols {
			if out[k].v == nil {
				out[k].start = ts
			}
			if want := out[k].start.Add(time.Duration(len(out[k].v)) * time.Hour); !ts.Equal(want) {
				return nil, fmt.Errorf("scengen: %s line %d: timestamp %s, want the next hour %s", path, line, rec[0], want.Format(time.RFC3339))
			}
			x := math.NaN()
			if s := rec[idx[k]]; s != "" {
				x, err = strconv.ParseFloat(s, 64)
				if err != nil {
					return nil, fmt.Errorf("scengen: %s line %d: %s %q: %w", path, line, cols[k], s, err)
				}
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("scengen: %s line %d: %s %q is not a finite number", path, line, cols[k], s)
				}
			}
			out[k].v = append(out[k].v, x)
		}
	}
	return out, nil
}

type session struct {
	plugin   time.Time
	duration time.Duration
	energy   float64
}

func readSessions(fsys fs.FS) ([]session, error) {
	f, err := fsys.Open(EVFile)
	if err != nil {
		return nil, fmt.Errorf("scengen: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("scengen: %s: header: %w", EVFile, err)
	}
	want := []string{"plugin_utc", "plugout_utc", "energy_kwh"}
	idx := map[string]int{}
	for i, h := range head {
		idx[h] = i
	}
	for _, w := range want {
		if _, ok := idx[w]; !ok {
			return nil, fmt.Errorf("scengen: %s: no column %q", EVFile, w)
		}
	}
	var out []session
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("scengen: %s: %w", EVFile, err)
		}
		in, err1 := time.Parse(time.RFC3339, rec[idx["plugin_utc"]])
		outT, err2 := time.Parse(time.RFC3339, rec[idx["plugout_utc"]])
		e, err3 := strconv.ParseFloat(rec[idx["energy_kwh"]], 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("scengen: %s line %d: %w", EVFile, line, err)
		}
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return nil, fmt.Errorf("scengen: %s line %d: energy_kwh %q is not a finite number", EVFile, line, rec[idx["energy_kwh"]])
		}
		if !outT.After(in) || e < 0 {
			// The extract keeps sessions with a known plug-out; a session
			// without a positive duration or energy cannot be replayed.
			continue
		}
		out = append(out, session{in, outT.Sub(in), e})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("scengen: %s: no usable sessions", EVFile)
	}
	return out, nil
}

// Generate builds a scenario from the data in fsys (paths LoadFile,
// PVFile, PriceFile, EVFile; gridd.Files holds them).
//
// Construction: a day of 2019 is drawn such that every hour of the horizon
// has a price, a load for each building and (same day of year, 2016) a PV
// value; the horizon starts at that day's 00:00 UTC. Import prices are the
// Agile prices of the hour containing each step; export prices are a flat
// 0.05 per kWh, or the import price where that is lower. The root has the
// feeders as children. Each feeder gets one Cambridge building's load,
// scaled by a factor drawn in [0.5, 1.5], and a PV plant: the Konstanz
// house's PV scaled to 20–100 times its size (half of the plants
// curtailable). Each EV session replays a real Trondheim session drawn at
// random (plug-in time of day, duration, energy), on a random feeder and
// day of the horizon, with a 3.7, 7.4 or 11 kW charger; a V2GShare of them
// may discharge at the charging power within a 10 kWh budget. Batteries
// are 100–500 kWh with half-C power on random feeders. Node and grid
// limits are sized so the fixed load always fits, while the flexible
// assets' combined power does not: node limits and the demand charge bind.
func Generate(fsys fs.FS, p Params) (*optimizer.Scenario, error) {
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("scengen: %w", err)
	}
	loads, err := readHourly(fsys, LoadFile, "building_b9_kwh", "building_b57_kwh", "building_b36_kwh", "building_b40_kwh")
	if err != nil {
		return nil, err
	}
	pvs, err := readHourly(fsys, PVFile, "pv_kwh")
	if err != nil {
		return nil, err
	}
	prices, err := readHourly(fsys, PriceFile, "import_price_gbp_per_kwh")
	if err != nil {
		return nil, err
	}
	sessions, err := readSessions(fsys)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x67726964))
	step := time.Duration(p.StepMinutes) * time.Minute
	T := p.Steps
	horizon := time.Duration(T) * step

	// Pick a day whose horizon is fully covered by the data.
	year := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	pvShift := year.Sub(time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC))
	covered := func(start time.Time) bool {
		for h := start; h.Before(start.Add(horizon)); h = h.Add(time.Hour) {
			if math.IsNaN(prices[0].at(h)) || math.IsNaN(pvs[0].at(h.Add(-pvShift))) {
				return false
			}
			for _, l := range loads {
				if math.IsNaN(l.at(h)) {
					return false
				}
			}
		}
		return true
	}
	days := 365 - int(math.Ceil(horizon.Hours()/24))
	if days <= 0 {
		return nil, fmt.Errorf("scengen: steps: %d steps of %d minutes do not fit in the data year", T, p.StepMinutes)
	}
	var start time.Time
	d0 := rng.IntN(days)
	for k := 0; k < days; k++ {
		s := year.AddDate(0, 0, (d0+k)%days)
		if covered(s) {
			start = s
			break
		}
	}
	if start.IsZero() {
		return nil, errors.New("scengen: no day of the data year has every value of the horizon")
	}
	stepTime := func(t int) time.Time { return start.Add(time.Duration(t) * step) }

	s := &optimizer.Scenario{Start: start, StepMinutes: p.StepMinutes, Steps: T}
	s.Grid.ImportPrice = make([]float64, T)
	s.Grid.ExportPrice = make([]float64, T)
	for t := 0; t < T; t++ {
		s.Grid.ImportPrice[t] = prices[0].at(stepTime(t).Truncate(time.Hour))
		s.Grid.ExportPrice[t] = math.Min(0.05, s.Grid.ImportPrice[t])
	}

	// Nodes.
	s.Nodes = []optimizer.Node{{ID: "root"}}
	feeders := []string{"root"}
	for f := 0; f < p.Feeders; f++ {
		id := fmt.Sprintf("feeder-%03d", f+1)
		s.Nodes = append(s.Nodes, optimizer.Node{ID: id, Parent: "root"})
		feeders = append(feeders, id)
	}
	if p.Feeders > 0 {
		feeders = feeders[1:]
	}
	nF := len(feeders)
	load := make([][]float64, nF)  // per feeder, per step
	flexUp := make([]float64, nF)  // charging power of the feeder's assets
	fixedPV := make([]float64, nF) // peak non-curtailable PV
	for f, id := range feeders {
		b := rng.IntN(len(loads))
		scale := 0.5 + rng.Float64()
		fc := make([]float64, T)
		for t := range fc {
			fc[t] = round3(scale * loads[b].at(stepTime(t).Truncate(time.Hour)))
		}
		load[f] = fc
		s.Loads = append(s.Loads, optimizer.Load{ID: "load-" + id, Node: id, ForecastKW: fc})
		pvScale := 20 + 80*rng.Float64()
		pf := make([]float64, T)
		for t := range pf {
			pf[t] = round3(pvScale * math.Max(0, pvs[0].at(stepTime(t).Truncate(time.Hour).Add(-pvShift))))
		}
		curt := rng.IntN(2) == 0
		if !curt {
			fixedPV[f] = maxOf(pf)
		}
		s.PV = append(s.PV, optimizer.PV{ID: "pv-" + id, Node: id, ForecastKW: pf, Curtailable: curt})
	}

	for i := 0; i < p.Batteries; i++ {
		f := rng.IntN(nF)
		capKWh := math.Round(100 + 400*rng.Float64())
		power := capKWh / 2
		term := 0.5 * capKWh
		s.Batteries = append(s.Batteries, optimizer.Battery{
			ID: fmt.Sprintf("bess-%04d", i+1), Node: feeders[f],
			SoCKWh: 0.5 * capKWh, MinSoCKWh: 0.1 * capKWh, MaxSoCKWh: 0.95 * capKWh,
			MaxChargeKW: power, MaxDischargeKW: power, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95,
			WearCostPerKWh: 0.01, TerminalSoCKWh: &term,
		})
		flexUp[f] += power
	}

	days24 := int(math.Max(1, math.Floor(horizon.Hours()/24)))
	chargers := []float64{3.7, 7.4, 11}
	for i := 0; i < p.EVs; i++ {
		se := sessions[rng.IntN(len(sessions))]
		f := rng.IntN(nF)
		tod := se.plugin.Sub(se.plugin.Truncate(24 * time.Hour))
		arrive := time.Duration(rng.IntN(days24))*24*time.Hour + tod
		arr := int(arrive / step)
		if arr >= T {
			arr = T - 1
		}
		dur := int(math.Ceil(float64(se.duration) / float64(step)))
		kw := chargers[rng.IntN(len(chargers))]
		e := optimizer.EVSession{
			ID: fmt.Sprintf("ev-%06d", i+1), Node: feeders[f], ArrivalStep: arr, DepartureStep: arr + max(1, dur),
			EnergyKWh: se.energy, MaxChargeKW: kw, WearCostPerKWh: 0.02, UnmetPenaltyPerKWh: 0.5,
		}
		if rng.Float64() < p.V2GShare {
			e.MaxDischargeKW = kw
			e.V2GBudgetKWh = 10
		}
		s.EVSessions = append(s.EVSessions, e)
		flexUp[f] += kw * 0.3 // sessions overlap only partly
	}

	// Limits: each feeder carries its peak load, some PV back-feed and
	// part of its flexible assets' charging power.
	total := make([]float64, T)
	sumLimits := 0.0
	for f := range feeders {
		for t := range total {
			total[t] += load[f][t]
		}
		lim := math.Ceil(1.1*math.Max(maxOf(load[f]), fixedPV[f]) + 0.6*flexUp[f] + 10)
		if p.Feeders > 0 {
			s.Nodes[f+1].LimitKW = lim
		}
		sumLimits += lim
	}
	peak := maxOf(total)
	s.Nodes[0].LimitKW = math.Ceil(math.Max(1.2*peak, 0.8*sumLimits) + 10)
	s.Grid.ImportLimitKW = s.Nodes[0].LimitKW
	allPV := 0.0
	for _, pv := range s.PV {
		allPV += maxOf(pv.ForecastKW)
	}
	s.Grid.ExportLimitKW = math.Ceil(allPV + 10)
	s.Grid.DemandChargePerKW = 5
	s.Grid.PeakSoFarKW = math.Round(0.8 * peak)
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("scengen: generated an invalid scenario (a bug): %w", err)
	}
	return s, nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if len(v) == 0 {
		return 0
	}
	return m
}
