package plant

import (
	"math"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

func TestSplitEnergy(t *testing.T) {
	cases := []struct {
		p0, p1, h, imp, exp float64
	}{
		{10, 10, 2, 20, 0},
		{-4, -2, 1, 0, 3},
		{10, -10, 1, 2.5, 2.5},
		{-10, 30, 1, 11.25, 1.25},
		{0, 0, 5, 0, 0},
		{0, -6, 1, 0, 3},
	}
	for _, c := range cases {
		imp, exp := splitEnergy(c.p0, c.p1, c.h)
		if math.Abs(imp-c.imp) > 1e-12 || math.Abs(exp-c.exp) > 1e-12 {
			t.Errorf("splitEnergy(%v, %v, %v) = %v, %v; want %v, %v", c.p0, c.p1, c.h, imp, exp, c.imp, c.exp)
		}
	}
}

// knots is a Trace through (hour offset from t0, kW) points.
type knots struct {
	t0 time.Time
	h  []float64
	v  []float64
}

func (k knots) PowerKW(t time.Time) float64 {
	x := t.Sub(k.t0).Hours()
	if x <= k.h[0] {
		return k.v[0]
	}
	for i := 1; i < len(k.h); i++ {
		if x <= k.h[i] {
			f := (x - k.h[i-1]) / (k.h[i] - k.h[i-1])
			return k.v[i-1]*(1-f) + k.v[i]*f
		}
	}
	return k.v[len(k.v)-1]
}

func (k knots) NextKnot(t time.Time) time.Time {
	for _, h := range k.h {
		if at := k.t0.Add(time.Duration(h * float64(time.Hour))); at.After(t) {
			return at
		}
	}
	return time.Time{}
}

var t0 = time.Date(2019, 6, 1, 12, 0, 0, 0, time.UTC)

func testSite(t *testing.T, ev site.EVDefaults, devs ...site.Device) (*site.Config, []*Device) {
	t.Helper()
	cfg := &site.Config{EV: ev, Nodes: []site.Node{{ID: "root", LimitKW: 1000}}}
	cfg.Devices = append([]site.Device{{ID: "meter", Kind: site.KindMeter, Node: "root"}}, devs...)
	var out []*Device
	for i := range cfg.Devices {
		cfg.Devices[i].Node = "root"
		d, err := NewDevice(cfg, &cfg.Devices[i])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return cfg, out
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.9f, want %.9f", what, got, want)
	}
}

// TestPlant drives one device at a time through its events and checks the energy at
// its connection, its state and the meter above it, whether the interval is advanced
// in one call or in many.
func TestPlant(t *testing.T) {
	bess := site.Device{ID: "b", Kind: site.KindBESS, BESS: &site.BESSParams{CapacityKWh: 200, MinSoCPct: 10, MaxSoCPct: 95,
		MaxChargeKW: 100, MaxDischargeKW: 100, ChargeEfficiency: 0.95, DischargeEfficiency: 0.9}}
	pv := site.Device{ID: "p", Kind: site.KindPV, PV: &site.PVParams{CapacityKW: 100}}
	load := site.Device{ID: "l", Kind: site.KindLoad}
	ev := site.Device{ID: "e", Kind: site.KindEVCharger, EV: &site.EVParams{MaxChargeKW: 11, MaxDischargeKW: 10, V2GBudgetKWh: 10}}
	lossy := site.EVDefaults{ChargeEfficiency: 0.9, DischargeEfficiency: 0.8}
	session := SessionList{{PlugIn: t0.Add(30 * time.Minute), PlugOut: t0.Add(5 * time.Hour), EnergyKWh: 20}}
	tests := []struct {
		name  string
		dev   site.Device
		ev    site.EVDefaults
		setup func(d *Device)
		hours float64
		// want: import and export at the device, and its state after
		importKWh, exportKWh float64
		check                func(t *testing.T, d *Device)
	}{
		{"battery charges until max SoC", bess, site.EVDefaults{}, func(d *Device) { d.Battery.SetpointKW = 150 }, 2,
			(190 - 100) / 0.95, 0, func(t *testing.T, d *Device) {
				near(t, "SoC kWh", d.Battery.SoCKWh, 190)
				near(t, "power at the limit", d.Battery.PowerKW(), 0)
			}},
		{"battery discharges until min SoC", bess, site.EVDefaults{}, func(d *Device) { d.Battery.SetpointKW = -80 }, 2,
			0, (100 - 20) * 0.9, func(t *testing.T, d *Device) { near(t, "SoC kWh", d.Battery.SoCKWh, 20) }},
		{"watchdog drops the battery to 0", bess, site.EVDefaults{}, func(d *Device) {
			d.Battery.SetpointKW, d.Watchdog = 60, 10*time.Minute
			d.Command(t0)
		}, 1, 10, 0, func(t *testing.T, d *Device) { near(t, "setpoint after the watchdog", d.Battery.SetpointKW, 0) }},
		{"PV capped by its limit", pv, site.EVDefaults{}, func(d *Device) {
			d.PV.LimitKW = 50
			d.Trace = knots{t0, []float64{0, 1, 2}, []float64{-10, 90, 90}}
		}, 2,
			// available crosses 0 at 0.1 h and the cap at 0.6 h: 12.5 kWh of ramp, 50 kW for 1.4 h
			0, 12.5 + 50*1.4, func(t *testing.T, d *Device) {
				near(t, "available energy", d.AvailKWh, (-10+90)/2.0+90)
			}},
		{"watchdog restores the PV capacity", pv, site.EVDefaults{}, func(d *Device) {
			d.PV.LimitKW, d.Watchdog = 20, 30*time.Minute
			d.Command(t0)
			d.Trace = knots{t0, []float64{0, 1}, []float64{60, 60}}
		}, 1, 0, 10 + 30, nil},
		{"load follows its trace, scaled", load, site.EVDefaults{}, func(d *Device) {
			d.Trace = knots{t0, []float64{0, 1}, []float64{10, 30}}
			d.Scale = 2
		}, 1, 40, 0, nil},
		{"vehicle charges uncontrolled from plug-in until full", ev, lossy, func(d *Device) {
			d.EV.Sessions = session
			d.EV.SetpointKW, d.EV.SetAt = 3, t0 // written before the plug-in: gives way
		}, 4, 20, 0, func(t *testing.T, d *Device) {
			near(t, "session energy", d.EV.DeliveredKWh(), 20)
			near(t, "setpoint", d.EV.SetpointKW, 11)
		}},
		{"V2G stops at the budget, paying the vehicle's losses", ev, lossy, func(d *Device) {
			d.EV.Sessions = session
			d.EV.SetpointKW, d.EV.SetAt = -10, t0.Add(30*time.Minute) // written at the plug-in: kept
		}, 4, 0, 10 * 0.8, func(t *testing.T, d *Device) {
			near(t, "session energy at the floor", d.EV.DeliveredKWh(), -10/0.9)
			near(t, "power at the floor", d.EV.PowerKW(), 0)
		}},
		{"the vehicle leaves", ev, lossy, func(d *Device) { d.EV.Sessions = session }, 6, 20, 0, func(t *testing.T, d *Device) {
			if _, ok := d.EV.Session(); ok || d.EV.DeliveredKWh() != 0 || d.EV.PowerKW() != 0 {
				t.Errorf("after plug-out: plugged %v, energy %v, power %v", ok, d.EV.DeliveredKWh(), d.EV.PowerKW())
			}
		}},
	}
	for _, tc := range tests {
		for _, pieces := range []int{1, 37} {
			t.Run(tc.name, func(t *testing.T) {
				cfg, devs := testSite(t, tc.ev, tc.dev)
				d := devs[1]
				tc.setup(d)
				var ended []float64
				p := New(cfg, devs, t0)
				p.OnPlugOut = func(_ *Device, _ Session, e float64) { ended = append(ended, e) }
				end := t0.Add(time.Duration(tc.hours * float64(time.Hour)))
				for i := 1; i <= pieces; i++ {
					p.Advance(t0.Add(time.Duration(float64(end.Sub(t0)) * float64(i) / float64(pieces))))
				}
				if !p.Now().Equal(end) {
					t.Fatalf("plant at %s, want %s", p.Now(), end)
				}
				near(t, "import kWh", d.ImportKWh, tc.importKWh)
				near(t, "export kWh", d.ExportKWh, tc.exportKWh)
				near(t, "meter import kWh", devs[0].ImportKWh, tc.importKWh)
				near(t, "meter export kWh", devs[0].ExportKWh, tc.exportKWh)
				if tc.check != nil {
					tc.check(t, d)
				}
				if tc.name == "the vehicle leaves" && (len(ended) != 1 || math.Abs(ended[0]-20) > 1e-9) {
					t.Errorf("sessions ended: %v, want one with 20 kWh", ended)
				}
			})
		}
	}
}
