package iec104_test

import (
	"context"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	fbiec104 "github.com/gridd/gridd/fieldbus/iec104"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/site"
)

// rtuSite: a feeder meter and a battery behind one simulated RTU (common
// addresses 1 and 2), and a load on Modbus below the meter.
const rtuSite = `
site: {name: rtu, timezone: UTC}
tariff: {import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}], export_price_per_kwh: 0.05}
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes:
  - {id: sub, parent: "", limit_kw: 500}
  - {id: f1, parent: sub, limit_kw: 400}
devices:
  - {id: feeder, kind: meter, node: f1, endpoint: "iec104://127.0.0.1:RTU", unit_id: 1, profile: "builtin:rtu104-feeder-meter"}
  - id: bess
    kind: bess
    node: f1
    endpoint: "iec104://127.0.0.1:RTU"
    unit_id: 2
    profile: "builtin:rtu104-bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 100, max_discharge_kw: 100}
    sim: {initial_soc_pct: 55}
  - {id: load, kind: load, node: f1, endpoint: "127.0.0.1:MB", unit_id: 1, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
`

type rig struct {
	sim    *sim.Sim
	poller *fieldbus.Poller
	writer *fieldbus.Writer
	devs   []fieldbus.Device
}

func newRig(t *testing.T) *rig {
	t.Helper()
	yml := strings.NewReplacer("RTU", strconv.Itoa(testsite.FreePort(t)), "MB", strconv.Itoa(testsite.FreePort(t))).Replace(rtuSite)
	cfg, err := site.Parse("rtu.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	clk := clock.Real{}
	sm := testsite.StartSim(t, t.Context(), cfg, profiles, clk, log)
	devs := testsite.Devices(cfg, profiles)
	shared := fieldbus.NewShared()
	t.Cleanup(func() { shared.Close() })
	p := fieldbus.NewPoller(devs, clk, log, fieldbus.WithShared(shared), fieldbus.WithBreaker(fieldbus.Breaker{}),
		fieldbus.WithRetry(fieldbus.Retry{}))
	w := fieldbus.NewWriter(devs, clk, log, fieldbus.WithShared(shared))
	t.Cleanup(func() { p.Close(); w.Close() })
	return &rig{sim: sm, poller: p, writer: w, devs: devs}
}

func (r *rig) reading(t *testing.T, dev string) fieldbus.Reading {
	t.Helper()
	for _, rd := range r.poller.Poll(context.Background()) {
		if rd.DeviceID == dev {
			return rd
		}
	}
	t.Fatalf("no reading of %s", dev)
	return fieldbus.Reading{}
}

func good(t *testing.T, rd fieldbus.Reading, point string) float64 {
	t.Helper()
	v, ok := rd.Value(point)
	if !ok || v.Quality != fieldbus.Good {
		t.Fatalf("%s.%s: %+v (reading err %v)", rd.DeviceID, point, v, rd.Err)
	}
	return v.Value
}

// until polls until cond holds for the device's reading.
func (r *rig) until(t *testing.T, dev, what string, timeout time.Duration, cond func(fieldbus.Reading) bool) fieldbus.Reading {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rd := r.reading(t, dev)
		if cond(rd) {
			return rd
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s not within %s; last reading %+v", dev, what, timeout, rd)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Values read over IEC 104 (interrogation at connect, then spontaneous updates)
// are the simulator's, in engineering units through each type (short float, scaled,
// normalised); a setpoint is written by C_SE_NC_1, confirmed, and read back.
func TestRTUValuesAndSetpoint(t *testing.T) {
	r := newRig(t)
	rd := r.reading(t, "feeder")
	st, _ := r.sim.State("feeder")
	if p := good(t, rd, "active_power_kw"); math.Abs(p-st.PowerKW) > 1 {
		t.Fatalf("feeder active power %.2f over IEC 104, simulator %.2f", p, st.PowerKW)
	}
	if v := good(t, rd, "voltage_v"); math.Abs(v-400) > 2 {
		t.Fatalf("voltage %.2f V (M_ME_NA_1 normalised to 500 V), want about 400", v)
	}
	if f := good(t, rd, "frequency_hz"); math.Abs(f-50) > 0.05 {
		t.Fatalf("frequency %.3f Hz (M_ME_NB_1 scaled 0.01), want about 50", f)
	}
	bess := r.reading(t, "bess")
	if soc := good(t, bess, "soc_pct"); math.Abs(soc-55) > 1 {
		t.Fatalf("bess SoC %.2f %%, want about 55", soc)
	}
	if c := good(t, bess, "capacity_kwh"); c != 200 {
		t.Fatalf("bess capacity %.1f kWh, want 200", c)
	}

	res, err := r.writer.Write(t.Context(), "bess", "setpoint_kw", 40)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 40 || res.ReadBack != 40 || res.Mismatch {
		t.Fatalf("write result %+v, want 40 written and read back", res)
	}
	if st, _ := r.sim.State("bess"); st.SetpointKW != 40 {
		t.Fatalf("simulated battery setpoint %v, want 40", st.SetpointKW)
	}
	// The battery's power follows; the feeder meter sees it spontaneously.
	r.until(t, "bess", "active power 40 kW", 3*time.Second, func(rd fieldbus.Reading) bool {
		v, ok := rd.Value("active_power_kw")
		return ok && v.Quality == fieldbus.Good && math.Abs(v.Value-40) < 0.5
	})
	r.until(t, "feeder", "the feeder meter to follow the battery", 3*time.Second, func(rd fieldbus.Reading) bool {
		v, ok := rd.Value("active_power_kw")
		st, _ := r.sim.State("feeder")
		return ok && v.Quality == fieldbus.Good && math.Abs(v.Value-st.PowerKW) < 1
	})

	// The RTU refuses the command (negative ACTCON): the write fails at its stage.
	if err := r.sim.SetFault("bess", sim.FaultException); err != nil {
		t.Fatal(err)
	}
	if _, err := r.writer.Write(t.Context(), "bess", "setpoint_kw", 10); err == nil || !strings.Contains(err.Error(), "negative confirmation") {
		t.Fatalf("write to a refusing RTU: %v, want a negative confirmation", err)
	}
	if st, _ := r.sim.State("bess"); st.SetpointKW != 40 {
		t.Fatalf("refused command changed the setpoint to %v", st.SetpointKW)
	}
}

// Quality: values the RTU flags invalid (IV) are bad; when the link is lost the
// devices are stale with their last values; the driver reconnects by itself and
// interrogates again.
func TestRTUQualityLossAndReconnect(t *testing.T) {
	r := newRig(t)
	before := good(t, r.reading(t, "feeder"), "active_power_kw")

	if err := r.sim.SetFault("feeder", sim.FaultGarbage); err != nil {
		t.Fatal(err)
	}
	rd := r.until(t, "feeder", "IV quality", 3*time.Second, func(rd fieldbus.Reading) bool {
		v, _ := rd.Value("active_power_kw")
		return v.Quality == fieldbus.Bad
	})
	if v, _ := rd.Value("active_power_kw"); !strings.Contains(v.Err.Error(), "invalid (IV)") {
		t.Fatalf("bad value's error %v, want IV", v.Err)
	}
	if soc := good(t, r.reading(t, "bess"), "soc_pct"); soc == 0 {
		t.Fatal("the battery (another common address) should stay good")
	}
	if err := r.sim.SetFault("feeder", sim.FaultNone); err != nil {
		t.Fatal(err)
	}
	r.until(t, "feeder", "good again", 3*time.Second, func(rd fieldbus.Reading) bool {
		v, _ := rd.Value("active_power_kw")
		return v.Quality == fieldbus.Good
	})

	// Link loss: the RTU drops the connection and refuses new ones.
	if err := r.sim.SetFault("feeder", sim.FaultNoAnswer); err != nil {
		t.Fatal(err)
	}
	rd = r.until(t, "bess", "stale after link loss", 5*time.Second, func(rd fieldbus.Reading) bool { return rd.Stale })
	if v, ok := rd.Value("soc_pct"); !ok || v.Quality != fieldbus.Stale || v.Value == 0 {
		t.Fatalf("stale reading keeps the last value: %+v", v)
	}
	t0 := time.Now()
	if rd := r.reading(t, "feeder"); !rd.Stale || !strings.Contains(rd.Err.Error(), "link down") {
		t.Fatalf("feeder after link loss: stale %v err %v", rd.Stale, rd.Err)
	}
	if d := time.Since(t0); d > 500*time.Millisecond {
		t.Errorf("a poll with the link down took %s; between reconnection attempts it should fail at once", d)
	}
	if _, err := r.writer.Write(t.Context(), "bess", "setpoint_kw", 5); err == nil {
		t.Fatal("a write with the link down succeeded")
	}
	// Back: the driver reconnects within its backoff and reads good values again.
	if err := r.sim.SetFault("feeder", sim.FaultNone); err != nil {
		t.Fatal(err)
	}
	rd = r.until(t, "feeder", "good after reconnect", 10*time.Second, func(rd fieldbus.Reading) bool {
		v, ok := rd.Value("active_power_kw")
		return !rd.Stale && ok && v.Quality == fieldbus.Good
	})
	if v, _ := rd.Value("active_power_kw"); math.Abs(v.Value-before) > 200 {
		t.Fatalf("after reconnect %.1f kW, before %.1f", v.Value, before)
	}
	if res, err := r.writer.Write(t.Context(), "bess", "setpoint_kw", -20); err != nil || res.ReadBack != -20 {
		t.Fatalf("write after reconnect: %+v %v", res, err)
	}
}

func TestCheckEndpoint(t *testing.T) {
	for _, tc := range []struct {
		ep, err string
	}{
		{"iec104://10.0.0.5:2404", ""},
		{"iec104://rtu-7.example", ""},
		{"iec104://[::1]:2405", ""},
		{"iec104+tls://10.0.0.5:19998?ca=ca.pem", ""},
		{"iec104+tls://10.0.0.5?ca=ca.pem&cert=c.pem&key=k.pem", ""},
		{"iec104://", "host is empty"},
		{"iec104://10.0.0.5:0", "port"},
		{"iec104://10.0.0.5:70000", "port"},
		{"iec104://10.0.0.5:2404/x", "without path"},
		{"iec104://10.0.0.5?ca=ca.pem", "iec104+tls"},
		{"iec104+tls://10.0.0.5", "ca is missing"},
		{"iec104+tls://10.0.0.5?ca=a&cert=c", "go together"},
		{"iec104://10.0.0.5?x=1", "unknown setting"},
		{"modbus://10.0.0.5", "scheme"},
	} {
		err := fbiec104.Driver{}.CheckEndpoint(tc.ep)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("CheckEndpoint(%q) = %v, want %q", tc.ep, err, tc.err)
		}
	}
	if e, err := fbiec104.ParseEndpoint("iec104://rtu"); err != nil || e.Addr != "rtu:2404" {
		t.Errorf("default port: %+v %v", e, err)
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"iec104://10.0.0.5:2404", "iec104+tls://h?ca=a&cert=c&key=k", "iec104://[::1]", "iec104://h:x", "iec104://%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := fbiec104.ParseEndpoint(s)
		if err != nil {
			return
		}
		// The canonical form parses to the same endpoint.
		e2, err := fbiec104.ParseEndpoint(e.String())
		if err != nil || e2 != e {
			t.Fatalf("%q -> %q -> %+v, %v", s, e.String(), e2, err)
		}
	})
}

// A profile for the other protocol is refused at config check, naming the device's
// profile field and value.
func TestProfileProtocolMismatch(t *testing.T) {
	yml := strings.NewReplacer("RTU", "2404", "MB", "1502", `"builtin:rtu104-bess"`, `"builtin:bess"`, `"builtin:load-meter"`, `"builtin:rtu104-feeder-meter"`).Replace(rtuSite)
	cfg, err := site.Parse("rtu.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	_, err = fieldbus.CheckSite(cfg)
	for _, want := range []string{
		`devices[1].profile (device bess): "builtin:bess": profile bess is for protocol modbus; an IEC 104 endpoint needs a protocol iec104 profile`,
		`devices[2].profile (device load): "builtin:rtu104-feeder-meter": profile rtu104-feeder-meter is for protocol iec104; a Modbus endpoint needs a register map`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckSite: %v\nwant %s", err, want)
		}
	}
}

// A device at a common address the RTU does not serve: the RTU refuses its
// interrogation (cause 46) and every point is bad, naming the IOA; the other
// devices on the link are unaffected.
func TestRTUUnknownCommonAddress(t *testing.T) {
	r := newRig(t)
	ghost := r.devs[0]
	ghost.ID, ghost.UnitID = "ghost", 9
	p := fieldbus.NewPoller([]fieldbus.Device{ghost, r.devs[0]}, clock.Real{}, slog.New(slog.DiscardHandler),
		fieldbus.WithBreaker(fieldbus.Breaker{}), fieldbus.WithRetry(fieldbus.Retry{}))
	t.Cleanup(func() { p.Close() })
	rds := p.Poll(t.Context())
	if rds[0].Stale {
		t.Fatalf("ghost: the link is up, the reading should not be stale: %v", rds[0].Err)
	}
	v, _ := rds[0].Value("active_power_kw")
	if v.Quality != fieldbus.Bad || !strings.Contains(v.Err.Error(), "IOA 1001: no value received from common address 9") {
		t.Fatalf("ghost active power %+v", v)
	}
	good(t, rds[1], "active_power_kw")
}

// A device opened on a link that is already up (a Writer sharing the Poller's
// connections, say) is interrogated at once: its first read is good.
func TestRTUDeviceAddedToLiveLink(t *testing.T) {
	r := newRig(t)
	log := slog.New(slog.DiscardHandler)
	shared := fieldbus.NewShared()
	t.Cleanup(func() { shared.Close() })
	var feeder, bess fieldbus.Device
	for _, d := range r.devs {
		switch d.ID {
		case "feeder":
			feeder = d
		case "bess":
			bess = d
		}
	}
	p1 := fieldbus.NewPoller([]fieldbus.Device{feeder}, clock.Real{}, log, fieldbus.WithShared(shared))
	t.Cleanup(func() { p1.Close() })
	good(t, p1.Poll(t.Context())[0], "active_power_kw")
	p2 := fieldbus.NewPoller([]fieldbus.Device{bess}, clock.Real{}, log, fieldbus.WithShared(shared), fieldbus.WithRetry(fieldbus.Retry{}))
	t.Cleanup(func() { p2.Close() })
	good(t, p2.Poll(t.Context())[0], "soc_pct")
}
