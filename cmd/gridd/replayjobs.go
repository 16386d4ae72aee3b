package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// maxReplaySpan bounds one console replay (a month of cycles runs for minutes).
const maxReplaySpan = 31 * 24 * time.Hour

// replayJobs runs the console's replays and what-ifs with package replay, one at a
// time, over the history in the running site's store; each writes its report under
// dir/ID like `gridd replay --report`.
type replayJobs struct {
	ctx   context.Context
	cfg   *site.Config
	store storage.Store
	dir   string
	log   *slog.Logger

	mu   sync.Mutex
	next int64
	jobs map[int64]*api.ReplayJob
	run  sync.Mutex // one replay at a time
}

func newReplayJobs(ctx context.Context, cfg *site.Config, store storage.Store, dir string, log *slog.Logger) *replayJobs {
	return &replayJobs{ctx: ctx, cfg: cfg, store: store, dir: dir, log: log, jobs: map[int64]*api.ReplayJob{}}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", api.ErrReplayInvalid, fmt.Sprintf(format, args...))
}

func (j *replayJobs) Start(req api.ReplayRequest) (api.ReplayJob, error) {
	step := j.cfg.Site.Step.D
	req.From, req.To = req.From.UTC().Truncate(step), req.To.UTC().Truncate(step)
	switch {
	case !slices.Contains(replay.Strategies, req.Strategy):
		return api.ReplayJob{}, invalid("strategy %q: want one of %s", req.Strategy, strings.Join(replay.Strategies, ", "))
	case !req.To.After(req.From):
		return api.ReplayJob{}, invalid("to %s must be after from %s", req.To.Format(time.RFC3339), req.From.Format(time.RFC3339))
	case req.To.Sub(req.From) > maxReplaySpan:
		return api.ReplayJob{}, invalid("to: at most %s after from in the console (use gridd replay for longer periods)", maxReplaySpan)
	}
	cfg, err := replay.ApplySets(j.cfg, req.Sets)
	if err != nil {
		return api.ReplayJob{}, invalid("sets: %v", err)
	}
	j.mu.Lock()
	j.next++
	job := &api.ReplayJob{ID: j.next, ReplayRequest: req, Status: api.ReplayRunning, Started: time.Now().UTC(), Total: int(req.To.Sub(req.From) / step), Currency: cfg.Tariff.Currency}
	j.jobs[job.ID] = job
	out := *job
	j.mu.Unlock()
	go j.runJob(job.ID, cfg, req)
	return out, nil
}

func (j *replayJobs) update(id int64, f func(*api.ReplayJob)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if job := j.jobs[id]; job != nil {
		f(job)
	}
}

func (j *replayJobs) runJob(id int64, cfg *site.Config, req api.ReplayRequest) {
	j.run.Lock()
	defer j.run.Unlock()
	finish := func(err error, kpis map[string]float64) {
		now := time.Now().UTC()
		j.update(id, func(job *api.ReplayJob) {
			job.Finished, job.KPIs = &now, kpis
			if err != nil {
				job.Status, job.Error = api.ReplayFailed, err.Error()
			} else {
				job.Status, job.Done = api.ReplayDone, job.Total
			}
		})
	}
	hist, err := replay.HistoryFromStore(j.ctx, j.store, cfg, req.From, req.To)
	if err != nil {
		finish(fmt.Errorf("history: %w", err), nil)
		return
	}
	opts := replay.Options{Config: cfg, History: hist, From: req.From, To: req.To, Strategy: req.Strategy, Sets: req.Sets, SkipForecastBand: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Progress: func(done, total int) {
			j.update(id, func(job *api.ReplayJob) { job.Done, job.Total = done, total })
		}}
	if err := opts.Check(); err != nil {
		finish(err, nil)
		return
	}
	res, err := replay.Run(j.ctx, opts)
	if err != nil {
		finish(err, nil)
		return
	}
	if err := res.WriteReport(j.jobDir(id)); err != nil {
		finish(err, nil)
		return
	}
	k := res.KPIs
	finish(nil, map[string]float64{
		"total_cost": k.TotalCost, "energy_cost": k.EnergyCost, "demand_charge": k.DemandCharge, "battery_wear_cost": k.BatteryWearCost,
		"ev_unmet_penalty": k.EVUnmetPenalty, "peak_import_kw": k.PeakImportKW, "limit_violation_steps": float64(k.LimitViolationSteps),
		"battery_equivalent_cycles": k.BatteryEquivalentCycles,
	})
	j.log.Info("replay job done", "id", id, "strategy", req.Strategy, "total_cost", k.TotalCost)
}

func (j *replayJobs) jobDir(id int64) string { return filepath.Join(j.dir, fmt.Sprint(id)) }

func (j *replayJobs) Jobs() []api.ReplayJob {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]api.ReplayJob, 0, len(j.jobs))
	for _, job := range j.jobs {
		out = append(out, *job)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID > out[b].ID })
	return out
}

func (j *replayJobs) Job(id int64) (api.ReplayJob, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job, ok := j.jobs[id]
	if !ok {
		return api.ReplayJob{}, false
	}
	return *job, true
}

func (j *replayJobs) Report(id int64) ([]byte, error) {
	return os.ReadFile(filepath.Join(j.jobDir(id), replay.ReportFile))
}

func (j *replayJobs) Compare(ids []int64) ([]byte, error) {
	dirs := make([]string, len(ids))
	for i, id := range ids {
		dirs[i] = j.jobDir(id)
	}
	c, err := replay.Compare(dirs)
	if err != nil {
		return nil, err
	}
	out, err := os.MkdirTemp(j.dir, "compare-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(out)
	if err := c.WriteHTML(out); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(out, replay.ReportFile))
}
