package dispatch_test

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

// scnSite is a site with a root meter, loads, a PV plant and a battery; TARIFF, SAFETY
// and BESS_SAFETY are filled in per test.
const scnSite = `
site: {name: scn, timezone: Europe/Berlin, cycle: "*/15 * * * *", step: 15m, horizon: 2h}
tariff:
  import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}]
  export_price_per_kwh: 0.05
  TARIFF
grid: {import_limit_kw: 1000, export_limit_kw: 500}
nodes: [{id: sub, parent: "", limit_kw: 1000}]
SAFETY
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:1502", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: load-a, kind: load, node: sub, endpoint: "127.0.0.1:1502", unit_id: 2, profile: "builtin:load-meter"}
  - {id: load-b, kind: load, node: sub, endpoint: "127.0.0.1:1502", unit_id: 3, profile: "builtin:load-meter"}
  - {id: pv, kind: pv, node: sub, endpoint: "127.0.0.1:1502", unit_id: 4, profile: "builtin:pv-inverter", pv: {capacity_kw: 100}}
  - id: bess
    kind: bess
    node: sub
    endpoint: "127.0.0.1:1502"
    unit_id: 5
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}
    BESS_SAFETY
`

// bandForecaster forecasts every load at 100 kW and the PV plant at 50 kW, with the
// band given per series (P90−P50 for loads, P50−P10 for PV).
type bandForecaster map[string]float64

func (b bandForecaster) Forecast(_ context.Context, req forecast.Request) (*forecast.Result, error) {
	mid := 100.0
	if strings.HasPrefix(req.Series, "pv:") {
		mid = 50
	}
	res := &forecast.Result{Series: req.Series, Method: "test", IssuedAt: req.Origin, Band: "test"}
	for k := 0; k < req.Steps; k++ {
		res.Times = append(res.Times, req.Origin.Add(time.Duration(k)*req.Step))
		res.P10 = append(res.P10, mid-b[req.Series])
		res.P50 = append(res.P50, mid)
		res.P90 = append(res.P90, mid+b[req.Series])
	}
	return res, nil
}

type noPoller struct{}

func (noPoller) Poll(context.Context) []fieldbus.Reading { return nil }

type noWriter struct{}

func (noWriter) Write(context.Context, string, string, float64) (fieldbus.WriteResult, error) {
	return fieldbus.WriteResult{}, nil
}

// scnService builds a dispatch service on the embedded store for scnSite with the
// placeholders replaced; it does not talk to any device.
func scnService(t *testing.T, repl map[string]string, fc dispatch.Forecaster) (*dispatch.Service, storage.Store, *site.Config) {
	t.Helper()
	yml := scnSite
	for _, k := range []string{"TARIFF", "SAFETY", "BESS_SAFETY"} {
		yml = strings.Replace(yml, k, repl[k], 1)
	}
	cfg, err := site.Parse("scn.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if fc == nil {
		fc = bandForecaster{}
	}
	svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: noPoller{}, Writer: noWriter{},
		Forecaster: fc, Clock: clock.NewSim(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, cfg
}

type sample struct {
	at    string // RFC 3339
	point string
	kw    float64
}

// TestPeakSoFarFromIntervalAverages: the peak so far is the billing period's highest
// closed demand-interval mean, from the stored interval averages, else from the mean
// of the polls in each interval; never one instantaneous poll, never another period.
func TestPeakSoFarFromIntervalAverages(t *testing.T) {
	const avg, poll = site.PointImportAvgKW, "active_power_kw"
	// polls returns one poll a minute over the 15 minutes from start, all at kw but
	// the spike in the middle.
	polls := func(start string, kw, spike float64) []sample {
		t0, _ := time.Parse(time.RFC3339, start)
		var out []sample
		for m := 0; m < 15; m++ {
			v := kw
			if m == 7 {
				v = spike
			}
			out = append(out, sample{t0.Add(time.Duration(m) * time.Minute).Format(time.RFC3339), poll, v})
		}
		return out
	}
	cat := func(ss ...[]sample) []sample {
		var out []sample
		for _, s := range ss {
			out = append(out, s...)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		tariff  string
		at      string
		samples []sample
		want    float64
	}{
		{"a spike in the polls counts only through its interval's mean", "", "2024-06-12T10:00:00Z",
			polls("2024-06-10T08:00:00Z", 100, 400), 120},
		{"interval averages, not the polls, once they exist", "", "2024-06-12T10:00:00Z",
			cat(polls("2024-06-11T07:00:00Z", 100, 100), []sample{{"2024-06-11T08:00:00Z", avg, 150}, {"2024-06-11T09:00:00Z", avg, 180}},
				polls("2024-06-11T09:30:00Z", 100, 900)), 180},
		{"polls before the first average still count", "", "2024-06-12T10:00:00Z",
			cat(polls("2024-06-03T12:00:00Z", 200, 200), []sample{{"2024-06-11T08:00:00Z", avg, 150}}), 200},
		{"export is no peak", "", "2024-06-12T10:00:00Z",
			[]sample{{"2024-06-11T08:00:00Z", avg, -40}}, 0},
		{"the interval in progress is left out", "", "2024-06-12T10:10:00Z",
			cat(polls("2024-06-12T09:00:00Z", 110, 110), polls("2024-06-12T10:00:00Z", 300, 300)), 110},
		{"the previous month is another period", "", "2024-06-12T10:00:00Z",
			[]sample{{"2024-05-31T21:45:00Z", avg, 300}, {"2024-05-31T22:00:00Z", avg, 100}}, 100},
		{"a billing day moves the period", "demand_billing_day: 15", "2024-06-12T10:00:00Z",
			[]sample{{"2024-05-14T21:45:00Z", avg, 400}, {"2024-05-20T10:00:00Z", avg, 250}, {"2024-06-11T10:00:00Z", avg, 100}}, 250},
		// 31 March 2024: clocks go forward at 02:00 in Berlin; the local day
		// begins at 23:00 UTC the day before.
		{"daily period on a 23-hour day", "demand_period: daily", "2024-03-31T08:00:00Z",
			[]sample{{"2024-03-30T22:45:00Z", avg, 300}, {"2024-03-30T23:00:00Z", avg, 120}, {"2024-03-31T07:00:00Z", avg, 90}}, 120},
		// 27 October 2024: clocks go back at 03:00; the local day runs from
		// 22:00 UTC the day before to 23:00 UTC.
		{"daily period on a 25-hour day", "demand_period: daily", "2024-10-27T22:30:00Z",
			[]sample{{"2024-10-26T21:45:00Z", avg, 300}, {"2024-10-26T22:00:00Z", avg, 130}, {"2024-10-27T22:15:00Z", avg, 125}}, 130},
		// Monday 25 March 2024 00:00 in Berlin is 24 March 23:00 UTC.
		{"weekly period from Monday in site time", "demand_period: weekly", "2024-03-27T12:00:00Z",
			[]sample{{"2024-03-24T22:45:00Z", avg, 300}, {"2024-03-24T23:00:00Z", avg, 140}}, 140},
		{"a 30-minute interval averages its polls", "demand_interval: 30m", "2024-06-12T10:00:00Z",
			cat(polls("2024-06-10T08:00:00Z", 100, 400), polls("2024-06-10T08:15:00Z", 100, 100)), 110},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, st, _ := scnService(t, map[string]string{"TARIFF": "demand_charge_per_kw: 10\n  " + tc.tariff}, nil)
			var ss []storage.Sample
			for _, s := range tc.samples {
				at, err := time.Parse(time.RFC3339, s.at)
				if err != nil {
					t.Fatal(err)
				}
				ss = append(ss, storage.Sample{Time: at, DeviceID: "meter", Point: s.point, Value: s.kw, Quality: storage.QualityGood})
			}
			if err := st.WriteTelemetry(context.Background(), ss); err != nil {
				t.Fatal(err)
			}
			at, _ := time.Parse(time.RFC3339, tc.at)
			scn, err := svc.BuildScenario(context.Background(), at, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(scn.Grid.PeakSoFarKW-tc.want) > 1e-9 {
				t.Errorf("peak so far %v kW, want %v", scn.Grid.PeakSoFarKW, tc.want)
			}
		})
	}
}

// TestPeakPeriodStartsInScenario: a billing period that begins inside the horizon
// (midnight in Berlin, 22:00 UTC in summer, for daily billing) is marked in the
// scenario so that the optimiser charges it on its own; none without one.
func TestPeakPeriodStartsInScenario(t *testing.T) {
	for _, tc := range []struct {
		name, tariff, at string
		want             []int
	}{
		{"daily, across site midnight", "demand_charge_per_kw: 10\n  demand_period: daily", "2024-06-12T21:30:00Z", []int{2}},
		{"daily, within a day", "demand_charge_per_kw: 10\n  demand_period: daily", "2024-06-12T10:00:00Z", nil},
		{"monthly, within a month", "demand_charge_per_kw: 10", "2024-06-12T21:30:00Z", nil},
		{"monthly, across the 1st", "demand_charge_per_kw: 10", "2024-06-30T21:00:00Z", []int{4}},
		{"no demand charge", "demand_charge_per_kw: 0\n  demand_period: daily", "2024-06-12T21:30:00Z", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, _, _ := scnService(t, map[string]string{"TARIFF": tc.tariff}, nil)
			at, _ := time.Parse(time.RFC3339, tc.at)
			scn, err := svc.BuildScenario(context.Background(), at, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(scn.Grid.PeakPeriodStarts, tc.want) {
				t.Errorf("peak period starts %v, want %v", scn.Grid.PeakPeriodStarts, tc.want)
			}
		})
	}
}

// TestPeakMarginFromForecastBand: the margin is factor × the root sum of squares of
// the loads' P90−P50 and the PV's P50−P10, only with a demand charge.
func TestPeakMarginFromForecastBand(t *testing.T) {
	bands := bandForecaster{"load:load-a": 3, "load:load-b": 4, "pv:pv": 12}
	for _, tc := range []struct {
		name   string
		tariff string
		want   float64 // per step; -1 = no margins
	}{
		{"default factor 0.5", "demand_charge_per_kw: 10", 6.5}, // 0.5·√(9+16+144), not 0.5·(3+4+12)
		{"factor 1", "demand_charge_per_kw: 10\n  peak_margin_factor: 1", 13},
		{"factor 0", "demand_charge_per_kw: 10\n  peak_margin_factor: 0", -1},
		{"no demand charge", "demand_charge_per_kw: 0", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, _, _ := scnService(t, map[string]string{"TARIFF": tc.tariff}, bands)
			scn, err := svc.BuildScenario(context.Background(), time.Date(2024, 6, 12, 10, 0, 0, 0, time.UTC), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want < 0 {
				if len(scn.Grid.PeakMarginKW) != 0 {
					t.Fatalf("margins %v, want none", scn.Grid.PeakMarginKW)
				}
				return
			}
			if len(scn.Grid.PeakMarginKW) != scn.Steps {
				t.Fatalf("%d margins for %d steps", len(scn.Grid.PeakMarginKW), scn.Steps)
			}
			for k, m := range scn.Grid.PeakMarginKW {
				if math.Abs(m-tc.want) > 1e-9 {
					t.Errorf("margin at step %d: %v kW, want %v", k, m, tc.want)
				}
			}
			// The plan's target keeps the margin above the planned import.
			p, err := optimizer.Solve(context.Background(), scn, optimizer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for k, imp := range p.GridImportKW {
				if imp+tc.want > p.PeakTargetKW+1e-4 {
					t.Errorf("step %d: import %.3f + margin %.3f above the target %.3f", k, imp, tc.want, p.PeakTargetKW)
				}
			}
		})
	}
}

// TestReserveIsLowerSoCBound: the battery's lower SoC bound is the higher of
// min_soc_pct and the reserve (site-wide or the device's); below it, the plan starts
// from the measured SoC and never goes lower.
func TestReserveIsLowerSoCBound(t *testing.T) {
	for _, tc := range []struct {
		name, safety, bessSafety string
		socPct                   float64
		wantMinKWh               float64
	}{
		{"no reserve: min_soc", "", "", 50, 20},
		{"device reserve", "", "safety: {reserve_soc_pct: 30}", 50, 60},
		{"site-wide reserve", "safety: {reserve_soc_pct: 40}", "", 50, 80},
		{"the higher of site and device", "safety: {reserve_soc_pct: 40}", "safety: {reserve_soc_pct: 30}", 50, 80},
		{"a reserve under min_soc does not lower it", "", "safety: {reserve_soc_pct: 5}", 50, 20},
		{"below the reserve: from where it is", "", "safety: {reserve_soc_pct: 30}", 25, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, _, _ := scnService(t, map[string]string{"SAFETY": tc.safety, "BESS_SAFETY": tc.bessSafety}, nil)
			at := time.Date(2024, 6, 12, 10, 0, 0, 0, time.UTC)
			rd := fieldbus.Reading{DeviceID: "bess", Time: at, Values: []fieldbus.Value{{Point: "soc_pct", Value: tc.socPct, Quality: fieldbus.Good}}}
			scn, err := svc.BuildScenario(context.Background(), at, []fieldbus.Reading{rd})
			if err != nil {
				t.Fatal(err)
			}
			if len(scn.Batteries) != 1 {
				t.Fatalf("batteries %+v", scn.Batteries)
			}
			if b := scn.Batteries[0]; math.Abs(b.MinSoCKWh-tc.wantMinKWh) > 1e-9 {
				t.Fatalf("min_soc_kwh %v, want %v", b.MinSoCKWh, tc.wantMinKWh)
			}
			p, err := optimizer.Solve(context.Background(), scn, optimizer.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for k, soc := range p.Asset("bess").SoCKWh {
				if soc < tc.wantMinKWh-1e-6 {
					t.Errorf("planned SoC %v kWh at step %d below %v", soc, k, tc.wantMinKWh)
				}
			}
		})
	}
}

// TestSessionCosts: every planned session carries the site's V2G wear and vehicle
// losses, defaults included.
func TestSessionCosts(t *testing.T) {
	for _, tc := range []struct {
		name, ev            string
		wantWear, wantC, wD float64
	}{
		{"defaults", "", site.DefaultV2GWearPerKWh, site.DefaultEVEfficiency, site.DefaultEVEfficiency},
		{"configured", "ev: {wear_cost_per_kwh: 0.08, charge_efficiency: 0.95, discharge_efficiency: 0.9}", 0.08, 0.95, 0.9},
		{"no wear", "ev: {wear_cost_per_kwh: 0}", 0, site.DefaultEVEfficiency, site.DefaultEVEfficiency},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, cfg := scnService(t, map[string]string{"SAFETY": tc.ev}, nil)
			e := dispatch.SessionCosts(cfg, optimizer.EVSession{ID: "ev", MaxDischargeKW: 11})
			if e.WearCostPerKWh != tc.wantWear || e.ChargeEfficiency != tc.wantC || e.DischargeEfficiency != tc.wD || e.UnmetPenaltyPerKWh != 1 {
				t.Fatalf("session %+v, want wear %v, efficiencies %v/%v, unmet penalty 1", e, tc.wantWear, tc.wantC, tc.wD)
			}
		})
	}
}

// TestStoredPlanCarriesPeakTarget: the schedule a cycle stores holds the plan's peak
// target (what the real-time layer holds) and the margins it was planned with.
func TestStoredPlanCarriesPeakTarget(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tariff string
		want   float64
	}{
		// Loads 2 × 100 kW, PV 50 kW: import 150 kW, margin 0.5·√(3²+4²+12²) = 6.5
		// at the default factor.
		{"demand charge", "demand_charge_per_kw: 10", 156.5},
		{"no demand charge", "demand_charge_per_kw: 0", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, st, _ := scnService(t, map[string]string{"TARIFF": tc.tariff}, bandForecaster{"load:load-a": 3, "load:load-b": 4, "pv:pv": 12})
			res, err := svc.RunCycle(context.Background(), time.Date(2024, 6, 12, 10, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if res.Schedule == nil {
				t.Fatalf("no schedule: %+v", res.Run)
			}
			sc, err := st.GetSchedule(context.Background(), res.Schedule.ID)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Scenario struct {
					Grid struct {
						PeakMarginKW []float64 `json:"peak_margin_kw"`
					} `json:"grid"`
				} `json:"scenario"`
				Plan map[string]any `json:"plan"`
			}
			if err := json.Unmarshal(sc.Plan, &doc); err != nil {
				t.Fatal(err)
			}
			got, ok := doc.Plan["peak_target_kw"].(float64)
			if !ok || math.Abs(got-tc.want) > 1e-3 {
				t.Fatalf("stored plan peak_target_kw = %v (%v), want %v", doc.Plan["peak_target_kw"], ok, tc.want)
			}
			if tc.want > 0 && (len(doc.Scenario.Grid.PeakMarginKW) == 0 || math.Abs(doc.Scenario.Grid.PeakMarginKW[0]-6.5) > 1e-9) {
				t.Fatalf("stored scenario margins %v, want 6.5 kW per step", doc.Scenario.Grid.PeakMarginKW)
			}
		})
	}
}
