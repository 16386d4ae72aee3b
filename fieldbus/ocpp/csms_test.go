package ocpp_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/ocpp"
	"github.com/gridd/gridd/fieldbus/ocpp/ocppsim"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const testSite = `
site: {name: ocpp-test, timezone: UTC, step: 15m, horizon: 24h}
tariff:
  import: [{from: "00:00", to: "24:00", price_per_kwh: 0.20}]
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes: [{id: root, limit_kw: 500}]
ocpp:
  listen: 127.0.0.1:0
  safe_limit_kw: 1.5
  call_timeout: 3s
  profile_valid_for: 10m
  stations:
    - {id: CP1, password_hash: "HASH1"}
    - {id: CP2, password_hash: "HASH2", charging_rate_unit: A, voltage_v: 230, phases: 3}
devices:
  - id: ev1
    kind: ev_charger
    node: root
    endpoint: ocpp://CP1
    profile: builtin:ocpp-ev-charger
    ev_charger: {max_charge_kw: 11}
    sim: {series: trondheim, user: "Bl2-5"}
  - id: ev2
    kind: ev_charger
    node: root
    endpoint: ocpp://CP2/1
    profile: builtin:ocpp-ev-charger
    ev_charger: {max_charge_kw: 22}
    sim: {series: trondheim, user: "Bl2-2"}
`

var passwords = map[string]string{"CP1": "secret-one", "CP2": "secret-two"}

func hash(t testing.TB, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// auditLog collects the CSMS's audit events.
type auditLog struct {
	mu  sync.Mutex
	evs []string
}

func (a *auditLog) add(action, subject, text string) {
	a.mu.Lock()
	a.evs = append(a.evs, action+" "+subject+" "+text)
	a.mu.Unlock()
}

func (a *auditLog) count(prefix string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, e := range a.evs {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

type rig struct {
	cfg      *site.Config
	profiles map[string]*fieldbus.Profile
	clk      *clock.Sim
	plant    *sim.Sim
	csms     *ocpp.CSMS
	addr     string
	stations *ocppsim.Sim
	audit    *auditLog
	devs     []fieldbus.Device
}

func loadTestSite(t testing.TB, yaml string) (*site.Config, map[string]*fieldbus.Profile) {
	t.Helper()
	yaml = strings.Replace(yaml, "HASH1", hash(t, passwords["CP1"]), 1)
	yaml = strings.Replace(yaml, "HASH2", hash(t, passwords["CP2"]), 1)
	cfg, err := site.Parse("ocpp-test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, profiles
}

// newRig starts the plant, gridd's CSMS and the simulated stations, at a time when
// ev1's vehicle is plugged in.
func newRig(t *testing.T) *rig {
	t.Helper()
	cfg, profiles := loadTestSite(t, testSite)
	data := os.DirFS("../../data")
	// Find a time when ev1 has a vehicle connected that still wants energy.
	probeClk := clock.NewSim(time.Date(2019, 3, 4, 0, 0, 0, 0, time.UTC))
	probe, err := sim.New(cfg, profiles, probeClk, data, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var start time.Time
	for range 24 * 4 * 60 {
		probeClk.Advance(15 * time.Minute)
		if s, _ := probe.State("ev1"); s.Connected && s.SessionRequestKWh > 10 && s.Departure.Sub(probeClk.Now()) > 3*time.Hour {
			start = probeClk.Now().Add(15 * time.Minute)
			break
		}
	}
	if start.IsZero() {
		t.Fatal("no session of ev1 found in the replayed data")
	}
	r := &rig{cfg: cfg, profiles: profiles, clk: clock.NewSim(start), audit: &auditLog{}}
	if r.plant, err = sim.New(cfg, profiles, r.clk, data, quiet); err != nil {
		t.Fatal(err)
	}
	if err := r.plant.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.plant.Stop() })
	r.csms, err = ocpp.New(ocpp.Options{Config: cfg.OCPP, Clock: r.clk, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	r.csms.SetAudit(r.audit.add)
	if r.addr, err = r.csms.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.csms.Close() })
	r.stations, err = ocppsim.New(cfg, r.plant, ocppsim.Options{URL: "ws://" + r.addr + "/ocpp", Clock: r.clk, Log: quiet,
		Password: func(id string) string { return passwords[id] }, SlowDelay: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); r.stations.Stop() })
	if err := r.stations.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range cfg.Devices {
		r.devs = append(r.devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	r.waitSafe(t, 2)
	return r
}

// waitSafe waits until n safe limits were set in all.
func (r *rig) waitSafe(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.audit.count("ocpp.safe_limit") < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d safe limits set; audit: %v", r.audit.count("ocpp.safe_limit"), n, r.audit.evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func value(t *testing.T, rd fieldbus.Reading, point string) fieldbus.Value {
	t.Helper()
	v, ok := rd.Value(point)
	if !ok {
		t.Fatalf("%s: no point %s", rd.DeviceID, point)
	}
	return v
}

// TestScheduleReachesStation: a setpoint written through the production Writer goes
// out as a charging profile, is read back from the composite schedule as ok, the
// simulated station's reported power follows it, a rejected or ignored profile is
// failed or a mismatch, and a disconnected station is stale (comms lost) and gets
// the safe limit again when it reconnects.
func TestScheduleReachesStation(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	p := fieldbus.NewPoller(r.devs, r.clk, quiet, ocpp.WithCSMS(r.csms), fieldbus.WithRetry(fieldbus.Retry{}))
	defer p.Close()
	w := fieldbus.NewWriter(r.devs, r.clk, quiet, ocpp.WithCSMS(r.csms))
	defer w.Close()

	// Safe limit in force after connect: 1.5 kW.
	if kw, ok := r.stations.AppliedKW("ev1"); !ok || math.Abs(kw-1.5) > 1e-9 {
		t.Fatalf("ev1 applies %v (%v) after connect, want the safe limit 1.5 kW", kw, ok)
	}
	rds := p.Poll(ctx)
	for _, rd := range rds {
		if rd.Stale {
			t.Fatalf("%s stale: %v", rd.DeviceID, rd.Err)
		}
	}
	if v := value(t, rds[0], "connected"); v.Value != 1 || v.Quality != fieldbus.Good {
		t.Fatalf("ev1 connected = %+v, want 1 good", v)
	}
	if v := value(t, rds[0], "session_energy_request_kwh"); v.Value <= 10 {
		t.Fatalf("ev1 energy request %+v: NotifyEVChargingNeeds not applied", v)
	}
	if v := value(t, rds[0], "session_departure_unix"); v.Value <= float64(r.clk.Now().Unix()) {
		t.Fatalf("ev1 departure %+v not in the future", v)
	}

	for _, tc := range []struct {
		dev string
		kw  float64
	}{{"ev1", 7}, {"ev2", 8.3}} {
		res, err := w.Write(ctx, tc.dev, "setpoint_kw", tc.kw)
		if err != nil || res.Mismatch || res.ReadBack != res.Written {
			t.Fatalf("%s write %v: %+v, %v", tc.dev, tc.kw, res, err)
		}
	}
	if kw, _ := r.stations.AppliedKW("ev1"); math.Abs(kw-7) > 1e-9 {
		t.Fatalf("station applies %v kW to ev1, want 7", kw)
	}
	r.clk.Advance(time.Minute)
	rds = p.Poll(ctx)
	if v := value(t, rds[0], "active_power_kw"); math.Abs(v.Value-7) > 0.01 || v.Quality != fieldbus.Good {
		t.Fatalf("ev1 power %+v after a 7 kW profile, want 7 good", v)
	}
	if v := value(t, rds[0], "setpoint_kw"); v.Value != 7 {
		t.Fatalf("ev1 setpoint_kw %+v, want 7", v)
	}
	if v := value(t, rds[0], "session_energy_kwh"); v.Value <= 0 {
		t.Fatalf("ev1 session energy %+v, want > 0 after a minute at 7 kW", v)
	}
	res, err := w.Write(ctx, "ev1", "setpoint_kw", 4)
	if err != nil || res.Mismatch {
		t.Fatalf("write 4: %+v %v", res, err)
	}
	r.clk.Advance(time.Minute)
	if v := value(t, p.Poll(ctx)[0], "active_power_kw"); math.Abs(v.Value-4) > 0.01 {
		t.Fatalf("ev1 power %+v after a 4 kW profile", v)
	}

	// No V2G over OCPP: the profile refuses it before anything is sent.
	if _, err := w.Write(ctx, "ev1", "setpoint_kw", -3); !errors.Is(err, fieldbus.ErrOutOfLimits) {
		t.Fatalf("negative setpoint: %v, want out of limits", err)
	}

	// A rejected profile fails; an ignored one reads back as a mismatch.
	if err := r.stations.SetFault("CP1", ocppsim.FaultRejectProfile); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(ctx, "ev1", "setpoint_kw", 5); err == nil || !strings.Contains(err.Error(), "Rejected") {
		t.Fatalf("rejected profile: %v", err)
	}
	if err := r.stations.SetFault("CP1", ocppsim.FaultIgnoreProfile); err != nil {
		t.Fatal(err)
	}
	if res, err := w.Write(ctx, "ev1", "setpoint_kw", 6); err != nil || !res.Mismatch || res.ReadBack != 4 {
		t.Fatalf("ignored profile: %+v %v, want a mismatch reading back 4", res, err)
	}
	_ = r.stations.SetFault("CP1", ocppsim.FaultNone)

	// Disconnect: comms lost (stale), writes fail; reconnect: the safe limit again.
	safeBefore := r.audit.count("ocpp.safe_limit")
	if err := r.stations.SetFault("CP1", ocppsim.FaultDisconnect); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := r.csms.Connected("CP1"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("CSMS still sees CP1 connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rd := p.Poll(ctx)[0]
	if !rd.Stale || !errors.Is(rd.Err, ocpp.ErrNotConnected) {
		t.Fatalf("disconnected ev1: stale %v err %v", rd.Stale, rd.Err)
	}
	if r.audit.count("ocpp.disconnect") == 0 {
		t.Fatal("no audit event for the disconnect")
	}
	if _, err := w.Write(ctx, "ev1", "setpoint_kw", 3); !errors.Is(err, ocpp.ErrNotConnected) {
		t.Fatalf("write to a disconnected station: %v", err)
	}
	if err := r.stations.SetFault("CP1", ocppsim.FaultNone); err != nil {
		t.Fatal(err)
	}
	r.waitSafe(t, safeBefore+1)
	if rd := p.Poll(ctx)[0]; rd.Stale {
		t.Fatalf("reconnected ev1 still stale: %v", rd.Err)
	}
	// The station keeps gridd's last profile (4 kW) until its validTo
	// (ocpp.profile_valid_for, 10 min), then falls back to the safe limit.
	if kw, ok := r.stations.AppliedKW("ev1"); !ok || math.Abs(kw-4) > 1e-9 {
		t.Fatalf("after reconnect ev1 applies %v (%v), want its last profile's 4 kW", kw, ok)
	}
	r.clk.Advance(5 * time.Minute)
	p.Poll(ctx)
	if kw, _ := r.stations.AppliedKW("ev1"); math.Abs(kw-4) > 1e-9 {
		t.Fatalf("inside validTo ev1 applies %v, want 4", kw)
	}
	r.clk.Advance(6 * time.Minute)
	if rd := p.Poll(ctx)[0]; rd.Stale {
		t.Fatalf("ev1 stale past validTo: %v", rd.Err)
	}
	if kw, ok := r.stations.AppliedKW("ev1"); !ok || math.Abs(kw-1.5) > 1e-9 {
		t.Fatalf("past validTo ev1 applies %v (%v), want the safe limit 1.5", kw, ok)
	}
	r.clk.Advance(time.Minute)
	if v := value(t, p.Poll(ctx)[0], "active_power_kw"); math.Abs(v.Value-1.5) > 0.01 {
		t.Fatalf("ev1 power %+v under the safe limit, want 1.5", v)
	}
}
