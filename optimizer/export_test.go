package optimizer

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// glpsolPath returns the glpsol binary, skipping the test when it is
// missing unless GRIDD_REQUIRE_PEERS=1 (then the test fails).
func glpsolPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("glpsol")
	if err != nil {
		if os.Getenv("GRIDD_REQUIRE_PEERS") == "1" {
			t.Fatalf("glpsol (Debian glpk-utils) is required (GRIDD_REQUIRE_PEERS=1): %v", err)
		}
		t.Skip("glpsol not installed (Debian glpk-utils; scripts/lib/solvers.sh installs it)")
	}
	return p
}

var glpkObjective = regexp.MustCompile(`(?m)^Objective:\s+\S+\s+=\s+(\S+)`)
var glpkStatus = regexp.MustCompile(`(?m)^Status:\s+(\S+)`)

// glpsolSolve solves an exported model file with glpsol (format flag
// "--lp" or "--freemps") and returns its status and optimal objective.
func glpsolSolve(t *testing.T, glpsol, format, file string) (string, float64) {
	t.Helper()
	out := file + ".sol"
	cmd := exec.Command(glpsol, format, file, "-o", out)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("glpsol %s %s: %v\n%s", format, file, err, msg)
	}
	text, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	st := glpkStatus.FindSubmatch(text)
	if st == nil {
		t.Fatalf("glpsol output has no status:\n%s", text)
	}
	m := glpkObjective.FindSubmatch(text)
	if m == nil {
		t.Fatalf("glpsol output has no objective:\n%s", text)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("glpsol objective %q: %v", m[1], err)
	}
	return string(st[1]), v
}

type exportCase struct {
	name string
	s    *Scenario
	opts Options
}

func exportScenarios(t *testing.T) []exportCase {
	out := []exportCase{
		{"demo", demoScenario(), Options{}},
		{"scaled-60-evs", scaledScenario(60, 11), Options{}},
	}
	dc := demoScenario()
	dc.Grid.DemandChargePerKW = 12
	dc.Grid.PeakSoFarKW = 40
	out = append(out, exportCase{"demo-demand-charge", dc, Options{}})
	// A peak target with forecast margins, and V2G sessions with losses.
	dm := scaledScenario(40, 5)
	dm.Grid.DemandChargePerKW = 12
	dm.Grid.PeakSoFarKW = 40
	dm.Grid.PeakMarginKW = make([]float64, dm.Steps)
	for k := range dm.Grid.PeakMarginKW {
		dm.Grid.PeakMarginKW[k] = 2 + 0.1*float64(k)
	}
	for i := range dm.EVSessions {
		dm.EVSessions[i].ChargeEfficiency, dm.EVSessions[i].DischargeEfficiency = 0.92, 0.9
	}
	out = append(out, exportCase{"margin-v2g-losses", dm, Options{}})
	// Soft mode on an infeasible scenario.
	inf := demoScenario()
	inf.Nodes[1].LimitKW = 5
	inf.Batteries[0].TerminalSoCKWh = ptr(inf.Batteries[0].MaxSoCKWh)
	out = append(out, exportCase{"soft-infeasible", inf, Options{Soft: true}})
	// Plan stability against the demo plan, on changed prices.
	ref, err := Solve(context.Background(), demoScenario(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := demoScenario()
	for k := range st.Grid.ImportPrice {
		st.Grid.ImportPrice[k] += 0.05 * float64(k%5)
	}
	out = append(out, exportCase{"stability", st, Options{StabilityPerKW: 0.05, Reference: ref}})
	rng := rand.New(rand.NewPCG(4, 4))
	for k := 0; len(out) < 14; k++ {
		s := randomScenario(rng)
		if len(precheck(s)) > 0 {
			continue
		}
		out = append(out, exportCase{fmt.Sprintf("random-%d", k), s, Options{}})
	}
	return out
}

// TestExportSolvedByGLPK solves the exported LP and MPS files with glpsol
// and compares its optimal objective with the plan's, to 1e-6 relative.
func TestExportSolvedByGLPK(t *testing.T) {
	glpsol := glpsolPath(t)
	dir := t.TempDir()
	for _, tc := range exportScenarios(t) {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Tolerance = 1e-7
			plan, err := Solve(context.Background(), tc.s, opts)
			infeasible := err != nil && asInfeasible(err, new(*InfeasibleError))
			if err != nil && !infeasible {
				t.Fatal(err)
			}
			for _, format := range []struct{ flag, ext string }{{"--lp", "lp"}, {"--freemps", "mps"}} {
				var buf bytes.Buffer
				var werr error
				if format.ext == "lp" {
					werr = ExportLP(&buf, tc.s, tc.opts)
				} else {
					werr = ExportMPS(&buf, tc.s, tc.opts)
				}
				if werr != nil {
					t.Fatal(werr)
				}
				file := filepath.Join(dir, tc.name+"."+format.ext)
				if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				status, obj := glpsolSolve(t, glpsol, format.flag, file)
				if infeasible {
					if status == "OPTIMAL" {
						t.Errorf("%s: gridd says infeasible (%v), glpsol found objective %v", format.ext, err, obj)
					}
					continue
				}
				if status != "OPTIMAL" {
					t.Fatalf("%s: glpsol status %s, gridd found objective %v", format.ext, status, plan.Objective)
				}
				if d := math.Abs(obj - plan.Objective); d > 1e-6*math.Max(1, math.Abs(obj)) {
					t.Errorf("%s: glpsol objective %.10g, gridd %.10g (relative difference %.3g)",
						format.ext, obj, plan.Objective, d/math.Max(1, math.Abs(obj)))
				}
			}
		})
	}
}

// TestExportLPText checks the LP text conventions on the demo scenario:
// no "+ -" terms, sections in order, and one bound line per column.
func TestExportLPText(t *testing.T) {
	var buf bytes.Buffer
	s := scaledScenario(5, 2)
	if err := ExportLP(&buf, s, Options{}); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if strings.Contains(text, "+ -") {
		t.Errorf("LP contains \"+ -\"")
	}
	last := -1
	for _, sec := range []string{"Minimize", "Subject To", "Bounds", "End"} {
		i := strings.Index(text, "\n"+sec+"\n")
		if i < 0 || i < last {
			t.Fatalf("section %q missing or out of order", sec)
		}
		last = i
	}
	f := formulate(s, formOptions{})
	bounds := text[strings.Index(text, "\nBounds\n")+8 : strings.Index(text, "\nEnd\n")]
	if n := strings.Count(bounds, "\n") + 1; n != f.m.NumVars() {
		t.Errorf("%d bound lines, want one per column (%d)", n, f.m.NumVars())
	}
	if err := ExportLP(&buf, &Scenario{}, Options{}); err == nil {
		t.Error("ExportLP accepted an invalid scenario")
	}
}
