package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/internal/apitest"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/storage"
	"github.com/simonvetter/modbus"
)

// A site where power is cheap from 08:00 to 09:00 only, so the battery charges at full power then.
const e2eSite = `
site: {name: e2e, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 24h}
tariff:
  import:
    - {from: "00:00", to: "08:00", price_per_kwh: 0.40}
    - {from: "08:00", to: "09:00", price_per_kwh: 0.05}
    - {from: "09:00", to: "24:00", price_per_kwh: 0.40}
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes:
  - {id: sub, parent: "", limit_kw: 500}
  - {id: f1, parent: sub, limit_kw: 400}
approval: {auto: false}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:PORT1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: f1, endpoint: "127.0.0.1:PORT1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: f1
    endpoint: "127.0.0.1:PORT2"
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50, charge_efficiency: 0.9, discharge_efficiency: 0.9}
    sim: {initial_soc_pct: 30}
`

func TestApprovedSetpointReachesDevice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p1, p2 := testsite.FreePort(t), testsite.FreePort(t)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(p1), "PORT2", strconv.Itoa(p2)).Replace(e2eSite)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	start := time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)
	s := testsite.Start(t, "e2e.yaml", yml, start, log)
	clk, sm, st, svc := s.Clock, s.Sim, s.Store, s.Service

	// Cycle 1: proposed, not approved (auto-approve is off), nothing written.
	res, err := svc.RunCycle(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Schedule == nil {
		t.Fatalf("no schedule proposed: %s", res.Run.Error)
	}
	if res.Schedule.Status != storage.StatusProposed || len(res.Writes) != 0 {
		t.Fatalf("schedule %s with %d writes before approval", res.Schedule.Status, len(res.Writes))
	}
	var planned float64
	for _, sp := range res.Schedule.Setpoints {
		if sp.DeviceID == "bess" && sp.Step == 0 {
			planned = sp.PowerKW
		}
	}
	if planned < 49 {
		t.Fatalf("battery should charge at full power in the cheap hour, planned %v kW", planned)
	}
	before, _ := sm.State("bess")

	// A dispatcher approves through the HTTP API.
	users := api.NewUsers()
	if err := users.Put(api.User{Name: "alice", Role: api.RoleDispatcher}, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	token, err := users.NewToken("alice", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	handler, err := api.NewServer(svc, api.Options{Logger: log, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()
	// Every exchange is checked against the server's OpenAPI document.
	client := apitest.New(t, handler.OpenAPI()).Client(nil)
	body, _ := json.Marshal(map[string]string{"reason": "cheap hours"})
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/schedules/%d/approve", srv.URL, res.Schedule.ID), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %v", resp.StatusCode, out)
	}

	// The setpoint is in the device's holding register, read by an independent Modbus client.
	prof := s.Profiles["bess"]
	pt, ok := prof.Point("setpoint_kw")
	if !ok {
		t.Fatal("bess profile has no setpoint_kw")
	}
	mc, err := modbus.NewClient(&modbus.ClientConfiguration{URL: fmt.Sprintf("tcp://127.0.0.1:%d", p2), Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Open(); err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	regs, err := mc.ReadRegisters(pt.Address, uint16(pt.Width()), modbus.HOLDING_REGISTER)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pt.Decode(regs)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-planned) > 0.051 {
		t.Fatalf("register holds %v kW, approved plan says %v kW", got, planned)
	}
	writes, _ := st.ListSetpointWrites(ctx, res.Schedule.ID)
	if len(writes) == 0 || writes[0].Status != storage.WriteOK {
		t.Fatalf("setpoint write not recorded as ok: %+v", writes)
	}

	// Run the next cycles an hour on; the approved schedule stays in force and SoC rises.
	for k := 1; k <= 4; k++ {
		at := start.Add(time.Duration(k) * 15 * time.Minute)
		clk.Set(at)
		if _, err := svc.RunCycle(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	after, _ := sm.State("bess")
	// Over the first 15 min the battery ran at the approved setpoint; afterwards newer
	// proposals are not approved, so the approved schedule keeps applying its steps.
	wantRise := planned * 0.9 * 1.0 / 200 * 100 // kW * eff * 1 h / kWh capacity, in %
	if rise := after.SoCPct - before.SoCPct; math.Abs(rise-wantRise) > 0.5 {
		t.Errorf("SoC rose %.3f %%-points in 1 h, want %.3f", rise, wantRise)
	}
	audit, _ := st.ListAudit(ctx, storage.Epoch, start.Add(24*time.Hour), 0)
	found := false
	for _, e := range audit {
		if e.Action == "schedule.approve" && e.Actor == "user:alice" {
			found = true
		}
	}
	if !found {
		t.Errorf("approval not in the audit log: %+v", audit)
	}
}
