package district

import (
	"fmt"
	"time"

	"github.com/gridd/gridd/optimizer"
)

// Shift maps a site's latest scenario onto a coordination horizon of steps
// steps from start: step t of the result is step t+offset of scn, offset =
// (start − scn.Start)/step ≥ 0; steps past the scenario's horizon repeat its
// last step (prices, forecasts, caps); EV sessions move by the offset and
// those already gone are dropped; batteries keep the scenario's initial SoC.
// The step lengths must agree and start must lie on the scenario's step
// grid, at or after its start.
func Shift(scn *optimizer.Scenario, start time.Time, steps int) (*optimizer.Scenario, error) {
	step := time.Duration(scn.StepMinutes) * time.Minute
	d := start.Sub(scn.Start)
	if d < 0 || d%step != 0 {
		return nil, fmt.Errorf("coordination start %s is not on the site's step grid from %s (%d-minute steps)",
			start.UTC().Format(time.RFC3339), scn.Start.UTC().Format(time.RFC3339), scn.StepMinutes)
	}
	if steps <= 0 || steps > optimizer.MaxSteps {
		return nil, fmt.Errorf("coordination horizon %d steps: want 1..%d", steps, optimizer.MaxSteps)
	}
	off := int(d / step)
	if off >= scn.Steps {
		return nil, fmt.Errorf("the site's latest plan (from %s, %d steps) ends before the coordination starts at %s",
			scn.Start.UTC().Format(time.RFC3339), scn.Steps, start.UTC().Format(time.RFC3339))
	}
	if off == 0 && steps == scn.Steps {
		return scn, nil
	}
	row := func(v []float64) []float64 {
		if len(v) == 0 {
			return nil
		}
		out := make([]float64, steps)
		for t := range out {
			out[t] = v[min(t+off, len(v)-1)]
		}
		return out
	}
	c := *scn
	c.Start, c.Steps = start, steps
	c.Grid.ImportPrice, c.Grid.ExportPrice = row(scn.Grid.ImportPrice), row(scn.Grid.ExportPrice)
	c.Grid.PeakMarginKW = row(scn.Grid.PeakMarginKW)
	c.Grid.ImportCapKW, c.Grid.ExportCapKW = row(scn.Grid.ImportCapKW), row(scn.Grid.ExportCapKW)
	c.Loads = make([]optimizer.Load, len(scn.Loads))
	for i, l := range scn.Loads {
		l.ForecastKW = row(l.ForecastKW)
		c.Loads[i] = l
	}
	c.PV = make([]optimizer.PV, len(scn.PV))
	for i, p := range scn.PV {
		p.ForecastKW = row(p.ForecastKW)
		c.PV[i] = p
	}
	c.EVSessions = nil
	for _, e := range scn.EVSessions {
		e.ArrivalStep = max(0, e.ArrivalStep-off)
		e.DepartureStep -= off
		if e.DepartureStep <= 0 {
			continue
		}
		c.EVSessions = append(c.EVSessions, e)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("shifted scenario: %w", err)
	}
	return &c, nil
}
