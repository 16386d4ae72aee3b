package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/site"
	"github.com/robfig/cron/v3"
)

// Run runs a cycle at every tick of the site's cron spec (in the site's time zone)
// and the real-time layer every control.interval, until ctx is cancelled. Cycles never
// overlap: a tick that arrives while a cycle is still running is skipped and logged.
func (s *Service) Run(ctx context.Context) error { return s.RunEach(ctx, nil) }

// RunEach is Run with fn, if not nil, called after every cycle with its result and
// the time of the next one (what `gridd run` and `gridd demo` print).
func (s *Service) RunEach(ctx context.Context, fn func(r *CycleResult, next time.Time)) error {
	sched, err := site.ParseCycle(s.cfg.Site.Cycle)
	if err != nil {
		return fmt.Errorf("site.cycle %q: %w", s.cfg.Site.Cycle, err)
	}
	c := cron.New(cron.WithLocation(s.cfg.Site.Location), cron.WithChain(cron.SkipIfStillRunning(cronLogger{s})))
	c.Schedule(sched, cron.FuncJob(func() {
		at := s.clock.Now()
		r, err := s.RunCycle(ctx, at)
		if err != nil {
			s.log.Error("cycle", "at", at, "err", err)
		}
		if fn != nil && r != nil {
			fn(r, sched.Next(s.clock.Now().In(s.cfg.Site.Location)))
		}
	}))
	c.Start()
	if !s.cfg.Control.Disabled {
		go s.runControl(ctx)
	}
	<-ctx.Done()
	<-c.Stop().Done()
	return nil
}

// NextCycle returns the time of the first cycle after t by the site's cron spec.
func (s *Service) NextCycle(t time.Time) (time.Time, error) {
	sched, err := site.ParseCycle(s.cfg.Site.Cycle)
	if err != nil {
		return time.Time{}, fmt.Errorf("site.cycle %q: %w", s.cfg.Site.Cycle, err)
	}
	return sched.Next(t.In(s.cfg.Site.Location)), nil
}

// RunSimulated runs n cycles in simulated time: it sets clk to start, runs a cycle,
// runs the real-time layer at two control intervals after it (a correction and a
// check that it held), then moves clk to the next tick of the cron spec, and so on.
// fn, if not nil, is called after each cycle.
func (s *Service) RunSimulated(ctx context.Context, clk *clock.Sim, start time.Time, n int, fn func(*CycleResult)) error {
	sched, err := site.ParseCycle(s.cfg.Site.Cycle)
	if err != nil {
		return fmt.Errorf("site.cycle %q: %w", s.cfg.Site.Cycle, err)
	}
	at := start.In(s.cfg.Site.Location)
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		clk.Set(at)
		res, err := s.RunCycle(ctx, at)
		if err != nil {
			return fmt.Errorf("cycle %d at %s: %w", i+1, at.Format(time.RFC3339), err)
		}
		if !s.cfg.Control.Disabled {
			iv := s.cfg.Control.Interval.D
			for k := 1; k <= 2; k++ {
				clk.Set(at.Add(time.Duration(k) * iv))
				if _, err := s.ControlTick(ctx, clk.Now(), iv); err != nil {
					s.log.Warn("control tick", "at", clk.Now(), "err", err)
				}
			}
		}
		if fn != nil {
			fn(res)
		}
		at = sched.Next(at)
	}
	return nil
}

type cronLogger struct{ s *Service }

func (l cronLogger) Info(msg string, kv ...any) { l.s.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.s.log.Error("cron: "+msg, append(kv, "err", err)...)
}
