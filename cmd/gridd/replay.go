package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"
)

const replayUsage = `usage:
  gridd replay --config site.yaml (--history DIR | --db DSN) --from T1 --to T2 \
               --strategy optimize|baseline|rule|hindsight [--set KEY=VALUE ...] --report DIR [--json]
  gridd replay --district district.yaml --history DIR|builtin --from T1 --to T2 \
               [--strategy coordinated|independent|centralised|all] --report DIR [--json]
  gridd replay compare [--report DIR] [--json] DIR1 DIR2 ...`

// setFlags collects repeated --set flags.
type setFlags []string

func (s *setFlags) String() string     { return strings.Join(*s, " ") }
func (s *setFlags) Set(v string) error { *s = append(*s, v); return nil }

// cmdReplay runs "gridd replay": a closed-loop backtest of a strategy over recorded
// actuals, through the production dispatch cycle in simulated time, with a report.
func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return cmdReplayCompare(args[1:], stdout, stderr)
	}
	fl := flag.NewFlagSet("replay", flag.ContinueOnError)
	cliFlags(fl, stderr)
	replay.ReplayGC()
	fl.Usage = func() {
		fmt.Fprintln(stderr, replayUsage)
		fl.PrintDefaults()
		fmt.Fprintln(stderr, "\n--set keys:")
		for _, k := range replay.SetKeyNames() {
			fmt.Fprintf(stderr, "  %-30s %s\n", k, replay.SetKeys[k])
		}
	}
	cfgPath := fl.String("config", "", "site config YAML")
	histDir := fl.String("history", "", "directory of history CSVs ("+replay.HistoryFiles+"); \"builtin\" for the bundled data")
	dsn := fl.String("db", "", "read the history from a store: a postgres:// DSN, or the embedded store's data directory")
	fromS := fl.String("from", "", "start of the period, RFC 3339 or YYYY-MM-DD (UTC)")
	toS := fl.String("to", "", "end of the period (exclusive), RFC 3339 or YYYY-MM-DD (UTC)")
	strategy := fl.String("strategy", replay.Optimize, "optimize, baseline, rule or hindsight; with --district: coordinated, independent, centralised or all (default all)")
	districtPath := fl.String("district", "", "replay a district file's sites in lock-step (docs/DISTRICT.md) instead of one site")
	var sets setFlags
	fl.Var(&sets, "set", "what-if edit KEY=VALUE (repeatable; see the keys below)")
	reportDir := fl.String("report", "", "directory for report.html, kpis.json and steps.csv")
	asJSON := fl.Bool("json", false, "print kpis.json to stdout")
	every := fl.Int("forecast-every", 1, "forecast each series every N cycles (1 = every cycle, as production)")
	skipBand := fl.Bool("skip-forecast-band", false, "leave out the forecasts' P10/P90 band (replay does not use it; P50 and the report are unchanged, the run is faster)")
	verbose := fl.Bool("v", false, "log every cycle's warnings and errors to stderr")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fl.Arg(0))}
	}
	if *districtPath != "" {
		set := map[string]bool{}
		fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return cmdReplayDistrict(ctx, districtReplayArgs{file: *districtPath, history: *histDir, from: *fromS, to: *toS,
			strategy: *strategy, strategySet: set["strategy"], report: *reportDir, json: *asJSON, every: *every, skipBand: *skipBand, verbose: *verbose,
			conflicts: slices.DeleteFunc([]string{"config", "db", "set"}, func(n string) bool { return !set[n] })}, stdout, stderr)
	}
	switch {
	case *cfgPath == "":
		return usageError{errors.New("--config is required")}
	case (*histDir == "") == (*dsn == ""):
		return usageError{errors.New("give exactly one of --history DIR and --db DSN")}
	case *reportDir == "":
		return usageError{errors.New("--report is required")}
	case *every < 1:
		return usageError{fmt.Errorf("--forecast-every %d: must be at least 1", *every)}
	}
	from, err := parseWhen("--from", *fromS)
	if err != nil {
		return usageError{err}
	}
	to, err := parseWhen("--to", *toS)
	if err != nil {
		return usageError{err}
	}
	cfg, err := site.Load(*cfgPath)
	if err != nil {
		return err
	}
	cfg, err = replay.ApplySets(cfg, sets)
	if err != nil {
		return usageError{err}
	}
	opts := replay.Options{Config: cfg, From: from, To: to, Strategy: *strategy, Sets: sets, ForecastEvery: *every, SkipForecastBand: *skipBand}
	opts.History = &replay.History{}
	if err := opts.Check(); err != nil {
		return usageError{err}
	}
	log := newLogger(io.Discard, false)
	if *verbose {
		log = newLogger(stderr, false)
	}
	// The history must cover the period before any work starts.
	if *histDir != "" {
		if *histDir == "builtin" {
			opts.History, err = replay.LoadHistory(cfg, *histDir, gridd.Files, from, to)
		} else {
			if fi, e := os.Stat(*histDir); e != nil || !fi.IsDir() {
				return usageError{fmt.Errorf("--history %s: not a directory", *histDir)}
			}
			opts.History, err = replay.LoadHistory(cfg, *histDir, nil, from, to)
		}
	} else {
		opts.History, err = historyFromDB(ctx, *dsn, cfg, from, to)
	}
	if err != nil {
		return err
	}
	opts.Logger = log
	p := newProgress(stderr)
	opts.Progress = p.update
	res, err := replay.Run(ctx, opts)
	p.done()
	if err != nil {
		return err
	}
	if err := res.WriteReport(*reportDir); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res.Summary())
	}
	k := res.KPIs
	fmt.Fprintf(stdout, "%s %s, %s to %s: %d cycles, %d failed\n", res.Site, res.Strategy, res.From.Format(time.RFC3339), res.To.Format(time.RFC3339), len(res.Steps), res.FailedCycles)
	fmt.Fprintf(stdout, "total cost %.2f %s (energy %.2f, demand %.2f, battery wear %.2f, EV unmet %.2f); peak import %.1f kW\n",
		k.TotalCost, res.Currency, k.EnergyCost, k.DemandCharge, k.BatteryWearCost, k.EVUnmetPenalty, k.PeakImportKW)
	fmt.Fprintf(stdout, "EV %.0f of %.0f kWh delivered, %d of %d sessions unmet; battery %.1f equivalent cycles; %d limit violation steps\n",
		k.EVDeliveredKWh, k.EVRequestedKWh, k.EVUnmetSessions, k.EVSessions, k.BatteryEquivalentCycles, k.LimitViolationSteps)
	fmt.Fprintf(stdout, "report: %s/%s\n", strings.TrimRight(*reportDir, "/"), replay.ReportFile)
	return nil
}

func historyFromDB(ctx context.Context, dsn string, cfg *site.Config, from, to time.Time) (*replay.History, error) {
	log := newLogger(io.Discard, false)
	var st storage.Store
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		// Read only: the database directly, without the write spool that
		// openStore puts in front of it (and would create in the working directory).
		db, err := timescale.Open(ctx, dsn, log)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		st = db
	} else {
		if _, err := os.Stat(dsn); err != nil {
			return nil, fmt.Errorf("--db %s: %w", dsn, err)
		}
		db, _, err := openStore(ctx, "", dsn, log)
		if err != nil {
			return nil, err
		}
		st = db
	}
	defer st.Close()
	return replay.HistoryFromStore(ctx, st, cfg, from, to)
}

func parseWhen(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required", name)
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time or YYYY-MM-DD", name, s)
}

func cmdReplayCompare(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("replay compare", flag.ContinueOnError)
	cliFlags(fl, stderr)
	out := fl.String("report", "", "also write a side-by-side report.html here")
	asJSON := fl.Bool("json", false, "print the reports' KPIs as JSON")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() < 2 {
		return usageError{errors.New("name at least two report directories (gridd replay compare [--report DIR] [--json] DIR1 DIR2 ...)")}
	}
	c, err := replay.Compare(fl.Args())
	if err != nil {
		return err
	}
	if *out != "" {
		if err := c.WriteHTML(*out); err != nil {
			return err
		}
	}
	if *asJSON {
		type split struct {
			Plans     float64 `json:"plans"`
			Recovered float64 `json:"recovered_by_real_time_layer"`
			Left      float64 `json:"left_with_real_time_layer"`
		}
		doc := struct {
			Reports             []replay.Summary `json:"reports"`
			CostOfForecastError *float64         `json:"cost_of_forecast_error,omitempty"`
			Split               *split           `json:"cost_of_forecast_error_split,omitempty"`
		}{Reports: c.Summaries}
		if v, ok := c.CostOfForecastError(); ok {
			doc.CostOfForecastError = &v
		}
		if p, r, l, ok := c.ForecastErrorSplit(); ok {
			doc.Split = &split{p, r, l}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	return c.WriteText(stdout)
}

// progress shows a bar with an ETA on a terminal and a plain line every 10 % otherwise.
type progress struct {
	w        io.Writer
	tty      bool
	start    time.Time
	last     time.Time
	lastTen  int
	finished bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total int) {
	now := time.Now()
	el := now.Sub(p.start)
	eta := time.Duration(0)
	if done > 0 {
		eta = time.Duration(float64(el) / float64(done) * float64(total-done)).Round(time.Second)
	}
	rate := float64(done) / max(el.Seconds(), 1e-9)
	if p.tty {
		if now.Sub(p.last) < 200*time.Millisecond && done < total {
			return
		}
		p.last = now
		const width = 30
		fill := width * done / total
		fmt.Fprintf(p.w, "\r[%s%s] %5.1f%% %d/%d cycles, %.0f cycles/s, ETA %s   ",
			strings.Repeat("#", fill), strings.Repeat(".", width-fill), 100*float64(done)/float64(total), done, total, rate, eta)
		return
	}
	if ten := 10 * done / total; ten > p.lastTen {
		p.lastTen = ten
		fmt.Fprintf(p.w, "replay: %d%% (%d/%d cycles, %.0f cycles/s, ETA %s)\n", 10*ten, done, total, rate, eta)
	}
}

func (p *progress) done() {
	if p.tty && !p.finished {
		fmt.Fprintln(p.w)
	}
	p.finished = true
}
