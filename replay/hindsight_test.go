package replay

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
)

// TestHindsightDeliversSessions replays sessions that plug in or leave inside a step,
// and one whose plan needs setpoints finer than the 0.1 kW resolution, with the
// hindsight strategy on the small site. Hindsight knows every session in advance
// and each request fits in the session's time at the charger's rating, so every
// completed session must get all of its energy through the field.
func TestHindsightDeliversSessions(t *testing.T) {
	t0 := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		sessions string
	}{
		// Plugs in on a step boundary and leaves 6 minutes later: no whole step.
		{"shorter than a step", "ev-1,2020-05-01T00:15:00Z,2020-05-01T00:21:00Z,0.32\n"},
		// 1 minute uncontrolled at 11 kW (0.183 kWh), then 7 minutes of the next step.
		{"across a step boundary", "ev-1,2020-05-01T00:44:00Z,2020-05-01T00:52:00Z,0.43\n"},
		// 7.5 minutes uncontrolled (1.375 kWh), 13 whole steps, 7.5 minutes at the
		// end: about 2.43 kW in the whole steps, which rounds down to 2.4.
		{"fine setpoints", "ev-1,2020-05-01T01:07:30Z,2020-05-01T04:37:30Z,9.27\n"},
		// 10 minutes uncontrolled (1.833 kWh) and one whole step (2.75 kWh) leave
		// 0.417 kWh for the last 5 minutes.
		{"needs the last minutes", "ev-1,2020-05-01T04:50:00Z,2020-05-01T05:20:00Z,5\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig(t)
			dir := writeSmallHistory(t, t0.Add(-time.Hour), 10, func(int) float64 { return 10 }, func(int) float64 { return 4 }, tc.sessions)
			to := t0.Add(6 * time.Hour)
			h, err := LoadHistory(cfg, dir, nil, t0, to)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(context.Background(), Options{Config: cfg, History: h, From: t0, To: to, Strategy: Hindsight})
			if err != nil {
				t.Fatal(err)
			}
			if r.FailedCycles != 0 {
				t.Fatalf("failed cycles: %v", r.CycleErrors)
			}
			if len(r.Sessions) != 1 || !r.Sessions[0].Complete {
				t.Fatalf("sessions %+v, want one complete", r.Sessions)
			}
			s := r.Sessions[0]
			if s.DeliveredKWh < s.RequestedKWh-1e-6 {
				t.Errorf("delivered %.4f of %.4f kWh", s.DeliveredKWh, s.RequestedKWh)
			}
			if r.KPIs.EVUnmetSessions != 0 || r.KPIs.EVUnmetPenalty != 0 {
				t.Errorf("unmet sessions %d, penalty %g", r.KPIs.EVUnmetSessions, r.KPIs.EVUnmetPenalty)
			}
		})
	}
}

// TestHindsightQuantise checks that an EV plan turned into 0.1 kW setpoints delivers
// at least the planned energy by every step, stays within 0.1 kW of the plan and
// within the charger's ratings.
func TestHindsightQuantise(t *testing.T) {
	const dt = 0.25
	tests := []struct {
		name        string
		sw          sessWindow
		plan        []float64
		keep        int
		wantSteps   int
		wantTotalKW float64 // Σ setpoints
	}{
		{"just above a multiple", sessWindow{arr: 0, dep: 4, maxKW: 11}, []float64{2.01, 2.01, 2.01, 2.01}, 96, 4, 8.1},
		{"already on the grid", sessWindow{arr: 0, dep: 3, maxKW: 11}, []float64{11, 5.5, 0}, 96, 3, 16.5},
		{"from arrival to departure only", sessWindow{arr: 1, dep: 3, maxKW: 11}, []float64{0, 3.33, 3.33, 0, 0}, 96, 2, 6.7},
		{"kept part of the window", sessWindow{arr: 0, dep: 4, maxKW: 11}, []float64{1.05, 1.05, 1.05, 1.05}, 2, 2, 2.1},
		{"LP noise stays zero", sessWindow{arr: 0, dep: 3, maxKW: 11}, []float64{1e-9, 2, 1e-9}, 96, 3, 2},
		{"at the rating", sessWindow{arr: 0, dep: 2, maxKW: 7.4}, []float64{7.4, 7.4}, 96, 2, 14.8},
		{"vehicle to grid", sessWindow{arr: 0, dep: 3, maxKW: 11, maxDisKW: 11}, []float64{-3.33, -3.33, 6.66}, 96, 3, 0},
		{"vehicle to grid with the vehicles' losses", sessWindow{arr: 0, dep: 3, maxKW: 11, maxDisKW: 11, roundTrip: 0.92 * 0.92}, []float64{-3.34, -3.34, 7.9}, 96, 3, 1.3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.sw.quantise(tc.plan, dt, tc.keep)
			if len(q) != tc.wantSteps {
				t.Fatalf("%d setpoints %v, want %d", len(q), q, tc.wantSteps)
			}
			var planned, set, total float64
			for j, v := range q {
				k := tc.sw.arr + j
				planned += tc.sw.credit(tc.plan[k]) * dt
				set += tc.sw.credit(v) * dt
				total += v
				if u := v / setpointResolutionKW; math.Abs(u-math.Round(u)) > 1e-9 {
					t.Errorf("step %d: setpoint %g is not a multiple of %g kW", k, v, setpointResolutionKW)
				}
				if math.Abs(v-tc.plan[k]) > setpointResolutionKW+1e-9 {
					t.Errorf("step %d: setpoint %g kW for a plan of %g kW", k, v, tc.plan[k])
				}
				if v > tc.sw.maxKW+1e-9 || v < -tc.sw.maxDisKW-1e-9 {
					t.Errorf("step %d: setpoint %g kW outside the ratings", k, v)
				}
				if set < planned-1e-6 {
					t.Errorf("step %d: setpoints deliver %.4f kWh by now, the plan %.4f", k, set, planned)
				}
			}
			if math.Abs(total-tc.wantTotalKW) > 1e-9 {
				t.Errorf("setpoints %v sum to %g kW, want %g", q, total, tc.wantTotalKW)
			}
		})
	}
}

// TestHindsightTail checks the setpoint for the minutes before a vehicle leaves.
func TestHindsightTail(t *testing.T) {
	tests := []struct {
		name          string
		tailH, need   float64
		wantKW, wantE float64
	}{
		{"rounded up", 0.1, 0.32, 3.2, 0.32},
		{"rounded up, capped by the request", 7.0 / 60, 0.247, 2.2, 0.247},
		{"at most the rating", 5.0 / 60, 2, 11, 11 * 5.0 / 60},
		{"nothing missing", 0.1, 0, 0, 0},
		{"leaves on the boundary", 0, 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sw := sessWindow{tailH: tc.tailH, maxKW: 11}
			kw, e := sw.tail(tc.need)
			if math.Abs(kw-tc.wantKW) > 1e-9 || math.Abs(e-tc.wantE) > 1e-9 {
				t.Errorf("tail(%g) over %g h = %g kW, %g kWh; want %g, %g", tc.need, tc.tailH, kw, e, tc.wantKW, tc.wantE)
			}
		})
	}
}

// TestHindsightSearchesTheBilledPeak: with a demand charge, day windows that each see
// two days of a month hold the peak so far even where raising it would pay over the
// month, buying expensive energy to keep it. The hindsight plan searches the billed
// peak over the whole period, so it costs less than the windows alone where they are
// myopic (building b40, scaled to the demo feeder, in May 2019), never more, and its
// replay is no worse than optimize's.
func TestHindsightSearchesTheBilledPeak(t *testing.T) {
	if testing.Short() {
		t.Skip("a week of hindsight windows, several times, and two replays")
	}
	cfg, err := ApplySets(demoConfig(t), []string{"tariff.demand_charge_per_kw=10"})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := cfg.Device("building-1")
	d.Sim.Series, d.Sim.Scale = "cambridge:b40", 0.75
	from := time.Date(2019, 5, 6, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 7)
	h := demoHistory(t, cfg, from, to)
	n := int(to.Sub(from) / cfg.Site.Step.D)
	ctx := context.Background()
	field := func() *Field {
		f, err := NewField(cfg, h, clock.NewSim(from), from)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	first, err := hindsightPass(ctx, cfg, h, field(), from, n, nil)
	if err != nil {
		t.Fatal(err)
	}
	windows := first.cost
	hp, err := planHindsight(ctx, cfg, h, field(), from, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("windows alone %.2f, searched %.2f, peak %.1f kW", windows, hp.cost, slices.Max(hp.gridKW))
	if hp.cost > windows+1e-6 {
		t.Errorf("the searched plan costs %.2f, more than the windows' %.2f", hp.cost, windows)
	}
	if hp.cost > windows-10 {
		t.Errorf("the search saved %.2f of %.2f: want the windows' myopia on this week to cost them at least 10", windows-hp.cost, windows)
	}
	res := map[string]float64{}
	for _, s := range []string{Optimize, Hindsight} {
		r, err := Run(ctx, Options{Config: cfg, History: h, From: from, To: to, Strategy: s})
		if err != nil {
			t.Fatal(err)
		}
		res[s] = r.KPIs.TotalCost
	}
	if res[Hindsight] > res[Optimize] {
		t.Errorf("hindsight costs %.2f in the field, more than optimize's %.2f", res[Hindsight], res[Optimize])
	}
}
