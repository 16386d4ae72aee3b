package fieldbus_test

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"os"
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

// freeAddr returns a loopback host:port nobody listens on.
func freeAddr(t testing.TB, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// testSite is a small radial site: a substation meter on the root, a feeder with its
// own meter, a battery, a building load and two EV chargers behind one gateway
// endpoint, and PV on the root.
func testSite(t testing.TB) *site.Config {
	t.Helper()
	to := site.Duration{D: 500 * time.Millisecond}
	gw := freeAddr(t, "127.0.0.1")
	dev := func(id, kind, node, profile string) site.Device {
		return site.Device{ID: id, Kind: kind, Node: node, Endpoint: freeAddr(t, "127.0.0.1"), UnitID: 1, Profile: profile, Timeout: to}
	}
	meter := dev("meter", site.KindMeter, "root", "builtin:substation-meter")
	feeder := dev("feeder-meter", site.KindMeter, "feeder", "builtin:substation-meter")
	bess := dev("bess", site.KindBESS, "feeder", "builtin:bess")
	bess.BESS = &site.BESSParams{CapacityKWh: 200, MinSoCPct: 10, MaxSoCPct: 90, MaxChargeKW: 100, MaxDischargeKW: 100, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95}
	bess.Sim = &site.DeviceSim{InitialSoCPct: 60}
	pv := dev("pv", site.KindPV, "root", "builtin:pv-inverter")
	pv.PV = &site.PVParams{CapacityKW: 50, Curtailable: true}
	load := dev("load", site.KindLoad, "feeder", "builtin:load-meter")
	load.Sim = &site.DeviceSim{Series: "cambridge:b9", Scale: 2}
	ev1 := dev("ev1", site.KindEVCharger, "feeder", "builtin:ev-charger")
	ev1.Endpoint, ev1.UnitID = gw, 1
	ev1.EV = &site.EVParams{MaxChargeKW: 11}
	ev1.Sim = &site.DeviceSim{User: "AdO3-4"}
	ev2 := dev("ev2", site.KindEVCharger, "feeder", "builtin:ev-charger")
	ev2.Endpoint, ev2.UnitID = gw, 2
	ev2.EV = &site.EVParams{MaxChargeKW: 7.4, MaxDischargeKW: 7.4, V2GBudgetKWh: 5}
	ev2.Sim = &site.DeviceSim{User: "Bl2-4"}
	return &site.Config{
		File:    "testdata/site.yaml",
		Nodes:   []site.Node{{ID: "root", LimitKW: 500}, {ID: "feeder", Parent: "root", LimitKW: 300}},
		Devices: []site.Device{meter, feeder, bess, pv, load, ev1, ev2},
	}
}

// At this time both chargers' users are plugged in (sessions 2019-06-10T17:45 to
// 06-13T15:42, 37.43 kWh, and 2019-06-11T21:05 to 06-12T09:04, 18.05 kWh) and the sun
// is up in Konstanz.
var testStart = time.Date(2019, 6, 12, 8, 0, 0, 0, time.UTC)

type rig struct {
	cfg      *site.Config
	profiles map[string]*fieldbus.Profile
	clk      *clock.Sim
	sim      *sim.Sim
	devices  []fieldbus.Device
}

func startRig(t testing.TB, cfg *site.Config) *rig {
	t.Helper()
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(testStart)
	s, err := sim.New(cfg, profiles, clk, os.DirFS("../data"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	r := &rig{cfg: cfg, profiles: profiles, clk: clk, sim: s}
	for _, d := range cfg.Devices {
		r.devices = append(r.devices, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	return r
}

func byID(rs []fieldbus.Reading) map[string]fieldbus.Reading {
	m := map[string]fieldbus.Reading{}
	for _, r := range rs {
		m[r.DeviceID] = r
	}
	return m
}

func val(t *testing.T, r fieldbus.Reading, point string) float64 {
	t.Helper()
	v, ok := r.Value(point)
	if !ok {
		t.Fatalf("%s: no %s in reading", r.DeviceID, point)
	}
	if v.Quality != fieldbus.Good {
		t.Fatalf("%s.%s quality %s: %v", r.DeviceID, point, v.Quality, v.Err)
	}
	return v.Value
}

// near checks a decoded value against the simulator's within the point's resolution.
func near(t *testing.T, what string, got, want, step float64) {
	t.Helper()
	if math.Abs(got-want) > step/2+1e-9*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, step/2)
	}
}

func TestPollSiteMatchesSim(t *testing.T) {
	r := startRig(t, testSite(t))
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	// Let some time pass so energy counters move, then poll.
	r.clk.Advance(20 * time.Minute)
	readings := p.Poll(context.Background())
	if len(readings) != len(r.devices) {
		t.Fatalf("%d readings for %d devices", len(readings), len(r.devices))
	}
	for i, rd := range readings {
		if rd.DeviceID != r.devices[i].ID {
			t.Fatalf("reading %d is %s, want %s (config order)", i, rd.DeviceID, r.devices[i].ID)
		}
		if rd.Stale || rd.Err != nil {
			t.Fatalf("%s: stale=%v err=%v", rd.DeviceID, rd.Stale, rd.Err)
		}
		if !rd.Time.Equal(r.clk.Now()) {
			t.Errorf("%s: reading time %v, want the clock's %v", rd.DeviceID, rd.Time, r.clk.Now())
		}
		if len(rd.Values) != len(r.profiles[rd.DeviceID].Points) {
			t.Errorf("%s: %d values for %d points", rd.DeviceID, len(rd.Values), len(r.profiles[rd.DeviceID].Points))
		}
	}
	m := byID(readings)
	st := func(id string) sim.DeviceState {
		s, ok := r.sim.State(id)
		if !ok {
			t.Fatalf("no sim state for %s", id)
		}
		return s
	}
	bess, pv, load, ev1, ev2 := st("bess"), st("pv"), st("load"), st("ev1"), st("ev2")

	near(t, "bess soc", val(t, m["bess"], "soc_pct"), bess.SoCPct, 0.1)
	near(t, "bess initial soc", bess.SoCPct, 60, 1e-9)
	near(t, "bess power", val(t, m["bess"], "active_power_kw"), 0, 0.1)
	near(t, "bess capacity", val(t, m["bess"], "capacity_kwh"), 200, 0.1)
	near(t, "bess max charge", val(t, m["bess"], "max_charge_kw"), 100, 0.1)

	if pv.PowerKW >= -1 {
		t.Fatalf("pv should generate at %v, sim power %v", r.clk.Now(), pv.PowerKW)
	}
	near(t, "pv power", val(t, m["pv"], "active_power_kw"), pv.PowerKW, 0.01)
	near(t, "pv limit", val(t, m["pv"], "power_limit_kw"), 50, 0.1)
	near(t, "pv export energy", val(t, m["pv"], "energy_export_kwh"), pv.ExportKWh, 0.1)
	if pv.ExportKWh <= 0 {
		t.Errorf("pv exported %v kWh in 20 min of daylight", pv.ExportKWh)
	}

	if load.PowerKW <= 0 {
		t.Fatalf("load power %v", load.PowerKW)
	}
	near(t, "load power", val(t, m["load"], "active_power_kw"), load.PowerKW, 1e-4*load.PowerKW)

	for _, c := range []struct {
		id      string
		s       sim.DeviceState
		request float64
		depart  time.Time
	}{
		{"ev1", ev1, 37.43, time.Date(2019, 6, 13, 15, 42, 0, 0, time.UTC)},
		{"ev2", ev2, 18.05, time.Date(2019, 6, 12, 9, 4, 0, 0, time.UTC)},
	} {
		rd := m[c.id]
		if !c.s.Connected || val(t, rd, "connected") != 1 {
			t.Fatalf("%s not connected: sim %+v", c.id, c.s)
		}
		near(t, c.id+" power", val(t, rd, "active_power_kw"), c.s.PowerKW, 0.1)
		near(t, c.id+" setpoint defaults to max charge", val(t, rd, "setpoint_kw"), c.s.SetpointKW, 0.1)
		near(t, c.id+" request", val(t, rd, "session_energy_request_kwh"), c.request, 0.1)
		near(t, c.id+" delivered", val(t, rd, "session_energy_kwh"), c.s.SessionEnergyKWh, 0.01)
		near(t, c.id+" delivered after 20 min", c.s.SessionEnergyKWh, c.s.PowerKW/3, 1e-6)
		if got := val(t, rd, "session_departure_unix"); got != float64(c.depart.Unix()) {
			t.Errorf("%s departure %v, want %v", c.id, time.Unix(int64(got), 0).UTC(), c.depart)
		}
	}
	near(t, "ev1 power", ev1.PowerKW, 11, 1e-9)
	near(t, "ev2 power", ev2.PowerKW, 7.4, 1e-9)

	// Meters read the sum of what is below them.
	feederSum := val(t, m["bess"], "active_power_kw") + val(t, m["load"], "active_power_kw") +
		val(t, m["ev1"], "active_power_kw") + val(t, m["ev2"], "active_power_kw")
	rootSum := feederSum + val(t, m["pv"], "active_power_kw")
	near(t, "feeder meter", val(t, m["feeder-meter"], "active_power_kw"), feederSum, 0.2)
	near(t, "root meter", val(t, m["meter"], "active_power_kw"), rootSum, 0.2)
	near(t, "root meter vs sim", val(t, m["meter"], "active_power_kw"), st("meter").PowerKW, 0.01)
	near(t, "meter voltage", val(t, m["meter"], "voltage_v"), 400, 2)
	near(t, "meter frequency", val(t, m["meter"], "frequency_hz"), 50, 0.02)
	near(t, "meter import energy", val(t, m["meter"], "energy_import_kwh"), st("meter").ImportKWh, 0.1)
}

func TestWriterSetpoints(t *testing.T) {
	r := startRig(t, testSite(t))
	conns := modbus.NewConns(quiet)
	defer conns.Close()
	w := fieldbus.NewWriter(r.devices, r.clk, quiet, modbus.WithConns(conns))
	p := fieldbus.NewPoller(r.devices, r.clk, quiet, modbus.WithConns(conns))
	ctx := context.Background()

	res, err := w.Write(ctx, "bess", "setpoint_kw", 50)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requested != 50 || res.Written != 50 || res.ReadBack != 50 || res.Mismatch || !res.Time.Equal(r.clk.Now()) {
		t.Fatalf("write result %+v", res)
	}
	if s, _ := r.sim.State("bess"); s.SetpointKW != 50 || s.PowerKW != 50 {
		t.Fatalf("sim after write: %+v", s)
	}

	// Quantised to the register's 0.1 kW.
	res, err = w.Write(ctx, "bess", "setpoint_kw", -12.34)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != -12.3 || res.ReadBack != -12.3 || res.Mismatch {
		t.Fatalf("quantised write %+v", res)
	}

	// Out of the profile limits: refused, nothing written.
	_, err = w.Write(ctx, "bess", "setpoint_kw", 600)
	if !errors.Is(err, fieldbus.ErrOutOfLimits) {
		t.Fatalf("write 600 error = %v, want ErrOutOfLimits", err)
	}
	for _, s := range []string{"bess", "setpoint_kw", "600", "-500..500"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	if rd := byID(p.Poll(ctx))["bess"]; val(t, rd, "setpoint_kw") != -12.3 {
		t.Fatalf("setpoint register changed by a refused write: %v", val(t, rd, "setpoint_kw"))
	}

	// Refusals that never reach the wire.
	for _, c := range []struct {
		dev, point string
		v          float64
		want       string
	}{
		{"bess", "soc_pct", 50, "not writable"},
		{"bess", "setpoint_kw", math.NaN(), "not a finite number"},
		{"bess", "nope", 1, `no point "nope"`},
		{"ghost", "setpoint_kw", 1, `unknown device "ghost"`},
		{"pv", "power_limit_kw", -1, "outside the profile limits"},
	} {
		if _, err := w.Write(ctx, c.dev, c.point, c.v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Write(%s, %s, %v) error = %v, want %q", c.dev, c.point, c.v, err, c.want)
		}
	}

	// PV curtailment and an EV setpoint behind the shared gateway.
	if res, err := w.Write(ctx, "pv", "power_limit_kw", 5); err != nil || res.ReadBack != 5 {
		t.Fatalf("pv limit: %+v %v", res, err)
	}
	if s, _ := r.sim.State("pv"); s.PowerKW != -math.Min(5, s.AvailableKW) {
		t.Fatalf("pv not curtailed: %+v", s)
	}
	if res, err := w.Write(ctx, "ev2", "setpoint_kw", -3.5); err != nil || res.ReadBack != -3.5 {
		t.Fatalf("ev2 V2G setpoint: %+v %v", res, err)
	}
	if s, _ := r.sim.State("ev2"); s.PowerKW != -3.5 {
		t.Fatalf("ev2 power %v after V2G setpoint", s.PowerKW)
	}
	if s, _ := r.sim.State("ev1"); s.SetpointKW != 11 {
		t.Fatalf("ev1 setpoint changed by a write to ev2: %v", s.SetpointKW)
	}

	// A device that acknowledges but ignores writes shows up as a mismatch.
	if err := r.sim.SetFault("bess", sim.FaultIgnoreWrites); err != nil {
		t.Fatal(err)
	}
	res, err = w.Write(ctx, "bess", "setpoint_kw", 20)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Mismatch || res.Written != 20 || res.ReadBack != -12.3 {
		t.Fatalf("ignored write %+v, want mismatch with read-back -12.3", res)
	}
	r.sim.SetFault("bess", sim.FaultNone)
}

func TestWriterSurfacesExceptions(t *testing.T) {
	r := startRig(t, testSite(t))
	// The writer's copy of the profiles claims more than the device accepts.
	devs := append([]fieldbus.Device(nil), r.devices...)
	for i := range devs {
		pr := devs[i].Profile.Clone()
		for j := range pr.Points {
			pt := &pr.Points[j]
			switch {
			case pt.Name == "setpoint_kw" && devs[i].ID == "bess":
				pt.Min, pt.Max = -1000, 1000
			case pt.Name == "max_charge_kw" && devs[i].ID == "ev1":
				pt.Access, pt.HasLimits, pt.Min, pt.Max = fieldbus.ReadWrite, true, 0, 100
			}
		}
		devs[i].Profile = pr
	}
	w := fieldbus.NewWriter(devs, r.clk, quiet)
	defer w.Close()
	ctx := context.Background()
	cases := []struct {
		dev, point string
		v          float64
		is         error
		name       string
	}{
		{"bess", "setpoint_kw", 800, modbus.ErrIllegalDataValue, "ILLEGAL DATA VALUE"},
		{"ev1", "max_charge_kw", 5, modbus.ErrIllegalDataAddress, "ILLEGAL DATA ADDRESS"},
	}
	for _, c := range cases {
		_, err := w.Write(ctx, c.dev, c.point, c.v)
		var ex *modbus.ExceptionError
		if !errors.Is(err, c.is) || !errors.As(err, &ex) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("Write(%s.%s = %v) error = %v, want %s", c.dev, c.point, c.v, err, c.name)
		}
	}
	if s, _ := r.sim.State("bess"); s.SetpointKW != 0 {
		t.Fatalf("rejected write applied: %+v", s)
	}
	// A device-level exception fault.
	r.sim.SetFault("bess", sim.FaultException)
	if _, err := w.Write(ctx, "bess", "setpoint_kw", 10); !errors.Is(err, modbus.ErrServerDeviceFailure) {
		t.Fatalf("write to excepting device: %v", err)
	}
}

func TestDeadDeviceDoesNotDelayOthers(t *testing.T) {
	r := startRig(t, testSite(t))
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	ctx := context.Background()
	before := byID(p.Poll(ctx))["pv"]
	if before.Stale {
		t.Fatalf("pv stale before the fault: %v", before.Err)
	}
	lastPower := val(t, before, "active_power_kw")

	r.sim.SetFault("pv", sim.FaultNoAnswer)
	r.clk.Advance(time.Minute)
	start := time.Now()
	m := byID(p.Poll(ctx))
	took := time.Since(start)
	timeout := r.devices[3].Timeout.D
	if took > timeout+time.Second {
		t.Errorf("poll took %v with one dead device (timeout %v)", took, timeout)
	}
	dead := m["pv"]
	if !dead.Stale || dead.Err == nil || !errors.Is(dead.Err, modbus.ErrTimeout) {
		t.Fatalf("dead pv: stale=%v err=%v", dead.Stale, dead.Err)
	}
	if dead.Latency < timeout {
		t.Errorf("dead pv latency %v shorter than its timeout %v", dead.Latency, timeout)
	}
	if len(dead.Values) != len(before.Values) {
		t.Fatalf("stale reading has %d values, want the %d last good ones", len(dead.Values), len(before.Values))
	}
	for _, v := range dead.Values {
		if v.Quality != fieldbus.Stale {
			t.Errorf("pv.%s quality %s, want stale", v.Point, v.Quality)
		}
	}
	if v, _ := dead.Value("active_power_kw"); v.Value != lastPower {
		t.Errorf("stale pv power %v, want last good %v", v.Value, lastPower)
	}
	for id, rd := range m {
		if id == "pv" {
			continue
		}
		if rd.Stale || rd.Err != nil {
			t.Errorf("%s affected by the dead pv: %v", id, rd.Err)
		}
		if rd.Latency > timeout/2 {
			t.Errorf("%s latency %v with a dead neighbour (timeout %v)", id, rd.Latency, timeout)
		}
	}

	// Recovery once the device answers again.
	r.sim.SetFault("pv", sim.FaultNone)
	again := byID(p.Poll(ctx))["pv"]
	if again.Stale || again.Err != nil {
		t.Fatalf("pv did not recover: %v", again.Err)
	}
	if s, _ := r.sim.State("pv"); math.Abs(val(t, again, "active_power_kw")-s.PowerKW) > 0.005 {
		t.Fatalf("recovered pv power %v, sim %v", val(t, again, "active_power_kw"), s.PowerKW)
	}
}

func TestPollFaults(t *testing.T) {
	r := startRig(t, testSite(t))
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	ctx := context.Background()
	p.Poll(ctx) // establish last good values

	r.sim.SetFault("meter", sim.FaultGarbage)
	r.sim.SetFault("bess", sim.FaultException)
	r.sim.SetFault("load", sim.FaultSlow)
	r.sim.SetSlowDelay(250 * time.Millisecond)
	m := byID(p.Poll(ctx))

	// Garbage: NaN floats and out-of-limit values are bad, the rest decode.
	meter := m["meter"]
	if meter.Stale || meter.Err == nil {
		t.Fatalf("garbage meter: stale=%v err=%v", meter.Stale, meter.Err)
	}
	for _, c := range []struct {
		point string
		q     fieldbus.Quality
		want  string
	}{
		{"voltage_v", fieldbus.Bad, "NaN"},
		{"frequency_hz", fieldbus.Bad, "NaN"},
		{"active_power_kw", fieldbus.Good, ""},
		{"energy_import_kwh", fieldbus.Good, ""},
	} {
		v, _ := meter.Value(c.point)
		if v.Quality != c.q || (c.want != "" && (v.Err == nil || !strings.Contains(v.Err.Error(), c.want))) {
			t.Errorf("garbage meter %s: quality %s err %v, want %s %q", c.point, v.Quality, v.Err, c.q, c.want)
		}
	}
	if v, _ := meter.Value("active_power_kw"); v.Value != -0.01 {
		t.Errorf("garbage i32 0xFFFFFFFF × 0.01 = %v, want -0.01", v.Value)
	}
	if !strings.Contains(meter.Err.Error(), "meter point voltage_v") {
		t.Errorf("reading error does not name the point: %v", meter.Err)
	}

	// Exception: the device answered, so not stale, but every value is bad.
	b := m["bess"]
	if b.Stale || b.Err == nil || !errors.Is(b.Err, modbus.ErrServerDeviceFailure) {
		t.Fatalf("excepting bess: stale=%v err=%v", b.Stale, b.Err)
	}
	for _, v := range b.Values {
		if v.Quality != fieldbus.Bad || !strings.Contains(v.Err.Error(), "SERVER DEVICE FAILURE") {
			t.Errorf("bess.%s: %s %v", v.Point, v.Quality, v.Err)
		}
	}
	if v, _ := b.Value("soc_pct"); v.Value != 60 {
		t.Errorf("bad soc carries %v, want the last good 60", v.Value)
	}

	// Slow but inside the timeout: good, and the latency shows it.
	l := m["load"]
	if l.Stale || l.Err != nil || l.Latency < 250*time.Millisecond {
		t.Errorf("slow load: stale=%v err=%v latency=%v", l.Stale, l.Err, l.Latency)
	}
	if m["pv"].Latency >= 250*time.Millisecond {
		t.Errorf("pv latency %v next to a slow device", m["pv"].Latency)
	}
}

func TestUnknownUnitID(t *testing.T) {
	r := startRig(t, testSite(t))
	ghost := r.devices[5] // ev1's gateway endpoint
	ghost.ID, ghost.UnitID = "ghost", 9
	p := fieldbus.NewPoller([]fieldbus.Device{ghost, r.devices[6]}, r.clk, quiet)
	defer p.Close()
	m := byID(p.Poll(context.Background()))
	g := m["ghost"]
	if g.Stale || !errors.Is(g.Err, modbus.ErrGWTargetFailedToRespond) {
		t.Fatalf("unknown unit: stale=%v err=%v", g.Stale, g.Err)
	}
	if rd := m["ev2"]; rd.Err != nil || val(t, rd, "connected") != 1 {
		t.Fatalf("ev2 on the same gateway: %v", rd.Err)
	}
}

func TestIPv6Endpoint(t *testing.T) {
	addr := freeAddr(t, "::1")
	cfg := &site.Config{
		Nodes: []site.Node{{ID: "root"}},
		Devices: []site.Device{{ID: "b", Kind: site.KindBESS, Node: "root", Endpoint: addr, UnitID: 1, Profile: "builtin:bess",
			BESS: &site.BESSParams{CapacityKWh: 100, MaxSoCPct: 100, MaxChargeKW: 50, MaxDischargeKW: 50}}},
	}
	if !strings.HasPrefix(addr, "[::1]:") {
		t.Fatalf("address %q", addr)
	}
	r := startRig(t, cfg)
	w := fieldbus.NewWriter(r.devices, r.clk, quiet)
	defer w.Close()
	if res, err := w.Write(context.Background(), "b", "setpoint_kw", 25); err != nil || res.ReadBack != 25 {
		t.Fatalf("write over IPv6: %+v %v", res, err)
	}
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	rd := p.Poll(context.Background())[0]
	if rd.Err != nil || val(t, rd, "active_power_kw") != 25 {
		t.Fatalf("poll over IPv6: %+v", rd)
	}
}

func TestNothingListening(t *testing.T) {
	d := fieldbus.Device{Device: site.Device{ID: "x", Kind: site.KindLoad, Endpoint: freeAddr(t, "127.0.0.1"), UnitID: 1,
		Timeout: site.Duration{D: 200 * time.Millisecond}}}
	d.Profile, _ = fieldbus.BuiltinProfile("load-meter")
	p := fieldbus.NewPoller([]fieldbus.Device{d}, clock.Real{}, quiet)
	defer p.Close()
	rd := p.Poll(context.Background())[0]
	if !rd.Stale || rd.Err == nil || !strings.Contains(rd.Err.Error(), "connect") || len(rd.Values) != 0 {
		t.Fatalf("poll of a closed port: %+v", rd)
	}
	// A cancelled context stops the poll without touching the network.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rd = p.Poll(ctx)[0]
	if !rd.Stale || !errors.Is(rd.Err, context.Canceled) {
		t.Fatalf("poll with cancelled context: %+v", rd)
	}
}

// TestSiteYAML runs the whole chain from a site file: load, check profiles (builtin
// and a file profile with little-endian 64-bit values), simulate, poll.
func TestSiteYAML(t *testing.T) {
	data, err := os.ReadFile("testdata/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for i := 1; i <= 6; i++ {
		_, port, _ := net.SplitHostPort(freeAddr(t, "127.0.0.1"))
		src = strings.ReplaceAll(src, "PORT_"+string(rune('0'+i)), port)
	}
	cfg, err := site.Parse("testdata/site.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := startRig(t, cfg)
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	r.clk.Advance(90 * time.Minute)
	m := byID(p.Poll(context.Background()))
	for id, rd := range m {
		if rd.Stale || rd.Err != nil {
			t.Fatalf("%s: %v", id, rd.Err)
		}
	}
	fm, _ := r.sim.State("feeder-meter")
	if got := val(t, m["feeder-meter"], "active_power_kw"); got != fm.PowerKW {
		t.Errorf("f64 little-endian feeder power %v, sim %v", got, fm.PowerKW)
	}
	near(t, "u64 import counter", val(t, m["feeder-meter"], "energy_import_kwh"), fm.ImportKWh, 0.001)
	near(t, "frequency with offset", val(t, m["feeder-meter"], "frequency_hz"), fm.FrequencyHz, 0.01)
	sum := 0.0
	for _, id := range []string{"bess", "load", "ev1", "ev2"} {
		s, _ := r.sim.State(id)
		sum += s.PowerKW
	}
	near(t, "feeder meter = sum of feeder devices", fm.PowerKW, sum, 1e-9)
	near(t, "bess soc from the file", val(t, m["bess"], "soc_pct"), 40, 0.1)
	ev1, _ := r.sim.State("ev1")
	ev2, _ := r.sim.State("ev2")
	if ev1.User == "" || ev2.User == "" || ev1.User == ev2.User {
		t.Errorf("default EV users %q, %q", ev1.User, ev2.User)
	}
}

// BenchmarkPollSite polls the seven-device test site over loopback Modbus TCP.
func BenchmarkPollSite(b *testing.B) {
	r := startRig(b, testSite(b))
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	ctx := context.Background()
	for b.Loop() {
		for _, rd := range p.Poll(ctx) {
			if rd.Err != nil {
				b.Fatal(rd.Err)
			}
		}
	}
}

// BenchmarkWriteSetpoint writes a BESS setpoint with read-back.
func BenchmarkWriteSetpoint(b *testing.B) {
	r := startRig(b, testSite(b))
	w := fieldbus.NewWriter(r.devices, r.clk, quiet)
	defer w.Close()
	ctx := context.Background()
	v := 0.0
	for b.Loop() {
		v = math.Mod(v+1.1, 100)
		if _, err := w.Write(ctx, "bess", "setpoint_kw", v); err != nil {
			b.Fatal(err)
		}
	}
}
