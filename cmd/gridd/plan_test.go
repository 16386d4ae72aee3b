package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gridd/gridd/optimizer"
)

func callCmd(t *testing.T, cmd func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cmd(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

var (
	planCmd     = cmdPlan
	scenarioCmd = cmdScenario
)

func genScenario(t *testing.T, dir string, args ...string) string {
	t.Helper()
	file := filepath.Join(dir, "scenario.json")
	_, stderr, err := callCmd(t, scenarioCmd, append([]string{"gen", "--out", file}, args...)...)
	if err != nil {
		t.Fatalf("scenario gen %v: %v\n%s", args, err, stderr)
	}
	return file
}

func TestScenarioGenReproducible(t *testing.T) {
	args := []string{"gen", "--seed", "5", "--evs", "40", "--batteries", "2", "--feeders", "3", "--steps", "96"}
	a, _, err := callCmd(t, scenarioCmd, args...)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := callCmd(t, scenarioCmd, args...)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatal("scenario gen is not reproducible")
	}
	s, err := optimizer.ParseScenario([]byte(a))
	if err != nil {
		t.Fatalf("generated scenario does not parse: %v", err)
	}
	if len(s.EVSessions) != 40 || len(s.Batteries) != 2 || len(s.Nodes) != 4 || s.Steps != 96 {
		t.Errorf("got %d EVs, %d batteries, %d nodes, %d steps", len(s.EVSessions), len(s.Batteries), len(s.Nodes), s.Steps)
	}
	args[2] = "6"
	if c, _, _ := callCmd(t, scenarioCmd, args...); c == a {
		t.Error("a different seed gave the same scenario")
	}
}

// TestPlanVerbose: -v logs the solver's set-up timings and one line per
// iteration to standard error, as many iteration lines as the plan reports.
func TestPlanVerbose(t *testing.T) {
	dir := t.TempDir()
	file := genScenario(t, dir, "--seed", "3", "--evs", "20", "--batteries", "1", "--feeders", "2")
	out, stderr, err := callCmd(t, planCmd, "-v", "--scenario", file, "--json")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	var p optimizer.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ipm normal equations", "ordering=", "symbolic=", "setup="} {
		if !strings.Contains(stderr, want) {
			t.Errorf("-v output lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "ipm iteration"); n != p.Iterations+1 {
		t.Errorf("%d iteration lines for %d iterations", n, p.Iterations)
	}
	if _, stderr, _ := callCmd(t, planCmd, "--scenario", file); strings.Contains(stderr, "ipm") {
		t.Errorf("solver log without -v:\n%s", stderr)
	}
}

func TestPlanJSON(t *testing.T) {
	dir := t.TempDir()
	file := genScenario(t, dir, "--seed", "3", "--evs", "60", "--batteries", "2", "--feeders", "4")
	out, stderr, err := callCmd(t, planCmd, "--scenario", file, "--json")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"status", "objective", "solve_ms", "iterations", "grid_import_kw", "grid_export_kw", "assets",
		"cost_breakdown", "node_prices", "binding", "primal_residual", "gap", "peak_target_kw"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("plan JSON lacks %q", k)
		}
	}
	var p optimizer.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != optimizer.StatusOptimal || len(p.GridImportKW) != 96 || len(p.NodePrices) != 5 {
		t.Errorf("status %s, %d import values, %d node price series", p.Status, len(p.GridImportKW), len(p.NodePrices))
	}
	text, _, err := callCmd(t, planCmd, "--scenario", file)
	if err != nil {
		t.Fatal(err)
	}
	if want := "status optimal, objective " + strconv.FormatFloat(p.Objective, 'f', 6, 64); !strings.HasPrefix(text, want) {
		t.Errorf("text output %q does not start with %q", text, want)
	}
	// Generated scenarios have a demand charge: the text names the peak target.
	if want := "peak target " + strconv.FormatFloat(p.PeakTargetKW, 'f', 3, 64) + " kW"; p.PeakTargetKW <= 0 || !strings.Contains(text, want) {
		t.Errorf("peak target %v; text output %q does not contain %q", p.PeakTargetKW, text, want)
	}
}

var glpkObj = regexp.MustCompile(`(?m)^Objective:\s+\S+\s+=\s+(\S+)`)

// TestPlanExportGLPK exports with the CLI and solves the files with glpsol.
func TestPlanExportGLPK(t *testing.T) {
	glpsol, err := exec.LookPath("glpsol")
	if err != nil {
		if os.Getenv("GRIDD_REQUIRE_PEERS") == "1" {
			t.Fatalf("glpsol (Debian glpk-utils) is required: %v", err)
		}
		t.Skip("glpsol not installed (Debian glpk-utils)")
	}
	dir := t.TempDir()
	file := genScenario(t, dir, "--seed", "9", "--evs", "30", "--batteries", "1", "--feeders", "2")
	lpFile, mpsFile := filepath.Join(dir, "p.lp"), filepath.Join(dir, "p.mps")
	out, stderr, err := callCmd(t, planCmd, "--scenario", file, "--json", "--tolerance", "1e-7", "--export-lp", lpFile, "--export-mps", mpsFile)
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	var p optimizer.Plan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ flag, file string }{{"--lp", lpFile}, {"--freemps", mpsFile}} {
		sol := f.file + ".sol"
		if msg, err := exec.Command(glpsol, f.flag, f.file, "-o", sol).CombinedOutput(); err != nil {
			t.Fatalf("glpsol: %v\n%s", err, msg)
		}
		text, err := os.ReadFile(sol)
		if err != nil {
			t.Fatal(err)
		}
		m := glpkObj.FindSubmatch(text)
		if m == nil {
			t.Fatalf("no objective in glpsol output:\n%s", text)
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		if d := math.Abs(v - p.Objective); d > 1e-6*math.Max(1, math.Abs(v)) {
			t.Errorf("%s: glpsol objective %.10g, gridd plan %.10g", f.flag, v, p.Objective)
		}
	}
}

func TestPlanSoftAndErrors(t *testing.T) {
	dir := t.TempDir()
	data := `{"start":"2024-01-01T00:00:00Z","step_minutes":60,"steps":2,
	  "grid":{"import_limit_kw":100,"export_limit_kw":100,"import_price":[0.1,0.1],"export_price":[0,0]},
	  "nodes":[{"id":"root","parent":"","limit_kw":100},{"id":"feeder-a","parent":"root","limit_kw":10}],
	  "loads":[{"id":"l","node":"feeder-a","forecast_kw":[4,13]}]}`
	file := filepath.Join(dir, "tight.json")
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := callCmd(t, planCmd, "--scenario", file)
	if err == nil || !strings.Contains(err.Error(), "node feeder-a limit 10 kW") {
		t.Fatalf("hard mode error %v, want the node limit conflict", err)
	}
	out, _, err := callCmd(t, planCmd, "--scenario", file, "--soft")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "status relaxed") || !strings.Contains(out, "node feeder-a limit at step 1 (01:00): 3 kW over") {
		t.Errorf("soft output:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--scenario is required"},
		{[]string{"--scenario", filepath.Join(dir, "missing.json")}, "no such file"},
		{[]string{"--scenario", file, "--stability", "1"}, "go together"},
		{[]string{"--scenario", file, "extra"}, "unexpected argument"},
	} {
		_, _, err := callCmd(t, planCmd, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("plan %v: %v, want %q", tc.args, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: gridd scenario gen"},
		{[]string{"gen", "--evs", "-3"}, "evs: -3"},
		{[]string{"gen", "--steps", "0"}, "steps: 0"},
	} {
		_, _, err := callCmd(t, scenarioCmd, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("scenario %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestPlanStability re-plans against a reference plan file.
func TestPlanStability(t *testing.T) {
	dir := t.TempDir()
	file := genScenario(t, dir, "--seed", "4", "--evs", "20", "--batteries", "2", "--feeders", "2")
	ref, _, err := callCmd(t, planCmd, "--scenario", file, "--json")
	if err != nil {
		t.Fatal(err)
	}
	refFile := filepath.Join(dir, "ref.json")
	if err := os.WriteFile(refFile, []byte(ref), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := callCmd(t, planCmd, "--scenario", file, "--json", "--reference", refFile, "--stability", "0.2")
	if err != nil {
		t.Fatal(err)
	}
	var a, b optimizer.Plan
	if err := json.Unmarshal([]byte(ref), &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatal(err)
	}
	// Re-planning the same scenario against its own plan changes nothing.
	if d := math.Abs(a.Objective - b.Objective); d > 1e-5*(1+math.Abs(a.Objective)) {
		t.Errorf("objective %v against its own plan, want %v", b.Objective, a.Objective)
	}
	if b.CostBreakdown.StabilityPenalty > 1e-4*(1+math.Abs(a.Objective)) {
		t.Errorf("stability penalty %v against its own plan, want ~0", b.CostBreakdown.StabilityPenalty)
	}
}
