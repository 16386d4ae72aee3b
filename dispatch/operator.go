package dispatch

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// Session is a charging session reported by a charging operator. It feeds the next
// cycle: while the charger is connected its departure and energy replace the defaults;
// a future arrival becomes a planned session.
type Session struct {
	DeviceID  string    `json:"device_id"`
	Arrival   time.Time `json:"arrival"`
	Departure time.Time `json:"departure"`
	EnergyKWh float64   `json:"energy_kwh"`
	Actor     string    `json:"actor"`
	Reported  time.Time `json:"reported"`
}

// MaxSessionEnergyKWh bounds a reported session's energy.
const MaxSessionEnergyKWh = 1000

// ReportSession validates and stores a session; errors wrap ErrInvalid and name the field.
func (s *Service) ReportSession(ctx context.Context, ss Session) error {
	d, ok := s.cfg.Device(ss.DeviceID)
	switch {
	case !ok || d.Kind != site.KindEVCharger:
		return fmt.Errorf("%w: device_id: %q is not an EV charger of this site", ErrInvalid, ss.DeviceID)
	case ss.Arrival.IsZero():
		return fmt.Errorf("%w: arrival: is required (RFC 3339)", ErrInvalid)
	case ss.Departure.IsZero():
		return fmt.Errorf("%w: departure: is required (RFC 3339)", ErrInvalid)
	case !ss.Departure.After(ss.Arrival):
		return fmt.Errorf("%w: departure: %s must be after arrival %s", ErrInvalid, ss.Departure.Format(time.RFC3339), ss.Arrival.Format(time.RFC3339))
	case ss.Departure.Sub(ss.Arrival) > 7*24*time.Hour:
		return fmt.Errorf("%w: departure: %s is more than 7 days after arrival", ErrInvalid, ss.Departure.Format(time.RFC3339))
	case math.IsNaN(ss.EnergyKWh) || ss.EnergyKWh <= 0 || ss.EnergyKWh > MaxSessionEnergyKWh:
		return fmt.Errorf("%w: energy_kwh: %v must be in (0, %d]", ErrInvalid, ss.EnergyKWh, MaxSessionEnergyKWh)
	case ss.Actor == "":
		return fmt.Errorf("%w: actor: is required", ErrInvalid)
	}
	at := s.clock.Now()
	if !ss.Departure.After(at) {
		return fmt.Errorf("%w: departure: %s is in the past", ErrInvalid, ss.Departure.Format(time.RFC3339))
	}
	ss.Reported = at
	s.mu.Lock()
	s.sessions[ss.DeviceID] = ss
	s.mu.Unlock()
	s.auditData(ctx, at, ss.Actor, "session.report", "device:"+ss.DeviceID,
		fmt.Sprintf("session on %s: arrival %s, departure %s, %.1f kWh", ss.DeviceID, ss.Arrival.UTC().Format(time.RFC3339), ss.Departure.UTC().Format(time.RFC3339), ss.EnergyKWh), ss)
	return nil
}

// Sessions returns the reported sessions still to depart.
func (s *Service) Sessions() []Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// Subscribe returns a channel receiving every setpoint write as it is recorded, and a
// function to end the subscription. A subscriber that does not keep up loses writes
// (the store keeps them all); buf sizes its buffer.
func (s *Service) Subscribe(buf int) (<-chan storage.SetpointWrite, func()) {
	if buf < 1 {
		buf = 64
	}
	ch := make(chan storage.SetpointWrite, buf)
	s.mu.Lock()
	id := s.nextSub
	s.nextSub++
	s.subs[id] = ch
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		if c, ok := s.subs[id]; ok {
			delete(s.subs, id)
			close(c)
		}
		s.mu.Unlock()
	}
}

func (s *Service) publish(w storage.SetpointWrite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.subs {
		select {
		case ch <- w:
		default:
		}
	}
}

// Session plan states (SessionPlan.Status).
const (
	SessionPluggedIn    = "plugged_in"     // planned by the next cycle with its departure and energy
	SessionFuture       = "future"         // planned from its arrival
	SessionNotPluggedIn = "not_plugged_in" // kept, but nothing is planned until the charger reports a vehicle
	SessionNoReading    = "no_reading"     // the charger has not been read (or did not answer)
)

// SessionPlan says what the next cycle does with a reported session, from the
// charger's last reading.
type SessionPlan struct {
	Status string `json:"status"`
	Text   string `json:"text"`
}

// SessionStatus returns what the next cycle does with session ss.
func (s *Service) SessionStatus(ss Session) SessionPlan {
	at := s.clock.Now()
	s.mu.Lock()
	r, read := s.latest[ss.DeviceID]
	s.mu.Unlock()
	switch {
	case ss.Arrival.After(at):
		return SessionPlan{SessionFuture, fmt.Sprintf("planned from its arrival at %s", ss.Arrival.UTC().Format(time.RFC3339))}
	case !read || r.Stale:
		return SessionPlan{SessionNoReading, fmt.Sprintf("%s has not answered: nothing is planned for it until it does; the session is kept until its departure", ss.DeviceID)}
	case connected(r):
		return SessionPlan{SessionPluggedIn, fmt.Sprintf("%s has a vehicle plugged in: the next cycle plans with this departure and energy", ss.DeviceID)}
	default:
		return SessionPlan{SessionNotPluggedIn, fmt.Sprintf("%s reports no vehicle plugged in: nothing is planned for it until it reports one; the session is kept until its departure", ss.DeviceID)}
	}
}

// SessionOf returns the session reported for a charger.
func (s *Service) SessionOf(deviceID string) (Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[deviceID]
	return ss, ok
}

// CancelSession removes a reported session (audited as session.cancel); the next
// cycle plans the charger from its own readings again.
func (s *Service) CancelSession(ctx context.Context, deviceID, actor, reason string) error {
	if actor == "" || reason == "" {
		return fmt.Errorf("%w: actor and reason are required", ErrInvalid)
	}
	s.mu.Lock()
	ss, ok := s.sessions[deviceID]
	delete(s.sessions, deviceID)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("session on %q: %w", deviceID, storage.ErrNotFound)
	}
	s.auditData(ctx, s.clock.Now(), actor, "session.cancel", "device:"+deviceID, reason, ss)
	return nil
}
