package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/memstore"
)

// Strategies a replay can run.
const (
	Optimize  = "optimize"
	Baseline  = "baseline"
	Rule      = "rule"
	Hindsight = "hindsight"
)

// Strategies lists every strategy name.
var Strategies = []string{Optimize, Baseline, Rule, Hindsight}

// warmup is how much recorded history before the period is written to the store
// before the first cycle, so the first forecasts see what production would have:
// the history dispatch's forecaster fits on.
const warmup = forecast.AutoHistory

// dataWindow is how much of the other telemetry and of the forecasts an
// in-memory store keeps: more than a billing month.
const dataWindow = 36 * 24 * time.Hour

// Options configure a replay.
type Options struct {
	Config   *site.Config
	History  *History
	From, To time.Time
	Strategy string
	// Sets are the what-if edits already applied to Config (for the report).
	Sets []string
	// Store receives telemetry, forecasts, schedules and writes like production; nil
	// means a fresh in-memory store. An in-memory store (given or not) is pruned as
	// the replay goes so memory stays bounded: load and PV power older than the
	// forecasts' window (forecast.AutoHistory), other telemetry and forecasts
	// older than 36 days, records older than a day.
	Store  storage.Store
	Logger *slog.Logger
	// ForecastEvery > 1 computes each load and PV forecast only every ForecastEvery
	// cycles (with a horizon that much longer) and lets the cycles in between take
	// theirs from it; 0 or 1 forecasts every cycle as production does.
	ForecastEvery int
	// SkipForecastBand leaves the P10/P90 band out of the load and PV forecasts
	// (forecast.BandOptions.Skip: stored with P10 = P50 = P90). No strategy and
	// no KPI uses the band, so the report is the same; forecast.Auto computes the
	// band once a day, so this saves little.
	SkipForecastBand bool
	// Progress, if not nil, is called after every cycle.
	Progress func(done, total int)
	// Hooks, if not nil, let a caller take part in every cycle: a district replay
	// (package replay/dreplay) runs many sites' loops in lock-step through them.
	Hooks *Hooks
}

// Hooks let a caller take part in a replay's cycles without changing them.
type Hooks struct {
	// Solver, if not nil, wraps the strategy's solver (called with it once,
	// before the first cycle).
	Solver func(next dispatch.Solver) dispatch.Solver
	// Service, if not nil, receives the site's dispatch service once it exists.
	Service func(svc *dispatch.Service)
	// AfterCycle, if not nil, runs after each cycle's RunCycle, before the
	// real-time layer's ticks of that step; an error stops the replay.
	AfterCycle func(ctx context.Context, at time.Time, cr *dispatch.CycleResult) error
}

// Result is a replay's outcome.
type Result struct {
	Site     string
	Strategy string
	From, To time.Time
	Source   string
	Sets     []string
	Currency string
	// Timezone is the site's time zone (the report's time axes are in it).
	Timezone string
	// StepMinutes is the step length.
	StepMinutes int
	Steps       []StepRecord
	Sessions    []SessionRecord
	// FailedCycles counts cycles that stored an error (no schedule, failed writes).
	FailedCycles int
	// RelaxedCycles counts cycles whose proposal was the least-violating plan of an
	// infeasible scenario; HeldCycles those whose proposal was not approved by the
	// approval policy (relaxed plans included).
	RelaxedCycles, HeldCycles int
	// CycleErrors holds the first few cycle errors.
	CycleErrors []string
	// Notes explain deviations from the plain strategy (hindsight limit relaxations).
	Notes []string
	KPIs  KPIs

	fcLoad, fcPV errAcc
	capKWh       float64
	// peakTargetKW is the highest peak target of the plans made.
	peakTargetKW float64
	// controlTicks and controlCorrections count the real-time layer's work.
	controlTicks, controlCorrections, controlErrors int
}

// usesControl says whether the strategy runs with the real-time layer: optimize and
// hindsight are gridd's loop; baseline and rule stand for a site without it.
func usesControl(strategy string, cfg *site.Config) bool {
	return !cfg.Control.Disabled && (strategy == Optimize || strategy == Hindsight)
}

// errAcc accumulates forecast errors.
type errAcc struct {
	absSum, actSum float64
	n              int
	abs1, act1     float64
	n1             int
}

// Check validates the options without running anything.
func (o *Options) Check() error {
	if o.Config == nil || o.History == nil {
		return errors.New("replay: Config and History are required")
	}
	step := o.Config.Site.Step.D
	switch {
	case o.From.IsZero() || o.To.IsZero():
		return errors.New("replay: --from and --to are required")
	case !o.To.After(o.From):
		return fmt.Errorf("replay: --to %s must be after --from %s", o.To.Format(time.RFC3339), o.From.Format(time.RFC3339))
	case !o.From.Equal(o.From.Truncate(step)):
		return fmt.Errorf("replay: --from %s is not on a %s step boundary", o.From.Format(time.RFC3339), step)
	case o.To.Sub(o.From)%step != 0:
		return fmt.Errorf("replay: --to %s is not a whole number of %s steps after --from", o.To.Format(time.RFC3339), step)
	}
	if !slices.Contains(Strategies, o.Strategy) {
		return fmt.Errorf("replay: --strategy %q: want one of %s", o.Strategy, strings.Join(Strategies, ", "))
	}
	// A replay integrates whole steps, so it bills the mean import of whole steps.
	if t := o.Config.Tariff; t.DemandChargePerKW > 0 {
		if iv := t.DemandIntervalD(); iv%step != 0 {
			return fmt.Errorf("replay: tariff.demand_interval %s is not a whole number of the site's %s steps: a replay integrates whole steps and cannot bill its mean",
				site.FormatDuration(iv), site.FormatDuration(step))
		}
	}
	return nil
}

// Run replays [From, To) in simulated time through dispatch.Service.RunCycle, one cycle
// per step, with the devices driven by the recorded actuals.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st := o.Store
	mem, _ := st.(*memstore.Store)
	if st == nil {
		mem = memstore.New()
		st = mem
		defer mem.Close()
	}
	step := cfg.Site.Step.D
	n := int(o.To.Sub(o.From) / step)
	clk := clock.NewSim(o.From)
	field, err := NewField(cfg, o.History, clk, o.From)
	if err != nil {
		return nil, err
	}
	res := &Result{Site: cfg.Site.Name, Strategy: o.Strategy, From: o.From.UTC(), To: o.To.UTC(), Source: o.History.Source,
		Sets: o.Sets, Currency: cfg.Tariff.Currency, Timezone: cfg.Site.Timezone, StepMinutes: int(step / time.Minute)}
	for _, d := range cfg.Devices {
		if d.Kind == site.KindBESS {
			res.capKWh += d.BESS.CapacityKWh * (d.BESS.MaxSoCPct - d.BESS.MinSoCPct) / 100
		}
	}
	if err := WriteWarmup(ctx, st, cfg, o.History, o.From); err != nil {
		return nil, err
	}
	// Actual site load and available PV per step, for the forecast error.
	actLoad, actPV, err := actualTotals(cfg, o.History, o.From, n)
	if err != nil {
		return nil, err
	}
	var solve dispatch.Solver
	switch o.Strategy {
	case Optimize:
		solve = optimizer.Solve
	case Baseline:
		solve = baselineSolve
	case Rule:
		solve = ruleSolve
	case Hindsight:
		hp, err := planHindsight(ctx, cfg, o.History, field, o.From, n)
		if err != nil {
			return nil, fmt.Errorf("hindsight plan: %w", err)
		}
		solve = hp.solve
		res.Notes = append(res.Notes, hp.notes...)
	}
	if o.Hooks != nil && o.Hooks.Solver != nil {
		solve = o.Hooks.Solver(solve)
	}
	// Score the forecasts the cycle hands to the solver against the actuals.
	measured := func(ctx context.Context, s *optimizer.Scenario, opts optimizer.Options) (*optimizer.Plan, error) {
		k := int(s.Start.Sub(o.From) / step)
		for j := 0; j < s.Steps && k+j < n; j++ {
			if k+j < 0 {
				continue
			}
			fl, fp := 0.0, 0.0
			for _, l := range s.Loads {
				fl += l.ForecastKW[j]
			}
			for _, p := range s.PV {
				fp += p.ForecastKW[j]
			}
			res.fcLoad.add(fl, actLoad[k+j], j == 0)
			res.fcPV.add(fp, actPV[k+j], j == 0)
		}
		p, err := solve(ctx, s, opts)
		if err == nil && p != nil && s.Grid.DemandChargePerKW > 0 {
			res.peakTargetKW = math.Max(res.peakTargetKW, dispatch.PlanPeakTargetKW(s, p))
		}
		return p, err
	}
	// Production's forecaster (dispatch's default), with the band left out if asked.
	var fc dispatch.Forecaster = &forecast.Auto{Location: cfg.Site.Location, Band: forecast.BandOptions{Skip: o.SkipForecastBand}}
	if o.ForecastEvery > 1 {
		fc = newEveryForecaster(fc, o.ForecastEvery)
	}
	svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: field, Writer: field,
		Forecaster: fc, Solver: measured, Clock: clk, Logger: log, Prices: field.prices})
	if err != nil {
		return nil, err
	}
	if err := svc.RegisterAssets(ctx); err != nil {
		return nil, fmt.Errorf("register assets: %w", err)
	}
	if o.Hooks != nil && o.Hooks.Service != nil {
		o.Hooks.Service(svc)
	}
	perDay := int(24 * time.Hour / step)
	ctl := usesControl(o.Strategy, cfg)
	field.StepMean = ctl
	delta := cfg.Control.Interval.D
	for k := 0; k < n; k++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		at := o.From.Add(time.Duration(k) * step)
		clk.Set(at)
		cr, err := svc.RunCycle(ctx, at)
		if err != nil {
			return nil, fmt.Errorf("cycle at %s: %w", at.Format(time.RFC3339), err)
		}
		if o.Hooks != nil && o.Hooks.AfterCycle != nil {
			if err := o.Hooks.AfterCycle(ctx, at, cr); err != nil {
				return nil, fmt.Errorf("cycle at %s: %w", at.Format(time.RFC3339), err)
			}
		}
		if ctl {
			// The real-time layer: a correction seconds into the step against what the
			// step brings, and a second tick that sees it held.
			// A vehicle that plugs in during the step is seen by the next tick in
			// production; here a tick follows each plug-in.
			ticks := []time.Time{at.Add(delta), at.Add(2 * delta)}
			for _, p := range field.PlugIns(at.Add(2*delta), at.Add(step-delta)) {
				ticks = append(ticks, p.Add(delta))
			}
			for _, t := range ticks {
				clk.Set(t)
				tr, err := svc.ControlTick(ctx, t, at.Add(step).Sub(t))
				if err != nil {
					res.controlErrors++
					if len(res.CycleErrors) < 10 {
						res.CycleErrors = append(res.CycleErrors, t.UTC().Format(time.RFC3339)+": control: "+err.Error())
					}
				}
				res.controlTicks++
				if tr != nil && tr.Corrections != nil {
					for _, sp := range tr.Corrections.Setpoints {
						if sp.Corrected {
							res.controlCorrections++
						}
					}
				}
			}
		}
		if cr.Run.SolverStatus == optimizer.StatusRelaxed {
			res.RelaxedCycles++
		}
		if cr.Schedule != nil && cr.Schedule.Status == storage.StatusProposed {
			res.HeldCycles++
		}
		if cr.Run.Error != "" {
			res.FailedCycles++
			if len(res.CycleErrors) < 10 {
				res.CycleErrors = append(res.CycleErrors, at.UTC().Format(time.RFC3339)+": "+cr.Run.Error)
			}
		}
		if mem != nil && k%perDay == perDay-1 {
			// The load and PV history the forecaster fits on; a shorter window
			// for the rest (a billing month and the fallback's band).
			keep := map[[2]string]time.Time{}
			for _, d := range cfg.Devices {
				if d.Kind == site.KindLoad || d.Kind == site.KindPV {
					keep[[2]string{d.ID, "active_power_kw"}] = at.Add(-warmup - 24*time.Hour)
				}
			}
			mem.PruneKeeping(at.Add(-dataWindow-24*time.Hour), at.Add(-24*time.Hour), keep)
		}
		if o.Progress != nil {
			o.Progress(k+1, n)
		}
	}
	clk.Set(o.To)
	if err := field.Advance(o.To); err != nil {
		return nil, err
	}
	field.Finish()
	res.Steps = field.Steps()
	res.Sessions = field.Sessions()
	res.KPIs = computeKPIs(cfg, res)
	return res, nil
}

func (a *errAcc) add(fc, act float64, first bool) {
	d := math.Abs(fc - act)
	a.absSum += d
	a.actSum += math.Abs(act)
	a.n++
	if first {
		a.abs1 += d
		a.act1 += math.Abs(act)
		a.n1++
	}
}

// WriteWarmup stores the load and PV telemetry of h for the forecasters' history
// window (forecast.AutoHistory) before from, one sample a step, where h has it: what
// a replay starts from, and what `gridd demo` seeds a fresh store with so that its
// first forecasts are fitted models, not a flat line.
func WriteWarmup(ctx context.Context, st storage.Store, cfg *site.Config, h *History, from time.Time) error {
	step := cfg.Site.Step.D
	var smp []storage.Sample
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if d.Kind != site.KindLoad && d.Kind != site.KindPV {
			continue
		}
		tr := h.traces[d.ID]
		first := time.Unix(tr.t[0], 0).UTC()
		for t := from.Add(-warmup); t.Before(from); t = t.Add(step) {
			if t.Before(first) {
				continue // recorded history starts later: the forecasts see less
			}
			v := tr.at(float64(t.Unix()))
			if d.Kind == site.KindPV {
				v = -math.Min(math.Max(v, 0), d.PV.CapacityKW)
			}
			smp = append(smp, storage.Sample{Time: t, DeviceID: d.ID, Point: "active_power_kw", Value: v, Quality: storage.QualityGood})
		}
	}
	if err := st.WriteTelemetry(ctx, smp); err != nil {
		return fmt.Errorf("store warm-up history: %w", err)
	}
	return nil
}

// actualTotals returns the site's total load and available PV per step over n steps
// from from (plus nothing beyond: forecasts past the period are not scored).
func actualTotals(cfg *site.Config, h *History, from time.Time, n int) (load, pv []float64, err error) {
	step := cfg.Site.Step.D
	load, pv = make([]float64, n), make([]float64, n)
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if d.Kind != site.KindLoad && d.Kind != site.KindPV {
			continue
		}
		for k := 0; k < n; k++ {
			a := from.Add(time.Duration(k) * step)
			v, err := h.MeanKW(d.ID, a, a.Add(step))
			if err != nil {
				return nil, nil, err
			}
			if d.Kind == site.KindLoad {
				load[k] += v
			} else {
				pv[k] += v
			}
		}
	}
	return load, pv, nil
}

// BatchGCPercent is the garbage collector's target a replay process runs with
// (ReplayGC) unless GOGC is set: a replay allocates a plan and a schedule every cycle
// and keeps little, so collecting less often trades some memory (a few hundred MB
// on a year of the demo site) for about a tenth of the CPU time.
const BatchGCPercent = 400

// ReplayGC sets the batch garbage-collector target for a replay process, unless the
// GOGC environment variable chooses one.
func ReplayGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(BatchGCPercent)
	}
}
