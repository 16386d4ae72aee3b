package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// ErrInvalid wraps a request that names a bad field or value.
var ErrInvalid = errors.New("invalid request")

// ErrExpired is returned when deciding on a proposal whose approval deadline passed.
var ErrExpired = errors.New("schedule expired: its approval deadline passed")

// planDoc is the JSON stored in storage.Schedule.Plan.
type planDoc struct {
	Scenario *optimizer.Scenario `json:"scenario"`
	Plan     *optimizer.Plan     `json:"plan"`
	Pins     []Pin               `json:"pins,omitempty"`
	Policy   *PolicyResult       `json:"policy,omitempty"`
	// Config identifies the site config and device profiles the schedule was made with.
	Config *ConfigHashes `json:"config,omitempty"`
}

// proposeAudit is the data of a schedule.propose audit event.
type proposeAudit struct {
	InputHash string `json:"input_sha256"`
	ConfigHashes
}

// PolicyResult is the auto-approve policy's verdict on one schedule.
type PolicyResult struct {
	Approve bool     `json:"approve"`
	Reasons []string `json:"reasons"`
	// Against is the last approved schedule it was compared with (0 = none).
	Against           int64   `json:"against,omitempty"`
	CostChange        float64 `json:"cost_change"`
	MaxSetpointChange float64 `json:"max_setpoint_change_kw"`
}

// EvaluatePolicy applies the auto-approve bounds of the site config to a schedule.
func (s *Service) EvaluatePolicy(ctx context.Context, sched *storage.Schedule, plan *optimizer.Plan, at time.Time) (*PolicyResult, error) {
	a := s.cfg.Approval
	res := &PolicyResult{Approve: true}
	no := func(format string, args ...any) {
		res.Approve = false
		res.Reasons = append(res.Reasons, fmt.Sprintf(format, args...))
	}
	if !a.Auto {
		no("auto-approve is off")
	}
	if plan == nil || plan.Status != optimizer.StatusOptimal {
		no("solver status is not optimal")
	}
	if plan != nil && len(plan.Violations) > 0 {
		v := plan.Violations[0]
		no("no plan keeps every limit: %d violations, e.g. %s by %.3g %s", len(plan.Violations), v.Constraint, v.Amount, v.Unit)
	}
	if ks := s.env.KillSwitch(); ks.Engaged {
		no("kill switch engaged by %s: %s", ks.By, ks.Reason)
	}
	for _, p := range s.Pins() {
		if p.ProposeOnly && p.Until.After(at) {
			no("pin on %s by %s only proposes: a dispatcher decides", p.DeviceID, p.Actor)
		}
	}
	var viol []string
	for _, sp := range sched.Setpoints {
		d, ok := s.cfg.Device(sp.DeviceID)
		if !ok {
			continue
		}
		_, v := setpointFor(d, sp.PowerKW, true)
		if msg := s.env.StaticViolation(d.ID, v); msg != "" {
			viol = append(viol, fmt.Sprintf("step %d: %s", sp.Step, msg))
		}
	}
	if len(viol) > 0 {
		if len(viol) > 3 {
			viol = append(viol[:3], fmt.Sprintf("and %d more", len(viol)-3))
		}
		no("setpoints outside device limits: %s", strings.Join(viol, "; "))
	}
	prev, err := s.InForce(ctx, at)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.ID != sched.ID {
		res.Against = prev.ID
		res.CostChange = sched.Objective - prev.Objective
		if a.MaxCostIncrease > 0 && res.CostChange > a.MaxCostIncrease {
			no("cost rises %.2f %s over schedule %d, bound %g", res.CostChange, s.cfg.Tariff.Currency, prev.ID, a.MaxCostIncrease)
		}
		type at struct {
			device string
			unixS  int64 // setpoint times are whole seconds
		}
		old := make(map[at]float64, len(prev.Setpoints))
		for _, sp := range prev.Setpoints {
			old[at{sp.DeviceID, sp.Time.Unix()}] = sp.PowerKW
		}
		var worst *storage.ScheduleSetpoint
		for i, sp := range sched.Setpoints {
			if v, ok := old[at{sp.DeviceID, sp.Time.Unix()}]; ok {
				if d := math.Abs(sp.PowerKW - v); d > res.MaxSetpointChange {
					res.MaxSetpointChange = d
					worst = &sched.Setpoints[i]
				}
			}
		}
		if a.MaxSetpointChangeKW > 0 && res.MaxSetpointChange > a.MaxSetpointChangeKW {
			no("setpoint of %s at %s changes %.1f kW against schedule %d, bound %g kW", worst.DeviceID, worst.Time.In(s.cfg.Site.Location).Format("15:04"), res.MaxSetpointChange, prev.ID, a.MaxSetpointChangeKW)
		}
	}
	if res.Approve {
		res.Reasons = append(res.Reasons, "inside auto-approve policy")
	}
	return res, nil
}

// autoApprove applies the policy to a fresh proposal; a schedule outside it waits for a person.
func (s *Service) autoApprove(ctx context.Context, sched *storage.Schedule, at time.Time) {
	if !s.cfg.Approval.Auto {
		return
	}
	doc, err := s.planOf(sched)
	if err != nil || doc.Policy == nil {
		s.log.Error("auto-approve policy: no stored verdict", "schedule", sched.ID, "err", err)
		return
	}
	pol := doc.Policy
	reason := strings.Join(pol.Reasons, "; ")
	if !pol.Approve {
		s.auditData(ctx, at, "policy:auto", "schedule.hold", fmt.Sprintf("schedule:%d", sched.ID), "left for a dispatcher: "+reason, pol)
		return
	}
	if err := s.decide(ctx, sched.ID, storage.StatusApproved, "policy:auto", reason, at); err != nil {
		s.log.Error("auto-approve", "schedule", sched.ID, "err", err)
		return
	}
	sched.Status = storage.StatusApproved
}

// expired reports whether a proposal's approval deadline (or its whole horizon) has passed.
func (s *Service) expired(sc *storage.Schedule, at time.Time) (bool, string) {
	end := sc.Start.Add(time.Duration(sc.Steps*sc.StepMinutes) * time.Minute)
	if !at.Before(end) {
		return true, "its horizon ended at " + end.UTC().Format(time.RFC3339)
	}
	if d := s.cfg.Approval.Deadline.D; d > 0 && !at.Before(sc.CreatedAt.Add(d)) {
		return true, fmt.Sprintf("approval deadline %s passed at %s", d, sc.CreatedAt.Add(d).UTC().Format(time.RFC3339))
	}
	return false, ""
}

func (s *Service) expire(ctx context.Context, sc *storage.Schedule, why string, at time.Time) {
	if err := s.store.SetScheduleStatus(ctx, sc.ID, storage.StatusProposed, storage.StatusExpired, "system", why, at); err == nil {
		s.auditData(ctx, at, "system", "schedule.expire", fmt.Sprintf("schedule:%d", sc.ID), why, map[string]string{"from": string(storage.StatusProposed), "to": string(storage.StatusExpired)})
	}
}

// expireProposals moves proposals past their deadline to expired.
func (s *Service) expireProposals(ctx context.Context, at time.Time) {
	list, err := s.store.ListSchedules(ctx, storage.Epoch, storage.End, storage.StatusProposed)
	if err != nil {
		s.log.Error("list proposals", "err", err)
		return
	}
	for i := range list {
		if ok, why := s.expired(&list[i], at); ok {
			s.expire(ctx, &list[i], why, at)
		}
	}
}

// checkDeadline expires a proposal whose deadline passed and reports ErrExpired.
func (s *Service) checkDeadline(ctx context.Context, id int64, at time.Time) error {
	// The proposals' summaries say all it needs; the full schedule (its plan) is
	// read only for an id that is not a proposal, to report a missing one.
	var sc *storage.Schedule
	list, err := s.store.ListSchedules(ctx, storage.Epoch, storage.End, storage.StatusProposed)
	if err != nil {
		return err
	}
	for i := range list {
		if list[i].ID == id {
			sc = &list[i]
			break
		}
	}
	if sc == nil {
		if sc, err = s.store.GetSchedule(ctx, id); err != nil {
			return err
		}
	}
	if sc.Status != storage.StatusProposed {
		return nil // SetScheduleStatus reports the conflict
	}
	if ok, why := s.expired(sc, at); ok {
		s.expire(ctx, sc, why, at)
		return fmt.Errorf("schedule %d: %w (%s)", id, ErrExpired, why)
	}
	return nil
}

// Pin holds one asset at a fixed power (sign convention) over a period.
type Pin struct {
	DeviceID string    `json:"device_id"`
	PowerKW  float64   `json:"power_kw"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Actor    string    `json:"actor"`
	Reason   string    `json:"reason"`
	// ProposeOnly marks a pin set by someone who may not approve schedules (a
	// planner): the schedules it shapes are never approved by the auto-approve policy,
	// whatever its bounds; a dispatcher decides.
	ProposeOnly bool `json:"propose_only,omitempty"`
}

// Pins returns the pins in force, ordered by device.
func (s *Service) Pins() []Pin {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Pin, 0, len(s.pins))
	for _, p := range s.pins {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	return out
}

// Pin validates and records a pin, then re-solves at once with it. The new proposal
// goes through the approval policy like any other and is returned.
func (s *Service) Pin(ctx context.Context, p Pin) (*storage.Schedule, error) {
	at := s.clock.Now()
	if p.From.IsZero() {
		p.From = at
	}
	d, ok := s.cfg.Device(p.DeviceID)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: device_id: unknown device %q", ErrInvalid, p.DeviceID)
	case d.Kind != site.KindBESS && d.Kind != site.KindEVCharger:
		return nil, fmt.Errorf("%w: device_id: %q is a %s; only batteries and EV chargers can be pinned (use an override for a PV cap)", ErrInvalid, p.DeviceID, d.Kind)
	case math.IsNaN(p.PowerKW) || math.IsInf(p.PowerKW, 0):
		return nil, fmt.Errorf("%w: power_kw: %v is not a finite number", ErrInvalid, p.PowerKW)
	case !p.Until.After(p.From):
		return nil, fmt.Errorf("%w: until: %s must be after from %s", ErrInvalid, p.Until.Format(time.RFC3339), p.From.Format(time.RFC3339))
	case !p.Until.After(at):
		return nil, fmt.Errorf("%w: until: %s is in the past", ErrInvalid, p.Until.Format(time.RFC3339))
	case p.Actor == "":
		return nil, fmt.Errorf("%w: actor: is required", ErrInvalid)
	case strings.TrimSpace(p.Reason) == "":
		return nil, fmt.Errorf("%w: reason: is required", ErrInvalid)
	}
	if lo, hi := d.RatedRangeKW(); p.PowerKW < lo || p.PowerKW > hi {
		return nil, fmt.Errorf("%w: power_kw: %g is outside the rating of %s [%g, %g]", ErrInvalid, p.PowerKW, p.DeviceID, lo, hi)
	}
	s.mu.Lock()
	s.pins[p.DeviceID] = p
	readings := make([]fieldbus.Reading, 0, len(s.latest))
	for _, r := range s.latest {
		readings = append(readings, r)
	}
	s.mu.Unlock()
	s.auditData(ctx, at, p.Actor, "schedule.pin", "device:"+p.DeviceID,
		fmt.Sprintf("pin %s at %.2f kW from %s until %s: %s", p.DeviceID, p.PowerKW, p.From.UTC().Format(time.RFC3339), p.Until.UTC().Format(time.RFC3339), p.Reason), p)
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	var run storage.CycleRun
	sched, plan, err := s.propose(ctx, at, readings, &run)
	if err != nil {
		return nil, fmt.Errorf("re-solve with the pin: %w", err)
	}
	s.mu.Lock()
	s.lastPlan = plan
	s.mu.Unlock()
	s.autoApprove(ctx, sched, at)
	if sched.Status == storage.StatusApproved {
		if _, err := s.applyCurrent(ctx, at); err != nil {
			s.log.Warn("apply after pin", "err", err)
		}
	}
	return sched, nil
}

// Unpin removes a device's pin; the next cycle re-solves without it.
func (s *Service) Unpin(ctx context.Context, deviceID, actor, reason string) error {
	s.mu.Lock()
	p, ok := s.pins[deviceID]
	delete(s.pins, deviceID)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("pin of %q: %w", deviceID, storage.ErrNotFound)
	}
	s.auditData(ctx, s.clock.Now(), actor, "schedule.unpin", "device:"+deviceID, reason, p)
	return nil
}

// applyPins puts every pin in force into the scenario. A pinned battery stays in the
// optimisation with its power fixed over the pinned steps (optimizer.Battery.PinnedKW)
// and free after them, so the plan after the pin is a real plan. A pinned charger is
// replaced by its pin: over the pinned steps a fixed consumption (or generation) at
// its node, left out of the optimisation (the next cycle re-solves without the expired
// pin). Expired pins are dropped and audited.
func (s *Service) applyPins(ctx context.Context, scn *optimizer.Scenario, at time.Time) []Pin {
	s.mu.Lock()
	var pins, gone []Pin
	for id, p := range s.pins {
		if !at.Before(p.Until) {
			gone = append(gone, p)
			delete(s.pins, id)
			continue
		}
		pins = append(pins, p)
	}
	s.mu.Unlock()
	for _, p := range gone {
		s.auditData(ctx, at, "system", "schedule.unpin", "device:"+p.DeviceID, "pin expired", p)
	}
	sort.Slice(pins, func(i, j int) bool { return pins[i].DeviceID < pins[j].DeviceID })
	for _, p := range pins {
		d, _ := s.cfg.Device(p.DeviceID)
		if b := scenarioBattery(scn, p.DeviceID); b != nil {
			// A battery stays in the optimisation: fixed over the pinned steps, free
			// before and after them, its SoC carried through.
			b.PinnedKW = map[int]float64{}
			for k := 0; k < scn.Steps; k++ {
				if pinCovers(p, scn, k) {
					b.PinnedKW[k] = p.PowerKW
				}
			}
			continue
		}
		load := make([]float64, scn.Steps)
		gen := make([]float64, scn.Steps)
		for k := 0; k < scn.Steps; k++ {
			if pinCovers(p, scn, k) {
				load[k], gen[k] = math.Max(0, p.PowerKW), math.Max(0, -p.PowerKW)
			}
		}
		bats := scn.Batteries[:0]
		for _, b := range scn.Batteries {
			if b.ID != p.DeviceID {
				bats = append(bats, b)
			}
		}
		scn.Batteries = bats
		evs := scn.EVSessions[:0]
		for _, e := range scn.EVSessions {
			if e.ID != p.DeviceID {
				evs = append(evs, e)
			}
		}
		scn.EVSessions = evs
		scn.Loads = append(scn.Loads, optimizer.Load{ID: "pin:" + p.DeviceID, Node: d.Node, ForecastKW: load})
		scn.PV = append(scn.PV, optimizer.PV{ID: "pin-gen:" + p.DeviceID, Node: d.Node, ForecastKW: gen})
	}
	return pins
}

// scenarioBattery returns the scenario's battery id, or nil.
func scenarioBattery(scn *optimizer.Scenario, id string) *optimizer.Battery {
	for i := range scn.Batteries {
		if scn.Batteries[i].ID == id {
			return &scn.Batteries[i]
		}
	}
	return nil
}

// pinCovers reports whether pin p holds over step k of scn: the step starts at or
// after the step that holds p.From and before p.Until.
func pinCovers(p Pin, scn *optimizer.Scenario, k int) bool {
	t := scn.StepTime(k)
	return !t.Before(p.From.Truncate(time.Duration(scn.StepMinutes)*time.Minute)) && t.Before(p.Until)
}

// pinSetpoints are the schedule setpoints of a pinned device left out of the
// optimisation (a charger, or a battery without a fresh reading): the pin over its
// steps, 0 after. A pinned battery in the scenario has its setpoints from the plan.
func pinSetpoints(pins []Pin, scn *optimizer.Scenario) []storage.ScheduleSetpoint {
	var out []storage.ScheduleSetpoint
	for _, p := range pins {
		if scenarioBattery(scn, p.DeviceID) != nil {
			continue
		}
		for k := 0; k < scn.Steps; k++ {
			v := 0.0
			if pinCovers(p, scn, k) {
				v = p.PowerKW
			}
			out = append(out, storage.ScheduleSetpoint{DeviceID: p.DeviceID, Step: k, Time: scn.StepTime(k), PowerKW: v})
		}
	}
	return out
}

// encodePlanDoc gives the bytes of encoding planDoc{scn, plan, pins, policy, config}
// from the scenario and the plan already encoded (by json.Marshal): the fields in
// planDoc's order, each encoded by json.Marshal as encoding the whole would, the
// empty pins and the nil policy and config left out.
func encodePlanDoc(scenarioJSON, planJSON []byte, pins []Pin, policy *PolicyResult, config *ConfigHashes) ([]byte, error) {
	out := make([]byte, 0, len(scenarioJSON)+len(planJSON)+512)
	out = append(out, `{"scenario":`...)
	out = append(out, scenarioJSON...)
	out = append(out, `,"plan":`...)
	out = append(out, planJSON...)
	for _, f := range []struct {
		name string
		v    any
		skip bool
	}{{"pins", pins, len(pins) == 0}, {"policy", policy, policy == nil}, {"config", config, config == nil}} {
		if f.skip {
			continue
		}
		b, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		out = append(out, `,"`+f.name+`":`...)
		out = append(out, b...)
	}
	return append(out, '}'), nil
}

// planMemo remembers one schedule's plan document with the bytes it was stored as,
// so the cycle that proposes a schedule, approves it and applies it decodes nothing.
type planMemo struct {
	id   int64
	json []byte
	doc  *planDoc
}

// memoPlan remembers schedule id's plan document and its stored encoding.
func (s *Service) memoPlan(id int64, b []byte, doc *planDoc) {
	s.mu.Lock()
	s.planMemo = planMemo{id: id, json: b, doc: doc}
	s.mu.Unlock()
}

// planOf returns a stored schedule's plan document for reading only (it may be
// shared): the remembered one when the schedule and its stored bytes match, else
// decoded (and remembered).
func (s *Service) planOf(sc *storage.Schedule) (*planDoc, error) {
	s.mu.Lock()
	m := s.planMemo
	s.mu.Unlock()
	if m.doc != nil && m.id == sc.ID && bytes.Equal(m.json, sc.Plan) {
		return m.doc, nil
	}
	doc, err := decodePlan(sc)
	if err != nil {
		return nil, err
	}
	s.memoPlan(sc.ID, sc.Plan, doc)
	return doc, nil
}

// decodePlan reads a stored schedule's plan document.
func decodePlan(sc *storage.Schedule) (*planDoc, error) {
	var doc planDoc
	if len(sc.Plan) == 0 {
		return nil, fmt.Errorf("schedule %d has no stored plan", sc.ID)
	}
	if err := json.Unmarshal(sc.Plan, &doc); err != nil || doc.Plan == nil {
		return nil, fmt.Errorf("schedule %d: stored plan unreadable: %v", sc.ID, err) //nolint:errorlint // err is nil when the plan is missing
	}
	return &doc, nil
}
