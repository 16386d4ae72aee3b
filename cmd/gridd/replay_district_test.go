package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// generateDistrict writes a small generated district with gridd district
// generate and returns its district file.
func generateDistrict(t *testing.T, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if err := cmdDistrictGenerate(context.Background(), append([]string{"--out", dir}, args...), &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	return filepath.Join(dir, "district.yaml")
}

func TestReplayDistrictCLI(t *testing.T) {
	file := generateDistrict(t, "--sites", "2", "--seed", "4", "--horizon", "2h")
	report := t.TempDir()
	out, _, err := runReplayCLI(t, "--district", file, "--history", "builtin", "--from", "2019-02-11T17:00:00Z", "--to", "2019-02-11T17:30:00Z",
		"--report", report, "--json", "--skip-forecast-band")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Reports []struct {
			Strategy string `json:"strategy"`
			KPIs     struct {
				Steps int `json:"steps"`
				Sites []struct {
					Site string `json:"site"`
				} `json:"sites"`
				Nodes []struct {
					ID string `json:"id"`
				} `json:"nodes"`
			} `json:"kpis"`
		} `json:"reports"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(doc.Reports) != 3 || doc.Reports[0].Strategy != "coordinated" || doc.Reports[2].Strategy != "centralised" {
		t.Fatalf("reports %+v", doc.Reports)
	}
	for _, r := range doc.Reports {
		if r.KPIs.Steps != 2 || len(r.KPIs.Sites) != 2 || r.KPIs.Sites[1].Site != "site-02" || len(r.KPIs.Nodes) != 1 {
			t.Errorf("%s: %+v", r.Strategy, r.KPIs)
		}
	}
	for _, f := range []string{"district.json", "district.txt", "report.html", "independent/site-02/report.html"} {
		if _, err := os.Stat(filepath.Join(report, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestReplayDistrictBadInput(t *testing.T) {
	file := generateDistrict(t, "--sites", "2", "--seed", "4", "--horizon", "2h")
	dir := filepath.Dir(file)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	head := "district: {id: d, time_zone: UTC, step_minutes: 15, horizon_steps: 8}\n"
	remote := write("remote.yaml", head+"sites:\n  - {id: site-01, config: sites/site-01.yaml}\n  - {id: far, remote: true}\nnodes:\n  - {id: tx, limit_kw: 100, sites: [site-01, far]}\n")
	dup := write("dup.yaml", head+"sites:\n  - {id: a, config: sites/site-01.yaml}\n  - {id: a, config: sites/site-02.yaml}\nnodes:\n  - {id: tx, limit_kw: 100, sites: [a]}\n")
	missing := write("missing.yaml", head+"sites:\n  - {id: a, config: sites/nope.yaml}\nnodes:\n  - {id: tx, limit_kw: 100, sites: [a]}\n")
	// A history directory whose site-01 building load covers one day only.
	hist := t.TempDir()
	os.MkdirAll(filepath.Join(hist, "site-01"), 0o755)
	os.WriteFile(filepath.Join(hist, "site-01", "building.csv"), []byte("timestamp_utc,active_power_kw\n2019-02-11T00:00:00Z,10\n2019-02-12T00:00:00Z,10\n"), 0o644)
	period := []string{"--history", "builtin", "--from", "2019-02-11", "--to", "2019-02-12", "--report", t.TempDir()}
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  []string
	}{
		{"unknown strategy", append([]string{"--district", file, "--strategy", "greedy"}, period...), true, []string{`--strategy "greedy"`, "coordinated, independent, centralised or all"}},
		{"single-site strategy", append([]string{"--district", file, "--strategy", "optimize"}, period...), true, []string{`--strategy "optimize"`}},
		{"with --config", append([]string{"--district", file, "--config", demoConfigFile}, period...), true, []string{"--config applies to one site"}},
		{"with --set", append([]string{"--district", file, "--set", "pv.scale=2"}, period...), true, []string{"--set applies to one site"}},
		{"no history", []string{"--district", file, "--from", "2019-02-11", "--to", "2019-02-12", "--report", "x"}, true, []string{"--district needs --history"}},
		{"no district file", append([]string{"--district", filepath.Join(dir, "none.yaml")}, period...), false, []string{"none.yaml"}},
		{"duplicate site", append([]string{"--district", dup}, period...), false, []string{"dup.yaml", "sites[1].id", `"a"`}},
		{"remote site", append([]string{"--district", remote}, period...), false, []string{"remote.yaml", "sites[1] (far)", "remote site cannot be replayed"}},
		{"missing site config", append([]string{"--district", missing}, period...), false, []string{"sites[0] (a)", "nope.yaml"}},
		{"period outside the data", []string{"--district", file, "--history", hist, "--from", "2019-02-11", "--to", "2019-02-13", "--report", "x"}, false, []string{"site site-01: --from 2019-02-11T00:00:00Z --to 2019-02-13T00:00:00Z", "does not cover"}},
		{"no site directory", []string{"--district", file, "--history", t.TempDir(), "--from", "2019-02-11", "--to", "2019-02-12", "--report", "x"}, false, []string{"no directory", "site-01"}},
		{"to before from", []string{"--district", file, "--history", "builtin", "--from", "2019-02-12", "--to", "2019-02-11", "--report", "x"}, true, []string{"--to 2019-02-11 must be after --from 2019-02-12"}},
		{"from off the step", []string{"--district", file, "--history", "builtin", "--from", "2019-02-11T00:05:00Z", "--to", "2019-02-12", "--report", "x"}, true, []string{"--from 2019-02-11T00:05:00Z is not on a 15m0s step boundary"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runReplayCLI(t, tc.args...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q", err, w)
				}
			}
			var ue usageError
			if isUsage := errorsAs(err, &ue); isUsage != tc.usage {
				t.Errorf("usage error = %v, want %v", isUsage, tc.usage)
			}
		})
	}
	// gridd district generate's own bad input.
	var out, errb bytes.Buffer
	if err := cmdDistrictGenerate(context.Background(), []string{"--sites", "0", "--out", t.TempDir()}, &out, &errb); err == nil || !strings.Contains(err.Error(), "--sites 0") {
		t.Errorf("--sites 0: %v", err)
	}
	if err := cmdDistrictGenerate(context.Background(), []string{"--sites", "2", "--out", dir}, &out, &errb); err == nil || !strings.Contains(err.Error(), "exists; not overwritten") {
		t.Errorf("existing --out: %v", err)
	}
}
