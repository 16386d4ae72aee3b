package main

import (
	"context"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus/ocpp/ocppsim"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
)

// TestOCPPDemoEndToEnd runs the demo site's production path (buildStack with its
// CSMS, the simulated plant and OCPP stations, dispatch cycles on a simulated clock):
// the approved schedule's setpoints for the OCPP chargers go out as charging
// profiles, are read back ok, and the station's reported power follows them; a
// disconnected station is stale and then comms-lost, and gets the safe limit again
// when it reconnects (audited in the store).
func TestOCPPDemoEndToEnd(t *testing.T) {
	data, err := gridd.Files.ReadFile(gridd.DemoConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, profiles, err := loadSite(gridd.DemoConfigPath, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := freePorts(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.OCPP.Listen = "127.0.0.1:0"
	pw, err := demoStationPasswords(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Start when ev-13's vehicle is plugged in for a while yet.
	probeClk := clock.NewSim(time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC))
	probe, err := startSim(ctx, cfg, profiles, probeClk, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	var start time.Time
	for range 60 * 96 {
		probeClk.Advance(15 * time.Minute)
		if s, _ := probe.State("ev-13"); s.Connected && s.SessionRequestKWh > 8 && s.Departure.Sub(probeClk.Now()) > 3*time.Hour {
			start = probeClk.Now().Add(15 * time.Minute).Truncate(15 * time.Minute)
			break
		}
	}
	probe.Stop()
	if start.IsZero() {
		t.Fatal("no session of ev-13 in the replayed data")
	}
	if err := freePorts(cfg); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(start)
	plant, err := startSim(ctx, cfg, profiles, clk, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer plant.Stop()
	f := serviceFlags{dataDir: t.TempDir()}
	st, _, err := buildStack(ctx, cfg, profiles, "test", clk, &f, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stations, err := startStations(ctx, cfg, plant, ocppURL(cfg, st.ocppAddr), func(id string) string { return pw[id] }, clk, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer stations.Stop()
	safeLimits := func() int {
		evs, err := st.store.ListAuditAll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Action == "ocpp.safe_limit" && e.Actor == "ocpp" && e.Subject == "station:demo-cs-1" && !strings.Contains(e.Detail, "NOT set") {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the safe limit on connect", func() bool { return safeLimits() >= 1 })

	var last *storage.SetpointWrite
	err = st.svc.RunSimulated(ctx, clk, start, 3, func(r *dispatch.CycleResult) {
		if r.Run.StaleDevices != 0 {
			t.Errorf("cycle %s: stale %v", r.At, r.StaleDevices)
		}
		for _, w := range r.Writes {
			if w.DeviceID == "ev-13" {
				w := w
				last = &w
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if last == nil {
		t.Fatal("no setpoint written to ev-13 in 3 cycles")
	}
	if last.Status != storage.WriteOK || last.ReadBackKW != last.WrittenKW {
		t.Fatalf("ev-13 write %+v, want ok with read-back = written", *last)
	}
	// The station applies the profile, and the plant's charger follows it.
	if kw, ok := stations.AppliedKW("ev-13"); !ok || math.Abs(kw-last.WrittenKW) > 1e-6 {
		t.Fatalf("station applies %v (%v) to ev-13, gridd wrote %v", kw, ok, last.WrittenKW)
	}
	ps, _ := plant.State("ev-13")
	if ps.Connected && math.Abs(ps.SetpointKW-last.WrittenKW) > 1e-6 {
		t.Fatalf("plant setpoint %v, gridd wrote %v", ps.SetpointKW, last.WrittenKW)
	}
	if v, _, ok := st.svc.LatestValue("ev-13", "active_power_kw"); !ok || v > last.WrittenKW+0.05 {
		t.Fatalf("reported power %v (%v) above the written %v kW", v, ok, last.WrittenKW)
	}

	// Disconnect: stale at once, comms-lost after the configured missed polls.
	if err := stations.SetFault("demo-cs-1", ocppsim.FaultDisconnect); err != nil {
		t.Fatal(err)
	}
	waitFor("the disconnect", func() bool { _, ok := st.csms.Connected("demo-cs-1"); return !ok })
	for i := 0; i < cfg.Safety.CommsLossAfter; i++ {
		clk.Advance(15 * time.Minute)
		r, err := st.svc.RunCycle(ctx, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(r.StaleDevices, ","), "ev-13") {
			t.Fatalf("disconnected ev-13 not stale: %v", r.StaleDevices)
		}
	}
	if c := st.svc.Envelope().Comms("ev-13"); c != safety.CommsLost {
		t.Fatalf("ev-13 comms %s after %d missed cycles, want lost", c, cfg.Safety.CommsLossAfter)
	}
	safeBefore := safeLimits()
	if err := stations.SetFault("demo-cs-1", ocppsim.FaultNone); err != nil {
		t.Fatal(err)
	}
	waitFor("the safe limit on reconnect", func() bool { return safeLimits() > safeBefore })
	clk.Advance(15 * time.Minute)
	r, err := st.svc.RunCycle(ctx, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(r.StaleDevices, ","), "ev-13") {
		t.Fatalf("reconnected ev-13 still stale")
	}
}

// TestOCPPHashPasswordAndFaults: the hash gridd ocpp hash-password prints verifies the
// password it read and is accepted by config validation; short passwords and bad
// --ocpp-faults specs are usage errors naming the value.
func TestOCPPHashPasswordAndFaults(t *testing.T) {
	var out strings.Builder
	if err := hashPassword(strings.NewReader("station-secret-1\n"), &out); err != nil {
		t.Fatal(err)
	}
	h := strings.TrimSpace(out.String())
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("station-secret-1")) != nil {
		t.Fatalf("hash %q does not verify the password", h)
	}
	data, err := gridd.Files.ReadFile(gridd.DemoConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`password_hash: "[^"]*"`)
	if _, _, err := loadSite("demo.yaml", []byte(re.ReplaceAllLiteralString(string(data), `password_hash: "`+h+`"`))); err != nil {
		t.Fatalf("config with the printed hash: %v", err)
	}
	var ue usageError
	if err := hashPassword(strings.NewReader("short\n"), &out); !errors.As(err, &ue) || !strings.Contains(err.Error(), "want 8 to 72") {
		t.Fatalf("short password: %v", err)
	}

	cfg, _, err := loadSite("demo.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ocppsim.New(cfg, nil, ocppsim.Options{URL: "ws://127.0.0.1:1/ocpp"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ spec, want string }{
		{"demo-cs-1", "want STATION=FAULT"},
		{"demo-cs-1=wobble", `unknown OCPP station fault "wobble"`},
		{"nope=slow", `unknown station "nope"`},
	} {
		if err := applyStationFaults(s, tc.spec); !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--ocpp-faults %s: %v, want a usage error with %q", tc.spec, err, tc.want)
		}
	}
	if err := applyStationFaults(s, "demo-cs-1=slow,demo-cs-1=none"); err != nil {
		t.Fatal(err)
	}
}
