package dispatch

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/gridd/gridd/storage"
)

// Alarm is a condition a dispatcher should see and acknowledge: a device lost for
// control, a limit the real-time layer could not keep, a write the device ignored.
// An alarm is raised once while its condition lasts and cleared when it ends; every
// raise, clear and acknowledgement is an audit event.
type Alarm struct {
	// Key identifies the condition, e.g. "control.lost:bess-1".
	Key      string    `json:"key"`
	Severity string    `json:"severity"` // "critical", "warning"
	Subject  string    `json:"subject"`  // "device:bess-1", "node:feeder-a", "site"
	Text     string    `json:"text"`
	Since    time.Time `json:"since"`
	// Active is false once the condition has ended (kept until acknowledged).
	Active    bool      `json:"active"`
	Cleared   time.Time `json:"cleared,omitempty"`
	Acked     bool      `json:"acked"`
	AckedBy   string    `json:"acked_by,omitempty"`
	AckReason string    `json:"ack_reason,omitempty"`
}

// Alarm severities.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// raiseAlarm raises the alarm key unless it is already active; it returns whether it
// was newly raised.
func (s *Service) raiseAlarm(ctx context.Context, at time.Time, key, severity, subject, text string) bool {
	s.mu.Lock()
	a, ok := s.alarms[key]
	if ok && a.Active {
		s.mu.Unlock()
		return false
	}
	a = &Alarm{Key: key, Severity: severity, Subject: subject, Text: text, Since: at, Active: true}
	s.alarms[key] = a
	s.mu.Unlock()
	s.log.Warn("alarm", "key", key, "severity", severity, "text", text)
	s.auditData(ctx, at, "system", "alarm.raise", subject, text, map[string]string{"key": key, "severity": severity})
	return true
}

// clearAlarm ends the alarm key's condition; an acknowledged alarm is removed, an
// unacknowledged one stays listed as inactive until acknowledged.
func (s *Service) clearAlarm(ctx context.Context, at time.Time, key, text string) {
	s.mu.Lock()
	a, ok := s.alarms[key]
	if !ok || !a.Active {
		s.mu.Unlock()
		return
	}
	a.Active, a.Cleared = false, at
	if a.Acked {
		delete(s.alarms, key)
	}
	subject := a.Subject
	s.mu.Unlock()
	s.auditData(ctx, at, "system", "alarm.clear", subject, text, map[string]string{"key": key})
}

// Alarms returns the alarms, active first, then by time.
func (s *Service) Alarms() []Alarm {
	s.mu.Lock()
	out := make([]Alarm, 0, len(s.alarms))
	for _, a := range s.alarms {
		out = append(out, *a)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Active != out[j].Active {
			return out[i].Active
		}
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// AckAlarm acknowledges an alarm on behalf of actor, with a reason; an inactive
// alarm is removed once acknowledged.
func (s *Service) AckAlarm(ctx context.Context, key, actor, reason string) error {
	if actor == "" || reason == "" {
		return fmt.Errorf("%w: actor and reason are required", ErrInvalid)
	}
	at := s.clock.Now()
	s.mu.Lock()
	a, ok := s.alarms[key]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("alarm %q: %w", key, storage.ErrNotFound)
	}
	a.Acked, a.AckedBy, a.AckReason = true, actor, reason
	subject := a.Subject
	if !a.Active {
		delete(s.alarms, key)
	}
	s.mu.Unlock()
	s.auditData(ctx, at, actor, "alarm.ack", subject, reason, map[string]string{"key": key})
	return nil
}
