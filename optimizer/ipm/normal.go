package ipm

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/gridd/gridd/optimizer/sparse"
)

// normalEq assembles and factors M = A·Θ·Aᵀ for a fixed A and changing
// diagonal Θ. The pattern of M, its fill-reducing ordering and the symbolic
// factorisation are computed once; each factor call only rebuilds values.
type normalEq struct {
	m     int
	perm  []int // perm[k] = original row placed k-th
	iperm []int

	// Upper triangle of P·M·Pᵀ in CSC form.
	cp, ri []int
	val    []float64
	diag   []int // position of each diagonal entry in val

	// Entry e of val is Σ θ[gatherCol[k]]·gatherVal[k] over k in
	// [gatherPtr[e], gatherPtr[e+1]), terms in ascending column order, so
	// entries are assembled independently (in parallel) and always in the
	// same order.
	gatherPtr []int
	gatherCol []int32
	gatherVal []float64

	chol *sparse.Cholesky

	work, res, b, c, trial []float64

	ordering, symbolic time.Duration // set-up timings, logged only

	// noRefine skips the residual check and refinement of solves (the
	// solver sets it while the iterate is far from optimal, where the
	// factor's accuracy does not limit progress).
	noRefine bool
}

func newNormalEq(a, at *sparse.CSC, last []bool, ws *workspace) (*normalEq, error) {
	m := a.Rows

	// Full symmetric pattern of A·Aᵀ, one sorted list per row.
	mark := ws.i.Take(m)
	for i := range mark {
		mark[i] = -1
	}
	adjPtr := ws.i.Take(m + 1)
	adj := ws.adj[:0]
	defer func() { ws.adj = adj[:0] }()
	for i := 0; i < m; i++ {
		mark[i] = i
		adj = append(adj, i)
		for p := at.ColPtr[i]; p < at.ColPtr[i+1]; p++ {
			j := at.RowIdx[p]
			for q := a.ColPtr[j]; q < a.ColPtr[j+1]; q++ {
				if r := a.RowIdx[q]; mark[r] != i {
					mark[r] = i
					adj = append(adj, r)
				}
			}
		}
		adjPtr[i+1] = len(adj)
	}
	t0 := time.Now()
	perm := sparse.MinimumDegreeLast(m, adjPtr, adj, last)
	ordering := time.Since(t0)
	if len(perm) != m {
		return nil, fmt.Errorf("ipm: ordering returned %d of %d rows", len(perm), m)
	}
	iperm := ws.i.Take(m)
	for k, i := range perm {
		iperm[i] = k
	}

	// Permuted upper triangle: entry (iperm[i], iperm[r]) kept when row ≤ column.
	count := ws.i.Take(m + 1)
	for i := 0; i < m; i++ {
		a0 := iperm[i]
		for _, r := range adj[adjPtr[i]:adjPtr[i+1]] {
			if b0 := iperm[r]; a0 <= b0 {
				count[b0+1]++
			}
		}
	}
	for k := 0; k < m; k++ {
		count[k+1] += count[k]
	}
	cp := count
	ri := ws.i.Take(cp[m])
	next := ws.i.Take(m)
	copy(next, cp[:m])
	for i := 0; i < m; i++ {
		a0 := iperm[i]
		for _, r := range adj[adjPtr[i]:adjPtr[i+1]] {
			if b0 := iperm[r]; a0 <= b0 {
				ri[next[b0]] = a0
				next[b0]++
			}
		}
	}
	diag := ws.i.Take(m)
	for k := 0; k < m; k++ {
		col := ri[cp[k]:cp[k+1]]
		sort.Ints(col)
		diag[k] = cp[k] + len(col) - 1 // the diagonal is the largest row index
	}
	find := func(row, col int) int {
		c := ri[cp[col]:cp[col+1]]
		k := sort.SearchInts(c, row)
		return cp[col] + k
	}

	ne := &normalEq{m: m, perm: perm, iperm: iperm, cp: cp, ri: ri, diag: diag, val: ws.f.Take(len(ri))}
	// The symbolic factorisation runs alongside the gather lists below.
	var chol *sparse.Cholesky
	var cholErr error
	symbolic := make(chan struct{})
	go func() {
		defer close(symbolic)
		t0 := time.Now()
		chol, cholErr = sparse.NewCholesky(m, cp, ri)
		ne.symbolic = time.Since(t0)
	}()
	// Contributions of column j of A: every pair of its entries p ≤ q adds
	// θj·a_pj·a_qj to one entry of the upper triangle. Counted first, then
	// filled column by column.
	nnzM := len(ri)
	ne.gatherPtr = ws.i.Take(nnzM + 1)
	pos := ws.pos[:0]
	defer func() { ws.pos = pos[:0] }()
	for j := 0; j < a.Cols; j++ {
		lo, hi := a.ColPtr[j], a.ColPtr[j+1]
		for p := lo; p < hi; p++ {
			for q := p; q < hi; q++ {
				x, y := iperm[a.RowIdx[p]], iperm[a.RowIdx[q]]
				if x > y {
					x, y = y, x
				}
				e := find(x, y)
				pos = append(pos, int32(e))
				ne.gatherPtr[e+1]++
			}
		}
	}
	for e := 0; e < nnzM; e++ {
		ne.gatherPtr[e+1] += ne.gatherPtr[e]
	}
	ne.gatherCol = ws.i4.Take(len(pos))
	ne.gatherVal = ws.f.Take(len(pos))
	fill := ws.i.Take(nnzM)
	copy(fill, ne.gatherPtr[:nnzM])
	k := 0
	for j := 0; j < a.Cols; j++ {
		lo, hi := a.ColPtr[j], a.ColPtr[j+1]
		for p := lo; p < hi; p++ {
			for q := p; q < hi; q++ {
				e := pos[k]
				k++
				ne.gatherCol[fill[e]] = int32(j)
				ne.gatherVal[fill[e]] = a.Val[p] * a.Val[q]
				fill[e]++
			}
		}
	}
	<-symbolic
	ne.ordering = ordering
	if cholErr != nil {
		return nil, fmt.Errorf("ipm: symbolic factorisation: %w", cholErr)
	}
	ne.chol = chol
	f := &ws.f
	ne.work, ne.res, ne.b, ne.c, ne.trial = f.Take(m), f.Take(m), f.Take(m), f.Take(m), f.Take(m)
	return ne, nil
}

// factor assembles A·Θ·Aᵀ + reg·I and factors it. Entries are assembled
// in parallel ranges; each entry's sum has a fixed order.
func (ne *normalEq) factor(theta []float64, reg float64) error {
	val := ne.val
	gp, gc, gv := ne.gatherPtr, ne.gatherCol, ne.gatherVal
	forRange(len(val), func(_, lo, hi int) {
		for e := lo; e < hi; e++ {
			v := 0.0
			for k := gp[e]; k < gp[e+1]; k++ {
				v += theta[gc[k]] * gv[k]
			}
			val[e] = v
		}
	})
	if reg != 0 {
		for _, d := range ne.diag {
			val[d] += reg
		}
	}
	return ne.chol.Factorize(val)
}

// solve overwrites rhs (original row order) with M⁻¹·rhs, refining the
// solution with up to two steps of iterative refinement unless noRefine.
func (ne *normalEq) solve(rhs []float64) {
	w, b, c, trial := ne.work, ne.b, ne.c, ne.trial
	for k, i := range ne.perm {
		b[k] = rhs[i]
	}
	copy(w, b)
	ne.chol.Solve(w)
	if ne.noRefine {
		for k, i := range ne.perm {
			rhs[i] = w[k]
		}
		return
	}
	resNorm := ne.residual(b, w)
	tol := refineTol * (1 + maxAbs(b))
	for step := 0; step < 2 && resNorm > tol; step++ {
		copy(c, ne.res)
		ne.chol.Solve(c)
		for k := range w {
			trial[k] = w[k] + c[k]
		}
		r := ne.residual(b, trial)
		if !(r < resNorm) {
			break
		}
		copy(w, trial)
		resNorm = r
	}
	for k, i := range ne.perm {
		rhs[i] = w[k]
	}
}

// residual sets ne.res = b − M·x (permuted space) and returns its max norm.
func (ne *normalEq) residual(b, x []float64) float64 {
	sparse.SymMulUpper(ne.res, ne.cp, ne.ri, ne.val, x)
	r := 0.0
	for k := range ne.res {
		ne.res[k] = b[k] - ne.res[k]
		if a := math.Abs(ne.res[k]); a > r || math.IsNaN(a) {
			r = a
		}
	}
	return r
}

func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		if a := math.Abs(x); a > m {
			m = a
		}
	}
	return m
}

// refineTol is the relative residual below which a normal-equations solve
// is not refined further.
var refineTol = 1e-9
