// Package clock provides the injected time source used everywhere time matters.
//
// Production code takes a Clock instead of calling time.Now, so that replay,
// the accelerated demo and tests run in simulated time.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sim is a manually driven clock, safe for concurrent use.
type Sim struct {
	mu  sync.Mutex
	now time.Time
}

// NewSim returns a simulated clock set to t.
func NewSim(t time.Time) *Sim { return &Sim{now: t} }

// Now returns the simulated time.
func (s *Sim) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Set moves the clock to t (forwards or backwards).
func (s *Sim) Set(t time.Time) {
	s.mu.Lock()
	s.now = t
	s.mu.Unlock()
}

// Advance moves the clock forward by d and returns the new time.
func (s *Sim) Advance(d time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = s.now.Add(d)
	return s.now
}
