package dnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
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
	caps      map[string][]float64 // the caps each site may hold
	from      map[string]time.Time // the start of caps and known read back from the stream (else start)
	restored  bool
	// claimed: Claim was called; claimedAt its last renewal; claimLost:
	// another instance holds the district.
	claimed, claimLost bool
	claimedAt          time.Time
	prices             [][]float64
	start              time.Time
	last               *district.Result
	lastCycle          int64     // the cycle last holds
	lastAt             time.Time // when last was issued (Clock)
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
		if !isSiteKey(k) {
			continue
		}
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

// fromOf returns the start of site id's known caps and plan: this
// coordinator's last cycle, or the cycle read back from the stream.
func (c *Coordinator) fromOf(id string) time.Time {
	if t, ok := c.from[id]; ok {
		return t
	}
	return c.start
}

// restore reads, once, each site's last caps and plan back from the
// district's stream: a coordinator that restarts still knows the caps every
// site may hold (a site cut off keeps following them), and numbers its
// cycles on from the last one.
func (c *Coordinator) restore(ctx context.Context) {
	c.mu.Lock()
	done := c.restored
	c.restored = true
	c.mu.Unlock()
	if done || c.Bus == nil || c.Bus.Stream == nil {
		return
	}
	for _, s := range c.Config.Sites {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		m, err := c.Bus.Stream.GetLastMsgForSubject(rctx, TelemetrySubject(c.Bus.District, "plan."+s.ID))
		cancel()
		if err != nil {
			continue // none yet (a new district), or the stream out of reach
		}
		var p SitePlan
		if json.Unmarshal(m.Data, &p) != nil || p.Site != s.ID || p.Start.IsZero() {
			continue
		}
		c.mu.Lock()
		if c.caps == nil {
			c.caps, c.known = map[string][]float64{}, map[string][]float64{}
		}
		if c.from == nil {
			c.from = map[string]time.Time{}
		}
		if _, ok := c.caps[s.ID]; !ok && len(p.CapKW) > 0 {
			c.caps[s.ID], c.from[s.ID] = p.CapKW, p.Start
			if len(p.PlanKW) > 0 {
				c.known[s.ID] = p.PlanKW
			}
			c.cycle = max(c.cycle, p.Cycle)
		}
		c.mu.Unlock()
	}
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
	if err := c.checkClaim(); err != nil {
		return nil, err
	}
	c.restore(ctx)
	c.mu.Lock()
	c.cycle++
	cycle := c.cycle
	prices := shiftPrices(c.prices, c.start, start, step, T)
	known := map[string][]float64{}
	for id, k := range c.known {
		known[id] = shiftKnown(k, c.fromOf(id), start, step, T)
	}
	held := map[string][]float64{}
	for id, k := range c.caps {
		held[id] = shiftKnown(k, c.fromOf(id), start, step, T)
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
	// still alive should hold its reservation), in two phases so that no
	// site's raise is in force while another's cut may not be: first every
	// site gets the lower of its new caps and those it holds; then the
	// sites with a raise get it, cut back wherever a site that did not
	// acknowledge the first phase may still hold its old caps.
	n := len(cfg.Sites)
	oldCaps := make([][]float64, n)
	first := make([][]float64, n)
	raise := make([]bool, n)
	for i, s := range cfg.Sites {
		first[i] = res.CapsKW[i]
		if o := held[s.ID]; len(o) == T && res.CapsKW[i] != nil {
			oldCaps[i] = o
			first[i] = make([]float64, T)
			for t := range first[i] {
				first[i][t] = math.Min(res.CapsKW[i][t], o[t])
				raise[i] = raise[i] || res.CapsKW[i][t] > first[i][t]
			}
		}
	}
	reason := make([]string, n)
	for i, s := range cfg.Sites {
		reason[i] = fmt.Sprintf("district %s cycle %d: share of the shared limits (gap %.2f %%)", cfg.District.ID, cycle, res.GapPct)
		for _, x := range res.Excluded {
			if x == s.ID {
				reason[i] = fmt.Sprintf("district %s cycle %d: excluded this cycle, capped from its last known plan", cfg.District.ID, cycle)
			}
		}
	}
	send := func(caps [][]float64, to []bool, why string) []bool {
		var wg sync.WaitGroup
		var ackMu sync.Mutex
		acked := make([]bool, n)
		for i, s := range cfg.Sites {
			if !to[i] || caps[i] == nil {
				continue
			}
			m := Caps{District: cfg.District.ID, Cycle: cycle, Site: s.ID, Start: start, StepMinutes: cfg.District.StepMinutes, CapKW: caps[i], Reason: reason[i] + why}
			if ls, ok := sites[i].(*RemoteSite); ok {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := ls.SendCaps(ctx, m, co.RoundTimeout.D); err != nil {
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
				if err := ap.ApplyCaps(ctx, m); err != nil {
					pub("event", district.Event{At: c.now(), Kind: "site.caps_not_applied", Site: s.ID, Detail: err.Error()})
				} else {
					acked[i] = true
				}
			}
		}
		wg.Wait()
		return acked
	}
	all := make([]bool, n)
	for i := range all {
		all[i] = true
	}
	acked := send(first, all, "")
	// What each site may hold now: its first-phase caps, or, without an
	// acknowledgement, the higher of its old and new caps.
	mayHold := make([][]float64, n)
	for i := range mayHold {
		switch {
		case acked[i] || oldCaps[i] == nil:
			mayHold[i] = first[i]
		default:
			mayHold[i] = make([]float64, T)
			for t := range mayHold[i] {
				mayHold[i][t] = math.Max(oldCaps[i][t], res.CapsKW[i][t])
			}
		}
	}
	second := make([][]float64, n)
	toRaise := make([]bool, n)
	for i := range second {
		if raise[i] && acked[i] {
			second[i] = append([]float64(nil), res.CapsKW[i]...)
			toRaise[i] = true
		}
	}
	// Innermost limits first: a raise cut under one limit only lowers the
	// sums of the limits around it.
	order := make([]int, len(limits))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool { return len(limits[order[a]].Sites) < len(limits[order[b]].Sites) })
	for _, k := range order {
		l := limits[k]
		for t := 0; t < T; t++ {
			sum, raised := 0.0, 0.0
			for _, i := range l.Sites {
				switch {
				case toRaise[i]:
					sum += second[i][t]
					raised += second[i][t] - first[i][t]
				case mayHold[i] != nil:
					sum += mayHold[i][t]
				}
			}
			if over := sum - l.LimitKW[t]; over > 0 && raised > 0 {
				f := math.Max(0, 1-over/raised)
				for _, i := range l.Sites {
					if toRaise[i] {
						second[i][t] = first[i][t] + f*(second[i][t]-first[i][t])
					}
				}
			}
		}
	}
	acked2 := send(second, toRaise, "")
	for i := range mayHold {
		if acked2[i] {
			mayHold[i] = second[i]
		}
		if mayHold[i] != nil {
			res.CapsKW[i] = mayHold[i] // what the site holds, to the stream and the console
		}
	}
	// Per site its cap and plan; then the cycle's summary without the per-site
	// arrays (a district of a thousand sites would exceed a message's size).
	for i, s := range cfg.Sites {
		pub("plan."+s.ID, SitePlan{District: cfg.District.ID, Cycle: cycle, Site: s.ID, Start: start, CapKW: res.CapsKW[i], PlanKW: res.PlansKW[i]})
	}
	brief := *res
	brief.CapsKW, brief.PlansKW = nil, nil
	pub("result", Summary{District: cfg.District.ID, Cycle: cycle, Result: &brief, Limits: limits})
	c.mu.Lock()
	c.start = start
	c.from = nil // every site's caps and plan are this cycle's now
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
		// What the site may hold: its caps, or without an acknowledgement
		// the higher of its old and new ones (see the two phases above).
		c.caps[s.ID] = mayHold[i]
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
