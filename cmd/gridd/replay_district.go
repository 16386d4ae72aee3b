package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/replay/dreplay"
)

// districtReplayArgs are gridd replay's flags for a district.
type districtReplayArgs struct {
	file, history, from, to string
	strategy                string
	strategySet             bool
	report                  string
	json, skipBand, verbose bool
	every                   int
	conflicts               []string // single-site flags given with --district
}

// cmdReplayDistrict runs "gridd replay --district": every site of a district
// file through its own replay loop in lock-step, under one strategy or all
// three, with a district report.
func cmdReplayDistrict(ctx context.Context, a districtReplayArgs, stdout, stderr io.Writer) error {
	switch {
	case len(a.conflicts) > 0:
		return usageError{fmt.Errorf("--%s applies to one site, not with --district (each site's config comes from the district file)", a.conflicts[0])}
	case a.history == "":
		return usageError{errors.New("--district needs --history DIR (a directory per site id) or --history builtin")}
	case a.report == "":
		return usageError{errors.New("--report is required")}
	case a.every < 1:
		return usageError{fmt.Errorf("--forecast-every %d: must be at least 1", a.every)}
	}
	strategies := dreplay.Strategies
	if a.strategySet && a.strategy != dreplay.All {
		strategies = []string{a.strategy}
	}
	for _, s := range strategies {
		if !slices.Contains(dreplay.Strategies, s) {
			return usageError{fmt.Errorf("--strategy %q: with --district want %s or %s", s, strings.Join(dreplay.Strategies, ", "), dreplay.All)}
		}
	}
	from, err := parseWhen("--from", a.from)
	if err != nil {
		return usageError{err}
	}
	to, err := parseWhen("--to", a.to)
	if err != nil {
		return usageError{err}
	}
	if !to.After(from) {
		return usageError{fmt.Errorf("--to %s must be after --from %s", a.to, a.from)}
	}
	if a.history != "builtin" {
		if fi, e := os.Stat(a.history); e != nil || !fi.IsDir() {
			return usageError{fmt.Errorf("--history %s: not a directory", a.history)}
		}
	}
	dc, sites, err := dreplay.Load(a.file, a.history, gridd.Files, from, to)
	if err != nil {
		return err
	}
	log := newLogger(io.Discard, false)
	if a.verbose {
		log = newLogger(stderr, false)
	}
	opts := dreplay.Options{District: dc, Sites: sites, From: from, To: to, Logger: log, SkipForecastBand: a.skipBand, ForecastEvery: a.every}
	for _, s := range strategies {
		opts.Strategy = s
		if err := opts.Check(); err != nil {
			return usageError{err}
		}
	}
	replay.ReplayGC()
	var results []*dreplay.Result
	for _, s := range strategies {
		opts.Strategy = s
		fmt.Fprintf(stderr, "district replay: %s, %d sites\n", s, len(sites))
		p := newProgress(stderr)
		opts.Progress = p.update
		res, err := dreplay.Run(ctx, opts)
		p.done()
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		results = append(results, res)
		// The report so far: a long run stopped later keeps the strategies done.
		if err := dreplay.WriteReport(a.report, results); err != nil {
			return err
		}
	}
	sums := make([]dreplay.Summary, len(results))
	for i, r := range results {
		sums[i] = r.Summary()
	}
	if a.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Reports []dreplay.Summary `json:"reports"`
		}{sums})
	}
	if err := dreplay.WriteText(stdout, sums); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s/%s\n", strings.TrimRight(a.report, "/"), dreplay.ReportFile)
	return nil
}

// cmdDistrictGenerate runs "gridd district generate": a district file and its
// sites' configs, demo-like sites replayed from the bundled data, for `gridd
// replay --district` (and `gridd coordinate`).
func cmdDistrictGenerate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("district generate", flag.ContinueOnError)
	cliFlags(fl, stderr)
	n := fl.Int("sites", 10, "number of sites (1..200)")
	seed := fl.Uint64("seed", 1, "seed of every random choice (buildings, scales, batteries, PV, EV users)")
	horizon := fl.Duration("horizon", 24*time.Hour, "every site's planning horizon and the district's")
	tight := fl.Float64("tightness", 0.85, "each shared limit as a fraction of the 90th percentile of the daily peaks of the uncontrolled import below it")
	out := fl.String("out", "", "directory for district.yaml and sites/*.yaml (created; existing files are not overwritten)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fl.Arg(0))}
	}
	if *out == "" {
		return usageError{errors.New("--out is required")}
	}
	files, err := dreplay.Generate(gridd.Files, dreplay.GenParams{Sites: *n, Seed: *seed, Horizon: *horizon, Tightness: *tight})
	if err != nil {
		return usageError{err}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
		if _, err := os.Stat(filepath.Join(*out, name)); err == nil {
			return fmt.Errorf("--out %s: %s exists; not overwritten", *out, filepath.Join(*out, name))
		}
	}
	slices.Sort(names)
	for _, name := range names {
		p := filepath.Join(*out, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s with %d sites under %s\nreplay it: gridd replay --district %s --history builtin --from 2019-06-03 --to 2019-06-10 --report report\n",
		filepath.Join(*out, "district.yaml"), *n, filepath.Join(*out, "sites"), filepath.Join(*out, "district.yaml"))
	return nil
}
