package iec104_test

import (
	"context"
	"github.com/gridd/gridd/internal/iec104test"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/iec104"
	"github.com/gridd/gridd/internal/testsite"
)

// stationSite is a demo-like site: a root meter, a building, a battery with room
// to cut the import, two chargers, auto-approval, and an iec104 section for
// loopback masters.
const stationSite = `
site: {name: scada, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 6h}
tariff:
  import:
    - {from: "00:00", to: "08:00", price_per_kwh: 0.40}
    - {from: "08:00", to: "09:00", price_per_kwh: 0.05}
    - {from: "09:00", to: "24:00", price_per_kwh: 0.40}
  export_price_per_kwh: 0.01
  demand_charge_per_kw: 10
grid: {import_limit_kw: 900, export_limit_kw: 300}
nodes:
  - {id: sub, parent: "", limit_kw: 900}
  - {id: f1, parent: sub, limit_kw: 800}
approval: {auto: true}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:PORT1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: f1, endpoint: "127.0.0.1:PORT1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: f1
    endpoint: "127.0.0.1:PORT2"
    profile: "builtin:bess"
    bess: {capacity_kwh: 400, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 150, max_discharge_kw: 150, charge_efficiency: 0.95, discharge_efficiency: 0.95}
    sim: {initial_soc_pct: 60}
  - {id: ev-1, kind: ev_charger, node: f1, endpoint: "127.0.0.1:PORT3", unit_id: 1, profile: "builtin:ev-charger", ev_charger: {max_charge_kw: 11}, sim: {series: trondheim, user: "Bl2-5"}}
  - {id: ev-2, kind: ev_charger, node: f1, endpoint: "127.0.0.1:PORT3", unit_id: 2, profile: "builtin:ev-charger", ev_charger: {max_charge_kw: 11}, sim: {series: trondheim, user: "Bl2-2"}}
iec104:
  listen: "127.0.0.1:PORT4"
  common_address: 7
  allow: ["127.0.0.1"]
  allow_pause: PAUSE
  clock_sync: CLOCK
  deadband_kw: 0.5
`

var start = time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)

type rig struct {
	site  *testsite.Site
	srv   *iec104.Server
	addr  string
	watch *fieldbus.Poller
}

func newRig(t *testing.T, allowPause bool, clockSync string) *rig {
	t.Helper()
	return startRig(t, allowPause, clockSync, 20*time.Millisecond, "")
}

// newBenchRig is a rig with the station's default scan period.
func newBenchRig(b *testing.B) *rig { return startRig(b, false, "refuse", 0, "") }

// startRig starts the site and the station; extra is appended to the iec104 section.
func startRig(t testing.TB, allowPause bool, clockSync string, scan time.Duration, extra string, opts ...func(*iec104.Options)) *rig {
	t.Helper()
	r := strings.NewReplacer("PORT1", strconv.Itoa(testsite.FreePort(t)), "PORT2", strconv.Itoa(testsite.FreePort(t)),
		"PORT3", strconv.Itoa(testsite.FreePort(t)), "PORT4", strconv.Itoa(testsite.FreePort(t)), "PAUSE", strconv.FormatBool(allowPause), "CLOCK", clockSync)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := testsite.Start(t, "scada.yaml", r.Replace(stationSite)+extra, start, log)
	ctx, cancel := context.WithCancel(context.Background())
	if res, err := s.Service.RunCycle(ctx, start); err != nil || res.Schedule == nil {
		t.Fatalf("first cycle: %v", err)
	}
	// One control tick, so the latest readings are those after the cycle's writes.
	iv := s.Config.Control.Interval.D
	s.Clock.Set(start.Add(iv))
	if _, err := s.Service.ControlTick(ctx, start.Add(iv), iv); err != nil {
		t.Fatal(err)
	}
	o := iec104.Options{Config: s.Config, Logger: log, Scan: scan}
	for _, f := range opts {
		f(&o)
	}
	srv, err := iec104.New(s.Service, o)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Wait() })
	watch := fieldbus.NewPoller(testsite.Devices(s.Config, s.Profiles), s.Clock, log)
	t.Cleanup(func() { watch.Close() })
	return &rig{site: s, srv: srv, addr: addr.String(), watch: watch}
}

// meter reads the root meter's import over Modbus, as an independent client.
func (r *rig) meter(t *testing.T) float64 {
	t.Helper()
	for _, rd := range r.watch.Poll(context.Background()) {
		if rd.DeviceID != "meter" {
			continue
		}
		v, ok := rd.Value("active_power_kw")
		if !ok || v.Quality != fieldbus.Good {
			t.Fatalf("meter not read good: %+v", v)
		}
		return v.Value
	}
	t.Fatal("no meter reading")
	return 0
}

func (r *rig) audits(t *testing.T, action string) []string {
	t.Helper()
	evs, err := r.site.Store.ListAuditAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Action == action {
			out = append(out, e.Actor+" "+e.Subject)
		}
	}
	return out
}

// A master written from the standard runs STARTDT, a general interrogation and a
// C_SE_NC_1 import limit: every point answers, the limit reaches the battery (the
// root meter, read over Modbus, is under it within two control ticks), and the
// master then sees 2004 set and 1001 under the limit spontaneously.
func TestInteropInterrogationAndImportLimit(t *testing.T) {
	r := newRig(t, false, "accept")
	m, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	m.SendI(iec104test.GI(7))
	if a := m.Reply(100, 7); a.Neg {
		t.Fatalf("GI refused: %+v", a)
	}
	m.Reply(100, 10)
	want := []uint32{1001, 1002, 1003, 1101, 1102, 1201, 1301, 1400, 2001, 2002, 2003, 2004}
	for _, ioa := range want {
		if _, ok := m.Points[ioa]; !ok {
			t.Errorf("GI did not answer IOA %d (got %v)", ioa, m.Points)
		}
	}
	for _, a := range m.Log {
		if (a.Typ == 13 || a.Typ == 1) && a.Cause != 20 {
			t.Errorf("GI point of type %d with cause %d, want 20 (inrogen)", a.Typ, a.Cause)
		}
	}
	before := r.meter(t)
	if got := m.Points[1001]; got.Qual&0x80 != 0 || math.Abs(got.Value-before) > 5 {
		t.Fatalf("1001 = %.1f (quality %#x), meter reads %.1f", got.Value, got.Qual, before)
	}
	if m.Points[2001].Value != 1 || m.Points[2002].Value != 1 || m.Points[2004].Value != 0 {
		t.Fatalf("single points 2001 %v 2002 %v 2004 %v, want 1 1 0", m.Points[2001], m.Points[2002], m.Points[2004])
	}
	limit := math.Round(before - 40)
	if limit <= 0 {
		t.Fatalf("import %.1f kW too small for the test", before)
	}

	m.SendI(iec104test.Setpoint(7, 6, 3001, float32(limit), 0))
	if a := m.Reply(50, 7); a.Neg {
		t.Fatalf("import limit %.0f refused: %+v", limit, a)
	}
	m.Reply(50, 10)
	// The limit reaches the devices within two control ticks.
	iv := r.site.Config.Control.Interval.D
	now := r.site.Clock.Now()
	got := r.meter(t)
	for k := 1; k <= 2 && got > limit+0.5; k++ {
		now = now.Add(iv)
		r.site.Clock.Set(now)
		if _, err := r.site.Service.ControlTick(t.Context(), now, iv); err != nil {
			t.Fatal(err)
		}
		got = r.meter(t)
	}
	if got > limit+0.5 {
		t.Fatalf("meter import %.1f kW two ticks after an IEC 104 limit of %.0f kW (was %.1f)", got, limit, before)
	}
	// The next tick's poll feeds the station; the master sees it spontaneously.
	now = now.Add(iv)
	r.site.Clock.Set(now)
	if _, err := r.site.Service.ControlTick(t.Context(), now, iv); err != nil {
		t.Fatal(err)
	}
	m.Until("1001 under the limit and 2004 set", 5*time.Second, func(iec104test.ASDU) bool {
		p, ok := m.Points[1001]
		return ok && p.Value <= limit+0.5 && m.Points[2004].Value == 1
	})
	sawTF := false
	for _, a := range m.Log {
		sawTF = sawTF || (a.Typ == 36 && a.Cause == 3)
	}
	if !sawTF {
		t.Errorf("no spontaneous M_ME_TF_1 (type 36, cause 3) among %d ASDUs", len(m.Log))
	}
	// The limit is in force from iec104, audited with the master's address, held
	// limit_hold; repeating the command replaces it rather than stacking another.
	ls := r.site.Service.Limits(t.Context(), now)
	if len(ls) != 1 || ls[0].Source != "iec104" || ls[0].ImportKW == nil || *ls[0].ImportKW != limit || ls[0].Actor != "iec104:127.0.0.1" || ls[0].Until.Sub(ls[0].From) != 15*time.Minute {
		t.Fatalf("limits in force %+v", ls)
	}
	m.SendI(iec104test.Setpoint(7, 6, 3001, float32(limit+5), 0))
	m.Reply(50, 7)
	m.Reply(50, 10)
	ls = r.site.Service.Limits(t.Context(), now)
	if len(ls) != 1 || *ls[0].ImportKW != limit+5 {
		t.Fatalf("after a repeated command: limits %+v, want one of %.0f kW", ls, limit+5)
	}
	if a := r.audits(t, "limit.set"); len(a) != 2 || !strings.HasPrefix(a[0], "iec104:127.0.0.1") {
		t.Fatalf("limit.set audit events %v", a)
	}
	// Not refreshed, the limit lapses after limit_hold and 2004 clears.
	r.site.Clock.Set(now.Add(15*time.Minute + time.Second))
	m.Until("2004 cleared after limit_hold", 5*time.Second, func(iec104test.ASDU) bool { return m.Points[2004].Value == 0 })
	if a := r.audits(t, "limit.expire"); len(a) != 1 {
		t.Fatalf("limit.expire audit events %v", a)
	}
}
