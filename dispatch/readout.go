package dispatch

import (
	"context"
	"math"
	"time"

	"github.com/gridd/gridd/fieldbus"
)

// LatestValue returns point of device id as the last poll read it (by the cycle or
// the real-time layer) and when; ok is false when the device has not been read, did
// not answer, or the point was not read with good quality. It reads no device.
func (s *Service) LatestValue(id, point string) (v float64, at time.Time, ok bool) {
	s.mu.Lock()
	r, found := s.latest[id]
	s.mu.Unlock()
	if !found || r.Stale {
		return 0, r.Time, false
	}
	pv, found := r.Value(point)
	if !found || pv.Quality != fieldbus.Good || math.IsNaN(pv.Value) || math.IsInf(pv.Value, 0) {
		return 0, r.Time, false
	}
	return pv.Value, r.Time, true
}

// RootMeter returns the ID of the meter at the root node ("" without one).
func (s *Service) RootMeter() string { return s.rootMeter() }

// PlanImportKW returns the grid import (kW, export negative) the approved schedule in
// force at time at plans for the step covering at; ok is false without one.
func (s *Service) PlanImportKW(ctx context.Context, at time.Time) (float64, bool, error) {
	sched, err := s.InForce(ctx, at)
	if err != nil || sched == nil {
		return 0, false, err
	}
	doc, err := s.planOf(sched)
	if err != nil || doc.Plan == nil {
		return 0, false, err
	}
	k := int(at.Sub(sched.Start) / (time.Duration(sched.StepMinutes) * time.Minute))
	if sched.StepMinutes <= 0 || k < 0 || k >= len(doc.Plan.GridImportKW) {
		return 0, false, nil
	}
	v := doc.Plan.GridImportKW[k]
	if k < len(doc.Plan.GridExportKW) {
		v -= doc.Plan.GridExportKW[k]
	}
	return v, true, nil
}
