package dispatch

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/control"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// observe feeds the poll results to the safety envelope and audits comms transitions.
// A battery or charger whose control-relevant readings are missing or implausible
// (controlRelevant) counts as a failed poll: after safety.comms_loss_after of them it is
// lost for control, its comms-loss action applies, and an alarm is raised.
func (s *Service) observe(ctx context.Context, at time.Time, readings []fieldbus.Reading) {
	for _, r := range readings {
		var soc, p *float64
		if v, ok := value(r, "soc_pct"); ok {
			soc = &v
		}
		if v, ok := value(r, "active_power_kw"); ok {
			p = &v
		}
		ok, why := true, ""
		if d, known := s.cfg.Device(r.DeviceID); known {
			ok, why = controlRelevant(d, r)
		}
		if !ok {
			soc, p = nil, nil
		}
		tr := s.env.Observe(r.DeviceID, ok, soc, p)
		if tr == nil {
			continue
		}
		text := fmt.Sprintf("comms %s → %s after %d failed polls", tr.From, tr.To, tr.Missed)
		if why != "" {
			text += " (" + why + ")"
		}
		key := "control.lost:" + r.DeviceID
		if tr.To == safety.CommsLost {
			if l, ok := s.env.Limits(r.DeviceID); ok {
				text += fmt.Sprintf("; comms-loss action %s", l.CommsLoss)
			}
		}
		s.auditData(ctx, at, "system", "device.comms", "device:"+r.DeviceID, text, tr)
		switch tr.To {
		case safety.CommsLost:
			s.raiseAlarm(ctx, at, key, SeverityCritical, "device:"+r.DeviceID, r.DeviceID+" lost for control: "+text)
		case safety.CommsOnline:
			s.clearAlarm(ctx, at, key, r.DeviceID+" back online")
		}
	}
}

// applyCurrent writes, for every controllable device, the value the safety envelope
// allows for the step covering at (see apply).
func (s *Service) applyCurrent(ctx context.Context, at time.Time) ([]storage.SetpointWrite, error) {
	w, _, _, err := s.apply(ctx, at, applyAll, s.cfg.Control.Interval.D, nil)
	return w, err
}

// apply writes, for controllable devices, the value the safety envelope allows for
// the step covering at. The requested value comes from, in order: the comms-loss
// action of a lost device, a manual override lease, the approved schedule in force
// corrected by the real-time layer for what the meters measure now, or (when no
// approved schedule covers at) the site's safe state. In applyAll mode every device is
// written; in applyTick mode only values that moved by control.deadband_kw or whose
// command watchdog needs a keep-alive. Every device is written (and read back) before
// any write is stored, so that no setpoint waits for the store; fieldDone, when not
// nil, is called at that moment.
func (s *Service) apply(ctx context.Context, at time.Time, mode applyMode, holdFor time.Duration, fieldDone func()) ([]storage.SetpointWrite, int, *control.Result, error) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	for _, o := range s.env.Expire(at) {
		s.auditData(ctx, at, "system", "override.expire", "device:"+o.DeviceID, fmt.Sprintf("override %d (%.2f kW by %s) expired", o.ID, o.ValueKW, o.Actor), o)
	}
	var sched *storage.Schedule
	var err error
	s.mu.Lock()
	if c := s.inForceCache; mode == applyTick && c != nil && covers(c, at) {
		sched = c // ticks do not query the store; every decision re-applies with applyAll
	}
	s.mu.Unlock()
	if sched == nil {
		if sched, err = s.InForce(ctx, at); err != nil {
			return nil, 0, nil, fmt.Errorf("find schedule in force: %w", err)
		}
	}
	planned := map[string]float64{}
	var schedID int64
	var corr *control.Result
	if sched != nil {
		schedID = sched.ID
		step := int(at.Sub(sched.Start) / (time.Duration(sched.StepMinutes) * time.Minute))
		curtailed := s.curtailedAt(sched, step)
		sessionless := s.chargersWithoutSession(sched, step)
		for _, sp := range sched.Setpoints {
			if sp.Step != step || sessionless[sp.DeviceID] {
				continue
			}
			if d, ok := s.cfg.Device(sp.DeviceID); ok && controllable(d.Kind) {
				_, v := setpointFor(d, sp.PowerKW, curtailed[d.ID])
				planned[d.ID] = v
			}
		}
		if !s.cfg.Control.Disabled {
			planned, corr = s.correct(ctx, at, sched, planned, holdFor)
		}
	} else if mode == applyAll {
		s.log.Warn("no approved schedule covers this step; the safe state applies", "at", at, "safe_state", s.safeState())
	}
	ids := make([]string, 0, len(s.cfg.Devices))
	for _, d := range s.cfg.Devices {
		if controllable(d.Kind) {
			ids = append(ids, d.ID)
		}
	}
	sort.Strings(ids)
	var writes, done []storage.SetpointWrite
	var failed, unrecorded, keptAlive int
	// record stores the writes made so far, in order.
	record := func() {
		if fieldDone != nil {
			fieldDone()
			fieldDone = nil
		}
		for _, w := range done {
			rid, err := s.store.RecordSetpointWrite(ctx, w)
			if err != nil {
				// The write happened; keep its record in the audit log (which the outage
				// spool carries) rather than lose it, and go on with the other devices.
				s.log.Error("record setpoint write", "device", w.DeviceID, "err", err)
				s.auditData(ctx, at, "system", "setpoint.unrecorded", "device:"+w.DeviceID,
					fmt.Sprintf("%s %s = %.2f kW (%s) could not be stored: %v", w.DeviceID, w.Point, w.WrittenKW, w.Status, err), w)
				unrecorded++
			}
			w.ID = rid
			s.metrics.write(w.Status)
			s.prom.writes.WithLabelValues(string(w.Status)).Inc()
			s.publish(w)
			writes = append(writes, w)
		}
		done = nil
	}
	for _, id := range ids {
		d, _ := s.cfg.Device(id)
		dec, ok, err := s.decideWrite(d, sched != nil, planned, at)
		if err != nil {
			record()
			return writes, keptAlive, corr, err
		}
		if !ok || !dec.Write {
			if ok && len(dec.Reasons) > 0 && mode == applyAll {
				s.log.Debug("setpoint not written", "device", id, "source", dec.Source, "why", dec.Reasons)
			}
			continue
		}
		keepAlive := false
		if mode == applyTick {
			s.mu.Lock()
			last, has := s.written[id]
			tried, triedBefore := s.attempted[id]
			s.mu.Unlock()
			wd := s.watchdog[id]
			keepAlive = has && wd > 0 && at.Sub(last.at) >= wd/3
			moved := !has || math.Abs(dec.ValueKW-last.valueKW) >= s.cfg.Control.DeadbandKW
			if !moved && !keepAlive {
				continue
			}
			if triedBefore && !keepAlive && math.Abs(tried.valueKW-dec.ValueKW) < 1e-9 && at.Sub(tried.at) < 10*s.cfg.Control.Interval.D {
				continue // the same write failed moments ago: do not hammer a device that does not answer
			}
			keepAlive = keepAlive && !moved
			if keepAlive && s.env.Check(id, dec.Point, last.valueKW, at) == nil {
				dec.ValueKW = last.valueKW // hold the value in force, unchanged
			} else if keepAlive {
				keepAlive = false // the old value left the envelope: write the new one as a change
			}
		}
		if dec.Clamped && !keepAlive {
			s.metrics.clamp()
			s.prom.clamps.Inc()
			s.auditData(ctx, at, "safety", "safety.clamp", "device:"+id,
				fmt.Sprintf("%s %s: requested %.2f kW, written %.2f kW: %v", id, dec.Source, dec.RequestedKW, dec.ValueKW, dec.Reasons), dec)
		}
		w := storage.SetpointWrite{Time: at, DeviceID: id, Point: dec.Point, RequestedKW: dec.RequestedKW}
		if dec.Source == safety.SourceSchedule {
			w.ScheduleID = schedID
		}
		res, err := s.guard.Write(ctx, id, dec.Point, dec.ValueKW)
		switch {
		case err != nil:
			w.Status, w.Error = storage.WriteFailed, err.Error()
			failed++
		case res.Mismatch:
			w.Status, w.WrittenKW, w.ReadBackKW = storage.WriteMismatch, res.Written, res.ReadBack
			w.Error = fmt.Sprintf("read back %g, wrote %g", res.ReadBack, res.Written)
			failed++
			s.writeMismatch(ctx, at, w)
		default:
			w.Status, w.WrittenKW, w.ReadBackKW = storage.WriteOK, res.Written, res.ReadBack
		}
		s.mu.Lock()
		if w.Status == storage.WriteOK {
			s.written[id] = written{valueKW: res.Written, at: at}
			delete(s.attempted, id)
		} else {
			s.attempted[id] = attempt{valueKW: dec.ValueKW, at: at}
		}
		s.mu.Unlock()
		if w.Status == storage.WriteOK {
			s.writeFollowed(ctx, at, id)
		}
		if keepAlive && w.Status == storage.WriteOK {
			// A keep-alive that read back as written changes nothing worth a record.
			keptAlive++
			continue
		}
		done = append(done, w)
	}
	record()
	if failed > 0 {
		return writes, keptAlive, corr, fmt.Errorf("%d of %d setpoint writes failed or did not read back", failed, len(writes))
	}
	if unrecorded > 0 {
		return writes, keptAlive, corr, fmt.Errorf("%d of %d setpoint writes could not be stored (kept in the audit log)", unrecorded, len(writes))
	}
	return writes, keptAlive, corr, nil
}

// chargersWithoutSession lists the chargers for which the plan behind sched knew no
// session at step: their planned 0 kW means "nothing to charge", not "hold the
// vehicle", so a vehicle that arrives after the plan was made is not held at 0 (the
// real-time layer may still hold it back for a limit).
func (s *Service) chargersWithoutSession(sched *storage.Schedule, step int) map[string]bool {
	doc, err := s.planOf(sched)
	if err != nil || doc.Scenario == nil {
		return nil
	}
	covered := map[string]bool{}
	for _, e := range doc.Scenario.EVSessions {
		if e.ArrivalStep <= step && step < e.DepartureStep {
			covered[e.ID] = true
		}
	}
	out := map[string]bool{}
	for _, d := range s.cfg.Devices {
		if d.Kind == site.KindEVCharger && !covered[d.ID] {
			out[d.ID] = true
		}
	}
	return out
}

func (s *Service) safeState() string {
	if s.cfg.Approval.SafeState == "" {
		return site.SafeHold
	}
	return s.cfg.Approval.SafeState
}

// decideWrite picks the requested value for one device and passes it through the
// envelope. ok is false when nothing is requested for the device.
func (s *Service) decideWrite(d *site.Device, inForce bool, planned map[string]float64, at time.Time) (safety.Decision, bool, error) {
	if dec, lost := s.env.CommsAction(d.ID, at); lost {
		return dec, true, nil
	}
	var req float64
	var src safety.Source
	if o, ok := s.env.ActiveOverride(d.ID, at); ok {
		req, src = o.ValueKW, safety.SourceOverride
	} else if v, ok := planned[d.ID]; ok {
		req, src = v, safety.SourceSchedule
	} else if !inForce && s.safeState() == site.SafeZero {
		req, src = 0, safety.SourceSafeState
		if d.Kind == site.KindPV {
			req = d.PV.CapacityKW // zero curtailment: lift the cap
		}
	} else {
		return safety.Decision{}, false, nil
	}
	if d.Kind == site.KindEVCharger && req == 0 && src != safety.SourceOverride {
		s.mu.Lock()
		r, seen := s.latest[d.ID]
		s.mu.Unlock()
		if seen && !r.Stale && !connected(r) {
			// Nothing plugged in and nothing planned: leave the charger alone.
			return safety.Decision{}, false, nil
		}
	}
	dec, err := s.env.Limit(d.ID, req, src, at)
	if err != nil {
		return dec, false, fmt.Errorf("safety envelope: %w", err)
	}
	return dec, true, nil
}

// Pause engages the site kill switch: automated writes and auto-approval stop.
func (s *Service) Pause(ctx context.Context, actor, reason string) error {
	if actor == "" || reason == "" {
		return fmt.Errorf("%w: actor and reason are required", ErrInvalid)
	}
	at := s.clock.Now()
	if !s.env.Pause(actor, reason, at) {
		// Already paused: the first pause's reason stands; this one is recorded apart.
		ks := s.env.KillSwitch()
		s.auditData(ctx, at, actor, "safety.pause.again", "site",
			fmt.Sprintf("%s (already paused by %s since %s: %s)", reason, ks.By, ks.Since.UTC().Format(time.RFC3339), ks.Reason), ks)
		return nil
	}
	s.auditData(ctx, at, actor, "safety.pause", "site", reason, s.env.KillSwitch())
	return nil
}

// Resume releases the kill switch and applies the current step at once.
func (s *Service) Resume(ctx context.Context, actor, reason string) ([]storage.SetpointWrite, error) {
	if actor == "" || reason == "" {
		return nil, fmt.Errorf("%w: actor and reason are required", ErrInvalid)
	}
	at := s.clock.Now()
	s.env.Resume()
	s.auditData(ctx, at, actor, "safety.resume", "site", reason, nil)
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	return s.applyCurrent(ctx, at)
}

// AddOverride stores a manual setpoint lease and applies it at once.
func (s *Service) AddOverride(ctx context.Context, o safety.Override) (safety.Override, []storage.SetpointWrite, error) {
	if o.Reason == "" {
		return o, nil, fmt.Errorf("%w: reason: is required", ErrInvalid)
	}
	at := s.clock.Now()
	if o.From.IsZero() {
		o.From = at
	}
	o, err := s.env.AddOverride(o)
	if err != nil {
		return o, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	s.auditData(ctx, at, o.Actor, "override.add", "device:"+o.DeviceID,
		fmt.Sprintf("override %d: %.2f kW until %s: %s", o.ID, o.ValueKW, o.Until.Format(time.RFC3339), o.Reason), o)
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	w, err := s.applyCurrent(ctx, at)
	return o, w, err
}

// CancelOverride ends a lease early and writes the plan's setpoint (or the safe
// state) at once; a write that fails is logged and alarmed like any other, the lease
// stays cancelled.
func (s *Service) CancelOverride(ctx context.Context, id int64, actor, reason string) error {
	o, ok := s.env.CancelOverride(id)
	if !ok {
		return fmt.Errorf("override %d: %w", id, storage.ErrNotFound)
	}
	at := s.clock.Now()
	s.auditData(ctx, at, actor, "override.cancel", "device:"+o.DeviceID, reason, o)
	s.cycleMu.Lock()
	defer s.cycleMu.Unlock()
	if _, err := s.applyCurrent(ctx, at); err != nil {
		s.log.Warn("apply after cancelling an override", "override", id, "device", o.DeviceID, "err", err)
	}
	return nil
}
