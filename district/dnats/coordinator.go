package dnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/district"
)

// Coordinator runs a district's coordination cycles over NATS: each cycle
// it coordinates the configured sites (RemoteSite requests), sends every
// site its caps, and publishes the rounds, the result and every event on
// the district's stream.
type Coordinator struct {
	Bus    *Bus
	Config *district.Config
	Clock  clock.Clock
	Log    *slog.Logger
	// Sites overrides how a site is reached (by ID); the default is a
	// RemoteSite on Bus.
	Sites map[string]district.Site
	// OnResult is called after each cycle.
	OnResult func(*district.Result)

	mu        sync.Mutex
	published int
	cycle     int64
	known     map[string][]float64
	caps      map[string][]float64 // the caps each site acknowledged last
	prices    [][]float64
	start     time.Time
	last      *district.Result
	lastCycle int64     // the cycle last holds
	lastAt    time.Time // when last was issued (Clock)
}

// Summary is what the coordinator publishes per cycle (kind "result").
type Summary struct {
	District string           `json:"district"`
	Cycle    int64            `json:"cycle"`
	Result   *district.Result `json:"result"`
	Limits   []district.Limit `json:"limits"`
}

// Published counts the telemetry messages the stream has acknowledged.
func (c *Coordinator) Published() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.published
}

// Cycles returns how many cycles RunOnce has started.
func (c *Coordinator) Cycles() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cycle
}

// SitePlan is what the coordinator publishes per site and cycle (kind
// "plan.SITE"): its cap and planned import per step.
type SitePlan struct {
	District string    `json:"district"`
	Cycle    int64     `json:"cycle"`
	Site     string    `json:"site"`
	Start    time.Time `json:"start"`
	CapKW    []float64 `json:"cap_kw"`
	PlanKW   []float64 `json:"plan_kw"`
}

// Last returns the last cycle's result (nil before the first).
func (c *Coordinator) Last() *district.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// LastCycle returns the last cycle's result (nil before the first), its cycle
// number and when its caps were issued, by the coordinator's clock.
func (c *Coordinator) LastCycle() (*district.Result, int64, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.lastCycle, c.lastAt
}

// Registered returns the registrations in the bucket (live sites).
func (c *Coordinator) Registered(ctx context.Context) (map[string]Registration, error) {
	out := map[string]Registration{}
	keys, err := c.Bus.KV.Keys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return out, nil
		}
		return nil, err
	}
	for _, k := range keys {
		e, err := c.Bus.KV.Get(ctx, k)
		if err != nil {
			continue
		}
		var r Registration
		if json.Unmarshal(e.Value(), &r) == nil {
			out[r.Site] = r
		}
	}
	return out, nil
}

// RunOnce coordinates the district for the horizon starting at the step
// that holds at, sends the caps and publishes the outcome.
func (c *Coordinator) RunOnce(ctx context.Context, at time.Time) (*district.Result, error) {
	cfg := c.Config
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	step := cfg.Step()
	start := at.Truncate(step)
	T := cfg.District.HorizonSteps
	limits := cfg.Limits(start)
	c.mu.Lock()
	c.cycle++
	cycle := c.cycle
	prices := shiftPrices(c.prices, c.start, start, step, T)
	known := map[string][]float64{}
	for id, k := range c.known {
		known[id] = shiftKnown(k, c.start, start, step, T)
	}
	held := map[string][]float64{}
	for id, k := range c.caps {
		held[id] = shiftKnown(k, c.start, start, step, T)
	}
	c.mu.Unlock()
	sites := make([]district.Site, len(cfg.Sites))
	for i, s := range cfg.Sites {
		if st, ok := c.Sites[s.ID]; ok {
			sites[i] = st
		} else {
			sites[i] = &RemoteSite{Bus: c.Bus, Name: s.ID}
		}
	}
	pub := func(kind string, v any) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.Bus.Publish(pctx, kind, v); err != nil {
			c.Log.Error("district telemetry", "kind", kind, "err", err)
			return
		}
		c.mu.Lock()
		c.published++
		c.mu.Unlock()
	}
	co := cfg.Coordination
	res, err := district.Coordinate(ctx, sites, limits, district.Options{
		District: cfg.District.ID, Cycle: cycle, Start: start, StepMinutes: cfg.District.StepMinutes, Steps: T,
		TimeBudget: co.TimeBudget.D, MaxRounds: co.MaxRounds, GapPct: co.GapPct, RoundTimeout: co.RoundTimeout.D,
		Parallel: len(sites), Prices: prices, Known: known, KnownCaps: held, Clock: c.Clock,
		OnEvent: func(e district.Event) {
			c.Log.Warn("district alarm", "kind", e.Kind, "site", e.Site, "detail", e.Detail)
			pub("event", e)
		},
		OnRound: func(r district.RoundReport) { pub("round", r) },
	})
	if err != nil {
		return nil, err
	}
	// Send every site its caps, the excluded too (a slow site that is
	// still alive should hold its reservation).
	var wg sync.WaitGroup
	var ackMu sync.Mutex
	acked := make([]bool, len(cfg.Sites))
	for i, s := range cfg.Sites {
		reason := fmt.Sprintf("district %s cycle %d: share of the shared limits (gap %.2f %%)", cfg.District.ID, cycle, res.GapPct)
		for _, x := range res.Excluded {
			if x == s.ID {
				reason = fmt.Sprintf("district %s cycle %d: excluded this cycle, capped from its last known plan", cfg.District.ID, cycle)
			}
		}
		caps := Caps{District: cfg.District.ID, Cycle: cycle, Site: s.ID, Start: start, StepMinutes: cfg.District.StepMinutes, CapKW: res.CapsKW[i], Reason: reason}
		if ls, ok := sites[i].(*RemoteSite); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := ls.SendCaps(ctx, caps, co.RoundTimeout.D); err != nil {
					e := district.Event{At: c.now(), Kind: "site.caps_not_applied", Site: s.ID, Detail: err.Error()}
					c.Log.Warn("district alarm", "kind", e.Kind, "site", e.Site, "detail", e.Detail)
					pub("event", e)
					return
				}
				ackMu.Lock()
				acked[i] = true
				ackMu.Unlock()
			}()
		} else if ap, ok := sites[i].(interface {
			ApplyCaps(context.Context, Caps) error
		}); ok {
			if err := ap.ApplyCaps(ctx, caps); err != nil {
				pub("event", district.Event{At: c.now(), Kind: "site.caps_not_applied", Site: s.ID, Detail: err.Error()})
			} else {
				acked[i] = true
			}
		}
	}
	wg.Wait()
	// Per site its cap and plan; then the cycle's summary without the per-site
	// arrays (a district of a thousand sites would exceed a message's size).
	for i, s := range cfg.Sites {
		pub("plan."+s.ID, SitePlan{District: cfg.District.ID, Cycle: cycle, Site: s.ID, Start: start, CapKW: res.CapsKW[i], PlanKW: res.PlansKW[i]})
	}
	brief := *res
	brief.CapsKW, brief.PlansKW = nil, nil
	pub("result", Summary{District: cfg.District.ID, Cycle: cycle, Result: &brief, Limits: limits})
	c.mu.Lock()
	prevStart := c.start
	c.start = start
	c.prices = res.Prices
	if c.known == nil {
		c.known = map[string][]float64{}
	}
	if c.caps == nil {
		c.caps = map[string][]float64{}
	}
	for i, s := range cfg.Sites {
		if res.PlansKW[i] != nil {
			c.known[s.ID] = res.PlansKW[i]
		}
		if res.CapsKW[i] == nil {
			continue
		}
		// A site that did not acknowledge its caps may still hold the
		// earlier ones: keep the higher of both for its reservation.
		held := res.CapsKW[i]
		if prev := shiftKnown(c.caps[s.ID], prevStart, start, step, T); !acked[i] && prev != nil {
			merged := make([]float64, T)
			for t := range merged {
				merged[t] = math.Max(held[t], prev[t])
			}
			held = merged
		}
		c.caps[s.ID] = held
	}
	c.last, c.lastCycle, c.lastAt = res, cycle, c.now()
	c.mu.Unlock()
	if c.OnResult != nil {
		c.OnResult(res)
	}
	return res, nil
}

func (c *Coordinator) now() time.Time {
	if c.Clock == nil {
		return time.Now()
	}
	return c.Clock.Now()
}

// Run coordinates at once and then every coordination.cycle until ctx ends.
func (c *Coordinator) Run(ctx context.Context) error {
	every := c.Config.Coordination.Cycle.D
	for {
		if _, err := c.RunOnce(ctx, c.now()); err != nil && ctx.Err() == nil {
			c.Log.Error("district coordination", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(every):
		}
	}
}

// SendCaps sends caps and waits for the site's acknowledgement.
func (r *RemoteSite) SendCaps(ctx context.Context, c Caps, timeout time.Duration) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := r.Bus.NC.RequestWithContext(rctx, capsSubject(r.Bus.District, r.Name), data)
	if err != nil {
		return fmt.Errorf("caps not delivered: %w", err)
	}
	var ack Ack
	if err := decodeStrict(msg.Data, &ack); err != nil {
		return fmt.Errorf("caps: undecodable acknowledgement: %w", err)
	}
	if !ack.OK {
		return fmt.Errorf("caps refused: %s", ack.Error)
	}
	return nil
}

// shiftPrices maps the previous cycle's prices (from prev) onto the new
// horizon (from start); steps beyond the old horizon repeat its last.
func shiftPrices(p [][]float64, prev, start time.Time, step time.Duration, T int) [][]float64 {
	if p == nil || prev.IsZero() {
		return nil
	}
	off := int(start.Sub(prev) / step)
	out := make([][]float64, len(p))
	for k, row := range p {
		out[k] = shiftRow(row, off, T)
	}
	return out
}

func shiftKnown(row []float64, prev, start time.Time, step time.Duration, T int) []float64 {
	if prev.IsZero() {
		return nil
	}
	return shiftRow(row, int(start.Sub(prev)/step), T)
}

func shiftRow(row []float64, off, T int) []float64 {
	if len(row) == 0 || off < 0 || off >= len(row) {
		return nil
	}
	out := make([]float64, T)
	for t := range out {
		out[t] = row[int(math.Min(float64(t+off), float64(len(row)-1)))]
	}
	return out
}
