package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/optimizer/scengen"
)

// cmdPlan solves one scenario: gridd plan --scenario FILE [--json]
// [--export-lp F] [--export-mps F] [--soft] [--reference PLAN --stability W]
// [--no-solve] [-v].
func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("plan", flag.ContinueOnError)
	cliFlags(fl, stderr)
	path := fl.String("scenario", "", "scenario JSON file (- for standard input)")
	asJSON := fl.Bool("json", false, "print the whole plan as (compact) JSON")
	exportLP := fl.String("export-lp", "", "also write the LP in CPLEX LP format to `FILE`")
	exportMPS := fl.String("export-mps", "", "also write the LP in free MPS format to `FILE`")
	soft := fl.Bool("soft", false, "soft limits: return the least-violating plan and list the violations instead of failing as infeasible")
	refPath := fl.String("reference", "", "last approved plan (JSON, as printed by --json) for --stability")
	stability := fl.Float64("stability", 0, "plan-stability penalty per kW of change against --reference, per hour")
	tol := fl.Float64("tolerance", 0, "relative duality gap to reach (0: the default 1e-6)")
	noSolve := fl.Bool("no-solve", false, "only validate and export; do not solve")
	verbose := fl.Bool("v", false, "log the solver's set-up timings and every iteration to standard error")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fl.Arg(0))}
	}
	if *path == "" {
		return usageError{errors.New("--scenario is required")}
	}
	if (*refPath == "") != (*stability == 0) {
		return usageError{fmt.Errorf("--reference %q and --stability %v go together", *refPath, *stability)}
	}
	data, err := readInput(*path)
	if err != nil {
		return err
	}
	scn, err := optimizer.ParseScenario(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	opts := optimizer.Options{Soft: *soft, StabilityPerKW: *stability, Tolerance: *tol}
	if *verbose {
		opts.Logger = newLogger(stderr, true)
	}
	if *refPath != "" {
		raw, err := readInput(*refPath)
		if err != nil {
			return err
		}
		var ref optimizer.Plan
		if err := json.Unmarshal(raw, &ref); err != nil {
			return fmt.Errorf("--reference %s: %w", *refPath, err)
		}
		opts.Reference = &ref
	}
	for _, ex := range []struct {
		file  string
		write func(io.Writer, *optimizer.Scenario, optimizer.Options) error
	}{{*exportLP, optimizer.ExportLP}, {*exportMPS, optimizer.ExportMPS}} {
		if ex.file == "" {
			continue
		}
		if err := writeFile(ex.file, func(w io.Writer) error { return ex.write(w, scn, opts) }); err != nil {
			return err
		}
	}
	if *noSolve {
		return nil
	}
	plan, err := optimizer.Solve(ctx, scn, opts)
	if *asJSON && plan != nil {
		bw := bufio.NewWriterSize(stdout, 1<<16)
		// Compact: a district-scale plan has millions of numbers (pipe
		// through jq to read it).
		enc := json.NewEncoder(bw)
		if eerr := enc.Encode(plan); eerr != nil {
			return eerr
		}
		if ferr := bw.Flush(); ferr != nil {
			return ferr
		}
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "status %s, objective %.6f, %d iterations, %.1f ms, gap %.2g, primal residual %.2g\n",
		plan.Status, plan.Objective, plan.Iterations, plan.SolveMS, plan.Gap, plan.PrimalResidual)
	if plan.PeakTargetKW > 0 {
		fmt.Fprintf(stdout, "peak target %.3f kW (peak so far %.3f kW)\n", plan.PeakTargetKW, scn.Grid.PeakSoFarKW)
	}
	c := plan.CostBreakdown
	for _, row := range []struct {
		name string
		v    float64
	}{{"energy_import", c.EnergyImport}, {"energy_export_revenue", c.EnergyExportRevenue}, {"demand_charge", c.DemandCharge},
		{"battery_wear", c.BatteryWear}, {"ev_wear", c.EVWear}, {"unmet_penalty", c.UnmetPenalty},
		{"stability_penalty", c.StabilityPenalty}, {"violation_penalty", c.ViolationPenalty}, {"total", c.Total}} {
		fmt.Fprintf(stdout, "  %-22s %12.4f\n", row.name, row.v)
	}
	if len(plan.Violations) > 0 {
		fmt.Fprintf(stdout, "%d violated limits:\n", len(plan.Violations))
		for _, v := range plan.Violations {
			fmt.Fprintf(stdout, "  %s: %.4g %s over\n", v.Constraint, v.Amount, v.Unit)
		}
	}
	return nil
}

// cmdScenario handles "gridd scenario gen": a reproducible scenario from
// the real data bundled in the binary.
func cmdScenario(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "gen" {
		return usageError{errors.New("usage: gridd scenario gen --seed S --evs N --batteries B --feeders F --steps T [--out FILE]")}
	}
	fl := flag.NewFlagSet("scenario gen", flag.ContinueOnError)
	cliFlags(fl, stderr)
	seed := fl.Uint64("seed", 1, "random seed; the same flags give the same scenario")
	evs := fl.Int("evs", 10, "number of EV sessions")
	bats := fl.Int("batteries", 1, "number of stationary batteries")
	feeders := fl.Int("feeders", 1, "number of feeder nodes below the root")
	steps := fl.Int("steps", 96, "horizon length in steps")
	stepMin := fl.Int("step-minutes", 15, "step length in minutes (must divide 60)")
	v2g := fl.Float64("v2g-share", 0.1, "fraction of EV sessions allowed to discharge (0: none)")
	out := fl.String("out", "", "write the scenario to `FILE` instead of standard output")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fl.Arg(0))}
	}
	share := *v2g
	if share == 0 {
		share = -1 // scengen: a negative share means none
	} else if share < 0 {
		return usageError{fmt.Errorf("--v2g-share %v must be in [0, 1]", share)}
	}
	s, err := scengen.Generate(gridd.Files, scengen.Params{Seed: *seed, EVs: *evs, Batteries: *bats, Feeders: *feeders,
		Steps: *steps, StepMinutes: *stepMin, V2GShare: share})
	if err != nil {
		return err
	}
	write := func(w io.Writer) error {
		enc := json.NewEncoder(w)
		return enc.Encode(s)
	}
	if *out == "" {
		bw := bufio.NewWriterSize(stdout, 1<<16)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	return writeFile(*out, write)
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

// writeFile writes a file through a buffer and reports write and close
// errors.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
