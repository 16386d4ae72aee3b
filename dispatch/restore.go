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
func (s *Service) RestoreState(ctx context.Context) (string, error) {
	list, err := s.store.ListAudit(ctx, storage.Epoch, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		return "", fmt.Errorf("restore state: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	var ks *safety.KillSwitch
	overrides := map[int64]safety.Override{}
	pins := map[string]Pin{}
	sessions := map[string]Session{}
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
		case "session.report":
			var ss Session
			if json.Unmarshal(e.Data, &ss) == nil {
				sessions[ss.DeviceID] = ss
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
	nPins, nSess := len(s.pins), len(s.sessions)
	s.mu.Unlock()
	sum := fmt.Sprintf("kill switch %s, %d overrides, %d pins, %d sessions restored from the audit log", map[bool]string{true: "engaged", false: "released"}[s.env.KillSwitch().Engaged], nOv, nPins, nSess)
	return sum, nil
}
