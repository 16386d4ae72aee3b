package dispatch

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/storage"
)

// Sources of external limits.
const (
	LimitSourceAPI      = "api"
	LimitSourceIEC104   = "iec104"
	LimitSourceDistrict = "district"
)

// ExternalLimit is a limit on the site's grid import and/or export set from outside
// the plan: by a dispatcher or the grid operator's system through the API, by the
// dispatch room's SCADA, or by a district coordinator. Each is constant (ImportKW,
// ExportKW) or a profile of one value per site step from From (ImportStepsKW,
// ExportStepsKW), in force from From until Until. The tightest limit in force wins;
// the optimiser plans within them and the real-time layer enforces a new one at once.
type ExternalLimit struct {
	ID            int64     `json:"id"`
	Source        string    `json:"source"`
	ImportKW      *float64  `json:"import_kw,omitempty"`
	ExportKW      *float64  `json:"export_kw,omitempty"`
	ImportStepsKW []float64 `json:"import_steps_kw,omitempty"`
	ExportStepsKW []float64 `json:"export_steps_kw,omitempty"`
	From          time.Time `json:"from"`
	Until         time.Time `json:"until"`
	Actor         string    `json:"actor"`
	Reason        string    `json:"reason"`
}

// MaxLimitDuration bounds how long one external limit may stand.
const MaxLimitDuration = 7 * 24 * time.Hour

// at returns the limit's import and export cap at time t (+Inf where it sets none).
func (l ExternalLimit) at(t time.Time, step time.Duration) (imp, exp float64) {
	imp, exp = math.Inf(1), math.Inf(1)
	if t.Before(l.From) || !t.Before(l.Until) {
		return imp, exp
	}
	k := int(t.Sub(l.From) / step)
	if l.ImportKW != nil {
		imp = *l.ImportKW
	}
	if k < len(l.ImportStepsKW) {
		imp = math.Min(imp, l.ImportStepsKW[k])
	}
	if l.ExportKW != nil {
		exp = *l.ExportKW
	}
	if k < len(l.ExportStepsKW) {
		exp = math.Min(exp, l.ExportStepsKW[k])
	}
	return imp, exp
}

// validate names the first bad field of a limit about to be set at time now.
func (s *Service) validateLimit(l *ExternalLimit, now time.Time) error {
	bad := func(field string, v any, msg string) error {
		return fmt.Errorf("%w: %s: %v: %s", ErrInvalid, field, v, msg)
	}
	switch l.Source {
	case LimitSourceAPI, LimitSourceIEC104, LimitSourceDistrict:
	default:
		return bad("source", fmt.Sprintf("%q", l.Source), "want api, iec104 or district")
	}
	if l.ImportKW == nil && l.ExportKW == nil && len(l.ImportStepsKW) == 0 && len(l.ExportStepsKW) == 0 {
		return fmt.Errorf("%w: import_kw: missing: a limit needs import_kw, export_kw, import_steps_kw or export_steps_kw", ErrInvalid)
	}
	g := s.cfg.Grid
	check := func(field string, v, physical float64) error {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			return bad(field, v, "not a finite number")
		case v < 0:
			return bad(field, v, "must not be negative (a limit is a magnitude in kW)")
		case v > physical:
			return bad(field, v, fmt.Sprintf("is above the site's physical limit %g kW (grid config): it would limit nothing", physical))
		}
		return nil
	}
	if l.ImportKW != nil {
		if err := check("import_kw", *l.ImportKW, g.ImportLimitKW); err != nil {
			return err
		}
	}
	if l.ExportKW != nil {
		if err := check("export_kw", *l.ExportKW, g.ExportLimitKW); err != nil {
			return err
		}
	}
	if l.From.IsZero() {
		l.From = now
	}
	if l.Until.IsZero() {
		return fmt.Errorf("%w: until: missing: a limit needs an end time", ErrInvalid)
	}
	if !l.Until.After(l.From) || !l.Until.After(now) {
		return bad("until", l.Until.UTC().Format(time.RFC3339), "must be after from and in the future")
	}
	if l.Until.Sub(l.From) > MaxLimitDuration {
		return bad("until", l.Until.UTC().Format(time.RFC3339), fmt.Sprintf("more than %s after from", MaxLimitDuration))
	}
	maxSteps := int(MaxLimitDuration / s.cfg.Site.Step.D)
	for _, st := range []struct {
		field    string
		vs       []float64
		physical float64
	}{{"import_steps_kw", l.ImportStepsKW, g.ImportLimitKW}, {"export_steps_kw", l.ExportStepsKW, g.ExportLimitKW}} {
		if len(st.vs) > maxSteps {
			return bad(st.field, len(st.vs), fmt.Sprintf("more than %d steps", maxSteps))
		}
		for k, v := range st.vs {
			if err := check(fmt.Sprintf("%s[%d]", st.field, k), v, st.physical); err != nil {
				return err
			}
		}
	}
	if l.Reason == "" || l.Actor == "" {
		return fmt.Errorf("%w: reason: actor and reason are required", ErrInvalid)
	}
	return nil
}

// SetLimit puts an external limit in force (audited as limit.set), and runs the
// real-time layer at once so the devices follow without waiting for the next cycle.
// The next cycle plans within it.
func (s *Service) SetLimit(ctx context.Context, l ExternalLimit) (ExternalLimit, *TickResult, error) {
	now := s.clock.Now()
	if err := s.validateLimit(&l, now); err != nil {
		return l, nil, err
	}
	s.mu.Lock()
	s.nextLimitID++
	l.ID = s.nextLimitID
	s.limits[l.ID] = l
	s.mu.Unlock()
	s.auditData(ctx, now, l.Actor, "limit.set", "site", fmt.Sprintf("external limit %d from %s: %s until %s: %s", l.ID, l.Source, describeLimit(l), l.Until.UTC().Format(time.RFC3339), l.Reason), l)
	tr, err := s.ControlTick(ctx, now, s.cfg.Control.Interval.D)
	return l, tr, err
}

// EndLimit ends an external limit early (audited as limit.end).
func (s *Service) EndLimit(ctx context.Context, id int64, actor, reason string) error {
	if actor == "" || reason == "" {
		return fmt.Errorf("%w: reason: actor and reason are required", ErrInvalid)
	}
	now := s.clock.Now()
	s.mu.Lock()
	l, ok := s.limits[id]
	if ok {
		delete(s.limits, id)
	}
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("external limit %d: %w", id, storage.ErrNotFound)
	}
	s.auditData(ctx, now, actor, "limit.end", "site", fmt.Sprintf("external limit %d ended: %s", id, reason), l)
	_, err := s.ControlTick(ctx, now, s.cfg.Control.Interval.D)
	return err
}

// Limits returns the external limits not yet over at time at, by ID; limits that
// are over are dropped (audited as limit.expire).
func (s *Service) Limits(ctx context.Context, at time.Time) []ExternalLimit {
	var expired []ExternalLimit
	s.mu.Lock()
	out := make([]ExternalLimit, 0, len(s.limits))
	for id, l := range s.limits {
		if !at.Before(l.Until) {
			expired = append(expired, l)
			delete(s.limits, id)
			continue
		}
		out = append(out, l)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	sort.Slice(expired, func(i, j int) bool { return expired[i].ID < expired[j].ID })
	for _, l := range expired {
		s.auditData(ctx, at, "system", "limit.expire", "site", fmt.Sprintf("external limit %d from %s expired", l.ID, l.Source), l)
	}
	return out
}

// limitAt returns the tightest external import and export limits in force at t
// (+Inf when none) and which limit sets each.
func (s *Service) limitAt(ctx context.Context, t time.Time) (imp, exp float64, impWhy, expWhy string) {
	imp, exp = math.Inf(1), math.Inf(1)
	for _, l := range s.Limits(ctx, t) {
		i, e := l.at(t, s.cfg.Site.Step.D)
		if i < imp {
			imp, impWhy = i, fmt.Sprintf("external limit %d from %s: %s", l.ID, l.Source, l.Reason)
		}
		if e < exp {
			exp, expWhy = e, fmt.Sprintf("external limit %d from %s: %s", l.ID, l.Source, l.Reason)
		}
	}
	return imp, exp, impWhy, expWhy
}

// applyLimits narrows the scenario's grid limits per step by the external limits in
// force during each step (the tightest over the step).
func (s *Service) applyLimits(ctx context.Context, scn *optimizer.Scenario, at time.Time) {
	s.applyLimitsOf(ctx, scn, at, "")
}

// applyLimitsOf is applyLimits without the limits from source skip ("" skips none).
func (s *Service) applyLimitsOf(ctx context.Context, scn *optimizer.Scenario, at time.Time, skip string) {
	var list []ExternalLimit
	for _, l := range s.Limits(ctx, at) {
		if skip == "" || l.Source != skip {
			list = append(list, l)
		}
	}
	if len(list) == 0 {
		return
	}
	step := s.cfg.Site.Step.D
	imp, exp := make([]float64, scn.Steps), make([]float64, scn.Steps)
	anyImp, anyExp := false, false
	for k := range imp {
		imp[k], exp[k] = scn.Grid.ImportLimitKW, scn.Grid.ExportLimitKW
		a := scn.Start.Add(time.Duration(k) * step)
		for _, l := range list {
			// The tightest value the limit takes anywhere in the step.
			for _, t := range []time.Time{a, maxTime(a, l.From)} {
				if !t.Before(a.Add(step)) {
					continue
				}
				i, e := l.at(t, step)
				if i < imp[k] {
					imp[k], anyImp = i, true
				}
				if e < exp[k] {
					exp[k], anyExp = e, true
				}
			}
		}
	}
	if anyImp {
		scn.Grid.ImportCapKW = imp
	}
	if anyExp {
		scn.Grid.ExportCapKW = exp
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func describeLimit(l ExternalLimit) string {
	var parts []string
	if l.ImportKW != nil {
		parts = append(parts, fmt.Sprintf("import ≤ %g kW", *l.ImportKW))
	}
	if len(l.ImportStepsKW) > 0 {
		parts = append(parts, fmt.Sprintf("import profile of %d steps", len(l.ImportStepsKW)))
	}
	if l.ExportKW != nil {
		parts = append(parts, fmt.Sprintf("export ≤ %g kW", *l.ExportKW))
	}
	if len(l.ExportStepsKW) > 0 {
		parts = append(parts, fmt.Sprintf("export profile of %d steps", len(l.ExportStepsKW)))
	}
	out := ""
	for i, p := range parts {
		if i > 0 {
			out += ", "
		}
		out += p
	}
	return out
}
