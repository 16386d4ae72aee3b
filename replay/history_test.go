package replay

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

// smallSite is a one-node site with a load, a PV plant, a battery and a charger.
const smallSite = `
site: {name: small, timezone: UTC, step: 15m, horizon: 2h}
tariff:
  currency: EUR
  import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}]
  export_price_per_kwh: 0.05
grid: {import_limit_kw: 100, export_limit_kw: 50}
nodes: [{id: root, parent: "", limit_kw: 100}]
approval: {auto: true}
devices:
  - {id: load-1, kind: load, node: root, endpoint: "127.0.0.1:1", unit_id: 1, profile: builtin:load-meter}
  - {id: pv-1, kind: pv, node: root, endpoint: "127.0.0.1:1", unit_id: 2, profile: builtin:pv-inverter, pv: {capacity_kw: 20}}
  - id: bess-1
    kind: bess
    node: root
    endpoint: "127.0.0.1:1"
    unit_id: 3
    profile: builtin:bess
    bess: {capacity_kwh: 40, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 20, max_discharge_kw: 20, charge_efficiency: 1, discharge_efficiency: 1}
    sim: {initial_soc_pct: 85}
  - {id: ev-1, kind: ev_charger, node: root, endpoint: "127.0.0.1:1", unit_id: 4, profile: builtin:ev-charger, ev_charger: {max_charge_kw: 11}}
`

func smallConfig(t testing.TB) *site.Config {
	t.Helper()
	cfg, err := site.Parse("small.yaml", []byte(smallSite))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writeSmallHistory writes hourly load and PV files from t0 for hours hours and the
// given EV sessions.
func writeSmallHistory(t testing.TB, t0 time.Time, hours int, load, pv func(h int) float64, sessions string) string {
	t.Helper()
	dir := t.TempDir()
	var l, p strings.Builder
	l.WriteString("timestamp_utc,active_power_kw\n")
	p.WriteString("timestamp_utc,active_power_kw\n")
	for h := 0; h <= hours; h++ {
		ts := t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339)
		fmt.Fprintf(&l, "%s,%g\n", ts, load(h))
		fmt.Fprintf(&p, "%s,%g\n", ts, -pv(h))
	}
	must(t, os.WriteFile(filepath.Join(dir, "load-1.csv"), []byte(l.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "pv-1.csv"), []byte(p.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "ev_sessions.csv"), []byte("device_id,plugin_utc,plugout_utc,energy_kwh\n"+sessions), 0o644))
	return dir
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadHistory(t *testing.T) {
	cfg := smallConfig(t)
	t0 := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	dir := writeSmallHistory(t, t0, 48, func(h int) float64 { return float64(4 * h) }, func(int) float64 { return 5 }, "ev-1,2020-05-01T10:00:00Z,2020-05-01T12:00:00Z,7\n")
	h, err := LoadHistory(cfg, dir, nil, t0.Add(time.Hour), t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dev      string
		from, to time.Duration
		want     float64
	}{
		{"load-1", 0, 15 * time.Minute, 0.5},              // linear 0 -> 4 over the first hour
		{"load-1", 0, time.Hour, 2},                       // mean of the ramp
		{"load-1", 30 * time.Minute, 90 * time.Minute, 4}, // across a knot
		{"pv-1", 0, time.Hour, 5},                         // generation as a positive magnitude
	}
	for _, tc := range tests {
		got, err := h.MeanKW(tc.dev, t0.Add(tc.from), t0.Add(tc.to))
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("MeanKW(%s, +%s, +%s) = %g, want %g", tc.dev, tc.from, tc.to, got, tc.want)
		}
	}
	if s := h.Sessions("ev-1"); len(s) != 1 || s[0].EnergyKWh != 7 || s[0].PlugOut.Sub(s[0].PlugIn) != 2*time.Hour {
		t.Errorf("sessions = %+v", s)
	}
}

func TestLoadHistoryErrors(t *testing.T) {
	cfg := smallConfig(t)
	t0 := time.Date(2020, 5, 1, 0, 0, 0, 0, time.UTC)
	flat := func(int) float64 { return 3 }
	tests := []struct {
		name   string
		edit   func(dir string)
		to     time.Duration
		wantIn []string
	}{
		{"period not covered", nil, 72 * time.Hour, []string{"load-1", "does not cover", "2020-05-04T00:00:00Z"}},
		{"missing file", func(dir string) { os.Remove(filepath.Join(dir, "pv-1.csv")) }, time.Hour,
			[]string{"pv-1", "konstanz_residential4_hourly_2016.csv"}},
		{"bad number", func(dir string) {
			os.WriteFile(filepath.Join(dir, "load-1.csv"), []byte("timestamp_utc,active_power_kw\n2020-05-01T00:00:00Z,abc\n"), 0o644)
		}, time.Hour, []string{"load-1.csv:2", `"abc"`, "not a finite number"}},
		{"bad time", func(dir string) {
			os.WriteFile(filepath.Join(dir, "load-1.csv"), []byte("timestamp_utc,active_power_kw\nyesterday,1\n"), 0o644)
		}, time.Hour, []string{"load-1.csv:2", `"yesterday"`, "RFC 3339"}},
		{"missing column", func(dir string) {
			os.WriteFile(filepath.Join(dir, "load-1.csv"), []byte("time,kw\n2020-05-01T00:00:00Z,1\n"), 0o644)
		}, time.Hour, []string{`no column "timestamp_utc"`}},
		{"gap", func(dir string) {
			os.WriteFile(filepath.Join(dir, "load-1.csv"), []byte("timestamp_utc,active_power_kw\n2020-05-01T00:00:00Z,1\n2020-05-01T06:00:00Z,1\n"), 0o644)
		}, 5 * time.Hour, []string{"gap of 6h0m0s"}},
		{"bad session energy", func(dir string) {
			os.WriteFile(filepath.Join(dir, "ev_sessions.csv"), []byte("device_id,plugin_utc,plugout_utc,energy_kwh\nev-1,2020-05-01T01:00:00Z,2020-05-01T02:00:00Z,-3\n"), 0o644)
		}, time.Hour, []string{"energy_kwh", `"-3"`}},
		{"session that leaves before it arrives", func(dir string) {
			os.WriteFile(filepath.Join(dir, "ev_sessions.csv"), []byte("device_id,plugin_utc,plugout_utc,energy_kwh\nev-1,2020-05-01T02:00:00Z,2020-05-01T01:00:00Z,3\n"), 0o644)
		}, time.Hour, []string{"ev_sessions.csv:2", "plugout_utc 2020-05-01T01:00:00Z is not after plugin_utc 2020-05-01T02:00:00Z"}},
		{"zero-length session", func(dir string) {
			os.WriteFile(filepath.Join(dir, "ev_sessions.csv"), []byte("device_id,plugin_utc,plugout_utc,energy_kwh\nev-1,2020-05-01T02:00:00Z,2020-05-01T02:00:00Z,3\n"), 0o644)
		}, time.Hour, []string{"ev_sessions.csv:2", "is not after plugin_utc"}},
		{"unknown charger", func(dir string) {
			os.WriteFile(filepath.Join(dir, "ev_sessions.csv"), []byte("device_id,plugin_utc,plugout_utc,energy_kwh\nev-99,2020-05-01T01:00:00Z,2020-05-01T02:00:00Z,3\n"), 0o644)
		}, time.Hour, []string{"ev_sessions.csv", `device_id "ev-99" is not an EV charger of the site`, "ev-1"}},
		{"overlapping sessions", func(dir string) {
			os.WriteFile(filepath.Join(dir, "ev_sessions.csv"), []byte("device_id,plugin_utc,plugout_utc,energy_kwh\n"+
				"ev-1,2020-05-01T01:00:00Z,2020-05-01T03:00:00Z,3\nev-1,2020-05-01T02:00:00Z,2020-05-01T04:00:00Z,3\n"), 0o644)
		}, time.Hour, []string{"ev_sessions.csv", "ev-1 has overlapping sessions", "2020-05-01T02:00:00Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeSmallHistory(t, t0, 48, flat, flat, "")
			if tc.edit != nil {
				tc.edit(dir)
			}
			_, err := LoadHistory(cfg, dir, nil, t0, t0.Add(tc.to))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantIn {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestBundledMapping checks that bundled series map by day of year onto another
// year, as fieldbus/sim does.
func TestBundledMapping(t *testing.T) {
	cfg := demoConfig(t)
	from := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC) // day 60 in 2023 and in 2019
	h := demoHistory(t, cfg, from, from.Add(24*time.Hour))
	raw, err := os.ReadFile(filepath.Join("..", "data", "cambridge_buildings_load_hourly_2019.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "2019-03-01T10:00:00Z,") {
			f := strings.Split(line, ",")
			fmt.Sscan(f[3], &want) // building_b36_kwh
		}
	}
	got, err := h.MeanKW("building-1", from.Add(10*time.Hour), from.Add(10*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if want == 0 || math.Abs(got-want) > 1e-9 {
		t.Errorf("building-1 at 2023-03-01T10:00 = %g, want 2019's %g", got, want)
	}
	if len(h.Sessions("ev-01")) == 0 {
		t.Error("ev-01 has no sessions on 2023-03-01 ± warm-up")
	}
}

func FuzzReadTrace(f *testing.F) {
	f.Add([]byte("timestamp_utc,active_power_kw\n2020-01-01T00:00:00Z,1.5\n2020-01-01T01:00:00Z,\n2020-01-01T02:00:00Z,-3\n"))
	f.Add([]byte("timestamp_utc,active_power_kw\n2020-01-01T01:00:00Z,1\n2020-01-01T00:00:00Z,2\n"))
	f.Add([]byte("a,b\n\"x"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := readCSV("fuzz.csv", data)
		if err != nil {
			return
		}
		tr, err := tab.trace("timestamp_utc", "active_power_kw")
		if err != nil {
			return
		}
		for i := 1; i < len(tr.t); i++ {
			if tr.t[i] <= tr.t[i-1] {
				t.Fatalf("times not increasing at %d: %v", i, tr.t)
			}
		}
		for _, v := range tr.v {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value %v accepted", v)
			}
		}
		if len(tr.t) > 0 {
			m, err := tr.mean(time.Unix(tr.t[0], 0), time.Unix(tr.t[len(tr.t)-1], 0).Add(time.Hour))
			if err != nil || math.IsNaN(m) {
				t.Fatalf("mean = %v, %v", m, err)
			}
		}
		if _, err := tab.sessionsBy("device_id"); err == nil && !strings.Contains(string(data), "device_id") {
			t.Fatal("sessions parsed without a device_id column")
		}
	})
}
