package sparse

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestCholeskyParallelMatchesSequential factors 2-D grid Laplacians (plus a
// random diagonal) large enough for the parallel schedule with the
// up-looking factorisation, checks that the schedule covers every row once
// with children before parents inside each part, that the factor equals
// the sequential one bit for bit, and that solves have a small residual.
func TestCholeskyParallelMatchesSequential(t *testing.T) {
	defer func(prev bool) { useSupernodal = prev }(useSupernodal)
	useSupernodal = false
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

// TestSupernodalSchedule checks the supernodal schedule on grids and on
// the 10,000-EV pattern: every supernode is scheduled once, parts are
// ascending, a supernode of a part only receives updates from supernodes
// of the same part, and its rows below are those of its part, then those
// of the top.
func TestSupernodalSchedule(t *testing.T) {
	type pattern struct {
		name   string
		n      int
		cp, ri []int
	}
	var pats []pattern
	for _, k := range []int{30, 60} {
		n, cp, ri := grid2D(k)
		perm := MinimumDegree(n, cp, ri)
		iperm := make([]int, n)
		for q, i := range perm {
			iperm[i] = q
		}
		var ur, uc []int
		for j := 0; j < n; j++ {
			for p := cp[j]; p < cp[j+1]; p++ {
				if a, b := iperm[ri[p]], iperm[j]; a <= b {
					ur, uc = append(ur, a), append(uc, b)
				}
			}
		}
		up, err := FromTriplets(n, n, ur, uc, make([]float64, len(ur)))
		if err != nil {
			t.Fatal(err)
		}
		pats = append(pats, pattern{"grid", n, up.ColPtr, up.RowIdx})
	}
	n, cp, ri := loadPattern(t, "testdata/ev10000_normal.pattern.gz")
	pats = append(pats, pattern{"ev10000", n, cp, ri})
	for _, pt := range pats {
		for _, workers := range []int{2, 3} {
			c, err := NewCholesky(pt.n, pt.cp, pt.ri)
			if err != nil {
				t.Fatal(err)
			}
			s := c.sn
			s.schedule(workers, 0)
			if s.part == nil {
				t.Fatalf("%s n=%d, %d workers: no parallel schedule", pt.name, pt.n, workers)
			}
			ns := len(s.first) - 1
			owner := make([]int, ns)
			seen := make([]int, ns)
			for i := range owner {
				owner[i] = -1
			}
			for w, list := range append(append([][]int(nil), s.part...), s.top) {
				for q, k := range list {
					seen[k]++
					if q > 0 && list[q-1] >= k {
						t.Fatalf("%s: supernodes not ascending in a part", pt.name)
					}
					if w < len(s.part) {
						owner[k] = w
					}
				}
			}
			for k, c := range seen {
				if c != 1 {
					t.Fatalf("%s: supernode %d scheduled %d times", pt.name, k, c)
				}
			}
			snodeOf := make([]int, pt.n)
			for k := 0; k < ns; k++ {
				for j := s.first[k]; j < s.first[k+1]; j++ {
					snodeOf[j] = k
				}
			}
			for k := 0; k < ns; k++ {
				if owner[k] < 0 {
					continue
				}
				// The forward solve of a part scatters into the leading
				// rows below a supernode, which must be its part's; the
				// others must be the top's.
				for q, r := range s.rows[s.rptr[k]+s.ncols(k) : s.rptr[k+1]] {
					if inPart := q < int(s.scat[k]); inPart != (owner[snodeOf[r]] == owner[k]) || !inPart && owner[snodeOf[r]] >= 0 {
						t.Fatalf("%s: supernode %d (part %d): row %d (supernode %d, part %d) on the wrong side of %d", pt.name, k, owner[k], r, snodeOf[r], owner[snodeOf[r]], s.scat[k])
					}
				}
				for _, u := range s.upd[s.uptr[k]:s.uptr[k+1]] {
					if owner[u.d] != owner[k] {
						t.Fatalf("%s: supernode %d (worker %d) updated by %d (worker %d)", pt.name, k, owner[k], u.d, owner[u.d])
					}
				}
			}
		}
	}
}
