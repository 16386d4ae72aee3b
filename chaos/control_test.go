package chaos

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/safety"
)

// ctlSite is the real-time layer's chaos site: a building, a battery with a reserve,
// and a charger whose profile has a 6 s command watchdog (it falls back to full power
// when nobody writes) and whose safety range caps it at 4 kW, so that what the
// watchdog would do and what gridd wants differ. A demand charge gives the plan a
// peak target.
const ctlSite = `
site: {name: rt-chaos, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 6h}
tariff:
  currency: GBP
  import:
    - {from: "00:00", to: "07:00", price_per_kwh: 0.12}
    - {from: "07:00", to: "16:00", price_per_kwh: 0.24}
    - {from: "16:00", to: "19:00", price_per_kwh: 0.38}
    - {from: "19:00", to: "24:00", price_per_kwh: 0.24}
  export_price_per_kwh: 0.05
  demand_charge_per_kw: 10
grid: {import_limit_kw: 900, export_limit_kw: 300}
nodes:
  - {id: sub, parent: "", limit_kw: 900}
  - {id: fa, parent: sub, limit_kw: 800}
approval: {auto: true}
ev: {default_dwell: 8h, default_energy_kwh: 40}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:P1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: fa, endpoint: "127.0.0.1:P1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: fa
    endpoint: "127.0.0.1:P2"
    profile: "builtin:bess"
    bess: {capacity_kwh: 400, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 150, max_discharge_kw: 150, charge_efficiency: 0.95, discharge_efficiency: 0.95}
    safety: {reserve_soc_pct: 20}
    sim: {initial_soc_pct: 60}
  - id: ev-1
    kind: ev_charger
    node: fa
    endpoint: "127.0.0.1:P3"
    profile: "EVPROFILE"
    ev_charger: {max_charge_kw: 11}
    safety: {max_kw: 4}
    sim: {series: trondheim, user: "Bl2-5"}
`

func startCtlSite(t *testing.T, start time.Time) (*testsite.Site, *fieldbus.Poller) {
	t.Helper()
	prof := testsite.WatchdogProfile(t, "ev-charger", "6s")
	yml := strings.NewReplacer("P1", strconv.Itoa(testsite.FreePort(t)), "P2", strconv.Itoa(testsite.FreePort(t)),
		"P3", strconv.Itoa(testsite.FreePort(t)), "EVPROFILE", prof).Replace(ctlSite)
	s := testsite.Start(t, "rt-chaos.yaml", yml, start, quietLog())
	watch := fieldbus.NewPoller(testsite.Devices(s.Config, s.Profiles), s.Clock, quietLog())
	t.Cleanup(func() { watch.Close() })
	return s, watch
}

// over reads one point of one device with an independent poller (over Modbus).
func over(t *testing.T, p *fieldbus.Poller, device, point string) float64 {
	t.Helper()
	return testsite.Read(t, p, device, point)
}

// connectedAt finds the first whole hour from from on at which the simulated
// charger has a vehicle that stays at least 2 h.
func connectedAt(t *testing.T, from time.Time) time.Time {
	t.Helper()
	s, _ := startCtlSite(t, from)
	for at := from; at.Before(from.Add(14 * 24 * time.Hour)); at = at.Add(time.Hour) {
		s.Clock.Set(at)
		if st, ok := s.Sim.State("ev-1"); ok && st.Connected && st.Departure.After(at.Add(2*time.Hour)) && st.SessionRequestKWh-st.SessionEnergyKWh > 5 {
			return at
		}
	}
	t.Fatal("no charging session of 2 h in two weeks of the simulated charger")
	return time.Time{}
}

// TestRealTimeLayer: the real-time layer's scenarios, each asserting on what the
// simulated devices did, read over Modbus.
func TestRealTimeLayer(t *testing.T) {
	requireChaos(t)
	t.Run("watchdog", func(t *testing.T) {
		start := connectedAt(t, time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC))
		s, watch := startCtlSite(t, start)
		ctx := t.Context()
		iv, step := s.Config.Control.Interval.D, s.Config.Site.Step.D
		var checks, keep int
		maxKW := 0.0
		for c := 0; c < 3; c++ {
			at := start.Add(time.Duration(c) * step)
			s.Clock.Set(at)
			if _, err := s.Service.RunCycle(ctx, at); err != nil {
				t.Fatal(err)
			}
			for k := 1; time.Duration(k)*iv < step; k++ {
				now := at.Add(time.Duration(k) * iv)
				s.Clock.Set(now)
				tr, err := s.Service.ControlTick(ctx, now, iv)
				if err != nil {
					t.Fatalf("tick %s: %v", now.Format(time.TimeOnly), err)
				}
				keep += tr.KeepAlives
				if k%10 == 0 {
					checks++
					p := over(t, watch, "ev-1", "active_power_kw")
					maxKW = math.Max(maxKW, p)
					if p > 4+0.05 {
						t.Fatalf("%s: charger at %.1f kW over Modbus, above gridd's 4 kW cap: its watchdog ran out", now.Format(time.TimeOnly), p)
					}
				}
			}
		}
		if checks < 3*40 || keep < 3*400 {
			t.Fatalf("%d checks, %d keep-alives", checks, keep)
		}
		record(t, row{order: 20, scenario: "charger with a 6 s command watchdog, 3 cycles",
			happened: fmt.Sprintf("session from %s; the layer re-wrote the setpoint %d times through the envelope", start.Format("2006-01-02 15:04"), keep),
			detect:   "not needed: keep-alive every tick once a third of the watchdog has passed",
			recover:  "not needed",
			proof:    fmt.Sprintf("%d reads over Modbus in 45 min: charger ≤ 4 kW (max %.1f), never its 11 kW fallback", checks, maxKW)})
	})

	t.Run("garbage soc", func(t *testing.T) {
		start := time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)
		s, watch := startCtlSite(t, start)
		ctx := t.Context()
		iv := s.Config.Control.Interval.D
		if _, err := s.Service.RunCycle(ctx, start); err != nil {
			t.Fatal(err)
		}
		before := over(t, watch, "bess", "setpoint_kw")
		if math.Abs(before) < 1 {
			t.Fatalf("battery setpoint %.1f before the fault; the scenario needs a non-zero one", before)
		}
		t0 := time.Now()
		if err := s.Sim.ApplyFaults([]sim.FaultSetting{{Device: "bess", Fault: sim.FaultGarbage, Point: "soc_pct"}}); err != nil {
			t.Fatal(err)
		}
		ticks := 0
		for k := 1; k <= 2 && s.Service.Envelope().Comms("bess") != safety.CommsLost; k++ {
			now := start.Add(time.Duration(k) * iv)
			s.Clock.Set(now)
			_, _ = s.Service.ControlTick(ctx, now, iv)
			ticks = k
		}
		wall := time.Since(t0)
		if st := s.Service.Envelope().Comms("bess"); st != safety.CommsLost {
			t.Fatalf("battery %s after 2 ticks, want lost", st)
		}
		after := over(t, watch, "bess", "setpoint_kw")
		if after != 0 {
			t.Fatalf("battery setpoint %.1f kW over Modbus after the fault, want the zero action", after)
		}
		alarm := false
		for _, a := range s.Service.Alarms() {
			alarm = alarm || (a.Key == "control.lost:bess" && a.Active && strings.Contains(a.Text, "soc_pct"))
		}
		ev, err := s.Store.ListAudit(ctx, start, start.Add(time.Hour), 0)
		if err != nil {
			t.Fatal(err)
		}
		audited := false
		for _, e := range ev {
			audited = audited || (e.Action == "device.comms" && e.Subject == "device:bess" && strings.Contains(e.Detail, "soc_pct"))
		}
		if !alarm || !audited {
			t.Fatalf("alarm raised: %v, audited: %v", alarm, audited)
		}
		record(t, row{order: 21, scenario: "battery SoC register turns to garbage (0xFFFF) mid-run",
			happened: fmt.Sprintf("battery at %.1f kW; soc_pct reads 0xFFFF, power still good", before),
			detect:   fmt.Sprintf("tick %d after the fault (%s wall)", ticks, dur(wall)),
			recover:  "lost for control: comms-loss action zero",
			proof:    fmt.Sprintf("setpoint %.1f → %.1f kW over Modbus; critical alarm and device.comms audit event naming soc_pct", before, after)})
	})

	t.Run("load step", func(t *testing.T) {
		start := time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)
		s, watch := startCtlSite(t, start)
		ctx := t.Context()
		iv := s.Config.Control.Interval.D
		if _, err := s.Service.RunCycle(ctx, start); err != nil {
			t.Fatal(err)
		}
		target, _, err := s.Service.PeakTarget(ctx, start)
		if err != nil || target <= 0 {
			t.Fatalf("peak target %v, %v", target, err)
		}
		now := start.Add(iv)
		s.Clock.Set(now)
		if err := s.Sim.SetLoadScale("building", 1.3); err != nil {
			t.Fatal(err)
		}
		stepped := over(t, watch, "meter", "active_power_kw")
		if stepped <= target+1 {
			t.Fatalf("import %.1f after the load step is not above the target %.1f", stepped, target)
		}
		var within int
		for k := 1; k <= 2; k++ {
			now = start.Add(time.Duration(k+1) * iv)
			s.Clock.Set(now)
			if _, err := s.Service.ControlTick(ctx, now, iv); err != nil {
				t.Fatal(err)
			}
			if p := over(t, watch, "meter", "active_power_kw"); p <= target+0.5 && within == 0 {
				within = k
			}
		}
		after := over(t, watch, "meter", "active_power_kw")
		if within == 0 || after > target+0.5 {
			t.Fatalf("import %.1f kW two intervals after the load step, target %.1f", after, target)
		}
		record(t, row{order: 22, scenario: "building load steps up 30 % inside a step",
			happened: fmt.Sprintf("import %.1f kW against the plan's peak target %.1f kW", stepped, target),
			detect:   fmt.Sprintf("control tick %d after the step", within),
			recover:  fmt.Sprintf("within %d control interval(s) (%s)", within, time.Duration(within)*iv),
			proof:    fmt.Sprintf("root meter over Modbus %.1f → %.1f kW, at or under the target", stepped, after)})
	})
}
