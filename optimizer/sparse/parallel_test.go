package sparse

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCholeskyParallelMatchesSequential factors 2-D grid Laplacians (plus a
// random diagonal) large enough for the parallel schedule, checks that the
// schedule covers every row once with children before parents inside each
// part, that the factor equals the sequential one bit for bit, and that
// solves have a small residual.
func TestCholeskyParallelMatchesSequential(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for _, k := range []int{40, 70} {
		n, cp, ri := grid2D(k)
		perm := MinimumDegree(n, cp, ri)
		iperm := make([]int, n)
		for q, i := range perm {
			iperm[i] = q
		}
		var ur, uc []int
		var uv []float64
		for j := 0; j < n; j++ {
			for p := cp[j]; p < cp[j+1]; p++ {
				i := ri[p]
				a, b := iperm[i], iperm[j]
				if a > b {
					continue
				}
				v := -1.0
				if i == j {
					v = 4.5 + rng.Float64()
				}
				ur, uc, uv = append(ur, a), append(uc, b), append(uv, v)
			}
		}
		up, err := FromTriplets(n, n, ur, uc, uv)
		if err != nil {
			t.Fatal(err)
		}
		par, err := NewCholesky(n, up.ColPtr, up.RowIdx)
		if err != nil {
			t.Fatal(err)
		}
		par.schedule(2, 0)
		if par.part == nil {
			t.Fatalf("k=%d: no parallel schedule (work too small?)", k)
		}
		seen := make([]int, n)
		for _, rows := range append(append([][]int(nil), par.part...), par.top) {
			for q, r := range rows {
				seen[r]++
				if q > 0 && rows[q-1] >= r {
					t.Fatalf("k=%d: rows not ascending in a part", k)
				}
			}
		}
		for r, c := range seen {
			if c != 1 {
				t.Fatalf("k=%d: row %d scheduled %d times", k, r, c)
			}
		}
		// Rows of different parts are in disjoint subtrees: no row's
		// pattern reaches into another worker's part.
		owner := make([]int, n)
		for i := range owner {
			owner[i] = -1
		}
		for w, rows := range par.part {
			for _, r := range rows {
				owner[r] = w
			}
		}
		for w, rows := range par.part {
			for _, r := range rows {
				for _, j := range par.rowCol[par.rowPtr[r]:par.rowPtr[r+1]] {
					if owner[j] != w {
						t.Fatalf("k=%d: row %d (worker %d) reads column %d of worker %d", k, r, w, j, owner[j])
					}
				}
			}
		}
		seq, err := NewCholesky(n, up.ColPtr, up.RowIdx)
		if err != nil {
			t.Fatal(err)
		}
		seq.schedule(1, 0)
		if err := par.Factorize(up.Val); err != nil {
			t.Fatal(err)
		}
		if err := seq.Factorize(up.Val); err != nil {
			t.Fatal(err)
		}
		for p := range seq.lx {
			if seq.lx[p] != par.lx[p] {
				t.Fatalf("k=%d: factor entry %d: parallel %v, sequential %v", k, p, par.lx[p], seq.lx[p])
			}
		}
		b := make([]float64, n)
		for i := range b {
			b[i] = rng.NormFloat64()
		}
		x := append([]float64(nil), b...)
		par.Solve(x)
		y := make([]float64, n)
		SymMulUpper(y, up.ColPtr, up.RowIdx, up.Val, x)
		for i := range y {
			if math.Abs(y[i]-b[i]) > 1e-10*(1+math.Abs(b[i])) {
				t.Fatalf("k=%d: residual %g at %d", k, y[i]-b[i], i)
			}
		}
	}
}
