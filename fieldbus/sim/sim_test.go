package sim_test

import (
	"context"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

var quiet = slog.New(slog.DiscardHandler)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type rig struct {
	clk  *clock.Sim
	sim  *sim.Sim
	w    *fieldbus.Writer
	p    *fieldbus.Poller
	devs []fieldbus.Device
}

// start serves cfg at start time and connects a writer and poller to it.
func start(t *testing.T, cfg *site.Config, at time.Time) *rig {
	t.Helper()
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if d.Endpoint == "" {
			d.Endpoint = freeAddr(t)
		}
		if d.UnitID == 0 {
			d.UnitID = 1
		}
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(at)
	s, err := sim.New(cfg, profiles, clk, os.DirFS("../../data"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := &rig{clk: clk, sim: s}
	for _, d := range cfg.Devices {
		r.devs = append(r.devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	conns := modbus.NewConns(quiet)
	r.w = fieldbus.NewWriter(r.devs, clk, quiet, modbus.WithConns(conns))
	r.p = fieldbus.NewPoller(r.devs, clk, quiet, modbus.WithConns(conns))
	t.Cleanup(func() {
		conns.Close()
		s.Stop()
	})
	return r
}

func (r *rig) write(t *testing.T, dev, point string, v float64) {
	t.Helper()
	res, err := r.w.Write(context.Background(), dev, point, v)
	if err != nil {
		t.Fatal(err)
	}
	if res.Mismatch {
		t.Fatalf("write %s.%s = %v: mismatch %+v", dev, point, v, res)
	}
}

// read polls over Modbus and returns one point's value.
func (r *rig) read(t *testing.T, dev, point string) float64 {
	t.Helper()
	for _, rd := range r.p.Poll(context.Background()) {
		if rd.DeviceID != dev {
			continue
		}
		v, ok := rd.Value(point)
		if !ok || v.Quality != fieldbus.Good {
			t.Fatalf("%s.%s: %+v (reading err %v)", dev, point, v, rd.Err)
		}
		return v.Value
	}
	t.Fatalf("no reading for %s", dev)
	return 0
}

func (r *rig) state(t *testing.T, id string) sim.DeviceState {
	t.Helper()
	s, ok := r.sim.State(id)
	if !ok {
		t.Fatalf("no state for %s", id)
	}
	return s
}

func approx(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.9g, want %.9g (±%g)", what, got, want, tol)
	}
}

var june = time.Date(2019, 6, 12, 0, 0, 0, 0, time.UTC)

func bessSite() *site.Config {
	return &site.Config{
		Nodes: []site.Node{{ID: "root"}},
		Devices: []site.Device{
			{ID: "meter", Kind: site.KindMeter, Node: "root", Profile: "builtin:substation-meter"},
			{ID: "bess", Kind: site.KindBESS, Node: "root", Profile: "builtin:bess",
				BESS: &site.BESSParams{CapacityKWh: 200, MinSoCPct: 10, MaxSoCPct: 90, MaxChargeKW: 100, MaxDischargeKW: 100,
					ChargeEfficiency: 0.95, DischargeEfficiency: 0.9},
				Sim: &site.DeviceSim{InitialSoCPct: 50}},
		},
	}
}

func TestBESSPhysics(t *testing.T) {
	r := start(t, bessSite(), june)

	// Charge at 50 kW for an hour: SoC rises by 50 × 0.95 / 200.
	r.write(t, "bess", "setpoint_kw", 50)
	r.clk.Advance(time.Hour)
	want := 50 + 50*0.95/200*100
	approx(t, "SoC after 1 h at 50 kW", r.state(t, "bess").SoCPct, want, 1e-9)
	approx(t, "SoC over Modbus", r.read(t, "bess", "soc_pct"), want, 0.05)
	approx(t, "power over Modbus", r.read(t, "bess", "active_power_kw"), 50, 1e-9)
	approx(t, "meter import", r.state(t, "meter").ImportKWh, 50, 1e-9)

	// Discharge at full power: SoC reaches the minimum after
	// (want-10)% of 200 kWh × 0.9 / 100 kW, then power drops to 0.
	r.write(t, "bess", "setpoint_kw", -100)
	approx(t, "discharge power", r.read(t, "bess", "active_power_kw"), -100, 1e-9)
	hours := (want - 10) / 100 * 200 * 0.9 / 100
	r.clk.Advance(2 * time.Hour)
	s := r.state(t, "bess")
	approx(t, "SoC at min", s.SoCPct, 10, 1e-9)
	approx(t, "power at min", s.PowerKW, 0, 0)
	approx(t, "power at min over Modbus", r.read(t, "bess", "active_power_kw"), 0, 0)
	approx(t, "energy discharged", s.ExportKWh, 100*hours, 1e-6)
	approx(t, "meter export", r.state(t, "meter").ExportKWh, 100*hours, 1e-6)
	approx(t, "meter reads bess", r.read(t, "meter", "active_power_kw"), 0, 0)

	// The setpoint stays in force: charging resumes when asked, limited by the rating
	// and stopping at the maximum SoC.
	r.write(t, "bess", "setpoint_kw", 300)
	approx(t, "rated charge power", r.read(t, "bess", "active_power_kw"), 100, 1e-9)
	r.clk.Advance(3 * time.Hour)
	s = r.state(t, "bess")
	approx(t, "SoC at max", s.SoCPct, 90, 1e-9)
	approx(t, "power at max", s.PowerKW, 0, 0)
	approx(t, "energy charged", s.ImportKWh, 50+80.0/100*200/0.95, 1e-6)
	approx(t, "setpoint kept", r.read(t, "bess", "setpoint_kw"), 300, 0)
}

// Polling often or never gives the same state: the integration is exact.
func TestBESSIntegrationIndependentOfPolling(t *testing.T) {
	a := start(t, bessSite(), june)
	b := start(t, bessSite(), june)
	for _, r := range []*rig{a, b} {
		r.write(t, "bess", "setpoint_kw", -73.3)
	}
	for i := 0; i < 120; i++ {
		a.clk.Advance(time.Minute)
		a.read(t, "bess", "soc_pct")
	}
	b.clk.Advance(2 * time.Hour)
	sa, sb := a.state(t, "bess"), b.state(t, "bess")
	approx(t, "SoC polled vs not", sa.SoCPct, sb.SoCPct, 1e-9)
	approx(t, "export polled vs not", sa.ExportKWh, sb.ExportKWh, 1e-9)
	approx(t, "meter export polled vs not", a.state(t, "meter").ExportKWh, b.state(t, "meter").ExportKWh, 1e-9)
	if sa.SoCPct != 10 || sa.PowerKW != 0 {
		t.Fatalf("battery should have emptied: %+v", sa)
	}
}

func TestPVCurtailmentAndMeterEnergy(t *testing.T) {
	cfg := &site.Config{
		Nodes: []site.Node{{ID: "root"}},
		Devices: []site.Device{
			{ID: "meter", Kind: site.KindMeter, Node: "root", Profile: "builtin:substation-meter"},
			{ID: "pv", Kind: site.KindPV, Node: "root", Profile: "builtin:pv-inverter", PV: &site.PVParams{CapacityKW: 40, Curtailable: true}},
			{ID: "load", Kind: site.KindLoad, Node: "root", Profile: "builtin:load-meter", Sim: &site.DeviceSim{Series: "konstanz:load", Scale: 10}},
		},
	}
	at := time.Date(2019, 6, 12, 6, 20, 0, 0, time.UTC)
	r := start(t, cfg, at)
	r.write(t, "pv", "power_limit_kw", 12.5)
	pv := r.state(t, "pv")
	if pv.AvailableKW <= 0 {
		t.Fatalf("no sun at %v", at)
	}
	approx(t, "curtailed pv", pv.PowerKW, -math.Min(pv.AvailableKW, 12.5), 1e-12)
	approx(t, "pv over Modbus", r.read(t, "pv", "active_power_kw"), pv.PowerKW, 0.005)

	// Six hours across the morning: the meter's import and export, integrated exactly
	// across hour knots, limit crossings and sign changes, match a fine numerical
	// integration of the same series.
	ref := func(s sim.DeviceState) (float64, float64) { return s.ImportKWh, s.ExportKWh }
	imp0, exp0 := ref(r.state(t, "meter"))
	pvExp0 := r.state(t, "pv").ExportKWh
	var wantImp, wantExp, wantPV float64
	const step = 10 * time.Second
	probe := start(t, cloneSite(cfg), at)
	probe.write(t, "pv", "power_limit_kw", 12.5)
	prev := probe.state(t, "meter").PowerKW
	prevPV := probe.state(t, "pv").PowerKW
	for el := time.Duration(0); el < 6*time.Hour; el += step {
		probe.clk.Advance(step)
		cur := probe.state(t, "meter").PowerKW
		curPV := probe.state(t, "pv").PowerKW
		h := step.Hours()
		avg := (prev + cur) / 2
		if avg > 0 {
			wantImp += avg * h
		} else {
			wantExp -= avg * h
		}
		wantPV -= (prevPV + curPV) / 2 * h
		prev, prevPV = cur, curPV
	}
	r.clk.Advance(6 * time.Hour)
	imp1, exp1 := ref(r.state(t, "meter"))
	approx(t, "meter import", imp1-imp0, wantImp, 0.05)
	approx(t, "meter export", exp1-exp0, wantExp, 0.05)
	approx(t, "pv export", r.state(t, "pv").ExportKWh-pvExp0, wantPV, 0.01)
	if wantExp <= 0 || wantImp <= 0 {
		t.Fatalf("test window should both import and export: %v %v", wantImp, wantExp)
	}
	approx(t, "meter export counter over Modbus", r.read(t, "meter", "energy_export_kwh"), exp1, 0.05)
}

func cloneSite(c *site.Config) *site.Config {
	n := *c
	n.Devices = append([]site.Device(nil), c.Devices...)
	for i := range n.Devices {
		n.Devices[i].Endpoint = ""
	}
	return &n
}

func evSite(user string, maxDis, budget float64) *site.Config {
	return &site.Config{
		Nodes: []site.Node{{ID: "root"}},
		Devices: []site.Device{
			{ID: "ev", Kind: site.KindEVCharger, Node: "root", Profile: "builtin:ev-charger",
				EV:  &site.EVParams{MaxChargeKW: 11, MaxDischargeKW: maxDis, V2GBudgetKWh: budget},
				Sim: &site.DeviceSim{User: user}},
		},
	}
}

func TestEVSessionReplay(t *testing.T) {
	// AdO3-4 plugs in 2019-06-10T17:45Z until 06-13T15:42Z asking for 37.43 kWh.
	// Replayed in 2021: same day of year and time of day.
	plugIn := time.Date(2021, 6, 10, 17, 45, 0, 0, time.UTC)
	plugOut := time.Date(2021, 6, 13, 15, 42, 0, 0, time.UTC)
	r := start(t, evSite("AdO3-4", 0, 0), plugIn.Add(-30*time.Minute))
	if s := r.state(t, "ev"); s.Connected || s.PowerKW != 0 || r.read(t, "ev", "connected") != 0 {
		t.Fatalf("connected before plug-in: %+v", s)
	}
	r.clk.Set(plugIn.Add(time.Hour))
	s := r.state(t, "ev")
	if !s.Connected || s.SetpointKW != 11 || s.PowerKW != 11 || !s.Departure.Equal(plugOut) {
		t.Fatalf("after plug-in: %+v", s)
	}
	approx(t, "delivered after 1 h", s.SessionEnergyKWh, 11, 1e-9)
	approx(t, "request over Modbus", r.read(t, "ev", "session_energy_request_kwh"), 37.4, 1e-9)
	approx(t, "departure over Modbus", r.read(t, "ev", "session_departure_unix"), float64(plugOut.Unix()), 0)

	// Dispatch throttles the charger; without V2G a negative setpoint gives 0.
	r.write(t, "ev", "setpoint_kw", 4)
	approx(t, "throttled power", r.read(t, "ev", "active_power_kw"), 4, 1e-9)
	r.clk.Advance(30 * time.Minute)
	r.write(t, "ev", "setpoint_kw", -5)
	approx(t, "no V2G", r.read(t, "ev", "active_power_kw"), 0, 0)
	approx(t, "delivered", r.state(t, "ev").SessionEnergyKWh, 13, 1e-9)

	// Back to full power: stops once the request is met.
	r.write(t, "ev", "setpoint_kw", 11)
	r.clk.Advance(5 * time.Hour)
	s = r.state(t, "ev")
	approx(t, "delivered when full", s.SessionEnergyKWh, 37.43, 1e-9)
	approx(t, "power when full", s.PowerKW, 0, 0)
	approx(t, "charger import", s.ImportKWh, 37.43, 1e-9)

	// Plug-out resets the session.
	r.clk.Set(plugOut)
	s = r.state(t, "ev")
	if s.Connected || s.SessionEnergyKWh != 0 || s.PowerKW != 0 || r.read(t, "ev", "session_energy_kwh") != 0 {
		t.Fatalf("after plug-out: %+v", s)
	}
	// The next session starts with the default setpoint again.
	r.write(t, "ev", "setpoint_kw", 2)
	nextSession(t, r)
	if s := r.state(t, "ev"); !s.Connected || s.SetpointKW != 11 || s.SessionEnergyKWh > 11 || s.Departure.Before(r.clk.Now()) {
		t.Fatalf("next session: %+v", s)
	}
}

// nextSession advances in one-hour steps until the charger is plugged in.
func nextSession(t *testing.T, r *rig) {
	t.Helper()
	for i := 0; i < 24*60; i++ {
		if r.state(t, "ev").Connected {
			return
		}
		r.clk.Advance(time.Hour)
	}
	t.Fatal("no session within 60 days")
}

func TestEVV2G(t *testing.T) {
	plugIn := time.Date(2019, 6, 10, 17, 45, 0, 0, time.UTC)
	r := start(t, evSite("AdO3-4", 7, 5), plugIn)
	r.write(t, "ev", "setpoint_kw", -10)
	approx(t, "V2G power limited by rating", r.read(t, "ev", "active_power_kw"), -7, 1e-9)
	r.clk.Advance(2 * time.Hour)
	s := r.state(t, "ev")
	// The vehicle's battery gives up the 5 kWh budget; the meter sees ηd of it, and
	// the session is debited what it takes to put back (−budget/ηc, at the meter).
	etaC, etaD := site.DefaultEVEfficiency, site.DefaultEVEfficiency
	approx(t, "V2G stops at the budget", s.SessionEnergyKWh, -5/etaC, 1e-9)
	approx(t, "power at budget", s.PowerKW, 0, 0)
	approx(t, "charger export", s.ExportKWh, 5*etaD, 1e-9)
	approx(t, "negative session energy over Modbus", r.read(t, "ev", "session_energy_kwh"), math.Round(-5/etaC*100)/100, 1e-9)
}

func TestDefaultEVUsers(t *testing.T) {
	cfg := &site.Config{Nodes: []site.Node{{ID: "root"}}}
	for _, id := range []string{"a", "b", "c"} {
		cfg.Devices = append(cfg.Devices, site.Device{ID: id, Kind: site.KindEVCharger, Node: "root", Profile: "builtin:ev-charger",
			EV: &site.EVParams{MaxChargeKW: 11}})
	}
	cfg.Devices[1].Sim = &site.DeviceSim{User: "Bl2-5"} // the most active user, taken explicitly
	r := start(t, cfg, june)
	got := []string{r.state(t, "a").User, r.state(t, "b").User, r.state(t, "c").User}
	want := []string{"Bl2-2", "Bl2-5", "Bl2-1"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("users %v, want %v", got, want)
	}
}

func TestFileSeries(t *testing.T) {
	dir := t.TempDir()
	csv := "timestamp_utc,kw\n2019-06-12T00:00:00Z,10\n2019-06-12T01:00:00Z,30\n"
	if err := os.WriteFile(filepath.Join(dir, "load.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &site.Config{
		File:  filepath.Join(dir, "site.yaml"),
		Nodes: []site.Node{{ID: "root"}},
		Devices: []site.Device{{ID: "load", Kind: site.KindLoad, Node: "root", Profile: "builtin:load-meter",
			Sim: &site.DeviceSim{Series: "file:load.csv", Column: "kw", Scale: 2}}},
	}
	r := start(t, cfg, june.Add(15*time.Minute))
	approx(t, "file series at 00:15 × 2", r.state(t, "load").PowerKW, 30, 1e-9)
	approx(t, "over Modbus", r.read(t, "load", "active_power_kw"), 30, 1e-5)
	r.clk.Advance(45 * time.Minute)
	approx(t, "energy 00:15-01:00", r.state(t, "load").ImportKWh, (30+60)/2*0.75, 1e-9)
}

func TestNewErrors(t *testing.T) {
	bess, _ := fieldbus.BuiltinProfile("bess")
	load, _ := fieldbus.BuiltinProfile("load-meter")
	ev, _ := fieldbus.BuiltinProfile("ev-charger")
	cases := []struct {
		name string
		dev  site.Device
		prof *fieldbus.Profile
		want string
	}{
		{"unknown series", site.Device{ID: "l", Kind: site.KindLoad, Sim: &site.DeviceSim{Series: "mars:b1"}}, load,
			`devices[0].sim.series: "mars:b1": unknown series (want one of cambridge:b36`},
		{"file without column", site.Device{ID: "l", Kind: site.KindLoad, Sim: &site.DeviceSim{Series: "file:x.csv"}}, load,
			`devices[0].sim.series: "file:x.csv": file: series need sim.column`},
		{"missing file", site.Device{ID: "l", Kind: site.KindLoad, Sim: &site.DeviceSim{Series: "file:nope.csv", Column: "kw"}}, load,
			`no such file`},
		{"sessions for a load", site.Device{ID: "l", Kind: site.KindLoad, Sim: &site.DeviceSim{Series: "trondheim"}}, load,
			`session data only drives ev_charger devices`},
		{"bess without params", site.Device{ID: "b", Kind: site.KindBESS}, bess, `devices[0].bess: is required`},
		{"series on a bess", site.Device{ID: "b", Kind: site.KindBESS, Sim: &site.DeviceSim{Series: "cambridge:b9"}}, bess,
			`a bess device is not driven by a series`},
		{"unknown user", site.Device{ID: "e", Kind: site.KindEVCharger, EV: &site.EVParams{MaxChargeKW: 7}, Sim: &site.DeviceSim{User: "nobody"}}, ev,
			`devices[0].sim.user: "nobody": no sessions for this user`},
		{"no profile", site.Device{ID: "e", Kind: site.KindLoad, Profile: "x.yaml"}, nil, `devices[0].profile: "x.yaml": no resolved profile`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.dev.Node, c.dev.Endpoint, c.dev.UnitID = "root", "127.0.0.1:1", 1
			cfg := &site.Config{File: "s.yaml", Nodes: []site.Node{{ID: "root"}}, Devices: []site.Device{c.dev}}
			profiles := map[string]*fieldbus.Profile{}
			if c.prof != nil {
				profiles[c.dev.ID] = c.prof
			}
			_, err := sim.New(cfg, profiles, clock.NewSim(june), os.DirFS("../../data"), quiet)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "s.yaml") {
				t.Fatalf("New error = %v, want %q", err, c.want)
			}
		})
	}
}

func TestStartPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	cfg := bessSite()
	cfg.Devices[0].Endpoint = freeAddr(t)
	cfg.Devices[1].Endpoint = taken
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.New(cfg, profiles, clock.NewSim(june), nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), taken) || !strings.Contains(err.Error(), "bess") {
		t.Fatalf("Start on a taken port: %v", err)
	}
	// Nothing is left listening on the free endpoint.
	c, err := net.DialTimeout("tcp", cfg.Devices[0].Endpoint, time.Second)
	if err == nil {
		c.Close()
		t.Fatal("meter endpoint still listening after a failed Start")
	}
}

func TestStopReleasesHangingRequests(t *testing.T) {
	cfg := bessSite()
	cfg.Devices[1].Timeout = site.Duration{D: 5 * time.Second}
	r := start(t, cfg, june)
	r.sim.SetFault("bess", sim.FaultNoAnswer)
	done := make(chan fieldbus.Reading)
	go func() { done <- r.p.Poll(context.Background())[1] }()
	time.Sleep(100 * time.Millisecond)
	r.sim.Stop()
	select {
	case rd := <-done:
		if rd.Err == nil {
			t.Fatalf("poll of a stopped sim succeeded: %+v", rd)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Stop did not release the hanging request")
	}
	if err := r.sim.SetFault("nope", sim.FaultSlow); err == nil {
		t.Fatal("SetFault on an unknown device succeeded")
	}
}
