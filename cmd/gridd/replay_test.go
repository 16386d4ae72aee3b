package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const demoConfigFile = "../../configs/demo-site.yaml"

func runReplayCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = cmdReplay(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestReplayBadInput(t *testing.T) {
	base := []string{"--config", demoConfigFile, "--history", "../../data", "--from", "2019-06-03", "--to", "2019-06-04", "--report", t.TempDir()}
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"unknown set key", append(base, "--set", "bess.size=2"), true, `unknown key "bess.size"`},
		{"bad set value", append(base, "--set", "pv.scale=big"), true, `"big" is not a finite number`},
		{"unknown strategy", append(base, "--strategy", "greedy"), true, `--strategy "greedy"`},
		{"bad time", []string{"--config", demoConfigFile, "--history", "../../data", "--from", "June", "--to", "2019-06-04", "--report", "x"}, true, `--from "June"`},
		{"no history", []string{"--config", demoConfigFile, "--from", "2019-06-03", "--to", "2019-06-04", "--report", "x"}, true, "exactly one of --history"},
		{"history not a directory", []string{"--config", demoConfigFile, "--history", "/nonexistent", "--from", "2019-06-03", "--to", "2019-06-04", "--report", "x"}, true, "not a directory"},
		{"history does not cover", nil, false, "does not cover"},
	}
	// A directory whose load file covers one day only.
	short := t.TempDir()
	os.WriteFile(filepath.Join(short, "building-1.csv"), []byte("timestamp_utc,active_power_kw\n2019-06-03T00:00:00Z,10\n2019-06-04T00:00:00Z,10\n"), 0o644)
	tests[len(tests)-1].args = []string{"--config", demoConfigFile, "--history", short, "--from", "2019-06-03", "--to", "2019-06-05", "--report", t.TempDir()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runReplayCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			var ue usageError
			if isUsage := errorsAs(err, &ue); isUsage != tc.usage {
				t.Errorf("usage error = %v, want %v", isUsage, tc.usage)
			}
		})
	}
}

func TestReplayAndCompare(t *testing.T) {
	dir := t.TempDir()
	var reports []string
	for _, s := range []string{"baseline", "optimize"} {
		rep := filepath.Join(dir, s)
		out, errOut, err := runReplayCLI(t, "--config", demoConfigFile, "--history", "builtin", "--from", "2019-06-03T00:00:00Z",
			"--to", "2019-06-03T12:00:00Z", "--strategy", s, "--set", "ev.chargers=4", "--report", rep, "--json")
		if err != nil {
			t.Fatalf("%s: %v\n%s", s, err, errOut)
		}
		var sum struct {
			Strategy string   `json:"strategy"`
			Sets     []string `json:"sets"`
			KPIs     struct {
				Steps     int     `json:"steps"`
				TotalCost float64 `json:"total_cost"`
			} `json:"kpis"`
		}
		if err := json.Unmarshal([]byte(out), &sum); err != nil {
			t.Fatalf("--json output: %v\n%s", err, out)
		}
		if sum.Strategy != s || sum.KPIs.Steps != 48 || sum.KPIs.TotalCost <= 0 || len(sum.Sets) != 1 {
			t.Errorf("summary %+v", sum)
		}
		if !strings.Contains(errOut, "replay: 100% (48/48 cycles") {
			t.Errorf("no plain progress lines on a non-terminal:\n%s", errOut)
		}
		for _, f := range []string{"report.html", "kpis.json", "steps.csv"} {
			if _, err := os.Stat(filepath.Join(rep, f)); err != nil {
				t.Error(err)
			}
		}
		reports = append(reports, rep)
	}
	var out, errb bytes.Buffer
	cmp := filepath.Join(dir, "cmp")
	if err := cmdReplay(context.Background(), append([]string{"compare", "--report", cmp}, reports...), &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if !strings.Contains(out.String(), "total cost") || !strings.Contains(out.String(), "baseline") {
		t.Errorf("compare output:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(cmp, "report.html")); err != nil {
		t.Error(err)
	}
	err := cmdReplay(context.Background(), []string{"compare", reports[0]}, &out, &errb)
	var ue usageError
	if !errorsAs(err, &ue) {
		t.Errorf("compare with one directory: %v, want a usage error", err)
	}
}

func errorsAs(err error, target *usageError) bool { return errors.As(err, target) }
