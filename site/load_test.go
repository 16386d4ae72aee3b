package site

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const goodConfig = `
site:
  name: test
  timezone: Europe/Berlin
  cycle: "*/15 * * * *"
  step: 15m
  horizon: 24h
tariff:
  import:
    - {from: "00:00", to: "07:00", price_per_kwh: 0.10}
    - {from: "07:00", to: "24:00", price_per_kwh: 0.30}
  export_price_per_kwh: 0.05
grid: {import_limit_kw: 100, export_limit_kw: 50}
nodes:
  - {id: sub, parent: "", limit_kw: 100}
  - {id: f1, parent: sub, limit_kw: 60}
devices:
  - {id: m, kind: meter, node: sub, endpoint: "127.0.0.1:1502", unit_id: 1, profile: "builtin:substation-meter"}
  - id: b
    kind: bess
    node: f1
    endpoint: "[::1]:1503"
    profile: "builtin:bess"
    bess: {capacity_kwh: 100, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}
`

func TestParseGood(t *testing.T) {
	cfg, err := Parse("good.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := cfg.Site.Steps(); got != 96 {
		t.Errorf("Steps = %d, want 96", got)
	}
	if cfg.Devices[1].UnitID != 1 || cfg.Devices[1].Timeout.D != time.Second {
		t.Errorf("defaults not applied: %+v", cfg.Devices[1])
	}
	if cfg.Devices[1].BESS.ChargeEfficiency != 0.95 {
		t.Errorf("default efficiency = %v", cfg.Devices[1].BESS.ChargeEfficiency)
	}
	// 06:59 Berlin is in the first band, 07:00 in the second.
	loc := cfg.Site.Location
	imp, exp := cfg.Tariff.PriceAt(time.Date(2024, 1, 1, 6, 59, 0, 0, loc), loc)
	if imp != 0.10 || exp != 0.05 {
		t.Errorf("price at 06:59 = %v/%v", imp, exp)
	}
	imp, _ = cfg.Tariff.PriceAt(time.Date(2024, 1, 1, 7, 0, 0, 0, loc), loc)
	if imp != 0.30 {
		t.Errorf("price at 07:00 = %v", imp)
	}
	// 06:00 UTC is 07:00 in Berlin in winter.
	ip, _ := cfg.Tariff.Prices(time.Date(2024, 1, 1, 5, 45, 0, 0, time.UTC), 15*time.Minute, 2, loc)
	if ip[0] != 0.10 || ip[1] != 0.30 {
		t.Errorf("Prices = %v", ip)
	}
	if got := cfg.Subtree("sub"); len(got) != 2 || got[1] != "f1" {
		t.Errorf("Subtree = %v", got)
	}
}

func TestDemoConfigValid(t *testing.T) {
	data, err := os.ReadFile("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("demo-site.yaml", data)
	if err != nil {
		t.Fatalf("demo config invalid: %v", err)
	}
	evs := 0
	for _, d := range cfg.Devices {
		if d.Kind == KindEVCharger {
			evs++
		}
	}
	if evs < 10 {
		t.Errorf("demo has %d EV chargers, want at least 10", evs)
	}
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		name      string
		old, new  string
		wantPath  string
		wantValue string
	}{
		{"bad timezone", "Europe/Berlin", "Mars/Olympus", "site.timezone", "Mars/Olympus"},
		{"bad cron", `"*/15 * * * *"`, `"every quarter"`, "site.cycle", "every quarter"},
		{"bad step", "step: 15m", "step: 7m", "site.step", "7m"},
		{"horizon not whole steps", "horizon: 24h", "horizon: 24h10m", "site.horizon", "24h10m0s"},
		{"bad duration", "step: 15m", "step: soon", "site.step", ""},
		{"unknown field", "grid: {import_limit_kw: 100", "grid: {import_limt_kw: 5, import_limit_kw: 100", "grid.import_limt_kw", ""},
		{"tariff gap", `to: "07:00", price_per_kwh: 0.10`, `to: "06:00", price_per_kwh: 0.10`, "tariff.import", "06:00"},
		{"tariff bad clock", `from: "07:00"`, `from: "7am"`, "tariff.import[1].from", "7am"},
		{"export above import", "export_price_per_kwh: 0.05", "export_price_per_kwh: 0.5", "tariff", "00:00"},
		{"negative import limit", "import_limit_kw: 100", "import_limit_kw: -1", "grid.import_limit_kw", "-1"},
		{"unknown parent", "parent: sub,", "parent: nowhere,", "nodes[1].parent", "nowhere"},
		{"two roots", `{id: f1, parent: sub`, `{id: f1, parent: ""`, "nodes", "2"},
		{"zero node limit", "limit_kw: 60", "limit_kw: 0", "nodes[1].limit_kw", "0"},
		{"unknown kind", "kind: meter", "kind: turbine", "devices[0].kind", "turbine"},
		{"unknown node", "kind: meter, node: sub", "kind: meter, node: f9", "devices[0].node", "f9"},
		{"bad port", "127.0.0.1:1502", "127.0.0.1:99999", "devices[0].endpoint", "127.0.0.1:99999"},
		{"no port", "127.0.0.1:1502", "127.0.0.1", "devices[0].endpoint", "127.0.0.1"},
		{"unknown endpoint scheme", "127.0.0.1:1502", "udp://127.0.0.1:1502", "devices[0].endpoint", "udp://127.0.0.1:1502"},
		{"bad endpoint parameter", "127.0.0.1:1502", "rtu:///dev/ttyUSB0?parity=X", "devices[0].endpoint", "rtu:///dev/ttyUSB0?parity=X"},
		{"bad unit", "unit_id: 1,", "unit_id: 300,", "devices[0].unit_id", "300"},
		{"missing profile", `profile: "builtin:substation-meter"`, `profile: ""`, "devices[0].profile", ""},
		{"min soc above max", "min_soc_pct: 10", "min_soc_pct: 95", "devices[1].bess.min_soc_pct", "95"},
		{"bad efficiency", "max_discharge_kw: 50}", "max_discharge_kw: 50, charge_efficiency: 1.5}", "devices[1].bess.charge_efficiency", "1.5"},
		{"duplicate device", "id: b\n", "id: m\n", "devices[1].id", "m"},
		{"latitude out of range", "horizon: 24h", "horizon: 24h\n  latitude: 91\n  longitude: 9", "site.latitude", "91"},
		{"longitude out of range", "horizon: 24h", "horizon: 24h\n  latitude: 47\n  longitude: -181", "site.longitude", "-181"},
		{"latitude without longitude", "horizon: 24h", "horizon: 24h\n  latitude: 47", "site.latitude", "47"},
		{"pv tilt out of range", "  - id: b\n", "  - {id: pv, kind: pv, node: f1, endpoint: \"127.0.0.1:1504\", profile: \"builtin:pv-inverter\", pv: {capacity_kw: 10, tilt_deg: 95}}\n  - id: b\n", "devices[1].pv.tilt_deg", "95"},
		{"pv azimuth out of range", "  - id: b\n", "  - {id: pv, kind: pv, node: f1, endpoint: \"127.0.0.1:1504\", profile: \"builtin:pv-inverter\", pv: {capacity_kw: 10, azimuth_deg: -1}}\n  - id: b\n", "devices[1].pv.azimuth_deg", "-1"},
		{"control interval below the poll time", "export_price_per_kwh: 0.05\n", "export_price_per_kwh: 0.05\ncontrol: {interval: 500ms}\n", "control.interval", "500ms"},
		{"control interval too short", "export_price_per_kwh: 0.05\n", "export_price_per_kwh: 0.05\ncontrol: {interval: 10ms}\n", "control.interval", "10ms"},
		{"control interval above the step", "export_price_per_kwh: 0.05\n", "export_price_per_kwh: 0.05\ncontrol: {interval: 20m}\n", "control.interval", "20m0s"},
		{"negative control deadband", "export_price_per_kwh: 0.05\n", "export_price_per_kwh: 0.05\ncontrol: {deadband_kw: -1}\n", "control.deadband_kw", "-1"},
		{"missing bess params", "    bess: {capacity_kwh: 100, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}\n", "", "devices[1].bess", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodConfig, tc.old) {
				t.Fatalf("test case does not apply: %q not in config", tc.old)
			}
			bad := strings.Replace(goodConfig, tc.old, tc.new, 1)
			_, err := Parse("site.yaml", []byte(bad))
			if err == nil {
				t.Fatal("Parse accepted a bad config")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want site.Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File == "site.yaml" && e.Path == tc.wantPath && e.Value == tc.wantValue {
					return
				}
			}
			t.Errorf("no error for %s=%q; got:\n%v", tc.wantPath, tc.wantValue, err)
		})
	}
}
