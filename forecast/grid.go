package forecast

import (
	"math"
	"time"
)

// grid is a history resampled onto a regular step grid: vals[i] is the interval
// mean over [start+i·step, start+(i+1)·step), NaN where that interval is a gap.
// The grid ends at the cutoff it was built for (len(vals)·step = cutoff − start).
type grid struct {
	start time.Time
	step  time.Duration
	vals  []float64
}

// newGrid resamples p over [cutoff − n·step, cutoff).
func newGrid(p *prepared, cutoff time.Time, step time.Duration, n int) *grid {
	g := &grid{start: cutoff.Add(-time.Duration(n) * step), step: step, vals: make([]float64, n)}
	for i := range g.vals {
		a := g.start.Add(time.Duration(i) * step)
		if v, ok := p.mean(a, a.Add(step)); ok {
			g.vals[i] = v
		} else {
			g.vals[i] = math.NaN()
		}
	}
	return g
}

// index returns the grid index of t and whether t lies exactly on the grid.
func (g *grid) index(t time.Time) (int, bool) {
	d := t.Sub(g.start)
	if d%g.step != 0 {
		return 0, false
	}
	return int(d / g.step), true
}

// time returns the start time of grid index i.
func (g *grid) time(i int) time.Time { return g.start.Add(time.Duration(i) * g.step) }

// stepsPerDay returns Day/step when step divides a day, else 0.
func stepsPerDay(step time.Duration) int {
	if step <= 0 || step > Day || Day%step != 0 {
		return 0
	}
	return int(Day / step)
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}
