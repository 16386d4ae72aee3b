package ipm

import (
	"context"
	"fmt"
	"math"

	"github.com/gridd/gridd/optimizer/lp"
)

// Start is a warm starting point for Solve (Options.Start): typically the
// solution of a similar model solved before (the same problem a few
// steps later, with updated data), mapped onto this model's columns and
// rows. NaN entries are unknown.
//
// The solver moves the point inside the column bounds, takes the reduced
// costs z = c − Aᵀy from the row duals, and raises the complementarity
// products that are too small for a well-centred start: the dual where the
// distance to the bound is wide, the distance (moving x) where the dual is
// large, both otherwise. The products are aimed at a relative duality gap
// of about 0.3 (with none below half the average): from a point that far
// from the optimum the iterations that follow keep long steps, while the
// positions of the columns and the duals carry most of what the previous
// solve found. (Measured on shifted dispatch scenarios: aiming at gaps
// from 0.03 to 1 saves about as many iterations; the smaller gaps stall
// more often on short steps when the point fits the model less well.)
//
// A start whose primal point, once inside its bounds, violates some row
// by more than the row's own magnitude (relative primal infeasibility
// above 1) does not belong to this model and is replaced by the cold
// start.
type Start struct {
	// X holds one value per model column (lp.Model.NumVars). Unknown
	// values take the cold start's initial value (the middle of the
	// column's bounds, its finite bound, or 0); values outside the bounds
	// are moved onto them.
	X []float64
	// Y holds one dual per model row (lp.Model.NumRows), in the convention
	// of lp.Solution.RowDual; unknown duals are taken as 0.
	Y []float64
}

const (
	// warmGap is the relative duality gap a warm start is centred at.
	warmGap = 0.3
	// warmCenter is the smallest complementarity product of a warm point
	// relative to the average product.
	warmCenter = 0.5
	// warmMaxMapInf bounds the relative primal infeasibility of the given
	// point (inside its bounds) for the start to be used.
	warmMaxMapInf = 1.0
)

// check validates a start against the model.
func (st *Start) check(m *lp.Model) error {
	if len(st.X) != m.NumVars() {
		return fmt.Errorf("ipm: start: x has %d values for %d columns", len(st.X), m.NumVars())
	}
	if len(st.Y) != m.NumRows() {
		return fmt.Errorf("ipm: start: y has %d values for %d rows", len(st.Y), m.NumRows())
	}
	for j, v := range st.X {
		if math.IsInf(v, 0) {
			return fmt.Errorf("ipm: start: x[%d] (%s) is %v", j, m.VarName(j), v)
		}
	}
	for i, v := range st.Y {
		if math.IsInf(v, 0) {
			return fmt.Errorf("ipm: start: y[%d] (%s) is %v", i, m.RowName(i), v)
		}
	}
	return nil
}

// warmStart builds the starting iterate from s.opts.Start (see Start) and
// reports whether it is used; when it is not, the caller computes the
// cold start, which overwrites every part of the iterate.
func (s *solver) warmStart() bool {
	p, st := s.p, s.opts.Start
	n := p.n
	// Internal columns: the model's free columns in order, then the
	// ranged rows' slacks.
	nModel := 0
	for j, cj := range p.colStd {
		if cj < 0 {
			continue
		}
		nModel++
		v := st.X[j]
		if math.IsNaN(v) {
			v = coldValue(p, cj)
		}
		s.x[cj] = v
	}
	for j := nModel; j < n; j++ {
		s.x[j] = 0
	}
	p.a.MulVec(s.tmpM, s.x)
	for j := nModel; j < n; j++ {
		// A slack has the single entry −1 in its row (A·x − slack = 0):
		// it takes the row's activity.
		s.x[j] = s.tmpM[p.a.RowIdx[p.a.ColPtr[j]]]
	}
	xScale := 1.0
	for j := 0; j < n; j++ {
		if p.hasL[j] && s.x[j] < p.l[j] {
			s.x[j] = p.l[j]
		}
		if p.hasU[j] && s.x[j] > p.u[j] {
			s.x[j] = p.u[j]
		}
		xScale = math.Max(xScale, math.Abs(s.x[j]))
		s.xl[j], s.xu[j], s.zl[j], s.zu[j] = 0, 0, 0, 0
		if p.hasL[j] {
			s.xl[j] = s.x[j] - p.l[j]
		}
		if p.hasU[j] {
			s.xu[j] = p.u[j] - s.x[j]
		}
	}
	for i, r := range p.rowStd {
		if r >= 0 {
			s.y[r] = st.Y[i]
			if math.IsNaN(s.y[r]) {
				s.y[r] = 0
			}
		}
	}
	// How well the point fits this model's rows.
	s.residuals()
	mapInf := s.pinf
	if !(mapInf <= warmMaxMapInf) {
		s.opts.Logger.Debug("ipm warm start not used: the point does not fit the model", "primal_inf", mapInf)
		return false
	}
	// z = c − Aᵀy, split by sign onto the bounds.
	p.a.MulTransVec(s.tmpN, s.y)
	pobj := 0.0
	for j := 0; j < n; j++ {
		z := p.c[j] - s.tmpN[j]
		pobj += p.c[j] * s.x[j]
		if p.hasL[j] {
			s.zl[j] = math.Max(z, 0)
		}
		if p.hasU[j] {
			s.zu[j] = math.Max(-z, 0)
		}
	}
	if s.nComp > 0 {
		rho := xScale / (1 + s.cNorm)
		s.raisePairs(warmGap*(1+math.Abs(pobj))/float64(s.nComp), rho)
		comp := 0.0
		s.eachComp(func(x, z *float64) { comp += *x * *z })
		s.raisePairs(warmCenter*comp/float64(s.nComp), rho)
	}
	s.residuals()
	ok := !math.IsNaN(s.pobj) && !math.IsNaN(s.dobj) && !math.IsNaN(s.mu) && !math.IsNaN(s.pinf) && !math.IsNaN(s.dinf)
	s.opts.Logger.Debug("ipm warm start", "used", ok, "fit_primal_inf", mapInf, "primal_inf", s.pinf, "dual_inf", s.dinf,
		"gap", s.gap, "mu", s.mu)
	return ok
}

// raisePairs raises every complementarity pair whose product is below mu
// (see balance); rho is the ratio of the primal to the dual scale. x
// follows the slacks, each of which grows by at most half the distance to
// the column's other bound.
func (s *solver) raisePairs(mu, rho float64) {
	p := s.p
	sBal, zBal := math.Sqrt(mu*rho), math.Sqrt(mu/rho)
	for j := 0; j < p.n; j++ {
		if p.hasL[j] {
			room := math.Inf(1)
			if p.hasU[j] {
				room = s.xl[j] + s.xu[j]/2
			}
			s.xl[j], s.zl[j] = balance(s.xl[j], s.zl[j], mu, sBal, zBal, room)
			s.x[j] = p.l[j] + s.xl[j]
			if p.hasU[j] {
				s.xu[j] = p.u[j] - s.x[j]
			}
		}
		if p.hasU[j] {
			room := math.Inf(1)
			if p.hasL[j] {
				room = s.xu[j] + s.xl[j]/2
			}
			s.xu[j], s.zu[j] = balance(s.xu[j], s.zu[j], mu, sBal, zBal, room)
			s.x[j] = p.u[j] - s.xu[j]
			if p.hasL[j] {
				s.xl[j] = s.x[j] - p.l[j]
			}
		}
	}
}

// balance raises a complementarity pair (slack sx, dual z) whose product
// is below mu: the dual alone when the slack is at least sBal, the slack
// alone (by at most room) when the dual is at least zBal, else the slack
// to sBal (at most room) and the dual to mu over it.
func balance(sx, z, mu, sBal, zBal, room float64) (float64, float64) {
	if sx*z >= mu && sx > 0 && z > 0 {
		return sx, z
	}
	switch {
	case sx >= sBal:
		z = math.Max(z, mu/sx)
	case z >= zBal && mu/z <= room:
		sx = mu / z
	default:
		sx = math.Min(math.Max(sx, sBal), room)
		z = math.Max(z, mu/sx)
	}
	return sx, z
}

// coldValue is the cold start's initial value of internal column j before
// its projection onto A·x = b.
func coldValue(p *problem, j int) float64 {
	switch {
	case p.hasL[j] && p.hasU[j]:
		return (p.l[j] + p.u[j]) / 2
	case p.hasL[j]:
		return p.l[j]
	case p.hasU[j]:
		return p.u[j]
	}
	return 0
}

// rerunCold repeats a warm-started solve that ended with status from the
// cold start; the iterations of both runs are counted.
func (s *solver) rerunCold(ctx context.Context, status lp.Status) (lp.Status, error) {
	warmIters := s.iter
	s.opts.Logger.Debug("ipm warm-started solve not optimal; solving from the cold start", "status", status, "iterations", warmIters)
	s.opts.Start = nil
	s.warm = false
	s.best = nil
	s.lastAP, s.lastAD = 0, 0
	status, err := s.run(ctx)
	s.iter += warmIters
	return status, err
}
