package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/prices"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// Poller reads every device once.
type Poller interface {
	Poll(ctx context.Context) []fieldbus.Reading
}

// Writer writes one setpoint with read-back.
type Writer interface {
	Write(ctx context.Context, deviceID, point string, value float64) (fieldbus.WriteResult, error)
}

// Forecaster forecasts one series. A cycle calls it concurrently for its
// series (one call per series at a time).
type Forecaster interface {
	Forecast(ctx context.Context, req forecast.Request) (*forecast.Result, error)
}

// Solver solves a dispatch scenario. It must not modify the scenario: the cycle
// encodes it (for the schedule's input hash) while it is being solved.
type Solver func(ctx context.Context, s *optimizer.Scenario, opts optimizer.Options) (*optimizer.Plan, error)

// Service runs dispatch cycles for one site.
type Service struct {
	cfg        *site.Config
	hashes     ConfigHashes
	store      storage.Store
	poller     Poller
	writer     Writer
	forecaster Forecaster
	// forecastHistory is how far back each load and PV forecast is given telemetry.
	forecastHistory time.Duration
	weather         weather
	prices          PriceSource
	solve           Solver
	clock           clock.Clock
	log             *slog.Logger

	env      *safety.Envelope
	guard    *safety.Guard
	auditLog *audit.Log
	metrics  metrics
	prom     *prom

	cycleMu sync.Mutex // one cycle (or approval apply) at a time
	applyMu sync.Mutex // one application of setpoints (cycle, tick, approval) at a time
	pollMu  sync.Mutex // one poll of the field at a time (cycle or tick)

	watchdog map[string]time.Duration // device -> command watchdog from its profile
	topo     topology                 // the node tree as the real-time layer reads it

	live liveHub // subscribers to every poll's values

	mu        sync.Mutex
	pluggedAt map[string]time.Time // EV charger -> when the current session was first seen
	latest    map[string]fieldbus.Reading
	lastPlan  *optimizer.Plan
	// districtBase is the latest cycle's scenario before external limits (keepBase).
	districtBase   *optimizer.Scenario
	districtBaseAt time.Time
	// inForceCache is the schedule in force at the last successful lookup (see InForce).
	inForceCache *storage.Schedule
	// inForceFull is the last schedule in force read in full from the store (its
	// setpoints and plan are immutable; see inForceFromStore).
	inForceFull *storage.Schedule
	// peakDays are the root meter's daily peaks of the weeks before today (see
	// dailyPeaks).
	peakDays    peakDays
	planMemo    planMemo           // the last plan document encoded or decoded
	pins        map[string]Pin     // device -> pin in force
	sessions    map[string]Session // EV charger -> reported session
	subs        map[int]chan storage.SetpointWrite
	nextSub     int
	alarms      map[string]*Alarm
	limits      map[int64]ExternalLimit // external limits not yet over
	nextLimitID int64
	written     map[string]written // device -> last value written and read back
	attempted   map[string]attempt // device -> last write attempt that failed
	demand      demandAcc
}

// Options configure a Service.
type Options struct {
	Config *site.Config
	Store  storage.Store
	Poller Poller
	Writer Writer
	// Forecaster forecasts each load and PV series; nil means a *forecast.Auto
	// (daily model selection per series with a per-cycle nowcast update,
	// calendar features in the site's time zone).
	Forecaster Forecaster
	Solver     Solver // default optimizer.Solve
	Clock      clock.Clock
	Logger     *slog.Logger
	// Envelope is the safety envelope every write passes; default: built from Config
	// (device ratings and the safety sections).
	Envelope *safety.Envelope
	// Profiles are the device profiles in force by device ID; their hashes are recorded
	// with every schedule. Devices missing here have their profile resolved from Config
	// (fieldbus.CheckSite).
	Profiles map[string]*fieldbus.Profile
	// ConfigFileSHA256 is the SHA-256 (hex) of the config file's bytes, recorded with
	// every schedule next to the hash of the parsed config (optional).
	ConfigFileSHA256 string
	// ForecastHistory is how much telemetry before the cycle each load and PV
	// forecast may be given; 0 means forecast.AutoHistory (what the default
	// forecaster fits on). A forecaster with a HistoryFrom method (forecast.Auto)
	// is given only what it asks for within it: the whole window when it fits the
	// day's model, the day's telemetry on the other cycles.
	ForecastHistory time.Duration
	// Prices prices each cycle's steps; nil means what the config selects
	// (prices.FromConfig: the time-of-use bands, or the tariff.day_ahead feed with
	// its file loaded).
	Prices PriceSource
}

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Config == nil || o.Store == nil || o.Poller == nil || o.Writer == nil {
		return nil, errors.New("dispatch: Config, Store, Poller and Writer are required")
	}
	if o.Forecaster == nil {
		o.Forecaster = &forecast.Auto{Location: o.Config.Site.Location}
	}
	if o.ForecastHistory < 0 {
		return nil, fmt.Errorf("dispatch: ForecastHistory must be >= 0, got %v", o.ForecastHistory)
	}
	if o.ForecastHistory == 0 {
		o.ForecastHistory = historyWindow
	}
	if o.Solver == nil {
		o.Solver = optimizer.Solve
	}
	if o.Prices == nil {
		src, err := prices.FromConfig(o.Config)
		if err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
		o.Prices = src
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Envelope == nil {
		env, err := safety.New(safety.FromSite(o.Config), safety.Options{
			CommsLossAfter: o.Config.Safety.CommsLossAfter, Paused: o.Config.Safety.Paused, FirstStep: o.Config.Site.Step.D,
		})
		if err != nil {
			return nil, fmt.Errorf("dispatch: safety envelope: %w", err)
		}
		o.Envelope = env
	}
	hashes, profiles, err := computeHashes(o.Config, o.Profiles, o.ConfigFileSHA256)
	if err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	wd := watchdogs(o.Config, profiles)
	if err := checkWatchdogs(o.Config, wd); err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	s := &Service{
		cfg: o.Config, store: o.Store, poller: o.Poller, writer: o.Writer,
		forecaster: o.Forecaster, forecastHistory: o.ForecastHistory, prices: o.Prices, solve: o.Solver, clock: o.Clock, log: o.Logger,
		env: o.Envelope, auditLog: audit.New(o.Store), hashes: hashes,
		pluggedAt: map[string]time.Time{}, latest: map[string]fieldbus.Reading{},
		pins: map[string]Pin{}, sessions: map[string]Session{}, subs: map[int]chan storage.SetpointWrite{},
		alarms: map[string]*Alarm{}, limits: map[int64]ExternalLimit{}, prom: newProm(), written: map[string]written{}, attempted: map[string]attempt{}, watchdog: wd, topo: newTopology(o.Config),
	}
	s.guard = &safety.Guard{Env: s.env, Inner: o.Writer, Now: s.clock.Now}
	if err := s.loadWeatherFile(o.Config.Weather.File); err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	return s, nil
}

// Envelope returns the safety envelope.
func (s *Service) Envelope() *safety.Envelope { return s.env }

// Config returns the site config.
func (s *Service) Config() *site.Config { return s.cfg }

// Store returns the store.
func (s *Service) Store() storage.Store { return s.store }

// Clock returns the service's clock.
func (s *Service) Clock() clock.Clock { return s.clock }

// CycleResult summarises one cycle.
type CycleResult struct {
	At           time.Time
	Run          storage.CycleRun
	Schedule     *storage.Schedule // nil if none was made
	Writes       []storage.SetpointWrite
	StaleDevices []string
}

// RegisterAssets stores the site's devices in the asset registry.
func (s *Service) RegisterAssets(ctx context.Context) error {
	assets := make([]storage.Asset, 0, len(s.cfg.Devices))
	for _, d := range s.cfg.Devices {
		assets = append(assets, storage.Asset{ID: d.ID, Kind: d.Kind, Node: d.Node, Endpoint: fmt.Sprintf("%s#%d", d.Endpoint, d.UnitID), Owner: d.Owner})
	}
	return s.store.UpsertAssets(ctx, assets)
}

// RunCycle runs one complete cycle for cycle time at.
func (s *Service) RunCycle(ctx context.Context, at time.Time) (*CycleResult, error) {
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	res := &CycleResult{At: at}
	run := &res.Run
	run.Started = at
	wall := time.Now() // durations only; never stored as a time
	defer func() {
		run.TotalMS = ms(time.Since(wall))
		id, err := s.store.RecordCycle(context.WithoutCancel(ctx), *run)
		if err != nil {
			s.log.Error("record cycle", "err", err)
		}
		run.ID = id
		s.metrics.cycle(run)
		s.prom.cycle(run)
	}()

	// 1. Poll and store telemetry.
	t0 := time.Now()
	s.pollMu.Lock()
	readings := s.poller.Poll(ctx)
	s.pollMu.Unlock()
	run.PollMS = ms(time.Since(t0))
	run.Devices = len(readings)
	samples := make([]storage.Sample, 0, len(readings)*8)
	s.mu.Lock()
	for _, r := range readings {
		if r.Stale {
			res.StaleDevices = append(res.StaleDevices, r.DeviceID)
			s.log.Warn("device stale", "device", r.DeviceID, "err", r.Err)
		}
		s.latest[r.DeviceID] = r
		for _, v := range r.Values {
			if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
				continue
			}
			samples = append(samples, storage.Sample{Time: at, DeviceID: r.DeviceID, Point: v.Point, Value: v.Value, Quality: storage.Quality(v.Quality)})
		}
	}
	s.mu.Unlock()
	s.publishLive(at, "cycle", readings)
	run.StaleDevices = len(res.StaleDevices)
	s.observe(ctx, at, readings)
	s.feedDemand(ctx, at, readings)
	if err := s.store.WriteTelemetry(ctx, samples); err != nil {
		run.Error = "store telemetry: " + err.Error()
		return res, fmt.Errorf("store telemetry: %w", err)
	}
	s.expireProposals(ctx, at)

	// 2-4. Forecast, optimise and propose.
	sched, plan, err := s.propose(ctx, at, readings, run)
	if err != nil {
		run.Error = err.Error()
		s.log.Error("no schedule this cycle", "at", at, "err", err)
		s.audit(ctx, at, "system", "cycle.failed", "", err.Error())
	} else {
		res.Schedule = sched
		run.ScheduleID = sched.ID
		s.mu.Lock()
		s.lastPlan = plan
		s.mu.Unlock()
		s.autoApprove(ctx, sched, at)
	}

	// 5. Write the current step of the schedule in force.
	t0 = time.Now()
	writes, err := s.applyCurrent(ctx, at)
	run.WriteMS = ms(time.Since(t0))
	res.Writes = writes
	if err != nil && run.Error == "" {
		run.Error = err.Error()
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *Service) audit(ctx context.Context, at time.Time, actor, action, subject, detail string) {
	s.auditData(ctx, at, actor, action, subject, detail, nil)
}

// auditData appends a chained audit event with structured data.
func (s *Service) auditData(ctx context.Context, at time.Time, actor, action, subject, text string, data any) {
	s.prom.audited(action)
	if _, err := s.auditLog.Append(context.WithoutCancel(ctx), storage.AuditEvent{Time: at, Actor: actor, Action: action, Subject: subject}, text, data); err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
}

// Audit appends an audit event on behalf of a caller (the API), chained like every other.
func (s *Service) Audit(ctx context.Context, actor, action, subject, text string, data any) error {
	_, err := s.auditLog.Append(ctx, storage.AuditEvent{Time: s.clock.Now(), Actor: actor, Action: action, Subject: subject}, text, data)
	return err
}

// propose forecasts, optimises and stores a proposed schedule.
func (s *Service) propose(ctx context.Context, at time.Time, readings []fieldbus.Reading, run *storage.CycleRun) (*storage.Schedule, *optimizer.Plan, error) {
	t0 := time.Now()
	scn, stored, err := s.buildScenario(ctx, at, readings)
	run.ForecastMS = ms(time.Since(t0))
	if err != nil {
		if werr := stored(); werr != nil {
			return nil, nil, werr
		}
		return nil, nil, err
	}
	pins := s.applyPins(ctx, scn, at)
	// The scenario is final here: its encoding (the input hashed and stored with
	// the plan) runs while it is solved, as does the forecasts' write, on the
	// other core. A Solver only reads the scenario.
	type encoded struct {
		json []byte
		err  error
	}
	encCh := make(chan encoded, 1)
	go func() {
		b, err := json.Marshal(scn)
		encCh <- encoded{b, err}
	}()
	// The previous cycle's plan warm-starts the solver (it falls back to
	// a cold start by itself when that plan does not fit).
	warm := s.LastPlan()
	t0 = time.Now()
	plan, err := s.solve(ctx, scn, optimizer.Options{WarmStart: warm})
	if errors.Is(err, optimizer.ErrInfeasible) {
		// No plan keeps every hard limit (e.g. a forecast load above a feeder limit).
		// Propose the least-violating plan instead, with its violations listed: the
		// approval policy never approves it by itself, so a dispatcher decides.
		s.log.Warn("scenario infeasible; proposing the least-violating plan", "at", at, "err", err)
		s.auditData(ctx, at, "system", "schedule.infeasible", "", err.Error(), nil)
		plan, err = s.solve(ctx, scn, optimizer.Options{Soft: true, WarmStart: warm})
	}
	run.SolveMS = ms(time.Since(t0))
	enc := <-encCh
	if werr := stored(); werr != nil {
		return nil, nil, werr
	}
	if err != nil {
		run.SolverStatus = "error"
		return nil, nil, fmt.Errorf("optimise: %w", err)
	}
	run.SolverStatus = plan.Status
	run.Iterations = plan.Iterations
	// The plan's encoding (part of the stored plan document) runs beside the
	// approval policy, which only reads the plan.
	planEnc := make(chan encoded, 1)
	go func() {
		b, err := json.Marshal(plan)
		planEnc <- encoded{b, err}
	}()

	input, inputErr := enc.json, enc.err
	sum := sha256.Sum256(input)
	step := s.cfg.Site.Step.D
	sched := &storage.Schedule{
		CreatedAt: at, Start: scn.Start, StepMinutes: scn.StepMinutes, Steps: scn.Steps,
		Status: storage.StatusProposed, InputHash: hex.EncodeToString(sum[:]), Objective: plan.Objective,
		CostBreakdown: breakdownMap(plan.CostBreakdown), SolverStatus: plan.Status,
	}
	// Room for every setpoint at once (the list stays nil when there are none).
	n := len(pins) * scn.Steps
	for _, a := range plan.Assets {
		n += len(a.PowerKW)
	}
	if n > 0 {
		sched.Setpoints = make([]storage.ScheduleSetpoint, 0, n)
	}
	for _, a := range plan.Assets {
		d, ok := s.cfg.Device(a.ID)
		if !ok || !controllable(d.Kind) {
			continue
		}
		for k, p := range a.PowerKW {
			sched.Setpoints = append(sched.Setpoints, storage.ScheduleSetpoint{DeviceID: a.ID, Step: k, Time: scn.Start.Add(time.Duration(k) * step), PowerKW: p})
		}
	}
	sched.Setpoints = append(sched.Setpoints, pinSetpoints(pins, scn)...)
	if len(sched.Setpoints) == 0 {
		sched.Setpoints = nil
	}
	hashes := s.ConfigHashes()
	pol, err := s.EvaluatePolicy(ctx, sched, plan, at)
	pe := <-planEnc
	if err != nil {
		return nil, nil, fmt.Errorf("approval policy: %w", err)
	}
	if inputErr != nil {
		return nil, nil, fmt.Errorf("encode plan: %w", inputErr)
	}
	if pe.err != nil {
		return nil, nil, fmt.Errorf("encode plan: %w", pe.err)
	}
	// The scenario's encoding is the input hashed above; encodePlanDoc embeds it and
	// the plan's as they are (the same bytes as encoding planDoc).
	planJSON, err := encodePlanDoc(input, pe.json, pins, pol, &hashes)
	if err != nil {
		return nil, nil, fmt.Errorf("encode plan: %w", err)
	}
	sched.Plan = planJSON
	// A new proposal supersedes older ones still waiting for a decision.
	older, err := s.store.ListSchedules(ctx, storage.Epoch, storage.End, storage.StatusProposed)
	if err != nil {
		return nil, nil, fmt.Errorf("list proposed schedules: %w", err)
	}
	id, err := s.store.InsertSchedule(ctx, sched)
	if err != nil {
		return nil, nil, fmt.Errorf("store schedule: %w", err)
	}
	sched.ID = id
	s.memoPlan(id, planJSON, &planDoc{Scenario: scn, Plan: plan, Pins: pins, Policy: pol, Config: &hashes})
	s.auditData(ctx, at, "system", "schedule.propose", fmt.Sprintf("schedule:%d", id),
		fmt.Sprintf("objective %.2f %s, %d steps from %s, solver %s in %d iterations, config %.12s", plan.Objective, s.cfg.Tariff.Currency, scn.Steps, scn.Start.Format(time.RFC3339), plan.Status, plan.Iterations, hashes.ConfigSHA256),
		proposeAudit{InputHash: sched.InputHash, ConfigHashes: hashes})
	for _, o := range older {
		if err := s.store.SetScheduleStatus(ctx, o.ID, storage.StatusProposed, storage.StatusSuperseded, "system", fmt.Sprintf("superseded by schedule %d", id), at); err == nil {
			s.auditData(ctx, at, "system", "schedule.supersede", fmt.Sprintf("schedule:%d", o.ID), fmt.Sprintf("superseded by schedule %d", id), map[string]string{"from": string(storage.StatusProposed), "to": string(storage.StatusSuperseded)})
		}
	}
	return sched, plan, nil
}

func controllable(kind string) bool {
	return kind == site.KindBESS || kind == site.KindEVCharger || kind == site.KindPV
}

// Approve approves a proposed schedule and applies its current step at once.
func (s *Service) Approve(ctx context.Context, id int64, actor, reason string) ([]storage.SetpointWrite, error) {
	at := s.clock.Now()
	if err := s.decide(ctx, id, storage.StatusApproved, actor, reason, at); err != nil {
		return nil, err
	}
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	return s.applyCurrent(ctx, at)
}

// Reject rejects a proposed schedule.
func (s *Service) Reject(ctx context.Context, id int64, actor, reason string) error {
	return s.decide(ctx, id, storage.StatusRejected, actor, reason, s.clock.Now())
}

// ErrNotProposed is returned when approving or rejecting a schedule that is not proposed.
var ErrNotProposed = errors.New("schedule is not in state proposed")

func (s *Service) decide(ctx context.Context, id int64, to storage.ScheduleStatus, actor, reason string, at time.Time) error {
	if actor == "" {
		return errors.New("actor is required")
	}
	if err := s.checkDeadline(ctx, id, at); err != nil {
		return err
	}
	prev, err := s.store.ListSchedules(ctx, storage.Epoch, storage.End, storage.StatusApproved)
	if err != nil {
		return err
	}
	err = s.store.SetScheduleStatus(ctx, id, storage.StatusProposed, to, actor, reason, at)
	if errors.Is(err, storage.ErrConflict) {
		return fmt.Errorf("schedule %d: %w", id, ErrNotProposed)
	}
	if err != nil {
		return err
	}
	action := "schedule.approve"
	if to == storage.StatusRejected {
		action = "schedule.reject"
	}
	s.auditData(ctx, at, actor, action, fmt.Sprintf("schedule:%d", id), reason, map[string]string{"from": string(storage.StatusProposed), "to": string(to)})
	if to == storage.StatusApproved {
		// Only one approved schedule is in force: the newest. Older approved ones are superseded.
		for _, p := range prev {
			if p.ID == id {
				continue
			}
			if err := s.store.SetScheduleStatus(ctx, p.ID, storage.StatusApproved, storage.StatusSuperseded, actor, fmt.Sprintf("superseded by schedule %d", id), at); err == nil {
				s.auditData(ctx, at, actor, "schedule.supersede", fmt.Sprintf("schedule:%d", p.ID), fmt.Sprintf("superseded by schedule %d", id), map[string]string{"from": string(storage.StatusApproved), "to": string(storage.StatusSuperseded)})
			}
		}
	}
	return nil
}

// InForce returns the approved schedule covering time at, or nil. Its Setpoints and
// Plan are shared with later calls: read them, never write them.
//
// While the store cannot be read (a database outage), the schedule found in force at the
// last successful lookup keeps applying for as long as it covers at, so dispatch goes on
// through the outage; the approvals it would need are made once the store is back.
func (s *Service) InForce(ctx context.Context, at time.Time) (*storage.Schedule, error) {
	sc, err := s.inForceFromStore(ctx, at)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if c := s.inForceCache; c != nil && covers(c, at) {
			s.log.Warn("store unreachable; applying the cached schedule in force", "schedule", c.ID, "err", err)
			return c, nil
		}
		return nil, err
	}
	s.inForceCache = sc
	return sc, nil
}

func (s *Service) inForceFromStore(ctx context.Context, at time.Time) (*storage.Schedule, error) {
	list, err := s.store.ListSchedules(ctx, storage.Epoch, storage.End, storage.StatusApproved)
	if err != nil {
		return nil, err
	}
	for i := range list { // newest first
		if !covers(&list[i], at) {
			continue
		}
		// A schedule's setpoints and plan never change once stored (only its status
		// and decision do, which the list carries): the last one read in full is
		// reused rather than copied from the store at every tick.
		s.mu.Lock()
		full := s.inForceFull
		s.mu.Unlock()
		if full != nil && full.ID == list[i].ID {
			sc := list[i]
			sc.Plan, sc.Setpoints = full.Plan, full.Setpoints
			return &sc, nil
		}
		sc, err := s.store.GetSchedule(ctx, list[i].ID)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.inForceFull = sc
		s.mu.Unlock()
		return sc, nil
	}
	return nil, nil
}

func covers(sc *storage.Schedule, at time.Time) bool {
	end := sc.Start.Add(time.Duration(sc.Steps*sc.StepMinutes) * time.Minute)
	return !at.Before(sc.Start) && at.Before(end)
}

// curtailmentThresholdKW is the planned curtailment below which a PV plant is left uncapped.
const curtailmentThresholdKW = 0.05

// curtailedAt returns, per PV plant, whether the plan curtails it in the given step.
func (s *Service) curtailedAt(sched *storage.Schedule, step int) map[string]bool {
	out := map[string]bool{}
	doc, err := s.planOf(sched)
	if err != nil {
		return out
	}
	for _, a := range doc.Plan.Assets {
		if step < len(a.CurtailedKW) && a.CurtailedKW[step] > curtailmentThresholdKW {
			out[a.ID] = true
		}
	}
	return out
}

// setpointFor maps a planned power (sign convention) to the device's setpoint point.
// A PV inverter takes a generation cap: the planned generation when the plan curtails
// it, else its rated capacity (no cap, so a forecast that was too low costs nothing).
func setpointFor(d *site.Device, powerKW float64, curtailed bool) (point string, value float64) {
	if d.Kind == site.KindPV {
		if !curtailed {
			return "power_limit_kw", d.PV.CapacityKW
		}
		g := math.Max(0, -powerKW)
		return "power_limit_kw", roundTo(g, SetpointResolutionKW)
	}
	return "setpoint_kw", roundTo(powerKW, SetpointResolutionKW)
}

// SetpointResolutionKW is the resolution planned powers are written at: each
// setpoint is the planned power rounded to a multiple of it.
const SetpointResolutionKW = 0.1

func roundTo(v, q float64) float64 {
	r := math.Round(v/q) * q
	if r == 0 {
		return 0 // no negative zero
	}
	return math.Round(r*1e6) / 1e6
}

func connected(r fieldbus.Reading) bool {
	v, ok := value(r, "connected")
	return ok && v >= 0.5
}

func value(r fieldbus.Reading, point string) (float64, bool) {
	for _, v := range r.Values {
		if v.Point == point {
			return v.Value, v.Quality == fieldbus.Good
		}
	}
	return 0, false
}

// LastPlan returns the most recent optimiser output (nil before the first cycle).
func (s *Service) LastPlan() *optimizer.Plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPlan
}

func breakdownMap(c optimizer.CostBreakdown) map[string]float64 {
	return map[string]float64{
		"energy_import": c.EnergyImport, "energy_export_revenue": c.EnergyExportRevenue,
		"demand_charge": c.DemandCharge, "battery_wear": c.BatteryWear, "ev_wear": c.EVWear,
		"unmet_penalty": c.UnmetPenalty, "total": c.Total,
	}
}
