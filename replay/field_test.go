package replay

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
)

func newSmallField(t *testing.T, sessions string) (*Field, *clock.Sim, time.Time) {
	t.Helper()
	cfg := smallConfig(t)
	t0 := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	dir := writeSmallHistory(t, t0.Add(-time.Hour), 10, func(int) float64 { return 10 }, func(int) float64 { return 4 }, sessions)
	h, err := LoadHistory(cfg, dir, nil, t0, t0.Add(4*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(t0)
	f, err := NewField(cfg, h, clk, t0)
	if err != nil {
		t.Fatal(err)
	}
	return f, clk, t0
}

func point(r fieldbus.Reading, name string) float64 {
	for _, v := range r.Values {
		if v.Point == name {
			return v.Value
		}
	}
	return math.NaN()
}

func reading(rs []fieldbus.Reading, id string) fieldbus.Reading {
	for _, r := range rs {
		if r.DeviceID == id {
			return r
		}
	}
	return fieldbus.Reading{}
}

func TestFieldBattery(t *testing.T) {
	tests := []struct {
		name     string
		setKW    float64
		wantAvg  float64 // first step's mean power
		wantSoC  float64 // kWh after the first step
		wantPoll float64 // active power at the start of the second step
	}{
		// 85 % of 40 kWh = 34 kWh; the limit is 36 kWh: 2 kWh fits in 6 of the 15 minutes at 20 kW.
		{"charge into the SoC limit", 20, 8, 36, 0},
		{"discharge", -20, -20, 29, -20},
		{"idle", 0, 0, 34, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, clk, t0 := newSmallField(t, "")
			ctx := context.Background()
			if _, err := f.Write(ctx, "bess-1", "setpoint_kw", tc.setKW); err != nil {
				t.Fatal(err)
			}
			clk.Set(t0.Add(15 * time.Minute))
			rs := f.Poll(ctx)
			st := f.Steps()
			if len(st) != 1 {
				t.Fatalf("%d steps", len(st))
			}
			if math.Abs(st[0].BESSKW-tc.wantAvg) > 1e-9 || math.Abs(st[0].SoCKWh-tc.wantSoC) > 1e-9 {
				t.Errorf("step mean %g kW, SoC %g kWh; want %g, %g", st[0].BESSKW, st[0].SoCKWh, tc.wantAvg, tc.wantSoC)
			}
			r := reading(rs, "bess-1")
			if got := point(r, "active_power_kw"); got != tc.wantPoll {
				t.Errorf("polled power %g, want %g", got, tc.wantPoll)
			}
			if got := point(r, "soc_pct"); math.Abs(got-tc.wantSoC/40*100) > 1e-9 {
				t.Errorf("polled soc_pct %g", got)
			}
			// Grid = load 10 − PV 4 + battery.
			if math.Abs(st[0].GridKW-(6+tc.wantAvg)) > 1e-9 {
				t.Errorf("grid %g kW, want %g", st[0].GridKW, 6+tc.wantAvg)
			}
		})
	}
}

func TestFieldEVSession(t *testing.T) {
	// Plug-in 7.5 minutes into the first step, 2 kWh wanted, 11 kW charger.
	f, clk, t0 := newSmallField(t, "ev-1,2020-05-01T00:07:30Z,2020-05-01T01:00:00Z,2\n")
	ctx := context.Background()
	r := reading(f.Poll(ctx), "ev-1")
	if point(r, "connected") != 0 {
		t.Fatal("connected before plug-in")
	}
	clk.Set(t0.Add(15 * time.Minute))
	r = reading(f.Poll(ctx), "ev-1")
	if point(r, "connected") != 1 || point(r, "session_energy_request_kwh") != 2 ||
		point(r, "session_departure_unix") != float64(t0.Add(time.Hour).Unix()) {
		t.Fatalf("after plug-in: %+v", r.Values)
	}
	// Uncontrolled at 11 kW from plug-in: 7.5 min → 1.375 kWh, mean 5.5 kW.
	if got := f.Steps()[0].EVKW; math.Abs(got-5.5) > 1e-9 {
		t.Errorf("first step EV mean %g kW, want 5.5", got)
	}
	if _, err := f.Write(ctx, "ev-1", "setpoint_kw", 5); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(30 * time.Minute))
	f.Poll(ctx)
	// 0.625 kWh left at 5 kW: 7.5 min, mean 2.5 kW.
	if got := f.Steps()[1].EVKW; math.Abs(got-2.5) > 1e-9 {
		t.Errorf("second step EV mean %g kW, want 2.5", got)
	}
	clk.Set(t0.Add(2 * time.Hour))
	f.Poll(ctx)
	f.Finish()
	s := f.Sessions()
	if len(s) != 1 || !s[0].Complete || math.Abs(s[0].DeliveredKWh-2) > 1e-9 {
		t.Fatalf("sessions %+v", s)
	}
}

func TestFieldWriteRefused(t *testing.T) {
	tests := []struct {
		dev, point string
		v          float64
		want       string
	}{
		{"bess-1", "setpoint_kw", 25, "outside [-20, 20]"},
		{"bess-1", "power_limit_kw", 5, "not writable"},
		{"pv-1", "power_limit_kw", -1, "outside [0, 20]"},
		{"ev-1", "setpoint_kw", -1, "outside [0, 11]"},
		{"nope", "setpoint_kw", 1, "no such device"},
		{"bess-1", "setpoint_kw", math.NaN(), "not finite"},
	}
	f, _, _ := newSmallField(t, "")
	for _, tc := range tests {
		_, err := f.Write(context.Background(), tc.dev, tc.point, tc.v)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Write(%s, %s, %g) = %v, want %q", tc.dev, tc.point, tc.v, err, tc.want)
		}
	}
}

func TestFieldPVLimit(t *testing.T) {
	f, clk, t0 := newSmallField(t, "")
	ctx := context.Background()
	if _, err := f.Write(ctx, "pv-1", "power_limit_kw", 1.5); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(15 * time.Minute))
	rs := f.Poll(ctx)
	st := f.Steps()[0]
	if st.PVKW != 1.5 || st.PVAvailKW != 4 {
		t.Errorf("PV %g of %g kW, want 1.5 of 4", st.PVKW, st.PVAvailKW)
	}
	if got := point(reading(rs, "pv-1"), "active_power_kw"); got != -1.5 {
		t.Errorf("polled PV power %g, want -1.5", got)
	}
}
