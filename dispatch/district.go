package dispatch

import (
	"context"
	"time"

	"github.com/gridd/gridd/optimizer"
)

// keepBase remembers the cycle's scenario before external limits narrow it: the
// district coordinator asks the site to re-plan against shared limits, which its own
// district caps must not pre-empt.
func (s *Service) keepBase(scn *optimizer.Scenario, at time.Time) {
	c := *scn
	c.Grid.ImportCapKW, c.Grid.ExportCapKW = nil, nil
	// Own copies of the lists: pins filter and extend the cycle's lists in place.
	c.Nodes = append([]optimizer.Node(nil), scn.Nodes...)
	c.Loads = append([]optimizer.Load(nil), scn.Loads...)
	c.PV = append([]optimizer.PV(nil), scn.PV...)
	c.Batteries = append([]optimizer.Battery(nil), scn.Batteries...)
	c.EVSessions = append([]optimizer.EVSession(nil), scn.EVSessions...)
	s.mu.Lock()
	s.districtBase, s.districtBaseAt = &c, at
	s.mu.Unlock()
}

// DistrictScenario returns the latest cycle's scenario (nil before the first) with
// every external limit in force applied except the district coordinator's own caps,
// for a district round to re-plan against: the limits of the grid operator and the
// dispatch room still hold. The caller must not modify the scenario's slices.
func (s *Service) DistrictScenario(ctx context.Context) *optimizer.Scenario {
	s.mu.Lock()
	base, at := s.districtBase, s.districtBaseAt
	s.mu.Unlock()
	if base == nil {
		return nil
	}
	c := *base // applyLimitsOf sets new cap slices; the lists are not modified
	s.applyLimitsOf(ctx, &c, at, LimitSourceDistrict)
	return &c
}
