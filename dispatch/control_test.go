package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/memstore"
)

// controlSite has a building large enough for a load step to matter, a battery with
// room to correct it, and a demand charge so the plan has a peak target. The
// battery's profile (BESSPROFILE) may carry a command watchdog.
const controlSite = `
site: {name: rt, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 6h}
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
    profile: "BESSPROFILE"
    bess: {capacity_kwh: 400, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 150, max_discharge_kw: 150, charge_efficiency: 0.95, discharge_efficiency: 0.95}
    safety: {reserve_soc_pct: 20}
    sim: {initial_soc_pct: 60}
`

var controlStart = time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)

func startControlSite(t *testing.T, watchdog string) (*testsite.Site, *fieldbus.Poller) {
	t.Helper()
	return startControlSiteWith(t, watchdog, controlSite)
}

// startControlSiteWith is startControlSite on a variant of controlSite.
func startControlSiteWith(t *testing.T, watchdog, siteYAML string) (*testsite.Site, *fieldbus.Poller) {
	t.Helper()
	profile := "builtin:bess"
	if watchdog != "" {
		profile = testsite.WatchdogProfile(t, "bess", watchdog)
	}
	p1, p2 := testsite.FreePort(t), testsite.FreePort(t)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(p1), "PORT2", strconv.Itoa(p2), "BESSPROFILE", profile).Replace(siteYAML)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := testsite.Start(t, "rt.yaml", yml, controlStart, log)
	// An independent poller reads what the devices do, over Modbus.
	watch := fieldbus.NewPoller(testsite.Devices(s.Config, s.Profiles), s.Clock, log)
	t.Cleanup(func() { watch.Close() })
	return s, watch
}

// read returns one point of one device as an independent Modbus client sees it.
func read(t *testing.T, p *fieldbus.Poller, device, point string) float64 {
	t.Helper()
	return testsite.Read(t, p, device, point)
}

// A battery whose profile has a 6 s command watchdog keeps the plan's setpoint for
// three whole cycles: the real-time layer re-writes it through the envelope before
// the watchdog runs out. Without the keep-alive the simulator drops it to 0 after 6 s.
func TestControlKeepsWatchdogAlive(t *testing.T) {
	s, watch := startControlSite(t, "6s")
	ctx := t.Context()
	iv := s.Config.Control.Interval.D
	var checked, kept int
	for c := 0; c < 3; c++ {
		at := controlStart.Add(time.Duration(c) * s.Config.Site.Step.D)
		s.Clock.Set(at)
		res, err := s.Service.RunCycle(ctx, at)
		if err != nil {
			t.Fatal(err)
		}
		var want float64
		for _, w := range res.Writes {
			if w.DeviceID == "bess" {
				want = w.WrittenKW
			}
		}
		if math.Abs(want) < 1 {
			t.Fatalf("cycle %d: battery written %v kW; the test needs a setpoint the watchdog would drop", c, want)
		}
		for k := 1; at.Add(time.Duration(k) * iv).Before(at.Add(s.Config.Site.Step.D)); k++ {
			now := at.Add(time.Duration(k) * iv)
			s.Clock.Set(now)
			tr, err := s.Service.ControlTick(ctx, now, iv)
			if err != nil {
				t.Fatalf("tick at %s: %v", now.Format(time.TimeOnly), err)
			}
			kept += tr.KeepAlives
			for _, w := range tr.Writes {
				if w.DeviceID == "bess" && w.Status == storage.WriteOK {
					want = w.WrittenKW // a correction moved it
				}
			}
			if k%15 == 0 {
				checked++
				if got := read(t, watch, "bess", "setpoint_kw"); math.Abs(got-want) > 0.5 {
					t.Fatalf("%s: battery setpoint %.1f kW over Modbus, want the last written %.1f (watchdog ran out)", now.Format(time.TimeOnly), got, want)
				}
			}
		}
	}
	if checked < 3*25 || kept < 3*400 {
		t.Fatalf("checked %d times, %d keep-alives: too few", checked, kept)
	}
	// Keep-alives are not stored one by one: every stored write of a tick changed the
	// value by at least the deadband.
	ws := bessWrites(t, s)
	for i := 1; i < len(ws); i++ {
		if ws[i].Time.Truncate(s.Config.Site.Step.D).Equal(ws[i].Time) {
			continue // a cycle's write
		}
		if d := math.Abs(ws[i].WrittenKW - ws[i-1].WrittenKW); d < s.Config.Control.DeadbandKW-1e-9 {
			t.Fatalf("stored write %+v moved %.2f kW from the one before: a keep-alive was stored", ws[i], d)
		}
	}
}

// A control interval too long for a device's watchdog is refused at start.
func TestControlIntervalTooLongForWatchdog(t *testing.T) {
	profile := testsite.WatchdogProfile(t, "bess", "3s")
	yml := strings.NewReplacer("PORT1", "1502", "PORT2", "1503", "BESSPROFILE", profile).Replace(controlSite)
	cfg, err := site.Parse(filepath.Join(filepath.Dir(profile), "rt.yaml"), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	defer st.Close()
	devs := []fieldbus.Device{}
	_, err = dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: fieldbus.NewPoller(devs, nil, nil), Writer: fieldbus.NewWriter(devs, nil, nil)})
	if err == nil || !strings.Contains(err.Error(), "control.interval = 2s") || !strings.Contains(err.Error(), "bess") || !strings.Contains(err.Error(), "3s") {
		t.Fatalf("err = %v, want one naming control.interval, the device and its watchdog", err)
	}
	// Without the real-time layer nothing would keep the watchdog alive.
	cfg.Control.Interval.D = time.Second
	cfg.Control.Disabled = true
	_, err = dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: fieldbus.NewPoller(devs, nil, nil), Writer: fieldbus.NewWriter(devs, nil, nil)})
	if err == nil || !strings.Contains(err.Error(), "control.disabled") || !strings.Contains(err.Error(), "bess") {
		t.Fatalf("err = %v, want one naming control.disabled and the device", err)
	}
}

// A battery whose SoC register turns to garbage is lost for control within two
// ticks: the comms-loss action (zero) is written, an alarm is raised and an audit
// event names the reading.
func TestControlLosesBatteryWithGarbageSoC(t *testing.T) {
	s, watch := startControlSite(t, "")
	ctx := t.Context()
	if _, err := s.Service.RunCycle(ctx, controlStart); err != nil {
		t.Fatal(err)
	}
	if got := read(t, watch, "bess", "setpoint_kw"); math.Abs(got) < 1 {
		t.Fatalf("battery setpoint %v before the fault; the test needs a non-zero one", got)
	}
	if err := s.Sim.ApplyFaults([]sim.FaultSetting{{Device: "bess", Fault: sim.FaultGarbage, Point: "soc_pct"}}); err != nil {
		t.Fatal(err)
	}
	iv := s.Config.Control.Interval.D
	for k := 1; k <= 2; k++ {
		now := controlStart.Add(time.Duration(k) * iv)
		s.Clock.Set(now)
		if _, err := s.Service.ControlTick(ctx, now, iv); err != nil && k < 2 {
			t.Logf("tick %d: %v", k, err)
		}
	}
	if st := s.Service.Envelope().Comms("bess"); st != safety.CommsLost {
		t.Fatalf("after 2 ticks the battery is %s, want lost", st)
	}
	if got := read(t, watch, "bess", "setpoint_kw"); got != 0 {
		t.Fatalf("battery setpoint %v kW over Modbus, want the zero action", got)
	}
	var alarm *dispatch.Alarm
	for _, a := range s.Service.Alarms() {
		if a.Key == "control.lost:bess" && a.Active {
			alarm = &a
		}
	}
	if alarm == nil || alarm.Severity != dispatch.SeverityCritical || !strings.Contains(alarm.Text, "soc_pct") {
		t.Fatalf("alarms %+v, want an active critical control.lost:bess naming soc_pct", s.Service.Alarms())
	}
	ev, err := s.Store.ListAudit(ctx, controlStart, controlStart.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	var comms, raised bool
	for _, e := range ev {
		comms = comms || (e.Action == "device.comms" && e.Subject == "device:bess" && strings.Contains(e.Detail, "soc_pct"))
		raised = raised || (e.Action == "alarm.raise" && e.Subject == "device:bess")
	}
	if !comms || !raised {
		t.Fatalf("audit has device.comms naming soc_pct: %v, alarm.raise: %v", comms, raised)
	}
	// The reading recovers: the battery is back, the alarm inactive.
	if err := s.Sim.ApplyFaults([]sim.FaultSetting{{Device: "bess", Fault: sim.FaultNone}}); err != nil {
		t.Fatal(err)
	}
	now := controlStart.Add(3 * iv)
	s.Clock.Set(now)
	if _, err := s.Service.ControlTick(ctx, now, iv); err != nil {
		t.Fatal(err)
	}
	if st := s.Service.Envelope().Comms("bess"); st != safety.CommsOnline {
		t.Fatalf("after recovery the battery is %s", st)
	}
	for _, a := range s.Service.Alarms() {
		if a.Key == "control.lost:bess" && a.Active {
			t.Fatalf("alarm still active after recovery: %+v", a)
		}
	}
}

// A load step of +30 % inside a step is corrected back under the plan's peak target
// within two control intervals, by the battery, as the root meter shows over Modbus.
func TestControlHoldsPeakTargetAfterLoadStep(t *testing.T) {
	s, watch := startControlSite(t, "")
	ctx := t.Context()
	if _, err := s.Service.RunCycle(ctx, controlStart); err != nil {
		t.Fatal(err)
	}
	target, sched, err := s.Service.PeakTarget(ctx, controlStart)
	if err != nil || sched == nil || target <= 0 {
		t.Fatalf("peak target %v (schedule %v, err %v)", target, sched, err)
	}
	iv := s.Config.Control.Interval.D
	now := controlStart.Add(iv)
	s.Clock.Set(now)
	if err := s.Sim.SetLoadScale("building", 1.3); err != nil {
		t.Fatal(err)
	}
	before := read(t, watch, "meter", "active_power_kw")
	if before <= target+1 {
		t.Fatalf("import %.1f kW after the load step is not above the target %.1f; the test needs a breach", before, target)
	}
	for k := 1; k <= 2; k++ {
		now = controlStart.Add(time.Duration(k+1) * iv)
		s.Clock.Set(now)
		tr, err := s.Service.ControlTick(ctx, now, iv)
		if err != nil {
			t.Fatal(err)
		}
		if k == 1 && (tr.Corrections == nil || !tr.Corrections.Setpoints["bess"].Corrected) {
			t.Fatalf("first tick after the step corrected nothing: %+v", tr.Corrections)
		}
	}
	after := read(t, watch, "meter", "active_power_kw")
	if after > target+0.5 {
		t.Fatalf("import %.1f kW two intervals after the step, target %.1f (was %.1f)", after, target, before)
	}
	// The correction is a stored write with the schedule it corrects.
	ws := bessWrites(t, s)
	last := ws[len(ws)-1]
	if last.Status != storage.WriteOK || last.ScheduleID != sched.ID || !last.Time.After(controlStart) {
		t.Fatalf("last battery write %+v, want an ok correction of schedule %d after the cycle", last, sched.ID)
	}
	fmt.Fprintf(os.Stderr, "load step: import %.1f → %.1f kW, target %.1f kW\n", before, after, target)
}

func bessWrites(t *testing.T, s *testsite.Site) []storage.SetpointWrite {
	t.Helper()
	all, err := s.Store.ListSetpointWrites(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.SetpointWrite
	for _, w := range all {
		if w.DeviceID == "bess" {
			out = append(out, w)
		}
	}
	return out
}

// External limits survive a restart: they are rebuilt from the audit log, and an
// ended one stays ended.
func TestExternalLimitsRestored(t *testing.T) {
	s, _ := startControlSite(t, "")
	ctx := t.Context()
	if _, err := s.Service.RunCycle(ctx, controlStart); err != nil {
		t.Fatal(err)
	}
	imp, exp := 100.0, 50.0
	a, _, err := s.Service.SetLimit(ctx, dispatch.ExternalLimit{Source: dispatch.LimitSourceAPI, ImportKW: &imp, Until: controlStart.Add(time.Hour), Actor: "user:d", Reason: "first"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := s.Service.SetLimit(ctx, dispatch.ExternalLimit{Source: dispatch.LimitSourceIEC104, ExportKW: &exp, Until: controlStart.Add(time.Hour), Actor: "iec104:127.0.0.1", Reason: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Service.EndLimit(ctx, a.ID, "user:d", "done"); err != nil {
		t.Fatal(err)
	}
	again, err := dispatch.New(dispatch.Options{Config: s.Config, Store: s.Store, Poller: s.Poller, Writer: s.Writer, Clock: s.Clock})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := again.RestoreState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := again.Limits(ctx, s.Clock.Now())
	if len(got) != 1 || got[0].ID != b.ID || got[0].ExportKW == nil || *got[0].ExportKW != 50 || !strings.Contains(sum, "1 external limits") {
		t.Fatalf("restored %+v (%s), want only limit %d", got, sum, b.ID)
	}
	// A new limit gets a fresh ID, and a limit past its end is dropped.
	c, _, err := again.SetLimit(ctx, dispatch.ExternalLimit{Source: dispatch.LimitSourceAPI, ImportKW: &imp, Until: controlStart.Add(2 * time.Hour), Actor: "user:d", Reason: "third"})
	if err != nil || c.ID <= b.ID {
		t.Fatalf("new limit %+v, %v: want an ID after %d", c, err, b.ID)
	}
	if n := len(again.Limits(ctx, controlStart.Add(90*time.Minute))); n != 1 {
		t.Fatalf("%d limits in force after the first hour, want 1", n)
	}
}

// fieldFirst logs the order of field writes and stored write records; the store
// takes delay per record.
type fieldFirst struct {
	mu    sync.Mutex
	log   []string
	delay time.Duration
}

func (f *fieldFirst) add(s string) {
	f.mu.Lock()
	f.log = append(f.log, s)
	f.mu.Unlock()
}

type fieldFirstStore struct {
	storage.Store
	f *fieldFirst
}

func (s fieldFirstStore) RecordSetpointWrite(ctx context.Context, w storage.SetpointWrite) (int64, error) {
	s.f.add("store " + w.DeviceID)
	time.Sleep(s.f.delay)
	return s.Store.RecordSetpointWrite(ctx, w)
}

type fieldFirstWriter struct {
	dispatch.Writer
	f *fieldFirst
}

func (w fieldFirstWriter) Write(ctx context.Context, id, point string, v float64) (fieldbus.WriteResult, error) {
	r, err := w.Writer.Write(ctx, id, point, v)
	w.f.add("field " + id)
	return r, err
}

// Every setpoint of a cycle or a tick reaches the field and reads back before any
// write is stored, so a slow store delays no device; a tick's latency ends at the
// last read-back.
func TestControlWritesFieldBeforeStore(t *testing.T) {
	p1, p2 := testsite.FreePort(t), testsite.FreePort(t)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(p1), "PORT2", strconv.Itoa(p2), "BESSPROFILE", "builtin:bess").Replace(controlSite) +
		`  - {id: pv, kind: pv, node: f1, endpoint: "127.0.0.1:PORT1", unit_id: 3, profile: "builtin:pv-inverter", pv: {capacity_kw: 100, curtailable: true}}
  - {id: ev, kind: ev_charger, node: f1, endpoint: "127.0.0.1:PORT1", unit_id: 4, profile: "builtin:ev-charger", ev_charger: {max_charge_kw: 11}}
`
	yml = strings.ReplaceAll(yml, "PORT1", strconv.Itoa(p1))
	cfg, err := site.Parse("rt.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	clk := clock.NewSim(controlStart)
	sm := testsite.StartSim(t, t.Context(), cfg, profiles, clk, log)
	devs := testsite.Devices(cfg, profiles)
	poller := fieldbus.NewPoller(devs, clk, log)
	t.Cleanup(func() { poller.Close() })
	writer := fieldbus.NewWriter(devs, clk, log)
	t.Cleanup(func() { writer.Close() })
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	f := &fieldFirst{}
	svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: fieldFirstStore{st, f}, Poller: poller,
		Writer: fieldFirstWriter{writer, f}, Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	check := func(what string, wantWrites int) {
		t.Helper()
		f.mu.Lock()
		defer f.mu.Unlock()
		stored, fields := 0, 0
		for _, e := range f.log {
			if strings.HasPrefix(e, "store ") {
				stored++
			} else if stored > 0 {
				t.Fatalf("%s: %v: a field write after a stored record", what, f.log)
			} else {
				fields++
			}
		}
		if fields < wantWrites || stored == 0 {
			t.Fatalf("%s: %v: want at least %d field writes, then their records", what, f.log, wantWrites)
		}
		f.log = nil
	}
	if _, err := svc.RunCycle(ctx, controlStart); err != nil {
		t.Fatal(err)
	}
	check("cycle", 2)
	// A load step: the tick corrects the battery; its latency ends at the read-back,
	// before the store's (slow) record.
	f.delay = 500 * time.Millisecond
	iv := cfg.Control.Interval.D
	now := controlStart.Add(iv)
	clk.Set(now)
	if err := sm.SetLoadScale("building", 1.3); err != nil {
		t.Fatal(err)
	}
	tr, err := svc.ControlTick(ctx, now, iv)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Writes) == 0 {
		t.Fatal("the load step corrected nothing")
	}
	check("tick", len(tr.Writes))
	if tr.Latency <= 0 || tr.Latency >= f.delay {
		t.Fatalf("tick latency %s: want the time to the last read-back, not to the stored record (%s)", tr.Latency, f.delay)
	}
}

// TestExpectedPeakOnTheCycle: with tariff.expected_peak and weeks of the root meter's
// demand-interval averages stored, the cycle's scenario prices the peak above the peak
// so far by bands (cheap where past days went higher); without it (the default) the
// same history gives none.
func TestExpectedPeakOnTheCycle(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("expected_peak=", on), func(t *testing.T) { expectedPeakCycle(t, on) })
	}
}

func expectedPeakCycle(t *testing.T, on bool) {
	yml := controlSite
	if on {
		yml = strings.Replace(controlSite, "demand_charge_per_kw: 10", "demand_charge_per_kw: 10\n  expected_peak: true", 1)
	}
	s, _ := startControlSiteWith(t, "", yml)
	ctx := t.Context()
	// 14 past days whose peaks run 200..330 kW, far above today's start.
	var smp []storage.Sample
	for k := 1; k <= 14; k++ {
		day := controlStart.Truncate(24*time.Hour).AddDate(0, 0, -k)
		for h := 0; h < 24; h++ {
			v := 150.0
			if h == 12 {
				v = 190 + 10*float64(k)
			}
			smp = append(smp, storage.Sample{Time: day.Add(time.Duration(h) * time.Hour), DeviceID: "meter", Point: site.PointImportAvgKW, Value: v, Quality: storage.QualityGood})
		}
	}
	if err := s.Store.WriteTelemetry(ctx, smp); err != nil {
		t.Fatal(err)
	}
	res, err := s.Service.RunCycle(ctx, controlStart)
	if err != nil || res.Schedule == nil {
		t.Fatalf("cycle: %v %+v", err, res)
	}
	// The proposed schedule stores the scenario it was planned from.
	var doc struct {
		Scenario optimizer.Scenario `json:"scenario"`
	}
	if err := json.Unmarshal(res.Schedule.Plan, &doc); err != nil {
		t.Fatal(err)
	}
	g := doc.Scenario.Grid
	if !on {
		if len(g.PeakCostSteps) != 0 {
			t.Fatalf("expected-peak bands %+v without tariff.expected_peak", g.PeakCostSteps)
		}
		return
	}
	if len(g.PeakCostSteps) == 0 {
		t.Fatalf("no expected-peak bands with 14 days of daily peaks above the peak so far %.1f kW", g.PeakSoFarKW)
	}
	for i, b := range g.PeakCostSteps {
		if b.PricePerKW >= g.DemandChargePerKW || (i > 0 && b.PricePerKW < g.PeakCostSteps[i-1].PricePerKW) {
			t.Fatalf("band %d %+v: prices must rise and stay under the demand charge %v", i, b, g.DemandChargePerKW)
		}
	}
}
