package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
)

// RestoreState rebuilds the operational state that lives in memory (kill switch,
// override leases, pins and reported sessions) from the audit log, so a restart does
// not silently resume automation or drop a manual lease. Entries that have expired by
// now are left out. It returns a one-line summary.
//
// The events are read with audit.Read, which verifies the hash chain over exactly the
// list returned. When the chain does not verify (an event was edited, removed or
// inserted while gridd was stopped), nothing is restored from it: gridd starts with
// the kill switch engaged, no override, pin or session, logs an ALARM and appends an
// audit.chain_broken event naming the problems. A dispatcher resumes after
// investigating.
func (s *Service) RestoreState(ctx context.Context) (string, error) {
	list, rep, err := audit.Read(ctx, s.store)
	if err != nil {
		return "", fmt.Errorf("restore state: %w", err)
	}
	recovered, err := s.reconcileScheduleAudit(ctx, list)
	if err != nil {
		return "", err
	}
	if !rep.OK() {
		return s.refuseAuditLog(ctx, rep, recovered), nil
	}
	var ks *safety.KillSwitch
	overrides := map[int64]safety.Override{}
	pins := map[string]Pin{}
	sessions := map[string]Session{}
	limits := map[int64]ExternalLimit{}
	for _, ev := range list {
		e, ok := audit.Parse(ev.Detail)
		if !ok {
			continue
		}
		switch ev.Action {
		case "safety.pause":
			var k safety.KillSwitch
			if json.Unmarshal(e.Data, &k) == nil {
				ks = &k
			}
		case "safety.resume":
			ks = nil
		case "override.add":
			var o safety.Override
			if json.Unmarshal(e.Data, &o) == nil {
				overrides[o.ID] = o
			}
		case "override.cancel", "override.expire":
			var o safety.Override
			if json.Unmarshal(e.Data, &o) == nil {
				delete(overrides, o.ID)
			}
		case "schedule.pin":
			var p Pin
			if json.Unmarshal(e.Data, &p) == nil {
				pins[p.DeviceID] = p
			}
		case "schedule.unpin":
			var p Pin
			if json.Unmarshal(e.Data, &p) == nil {
				delete(pins, p.DeviceID)
			}
		case "limit.set":
			var l ExternalLimit
			if json.Unmarshal(e.Data, &l) == nil && l.ID > 0 {
				limits[l.ID] = l
			}
		case "limit.end", "limit.expire":
			var l ExternalLimit
			if json.Unmarshal(e.Data, &l) == nil {
				delete(limits, l.ID)
			}
		case "session.report":
			var ss Session
			if json.Unmarshal(e.Data, &ss) == nil {
				sessions[ss.DeviceID] = ss
			}
		case "session.cancel":
			var ss Session
			if json.Unmarshal(e.Data, &ss) == nil {
				delete(sessions, ss.DeviceID)
			}
		}
	}
	now := s.clock.Now()
	if ks != nil && ks.Engaged {
		s.env.Pause(ks.By, ks.Reason, ks.Since)
	}
	nOv := 0
	ids := make([]int64, 0, len(overrides))
	for id := range overrides {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		o := overrides[id]
		if !now.Before(o.Until) {
			continue
		}
		if err := s.env.RestoreOverride(o); err != nil {
			s.log.Warn("override from the audit log not restored", "override", o.ID, "err", err)
			continue
		}
		nOv++
	}
	s.mu.Lock()
	for id, p := range pins {
		if _, ok := s.cfg.Device(id); ok && now.Before(p.Until) {
			s.pins[id] = p
		}
	}
	for id, ss := range sessions {
		if _, ok := s.cfg.Device(id); ok && now.Before(ss.Departure) {
			s.sessions[id] = ss
		}
	}
	for id, l := range limits {
		if id > s.nextLimitID {
			s.nextLimitID = id
		}
		if now.Before(l.Until) {
			s.limits[id] = l
		}
	}
	nLim := len(s.limits)
	nPins, nSess := len(s.pins), len(s.sessions)
	s.mu.Unlock()
	sum := fmt.Sprintf("kill switch %s, %d overrides, %d pins, %d sessions, %d external limits restored from the audit log; %d unaudited schedule changes recovered", map[bool]string{true: "engaged", false: "released"}[s.env.KillSwitch().Engaged], nOv, nPins, nSess, nLim, recovered)
	return sum, nil
}

// refuseAuditLog puts the service in its safe state after the audit chain failed to
// verify at start: kill switch engaged, nothing restored from the log.
func (s *Service) refuseAuditLog(ctx context.Context, rep *audit.Report, recovered int) string {
	now := s.clock.Now()
	first := rep.Problems[0]
	reason := fmt.Sprintf("audit chain does not verify at start (%d problems; event %d: %s); nothing restored from the audit log",
		len(rep.Problems), first.ID, first.Msg)
	s.env.Pause("system", reason, now)
	s.log.Error("ALARM: "+reason, "problems", len(rep.Problems), "events", rep.Events, "head", rep.Head)
	s.auditData(ctx, now, "system", "audit.chain_broken", "site", reason, rep)
	s.auditData(ctx, now, "system", "safety.pause", "site", reason, s.env.KillSwitch())
	s.raiseAlarm(ctx, now, "audit.chain_broken", SeverityCritical, "site", reason+"; automation paused until a dispatcher resumes")
	return fmt.Sprintf("AUDIT CHAIN BROKEN (%d problems): kill switch engaged, 0 overrides, 0 pins, 0 sessions restored; %d unaudited schedule changes recovered", len(rep.Problems), recovered)
}

// statusAction is the audit action that records a move to a schedule status.
var statusAction = map[storage.ScheduleStatus]string{
	storage.StatusApproved:   "schedule.approve",
	storage.StatusRejected:   "schedule.reject",
	storage.StatusExpired:    "schedule.expire",
	storage.StatusSuperseded: "schedule.supersede",
}

// reconcileScheduleAudit closes the gap a crash can leave between a schedule's stored
// state and its audit trail: the store and the audit log are written one after the
// other, so a process killed in between leaves a proposal or a status change without
// its event. Each missing event is appended now, marked as recovered, with the actor,
// reason and time the schedule itself records. It returns how many it appended.
func (s *Service) reconcileScheduleAudit(ctx context.Context, events []storage.AuditEvent) (int, error) {
	have := map[string]map[string]bool{}
	for _, ev := range events {
		if have[ev.Subject] == nil {
			have[ev.Subject] = map[string]bool{}
		}
		have[ev.Subject][ev.Action] = true
	}
	list, err := s.store.ListSchedules(ctx, storage.Epoch, storage.End, "")
	if err != nil {
		return 0, fmt.Errorf("restore state: list schedules: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	now := s.clock.Now()
	n := 0
	for _, sc := range list {
		subject := fmt.Sprintf("schedule:%d", sc.ID)
		if !have[subject]["schedule.propose"] {
			s.auditData(ctx, now, "system", "schedule.propose", subject,
				fmt.Sprintf("recovered after restart: schedule %d was stored at %s but its proposal was not audited", sc.ID, sc.CreatedAt.Format(time.RFC3339)),
				map[string]any{"recovered": true, "created_at": sc.CreatedAt})
			n++
		}
		action, ok := statusAction[sc.Status]
		if !ok || have[subject][action] {
			continue
		}
		actor := sc.Approver
		if actor == "" {
			actor = "system"
		}
		s.auditData(ctx, now, actor, action, subject,
			fmt.Sprintf("recovered after restart: schedule %d moved to %s at %s (%s) but the change was not audited", sc.ID, sc.Status, sc.DecidedAt.Format(time.RFC3339), sc.Reason),
			map[string]any{"recovered": true, "to": string(sc.Status), "decided_at": sc.DecidedAt, "reason": sc.Reason})
		n++
	}
	return n, nil
}
