package ipm

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"gonum.org/v1/gonum/floats"

	"github.com/gridd/gridd/optimizer/internal/slab"
	"github.com/gridd/gridd/optimizer/lp"
	"github.com/gridd/gridd/optimizer/sparse"
)

// Options tune a solve. Zero values select the defaults.
type Options struct {
	// GapTol is the relative duality gap to reach; default 1e-6.
	GapTol float64
	// FeasTol is the relative primal and dual infeasibility to reach;
	// default 1e-7.
	FeasTol float64
	// MaxIter bounds the number of iterations; default 200.
	MaxIter int
	// Logger receives one debug record per iteration; nil discards.
	Logger *slog.Logger
	// Start, when set, is a warm starting point (see Start). A point
	// judged poor is replaced by the cold start, and a warm-started solve
	// that ends other than optimal is repeated from the cold start
	// (Solution.Iterations counts both).
	Start *Start
	// LastRows lists model rows whose normal-equation rows are eliminated
	// after all others (sparse.MinimumDegreeLast): the upper level of a
	// nested structure, e.g. the outer limits of a tree of shared limits.
	// It changes the speed of a solve, not its result.
	LastRows []int
}

const (
	stepFactor = 0.9995 // fraction of the step to the boundary
	freeReg    = 1e-8   // primal regularisation for free columns
	// thetaMin bounds Θ = 1/(zl/xl + zu/xu) by 1/thetaMin: columns
	// strictly inside their bounds near the optimum would otherwise make
	// A·Θ·Aᵀ so ill-conditioned that the Newton directions lose the primal
	// feasibility already reached (seen as many short steps at the end).
	thetaMin = 1e-10
	// refineGap: while both the gap and the primal infeasibility exceed
	// it, normal-equation solves are not refined.
	refineGap  = 1e-2
	stallIters = 30 // iterations without 10% progress before giving up
)

// Solve minimises the model with the interior-point method. Algorithmic
// outcomes (optimal, infeasible, stalled, iteration limit) are reported in
// Solution.Status with a nil error; errors are returned for an invalid model,
// a failed factorisation and a cancelled context.
func Solve(ctx context.Context, m *lp.Model, opts Options) (*lp.Solution, error) {
	ws := getWorkspaces()
	defer putWorkspaces(ws)
	return solve(ctx, m, opts, ws)
}

// solve is Solve with the work vectors taken from ws.
func solve(ctx context.Context, m *lp.Model, opts Options, ws *[2]workspace) (*lp.Solution, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	if opts.Start != nil {
		if err := opts.Start.check(m); err != nil {
			return nil, err
		}
	}
	for _, i := range opts.LastRows {
		if i < 0 || i >= m.NumRows() {
			return nil, fmt.Errorf("ipm: Options.LastRows: row %d outside the model's %d rows", i, m.NumRows())
		}
	}
	if opts.GapTol <= 0 {
		opts.GapTol = 1e-6
	}
	if opts.FeasTol <= 0 {
		opts.FeasTol = 1e-7
	}
	if opts.MaxIter <= 0 {
		opts.MaxIter = 200
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	began := time.Now() // set-up timings, logged only
	p, st, err := presolve(m, &ws[0])
	if err != nil {
		return nil, err
	}
	if st != nil {
		return st, nil
	}
	presolved := time.Now()
	s, err := newSolver(p, opts, ws)
	if err != nil {
		return nil, err
	}
	defer func() {
		// The set-up of the normal equations may still run (an early
		// error): it uses ws until it ends.
		if s.awaitNormalEq() == nil {
			s.ne.chol.Release()
		}
	}()
	if opts.Logger.Enabled(ctx, slog.LevelDebug) {
		if err := s.awaitNormalEq(); err != nil {
			return nil, err
		}
		flops, top := s.ne.chol.Flops()
		opts.Logger.Debug("ipm normal equations", "rows", p.m, "columns", p.n, "nnz_a", len(p.a.Val),
			"nnz_l", s.ne.chol.NnzL(), "flops", flops, "top_flops", top,
			"presolve", presolved.Sub(began), "ordering", s.ne.ordering, "symbolic", s.ne.symbolic,
			"setup", time.Since(presolved))
	}
	status, err := s.run(ctx)
	if err != nil {
		return nil, err
	}
	if s.warm && status != lp.Optimal {
		status, err = s.rerunCold(ctx, status)
		if err != nil {
			return nil, err
		}
	}
	return p.postsolve(m, s, status), nil
}

// problem is the presolved model in equality form.
type problem struct {
	m, n       int
	a          *sparse.CSC
	b, c, l, u []float64
	hasL, hasU []bool

	colStd   []int     // model column → internal column, -1 when fixed
	fixedVal []float64 // value of fixed model columns
	objConst float64   // objective offset plus the cost of fixed columns
	rowStd   []int     // model row → internal row, -1 when dropped
}

func presolve(m *lp.Model, ws *workspace) (*problem, *lp.Solution, error) {
	nv, nr := m.NumVars(), m.NumRows()
	p := &problem{colStd: ws.i.Take(nv), fixedVal: ws.f.Take(nv), rowStd: ws.i.Take(nr), objConst: m.Offset}
	// Capacity for every column plus a slack per row, and every entry
	// plus the slacks' entries, so the slices are allocated once.
	p.c = ws.f.Take(nv + nr)[:0]
	p.l = ws.f.Take(nv + nr)[:0]
	p.u = ws.f.Take(nv + nr)[:0]
	p.b = ws.f.Take(nr)[:0]
	ne := m.NumEntries() + nr
	ri, ci, vv := ws.i.Take(ne)[:0], ws.i.Take(ne)[:0], ws.f.Take(ne)[:0]
	for j := 0; j < nv; j++ {
		lo, hi := m.VarBounds(j)
		if lo == hi {
			p.colStd[j] = -1
			p.fixedVal[j] = lo
			p.objConst += m.Cost(j) * lo
			continue
		}
		p.colStd[j] = p.n
		p.n++
		p.c = append(p.c, m.Cost(j))
		p.l = append(p.l, lo)
		p.u = append(p.u, hi)
	}
	for i := 0; i < nr; i++ {
		lo, hi := m.RowBounds(i)
		cols, vals := m.Row(i)
		konst := 0.0
		live := 0
		for k, j := range cols {
			if p.colStd[j] < 0 {
				konst += vals[k] * p.fixedVal[j]
			} else if vals[k] != 0 {
				live++
			}
		}
		if live == 0 || (math.IsInf(lo, -1) && math.IsInf(hi, 1)) {
			p.rowStd[i] = -1
			tol := 1e-9 * (1 + math.Abs(konst))
			if konst < lo-tol || konst > hi+tol {
				// A row that no free column can influence is violated:
				// the model is infeasible as it stands.
				return nil, &lp.Solution{Status: lp.Infeasible, X: append([]float64(nil), p.fixedVal...),
					RowDual: make([]float64, nr), ReducedCost: make([]float64, nv)}, nil
			}
			continue
		}
		r := p.m
		p.rowStd[i] = r
		p.m++
		for k, j := range cols {
			if cj := p.colStd[j]; cj >= 0 && vals[k] != 0 {
				ri = append(ri, r)
				ci = append(ci, cj)
				vv = append(vv, vals[k])
			}
		}
		if lo == hi {
			p.b = append(p.b, lo-konst)
			continue
		}
		// Ranged row: A·x − s = 0 with lo ≤ s ≤ hi.
		p.b = append(p.b, 0)
		ri = append(ri, r)
		ci = append(ci, p.n)
		vv = append(vv, -1)
		p.c = append(p.c, 0)
		p.l = append(p.l, lo-konst)
		p.u = append(p.u, hi-konst)
		p.n++
	}
	a, err := sparse.FromTriplets(p.m, p.n, ri, ci, vv)
	if err != nil {
		return nil, nil, fmt.Errorf("ipm: building constraint matrix: %w", err)
	}
	p.a = a
	p.hasL = make([]bool, p.n)
	p.hasU = make([]bool, p.n)
	for j := 0; j < p.n; j++ {
		p.hasL[j] = !math.IsInf(p.l[j], -1)
		p.hasU[j] = !math.IsInf(p.u[j], 1)
	}
	return p, nil, nil
}

// lastRows marks the internal rows of the model rows given (nil for none).
func (p *problem) lastRows(rows []int) []bool {
	if len(rows) == 0 {
		return nil
	}
	last := make([]bool, p.m)
	for _, i := range rows {
		if r := p.rowStd[i]; r >= 0 {
			last[r] = true
		}
	}
	return last
}

// postsolve maps the internal iterate back to the model's columns and rows.
func (p *problem) postsolve(m *lp.Model, s *solver, status lp.Status) *lp.Solution {
	nv, nr := m.NumVars(), m.NumRows()
	sol := &lp.Solution{
		Status:      status,
		X:           make([]float64, nv),
		RowDual:     make([]float64, nr),
		ReducedCost: make([]float64, nv),
		Iterations:  s.iter,
		Gap:         s.gap,
		PrimalInf:   s.pinf,
		DualInf:     s.dinf,
	}
	for j := 0; j < nv; j++ {
		if cj := p.colStd[j]; cj >= 0 {
			// The iterate meets its bounds only up to the bound residual
			// (within tolerance); report the nearest point inside them.
			sol.X[j] = math.Min(math.Max(s.x[cj], p.l[cj]), p.u[cj])
		} else {
			sol.X[j] = p.fixedVal[j]
		}
	}
	for i := 0; i < nr; i++ {
		if r := p.rowStd[i]; r >= 0 {
			sol.RowDual[i] = s.y[r]
		}
	}
	for j := 0; j < nv; j++ {
		sol.ReducedCost[j] = m.Cost(j)
	}
	for i := 0; i < nr; i++ {
		if y := sol.RowDual[i]; y != 0 {
			cols, vals := m.Row(i)
			for k, j := range cols {
				sol.ReducedCost[j] -= vals[k] * y
			}
		}
	}
	sol.Objective = m.Objective(sol.X)
	sol.DualObjective = s.dobj + p.objConst
	return sol
}

// solver holds the interior-point iterate and work space.
type solver struct {
	p    *problem
	opts Options
	ne   *normalEq
	at   *sparse.CSC // Aᵀ, for A·v computed row by row
	// awaitNormalEq waits for the normal equations' set-up, which runs
	// beside the start (a warm start does not need them), sets ne and
	// returns the set-up's error.
	awaitNormalEq func() error

	// The current iterate: slices of it[cur]. A step writes the next
	// iterate into another of the three buffers, so the best iterate so
	// far (best) is kept without copying.
	x, xl, xu, zl, zu, y []float64
	it                   [3]iterate
	cur                  int
	best                 *iterate

	rp, rl, ru         []float64
	theta, tmpN        []float64
	gl, gu             []float64 // zl/xl, zu/xu this iteration; 0 without the bound
	r0                 []float64 // rd − gl·rl − gu·ru: the iteration's fixed part of r̂
	tmpM, rowScale     []float64
	apPart, adPart     []float64 // per-range step lengths
	sumPart            []float64 // per-range partial sums (sumRange)
	aff, cor, trial    direction
	rxl, rxu, txl, txu []float64 // scaled complementarity right-hand sides (current, trial), see direction

	nComp                           int
	warm                            bool // the iterate started from Options.Start
	lastAP, lastAD                  float64
	bNorm, cNorm, boundNorm         float64
	iter                            int
	pobj, dobj, gap, pinf, dinf, mu float64
}

type direction struct {
	x, xl, xu, zl, zu, y []float64
}

// iterate is one primal-dual point.
type iterate struct {
	x, xl, xu, zl, zu, y []float64
}

// use makes buffer k the current iterate.
func (s *solver) use(k int) {
	s.cur = k
	it := &s.it[k]
	s.x, s.xl, s.xu, s.zl, s.zu, s.y = it.x, it.xl, it.xu, it.zl, it.zu, it.y
}

func newDirection(f *slab.Slab[float64], n, m int) direction {
	return direction{
		x: f.Take(n), xl: f.Take(n), xu: f.Take(n),
		zl: f.Take(n), zu: f.Take(n), y: f.Take(m),
	}
}

func newSolver(p *problem, opts Options, ws *[2]workspace) (*solver, error) {
	// The normal equations' set-up (ordering, symbolic factorisation) runs
	// alongside the allocation of the iterate and work vectors and a warm
	// start (awaitNormalEq).
	at := p.a.Transpose()
	var ne *normalEq
	var neErr error
	setup := make(chan struct{})
	go func() {
		defer close(setup)
		ne, neErr = newNormalEq(p.a, at, p.lastRows(opts.LastRows), &ws[1])
	}()
	n, m := p.n, p.m
	s := &solver{p: p, opts: opts, at: at}
	f := &ws[0].f
	for k := range s.it {
		s.it[k] = iterate{x: f.Take(n), xl: f.Take(n), xu: f.Take(n),
			zl: f.Take(n), zu: f.Take(n), y: f.Take(m)}
	}
	s.use(0)
	for _, v := range []*[]float64{&s.rl, &s.ru, &s.theta, &s.tmpN, &s.gl, &s.gu, &s.r0} {
		*v = f.Take(n)
	}
	s.rp = f.Take(m)
	s.tmpM = f.Take(m)
	s.rowScale = f.Take(m)
	s.aff = newDirection(f, n, m)
	s.cor = newDirection(f, n, m)
	s.trial = newDirection(f, n, m)
	for _, v := range []*[]float64{&s.rxl, &s.rxu, &s.txl, &s.txu} {
		*v = f.Take(n)
	}
	s.bNorm = floats.Norm(p.b, math.Inf(1))
	s.cNorm = floats.Norm(p.c, math.Inf(1))
	for j := 0; j < n; j++ {
		if p.hasL[j] {
			s.nComp++
			s.boundNorm = math.Max(s.boundNorm, math.Abs(p.l[j]))
		}
		if p.hasU[j] {
			s.nComp++
			s.boundNorm = math.Max(s.boundNorm, math.Abs(p.u[j]))
		}
	}
	s.awaitNormalEq = sync.OnceValue(func() error {
		<-setup
		s.ne = ne
		return neErr
	})
	return s, nil
}

// start computes Mehrotra's starting point, or uses the warm start when
// Options.Start is set and its point is accepted; either way the normal
// equations are set up when it returns without error.
func (s *solver) start() error {
	if s.opts.Start != nil {
		if s.warm = s.warmStart(); s.warm {
			return s.awaitNormalEq()
		}
	}
	if err := s.awaitNormalEq(); err != nil {
		return err
	}
	p := s.p
	n := p.n
	for j := 0; j < n; j++ {
		s.theta[j] = 1
		switch {
		case p.hasL[j] && p.hasU[j]:
			s.x[j] = (p.l[j] + p.u[j]) / 2
		case p.hasL[j]:
			s.x[j] = p.l[j]
		case p.hasU[j]:
			s.x[j] = p.u[j]
		default:
			s.x[j] = 0
		}
	}
	if err := s.ne.factor(s.theta, 0); err != nil {
		return fmt.Errorf("ipm: factorising A·Aᵀ: %w", err)
	}
	// x ← x0 + Aᵀ(AAᵀ)⁻¹(b − A·x0): the nearest point on A·x = b.
	p.a.MulVec(s.tmpM, s.x)
	for i := range s.tmpM {
		s.tmpM[i] = p.b[i] - s.tmpM[i]
	}
	s.ne.solve(s.tmpM)
	p.a.MulTransVec(s.tmpN, s.tmpM)
	floats.Add(s.x, s.tmpN)
	// y ← (AAᵀ)⁻¹A·c, z = c − Aᵀy.
	p.a.MulVec(s.y, p.c)
	s.ne.solve(s.y)
	p.a.MulTransVec(s.tmpN, s.y)
	minX, minZ := math.Inf(1), math.Inf(1)
	for j := 0; j < n; j++ {
		z := p.c[j] - s.tmpN[j]
		s.xl[j], s.xu[j], s.zl[j], s.zu[j] = 0, 0, 0, 0
		if p.hasL[j] {
			s.xl[j] = s.x[j] - p.l[j]
			minX = math.Min(minX, s.xl[j])
		}
		if p.hasU[j] {
			s.xu[j] = p.u[j] - s.x[j]
			minX = math.Min(minX, s.xu[j])
		}
		switch {
		case p.hasL[j] && p.hasU[j]:
			s.zl[j] = math.Max(z, 0)
			s.zu[j] = math.Max(-z, 0)
		case p.hasL[j]:
			s.zl[j] = z
		case p.hasU[j]:
			s.zu[j] = -z
		}
		if p.hasL[j] {
			minZ = math.Min(minZ, s.zl[j])
		}
		if p.hasU[j] {
			minZ = math.Min(minZ, s.zu[j])
		}
	}
	if s.nComp == 0 {
		return nil
	}
	dx := math.Max(-1.5*minX, 0)
	dz := math.Max(-1.5*minZ, 0)
	s.shift(dx, dz)
	dot, sumX, sumZ := 0.0, 0.0, 0.0
	s.eachComp(func(x, z *float64) {
		dot += *x * *z
		sumX += *x
		sumZ += *z
	})
	if sumZ > 0 && sumX > 0 && dot > 0 {
		s.shift(0.5*dot/sumZ, 0.5*dot/sumX)
	}
	// Guard degenerate data (e.g. c = 0, or a point exactly on the bounds).
	floor := 1e-2 * (1 + math.Max(s.boundNorm, s.bNorm))
	zfloor := 1e-2 * (1 + s.cNorm)
	s.eachComp(func(x, z *float64) {
		if !(*x >= floor*1e-4) {
			*x = floor
		}
		if !(*z >= zfloor*1e-4) {
			*z = zfloor
		}
	})
	return nil
}

func (s *solver) shift(dx, dz float64) {
	s.eachComp(func(x, z *float64) {
		*x += dx
		*z += dz
	})
}

// eachComp visits every complementary pair (xl, zl) and (xu, zu).
func (s *solver) eachComp(f func(x, z *float64)) {
	for j := 0; j < s.p.n; j++ {
		if s.p.hasL[j] {
			f(&s.xl[j], &s.zl[j])
		}
		if s.p.hasU[j] {
			f(&s.xu[j], &s.zu[j])
		}
	}
}

// residuals refreshes rp, rl, ru, the dual residual's norm, the objectives and the measures, and
// the Newton system's scaling at the current point: Θ, gl, gu and r0 (see
// direction).
func (s *solver) residuals() {
	p := s.p
	// Rows in parallel: rp = b − A·x, and each row's own scale, 1 + the
	// larger of its right-hand side and its largest term at the current
	// point.
	rowScale := s.rowScale
	forRange(p.m, func(_, lo, hi int) {
		cp, ci, v := s.at.ColPtr, s.at.RowIdx, s.at.Val
		for i := lo; i < hi; i++ {
			sum, big := 0.0, math.Abs(p.b[i])
			for q := cp[i]; q < cp[i+1]; q++ {
				t := v[q] * s.x[ci[q]]
				sum += t
				if a := math.Abs(t); a > big {
					big = a
				}
			}
			s.rp[i] = p.b[i] - sum
			rowScale[i] = 1 + big
		}
	})
	// Columns in parallel: rl, ru, and the sums of the complementarity
	// products, of b·y's bound terms, of c·x, the largest relative bound
	// residual and the largest dual residual rd = c − Aᵀy − zl + zu (not
	// kept: the Newton system needs it only inside r0).
	var sums [5]float64
	s.sumPart = sumRange(p.n, 5, s.sumPart, sums[:], func(lo, hi int, acc []float64) {
		a := p.a
		cp, ri, v := a.ColPtr, a.RowIdx, a.Val
		comp, dob, pob, rb := 0.0, 0.0, 0.0, 0.0 // bound residuals, each relative to its own bound
		rdMax := 0.0                             // largest dual residual
		for j := lo; j < hi; j++ {
			aty := 0.0
			for q := cp[j]; q < cp[j+1]; q++ {
				aty += v[q] * s.y[ri[q]]
			}
			rd := p.c[j] - aty - s.zl[j] + s.zu[j]
			if a := math.Abs(rd); a > rdMax || a != a {
				rdMax = a
			}
			pob += p.c[j] * s.x[j]
			rl, ru, gl, gu := 0.0, 0.0, 0.0, 0.0
			if p.hasL[j] {
				rl = p.l[j] - s.x[j] + s.xl[j]
				// The largest |rl|/(1+|l|), dividing only for a new maximum.
				if t, sc := math.Abs(rl), 1+math.Abs(p.l[j]); t > rb*sc || t != t {
					rb = t / sc
				}
				comp += s.xl[j] * s.zl[j]
				dob += p.l[j] * s.zl[j]
				gl = s.zl[j] / s.xl[j]
			}
			if p.hasU[j] {
				ru = p.u[j] - s.x[j] - s.xu[j]
				if t, sc := math.Abs(ru), 1+math.Abs(p.u[j]); t > rb*sc || t != t {
					rb = t / sc
				}
				comp += s.xu[j] * s.zu[j]
				dob -= p.u[j] * s.zu[j]
				gu = s.zu[j] / s.xu[j]
			}
			s.rl[j], s.ru[j] = rl, ru
			// The Newton system's scaling for this point (see direction).
			t := gl + gu
			switch {
			case t == 0:
				t = freeReg
			case t < thetaMin:
				t = thetaMin
			}
			s.theta[j] = 1 / t
			s.gl[j], s.gu[j] = gl, gu
			s.r0[j] = rd - gl*rl - gu*ru
		}
		acc[0], acc[1], acc[2] = comp, dob, pob
		// The largest bound residual rides along as a fourth "sum": each
		// range stores its own maximum, collected below.
		acc[3] = rb
		acc[4] = rdMax
	})
	comp := sums[0]
	s.dobj = floats.Dot(p.b, s.y) + sums[1]
	s.pobj = sums[2]
	rb := 0.0
	rdMax := 0.0
	for c := 3; c < len(s.sumPart); c += 5 {
		if v := s.sumPart[c]; v > rb || v != v {
			rb = v
		}
		if v := s.sumPart[c+1]; v > rdMax || v != v {
			rdMax = v
		}
	}
	s.mu = 0
	if s.nComp > 0 {
		s.mu = comp / float64(s.nComp)
	}
	rr := 0.0
	for i, r := range s.rp {
		rr = math.Max(rr, math.Abs(r)/rowScale[i])
	}
	s.pinf = math.Max(rr, rb)
	s.dinf = rdMax / (1 + s.cNorm)
	s.gap = math.Abs(s.pobj-s.dobj) / (1 + math.Abs(s.pobj))
}

func (s *solver) run(ctx context.Context) (lp.Status, error) {
	if err := s.start(); err != nil {
		return 0, err
	}
	p := s.p
	best := math.Inf(1)
	bestIter := 0
	for s.iter = 0; ; s.iter++ {
		s.residuals()
		s.opts.Logger.Debug("ipm iteration", "iter", s.iter, "ap", s.lastAP, "ad", s.lastAD, "pobj", s.pobj, "dobj", s.dobj,
			"pinf", s.pinf, "dinf", s.dinf, "gap", s.gap, "mu", s.mu)
		if math.IsNaN(s.pobj) || math.IsNaN(s.dobj) || math.IsNaN(s.mu) {
			s.restoreBest()
			return lp.Stalled, nil
		}
		if s.pinf <= s.opts.FeasTol && s.dinf <= s.opts.FeasTol && s.gap <= s.opts.GapTol {
			return lp.Optimal, nil
		}
		if s.iter >= s.opts.MaxIter {
			s.restoreBest()
			return lp.IterationLimit, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("ipm: solve cancelled after %d iterations: %w", s.iter, err)
		}
		merit := math.Max(math.Max(s.pinf/s.opts.FeasTol, s.dinf/s.opts.FeasTol), s.gap/s.opts.GapTol)
		if merit < best {
			if merit < 0.9*best {
				bestIter = s.iter
			}
			best = merit
			s.saveBest()
		} else if s.iter-bestIter > stallIters {
			s.restoreBest()
			return lp.Stalled, nil
		}
		// A dual objective running away while the primal stays
		// infeasible is the interior-point signature of infeasibility.
		if s.pinf > s.opts.FeasTol && s.dinf <= s.opts.FeasTol && s.dobj > 1e10*(1+math.Abs(s.pobj)) {
			return lp.Infeasible, nil
		}

		// residuals set Θ, gl, gu and r0 for this point. Far from the
		// optimum A·Θ·Aᵀ is well conditioned and the solves are not
		// checked for refinement.
		s.ne.noRefine = s.gap > refineGap && s.pinf > refineGap
		if err := s.ne.factor(s.theta, 0); err != nil {
			return 0, fmt.Errorf("ipm: iteration %d: %w", s.iter, err)
		}

		// Predictor (affine-scaling) direction.
		ap, ad := s.direction(&s.aff, nil, nil)
		muAff := 0.0
		if s.nComp > 0 {
			// Branch-free: slacks, duals and steps are zero for absent bounds.
			var sum [1]float64
			s.sumPart = sumRange(p.n, 1, s.sumPart, sum[:], func(lo, hi int, acc []float64) {
				xl, xu, zl, zu := s.xl[lo:hi], s.xu[lo:hi], s.zl[lo:hi], s.zu[lo:hi]
				dxl, dxu, dzl, dzu := s.aff.xl[lo:hi], s.aff.xu[lo:hi], s.aff.zl[lo:hi], s.aff.zu[lo:hi]
				m := 0.0
				for j := range xl {
					m += (xl[j]+ap*dxl[j])*(zl[j]+ad*dzl[j]) + (xu[j]+ap*dxu[j])*(zu[j]+ad*dzu[j])
				}
				acc[0] = m
			})
			muAff = sum[0] / float64(s.nComp)
		}
		sigma := 0.0
		if s.mu > 0 {
			sigma = math.Pow(muAff/s.mu, 3)
		}
		sigma = math.Min(math.Max(sigma, 0), 1)

		// Corrector: centring plus the second-order term.
		rxl, rxu := s.rxl, s.rxu
		forRange(p.n, func(_, lo, hi int) {
			for j := lo; j < hi; j++ {
				rxl[j], rxu[j] = 0, 0
				if p.hasL[j] {
					rxl[j] = (sigma*s.mu-s.aff.xl[j]*s.aff.zl[j])/s.xl[j] - s.zl[j]
				}
				if p.hasU[j] {
					rxu[j] = (sigma*s.mu-s.aff.xu[j]*s.aff.zu[j])/s.xu[j] - s.zu[j]
				}
			}
		})
		ap, ad = s.direction(&s.cor, rxl, rxu)
		if s.gap > corrGapMin*s.opts.GapTol {
			ap, ad = s.centralityCorrectors(sigma*s.mu, ap, ad)
		}
		ap = math.Min(1, stepFactor*ap)
		ad = math.Min(1, stepFactor*ad)
		s.lastAP, s.lastAD = ap, ad
		// The next iterate goes to a buffer that holds neither the
		// current nor the best iterate.
		nxt := 0
		for nxt == s.cur || &s.it[nxt] == s.best {
			nxt++
		}
		to := &s.it[nxt]
		forRange(p.n, func(_, lo, hi int) {
			floats.AddScaledTo(to.x[lo:hi], s.x[lo:hi], ap, s.cor.x[lo:hi])
			floats.AddScaledTo(to.xl[lo:hi], s.xl[lo:hi], ap, s.cor.xl[lo:hi])
			floats.AddScaledTo(to.xu[lo:hi], s.xu[lo:hi], ap, s.cor.xu[lo:hi])
			floats.AddScaledTo(to.zl[lo:hi], s.zl[lo:hi], ad, s.cor.zl[lo:hi])
			floats.AddScaledTo(to.zu[lo:hi], s.zu[lo:hi], ad, s.cor.zu[lo:hi])
		})
		floats.AddScaledTo(to.y, s.y, ad, s.cor.y)
		s.use(nxt)
	}
}

// Gondzio's multiple centrality correctors: aim at longer steps by moving
// the complementarity products of a trial point that the current direction
// would reach into [betaMin, betaMax]·target.
const (
	maxCorrectors = 3
	corrAspire    = 0.3 // aspired step increase
	corrAccept    = 0.1 // fraction of the aspired increase a corrector must gain
	betaMin       = 0.1
	betaMax       = 10
	// Correctors keep iterates central; near the optimum that would leave
	// inactive columns short of their bounds, so they stop once the gap
	// is within corrGapMin times its tolerance.
	corrGapMin = 10
)

// centralityCorrectors improves s.cor (with right-hand sides s.rxl,
// s.rxu and step lengths ap, ad) by up to maxCorrectors correctors and
// returns the step lengths of the direction kept in s.cor.
func (s *solver) centralityCorrectors(target, ap, ad float64) (float64, float64) {
	p := s.p
	if !(target > 0) || s.nComp == 0 {
		return ap, ad
	}
	cLo, cHi := betaMin*target, betaMax*target
	for k := 0; k < maxCorrectors && (ap < 1 || ad < 1); k++ {
		tp := math.Min(1, ap+corrAspire)
		td := math.Min(1, ad+corrAspire)
		d := &s.cor
		forRange(p.n, func(_, lo, hi int) {
			rxl, rxu, txl, txu := s.rxl[lo:hi], s.rxu[lo:hi], s.txl[lo:hi], s.txu[lo:hi]
			xl, xu, zl, zu := s.xl[lo:hi], s.xu[lo:hi], s.zl[lo:hi], s.zu[lo:hi]
			dxl, dxu, dzl, dzu := d.xl[lo:hi], d.xu[lo:hi], d.zl[lo:hi], d.zu[lo:hi]
			hasL, hasU := p.hasL[lo:hi], p.hasU[lo:hi]
			for j := range txl {
				txl[j], txu[j] = rxl[j], rxu[j]
				if hasL[j] {
					if c := corrTerm((xl[j]+tp*dxl[j])*(zl[j]+td*dzl[j]), cLo, cHi); c != 0 {
						txl[j] += c / xl[j]
					}
				}
				if hasU[j] {
					if c := corrTerm((xu[j]+tp*dxu[j])*(zu[j]+td*dzu[j]), cLo, cHi); c != 0 {
						txu[j] += c / xu[j]
					}
				}
			}
		})
		ap2, ad2 := s.direction(&s.trial, s.txl, s.txu)
		if ap2+ad2 < ap+ad+corrAccept*corrAspire {
			break
		}
		s.cor, s.trial = s.trial, s.cor
		s.rxl, s.txl = s.txl, s.rxl
		s.rxu, s.txu = s.txu, s.rxu
		ap, ad = ap2, ad2
	}
	return ap, ad
}

// corrTerm moves a complementarity product v into [lo, hi], by at most hi
// downwards.
func corrTerm(v, lo, hi float64) float64 {
	if v < lo {
		return lo - v
	}
	if v > hi {
		return max(hi-v, -hi)
	}
	return 0
}

// saveBest remembers the current iterate as the best so far.
func (s *solver) saveBest() { s.best = &s.it[s.cur] }

// restoreBest returns to the best iterate (if one was saved) and refreshes
// the residuals and measures reported for it.
func (s *solver) restoreBest() {
	if s.best == nil {
		return
	}
	for k := range s.it {
		if &s.it[k] == s.best {
			s.use(k)
		}
	}
	s.residuals()
}

// direction solves the Newton system for the current residuals and the
// complementarity right-hand sides, writing the step into d, and returns the
// largest primal and dual step lengths in [0, 1] that keep the bound slacks
// and their duals non-negative. The right-hand sides come scaled by the
// slacks: ql = rl_c/xl and qu = ru_c/xu for the complementarity residuals
// rl_c = μ-target − xl·zl − …, zero for an absent bound. Nil ql and qu
// select the predictor's, −zl and −zu (rl_c = −xl·zl).
//
// With gl = zl/xl, gu = zu/xu and r0 = rd − gl·rl − gu·ru (fixed within an
// iteration, see run), the reduced right-hand side is r̂ = r0 − ql + qu,
// Δy solves A·Θ·Aᵀ·Δy = rp + A·Θ·r̂, Δx = Θ·(AᵀΔy − r̂), Δxl = Δx − rl,
// Δxu = ru − Δx, Δzl = ql − gl·Δxl and Δzu = qu − gu·Δxu.
func (s *solver) direction(d *direction, ql, qu []float64) (ap, ad float64) {
	p := s.p
	n := p.n
	pred := ql == nil
	rl, ru, zl, zu := s.rl[:n], s.ru[:n], s.zl[:n], s.zu[:n]
	xl, xu, hasL, hasU := s.xl[:n], s.xu[:n], p.hasL[:n], p.hasU[:n]
	gl, gu, r0, theta, tmp := s.gl[:n], s.gu[:n], s.r0[:n], s.theta[:n], s.tmpN[:n]
	if !pred {
		ql, qu = ql[:n], qu[:n]
	}
	forRange(n, func(_, lo, hi int) {
		if pred {
			for j := lo; j < hi; j++ {
				tmp[j] = theta[j] * (r0[j] + zl[j] - zu[j])
			}
			return
		}
		for j := lo; j < hi; j++ {
			tmp[j] = theta[j] * (r0[j] - ql[j] + qu[j])
		}
	})
	mulTrans(s.at, d.y, s.tmpN) // A·(Θ·r̂), rows in parallel
	for i := range d.y {
		d.y[i] += s.rp[i]
	}
	s.ne.solve(d.y)
	mulTrans(p.a, d.x, d.y)
	dX, dxl, dxu, dzl, dzu := d.x[:n], d.xl[:n], d.xu[:n], d.zl[:n], d.zu[:n]
	if parts := numParts(n); len(s.apPart) != parts {
		s.apPart, s.adPart = make([]float64, parts), make([]float64, parts)
	}
	aps, ads := s.apPart, s.adPart
	forRange(n, func(k, lo, hi int) {
		ap, ad := 1.0, 1.0
		// Ratio tests without a division per negative component: -v/dv <
		// step ⇔ v < -step·dv for dv < 0, and v ≥ 0 makes the test false
		// for dv ≥ 0, so one well-predicted comparison remains and the
		// division runs only when the step shrinks. Without a bound, its
		// slack, dual, gl (gu) and q are zero and so are its steps.
		for j := lo; j < hi; j++ {
			dx := theta[j]*dX[j] - tmp[j]
			dX[j] = dx
			var a, b, qa, qb float64
			if hasL[j] {
				a = dx - rl[j]
			}
			if hasU[j] {
				b = ru[j] - dx
			}
			if pred {
				qa, qb = -zl[j], -zu[j]
			} else {
				qa, qb = ql[j], qu[j]
			}
			dz := qa - gl[j]*a
			dzl[j] = dz
			dxl[j] = a
			if xl[j] < -ap*a {
				ap = -xl[j] / a
			}
			if zl[j] < -ad*dz {
				ad = -zl[j] / dz
			}
			dz = qb - gu[j]*b
			dzu[j] = dz
			dxu[j] = b
			if xu[j] < -ap*b {
				ap = -xu[j] / b
			}
			if zu[j] < -ad*dz {
				ad = -zu[j] / dz
			}
		}
		aps[k], ads[k] = ap, ad
	})
	ap, ad = 1, 1
	for k := range aps {
		ap = min(ap, aps[k])
		ad = min(ad, ads[k])
	}
	return ap, ad
}
