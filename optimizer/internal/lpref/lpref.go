// Package lpref is a slow, dense reference LP solver for tests: it converts
// an lp.Model to standard form and solves it with gonum's dense simplex
// (gonum.org/v1/gonum/optimize/convex/lp). It is only suitable for tiny
// models and must not be used outside tests.
package lpref

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	gonumlp "gonum.org/v1/gonum/optimize/convex/lp"

	"github.com/gridd/gridd/optimizer/lp"
)

// Solve returns the optimal objective (including the model offset) and a
// primal solution of m.
func Solve(m *lp.Model) (float64, []float64, error) {
	nv := m.NumVars()
	// Each model column is expressed as shift + Σ sign·(standard column).
	type term struct {
		col  int
		sign float64
	}
	shift := make([]float64, nv)
	terms := make([][]term, nv)
	ns := 0
	var ubRows [][2]float64 // (standard column, bound)
	for j := 0; j < nv; j++ {
		lo, hi := m.VarBounds(j)
		switch {
		case !math.IsInf(lo, -1):
			shift[j] = lo
			terms[j] = []term{{ns, 1}}
			if !math.IsInf(hi, 1) {
				ubRows = append(ubRows, [2]float64{float64(ns), hi - lo})
			}
			ns++
		case !math.IsInf(hi, 1):
			shift[j] = hi
			terms[j] = []term{{ns, -1}}
			ns++
		default:
			terms[j] = []term{{ns, 1}, {ns + 1, -1}}
			ns += 2
		}
	}
	type row struct {
		coef  map[int]float64
		slack float64 // coefficient of this row's own slack (0 = none)
		rhs   float64
	}
	var rows []row
	for i := 0; i < m.NumRows(); i++ {
		cols, vals := m.Row(i)
		coef := map[int]float64{}
		konst := 0.0
		for k, j := range cols {
			konst += vals[k] * shift[j]
			for _, t := range terms[j] {
				coef[t.col] += vals[k] * t.sign
			}
		}
		lo, hi := m.RowBounds(i)
		switch {
		case lo == hi:
			rows = append(rows, row{coef, 0, lo - konst})
		default:
			if !math.IsInf(lo, -1) {
				rows = append(rows, row{coef, -1, lo - konst})
			}
			if !math.IsInf(hi, 1) {
				rows = append(rows, row{coef, 1, hi - konst})
			}
		}
	}
	for _, ub := range ubRows {
		rows = append(rows, row{map[int]float64{int(ub[0]): 1}, 1, ub[1]})
	}
	nSlack := 0
	for _, r := range rows {
		if r.slack != 0 {
			nSlack++
		}
	}
	ncol := ns + nSlack
	if len(rows) == 0 || ncol < len(rows) {
		return 0, nil, fmt.Errorf("lpref: model too degenerate for the dense reference (%d rows, %d columns)", len(rows), ncol)
	}
	a := mat.NewDense(len(rows), ncol, nil)
	b := make([]float64, len(rows))
	s := ns
	for i, r := range rows {
		for j, v := range r.coef {
			a.Set(i, j, v)
		}
		if r.slack != 0 {
			a.Set(i, s, r.slack)
			s++
		}
		b[i] = r.rhs
	}
	c := make([]float64, ncol)
	offset := m.Offset
	for j := 0; j < nv; j++ {
		offset += m.Cost(j) * shift[j]
		for _, t := range terms[j] {
			c[t.col] += m.Cost(j) * t.sign
		}
	}
	opt, xs, err := gonumlp.Simplex(c, a, b, 1e-10, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("lpref: %w", err)
	}
	x := make([]float64, nv)
	for j := 0; j < nv; j++ {
		x[j] = shift[j]
		for _, t := range terms[j] {
			x[j] += t.sign * xs[t.col]
		}
	}
	return opt + offset, x, nil
}
