package sparse

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestFromTriplets(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int
		ri, ci     []int
		v          []float64
		want       [][]float64
		wantErr    bool
	}{
		{name: "sums duplicates and sorts", rows: 2, cols: 3,
			ri: []int{1, 0, 1, 1}, ci: []int{2, 2, 0, 2}, v: []float64{1, 2, 3, 4},
			want: [][]float64{{0, 0, 2}, {3, 0, 5}}},
		{name: "empty", rows: 2, cols: 2, want: [][]float64{{0, 0}, {0, 0}}},
		{name: "row out of range", rows: 2, cols: 2, ri: []int{2}, ci: []int{0}, v: []float64{1}, wantErr: true},
		{name: "column out of range", rows: 2, cols: 2, ri: []int{0}, ci: []int{-1}, v: []float64{1}, wantErr: true},
		{name: "NaN", rows: 2, cols: 2, ri: []int{0}, ci: []int{0}, v: []float64{math.NaN()}, wantErr: true},
		{name: "length mismatch", rows: 2, cols: 2, ri: []int{0, 1}, ci: []int{0}, v: []float64{1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := FromTriplets(tc.rows, tc.cols, tc.ri, tc.ci, tc.v)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.want {
				for j := range tc.want[i] {
					if got := a.At(i, j); got != tc.want[i][j] {
						t.Errorf("A(%d,%d) = %v, want %v", i, j, got, tc.want[i][j])
					}
				}
			}
			for j := 0; j < a.Cols; j++ {
				if !sort.IntsAreSorted(a.RowIdx[a.ColPtr[j]:a.ColPtr[j+1]]) {
					t.Errorf("column %d rows not sorted", j)
				}
			}
		})
	}
}

func randomCSC(rng *rand.Rand, rows, cols int, density float64) (*CSC, *mat.Dense) {
	var ri, ci []int
	var v []float64
	d := mat.NewDense(rows, cols, nil)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			if rng.Float64() < density {
				x := rng.NormFloat64()
				ri, ci, v = append(ri, i), append(ci, j), append(v, x)
				d.Set(i, j, x)
			}
		}
	}
	a, err := FromTriplets(rows, cols, ri, ci, v)
	if err != nil {
		panic(err)
	}
	return a, d
}

func TestMulVecAndTranspose(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 20; trial++ {
		rows, cols := 1+rng.IntN(12), 1+rng.IntN(12)
		a, d := randomCSC(rng, rows, cols, 0.3)
		x := make([]float64, cols)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		y := make([]float64, rows)
		a.MulVec(y, x)
		var want mat.VecDense
		want.MulVec(d, mat.NewVecDense(cols, x))
		for i := range y {
			if math.Abs(y[i]-want.AtVec(i)) > 1e-12 {
				t.Fatalf("trial %d: (Ax)[%d] = %v, want %v", trial, i, y[i], want.AtVec(i))
			}
		}
		at := a.Transpose()
		u := make([]float64, rows)
		for i := range u {
			u[i] = rng.NormFloat64()
		}
		z1 := make([]float64, cols)
		z2 := make([]float64, cols)
		a.MulTransVec(z1, u)
		at.MulVec(z2, u)
		for j := range z1 {
			if math.Abs(z1[j]-z2[j]) > 1e-12 {
				t.Fatalf("trial %d: Aᵀu differs at %d: %v vs %v", trial, j, z1[j], z2[j])
			}
			for i := 0; i < rows; i++ {
				if at.At(j, i) != d.At(i, j) {
					t.Fatalf("trial %d: transpose (%d,%d) = %v, want %v", trial, j, i, at.At(j, i), d.At(i, j))
				}
			}
		}
	}
}

// grid2D returns the pattern (both triangles) of a k×k 5-point Laplacian.
func grid2D(k int) (int, []int, []int) {
	n := k * k
	var ri, ci []int
	for x := 0; x < k; x++ {
		for y := 0; y < k; y++ {
			i := x*k + y
			ri, ci = append(ri, i), append(ci, i)
			if x+1 < k {
				ri, ci = append(ri, i, i+k), append(ci, i+k, i)
			}
			if y+1 < k {
				ri, ci = append(ri, i, i+1), append(ci, i+1, i)
			}
		}
	}
	v := make([]float64, len(ri))
	a, _ := FromTriplets(n, n, ri, ci, v)
	return n, a.ColPtr, a.RowIdx
}

// fillOf returns nnz(L) for the pattern eliminated in the order perm.
func fillOf(t *testing.T, n int, cp, ri, perm []int) int {
	t.Helper()
	iperm := make([]int, n)
	for k, i := range perm {
		iperm[i] = k
	}
	var r, c []int
	for j := 0; j < n; j++ {
		for p := cp[j]; p < cp[j+1]; p++ {
			a, b := iperm[ri[p]], iperm[j]
			if a <= b {
				r, c = append(r, a), append(c, b)
			}
		}
	}
	u, err := FromTriplets(n, n, r, c, make([]float64, len(r)))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := NewCholesky(n, u.ColPtr, u.RowIdx)
	if err != nil {
		t.Fatal(err)
	}
	return ch.NnzL()
}

func isPerm(p []int, n int) bool {
	if len(p) != n {
		return false
	}
	seen := make([]bool, n)
	for _, i := range p {
		if i < 0 || i >= n || seen[i] {
			return false
		}
		seen[i] = true
	}
	return true
}

func TestMinimumDegreeReducesFill(t *testing.T) {
	natural := func(n int) []int {
		p := make([]int, n)
		for i := range p {
			p[i] = i
		}
		return p
	}
	// Arrow matrix with the hub first: natural order fills completely,
	// minimum degree eliminates the leaves first and has no fill.
	arrow := func(n int) (int, []int, []int) {
		var ri, ci []int
		for i := 0; i < n; i++ {
			ri, ci = append(ri, i), append(ci, i)
			if i > 0 {
				ri, ci = append(ri, 0, i), append(ci, i, 0)
			}
		}
		a, _ := FromTriplets(n, n, ri, ci, make([]float64, len(ri)))
		return n, a.ColPtr, a.RowIdx
	}
	tests := []struct {
		name    string
		build   func() (int, []int, []int)
		maxFill func(n int) int // upper bound on nnz(L) for the MD order
	}{
		{"arrow 50", func() (int, []int, []int) { return arrow(50) }, func(n int) int { return 2*n - 1 }},
		{"arrow 2000 (dense hub)", func() (int, []int, []int) { return arrow(2000) }, func(n int) int { return 2*n - 1 }},
		{"grid 20x20", func() (int, []int, []int) { return grid2D(20) }, func(n int) int { return 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, cp, ri := tc.build()
			perm := MinimumDegree(n, cp, ri)
			if !isPerm(perm, n) {
				t.Fatalf("not a permutation of %d: %v", n, perm)
			}
			md := fillOf(t, n, cp, ri, perm)
			nat := fillOf(t, n, cp, ri, natural(n))
			if limit := tc.maxFill(n); limit > 0 && md > limit {
				t.Errorf("nnz(L) = %d with minimum degree, want ≤ %d", md, limit)
			}
			if md >= nat {
				t.Errorf("minimum degree fill %d not below natural order fill %d", md, nat)
			}
			t.Logf("nnz(L): minimum degree %d, natural %d", md, nat)
		})
	}
}

func TestMinimumDegreeEdgeCases(t *testing.T) {
	if p := MinimumDegree(0, []int{0}, nil); len(p) != 0 {
		t.Errorf("empty: %v", p)
	}
	// Disconnected nodes and a pattern given by one triangle only.
	cp := []int{0, 1, 2, 4, 4}
	ri := []int{0, 1, 0, 2}
	if p := MinimumDegree(4, cp, ri); !isPerm(p, 4) {
		t.Errorf("not a permutation: %v", p)
	}
}

// TestCholeskyMatchesDense factors random sparse SPD matrices in a minimum
// degree order and checks the solution against gonum's dense Cholesky.
func TestCholeskyMatchesDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 40; trial++ {
		n := 1 + rng.IntN(60)
		b, _ := randomCSC(rng, n, n+rng.IntN(n+1), 0.08)
		// M = B·Bᵀ + I is SPD.
		bd := mat.NewDense(b.Rows, b.Cols, nil)
		for j := 0; j < b.Cols; j++ {
			for p := b.ColPtr[j]; p < b.ColPtr[j+1]; p++ {
				bd.Set(b.RowIdx[p], j, b.Val[p])
			}
		}
		var md mat.Dense
		md.Mul(bd, bd.T())
		for i := 0; i < n; i++ {
			md.Set(i, i, md.At(i, i)+1)
		}
		var ri, ci []int
		var v []float64
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				if md.At(i, j) != 0 || i == j {
					ri, ci, v = append(ri, i), append(ci, j), append(v, md.At(i, j))
				}
			}
		}
		full, err := FromTriplets(n, n, ri, ci, v)
		if err != nil {
			t.Fatal(err)
		}
		perm := MinimumDegree(n, full.ColPtr, full.RowIdx)
		iperm := make([]int, n)
		for k, i := range perm {
			iperm[i] = k
		}
		var ur, uc []int
		var uv []float64
		for k := range ri {
			a, c := iperm[ri[k]], iperm[ci[k]]
			if a <= c {
				ur, uc, uv = append(ur, a), append(uc, c), append(uv, v[k])
			}
		}
		up, err := FromTriplets(n, n, ur, uc, uv)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := NewCholesky(n, up.ColPtr, up.RowIdx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Factorize(up.Val); err != nil {
			t.Fatal(err)
		}
		if ch.Replaced != 0 {
			t.Fatalf("trial %d: %d pivots replaced on an SPD matrix", trial, ch.Replaced)
		}
		rhs := make([]float64, n)
		for i := range rhs {
			rhs[i] = rng.NormFloat64()
		}
		x := make([]float64, n)
		for k, i := range perm {
			x[k] = rhs[i]
		}
		ch.Solve(x)
		got := make([]float64, n)
		for k, i := range perm {
			got[i] = x[k]
		}
		var dc mat.Cholesky
		if !dc.Factorize(mat.NewSymDense(n, md.RawMatrix().Data)) {
			t.Fatal("dense Cholesky failed")
		}
		var want mat.VecDense
		if err := dc.SolveVecTo(&want, mat.NewVecDense(n, rhs)); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			if math.Abs(got[i]-want.AtVec(i)) > 1e-9*(1+math.Abs(want.AtVec(i))) {
				t.Fatalf("trial %d n=%d: x[%d] = %v, want %v", trial, n, i, got[i], want.AtVec(i))
			}
		}
		// SymMulUpper reproduces the right-hand side.
		y := make([]float64, n)
		SymMulUpper(y, up.ColPtr, up.RowIdx, up.Val, x)
		for k, i := range perm {
			if math.Abs(y[k]-rhs[i]) > 1e-9 {
				t.Fatalf("trial %d: M·x differs from rhs at %d: %v vs %v", trial, i, y[k], rhs[i])
			}
		}
	}
}

// TestCholeskyDependentRows checks the pivot replacement: for a singular
// matrix (a duplicated row in B) with a consistent right-hand side, the
// factor still yields a solution of M·x = b.
func TestCholeskyDependentRows(t *testing.T) {
	// B has rows r0, r1, r0 (dependent); M = B·Bᵀ is singular, rank 2.
	bd := mat.NewDense(3, 4, []float64{
		1, 2, 0, 1,
		0, 1, 3, 0,
		1, 2, 0, 1,
	})
	var md mat.Dense
	md.Mul(bd, bd.T())
	var ri, ci []int
	var v []float64
	for i := 0; i < 3; i++ {
		for j := i; j < 3; j++ {
			ri, ci, v = append(ri, i), append(ci, j), append(v, md.At(i, j))
		}
	}
	up, _ := FromTriplets(3, 3, ri, ci, v)
	ch, err := NewCholesky(3, up.ColPtr, up.RowIdx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Factorize(up.Val); err != nil {
		t.Fatal(err)
	}
	if ch.Replaced != 1 {
		t.Fatalf("replaced %d pivots, want 1", ch.Replaced)
	}
	// b = M·(1, 1, 0) is consistent.
	want := []float64{1, 1, 0}
	b := make([]float64, 3)
	SymMulUpper(b, up.ColPtr, up.RowIdx, up.Val, want)
	x := append([]float64(nil), b...)
	ch.Solve(x)
	got := make([]float64, 3)
	SymMulUpper(got, up.ColPtr, up.RowIdx, up.Val, x)
	for i := range b {
		if math.Abs(got[i]-b[i]) > 1e-9 {
			t.Fatalf("M·x = %v, want %v", got, b)
		}
	}
}

func TestCholeskyRejectsBadPattern(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		cp, ri []int
	}{
		{"missing diagonal", 2, []int{0, 1, 2}, []int{0, 0}},
		{"lower entry", 2, []int{0, 2, 3}, []int{0, 1, 1}},
		{"short colPtr", 2, []int{0, 1}, []int{0}},
		{"colPtr beyond rowIdx", 2, []int{0, 1, 3}, []int{0, 1}},
		{"decreasing colPtr", 2, []int{0, 2, 1}, []int{0, 1}},
		{"negative dimension", -1, []int{}, nil},
	}
	for _, tc := range tests {
		if _, err := NewCholesky(tc.n, tc.cp, tc.ri); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestMinimumDegreeLastKeepsBlocksApart: a two-level pattern (K dense
// blocks of b nodes, and b upper nodes, upper node t joined to node t of
// every block) is what a district master's limit rows look like. Greedy
// minimum degree eliminates the low-degree upper nodes first and joins
// the blocks; with the upper nodes marked last the blocks stay apart and
// the factor has a fraction of the entries.
func TestMinimumDegreeLastKeepsBlocksApart(t *testing.T) {
	const K, b = 10, 24
	n := K*b + b
	var ri, ci []int
	add := func(i, j int) { ri, ci = append(ri, i, j), append(ci, j, i) }
	for k := 0; k < K; k++ {
		for p := 0; p < b; p++ {
			for q := 0; q < p; q++ {
				add(k*b+p, k*b+q)
			}
			add(k*b+p, K*b+p) // to upper node p
		}
	}
	for i := 0; i < n; i++ {
		ri, ci = append(ri, i), append(ci, i)
	}
	a, err := FromTriplets(n, n, ri, ci, make([]float64, len(ri)))
	if err != nil {
		t.Fatal(err)
	}
	last := make([]bool, n)
	for p := 0; p < b; p++ {
		last[K*b+p] = true
	}
	plain := MinimumDegree(n, a.ColPtr, a.RowIdx)
	hinted := MinimumDegreeLast(n, a.ColPtr, a.RowIdx, last)
	if !isPerm(hinted, n) {
		t.Fatalf("not a permutation: %v", hinted)
	}
	for k, i := range hinted[n-b:] {
		if !last[i] {
			t.Fatalf("position %d of the last %d holds node %d, not an upper node", n-b+k, b, i)
		}
	}
	fp, fh := fillOf(t, n, a.ColPtr, a.RowIdx, plain), fillOf(t, n, a.ColPtr, a.RowIdx, hinted)
	// Blocks apart: each block's triangle, its coupling to the b upper
	// nodes (dense after elimination) and the upper triangle.
	want := K*(b*(b+1)/2+b*b) + b*(b+1)/2
	if fh > want {
		t.Errorf("nnz(L) = %d with the upper nodes last, want ≤ %d", fh, want)
	}
	if fh >= fp {
		t.Errorf("nnz(L) = %d with the upper nodes last, %d without: the hint should help here", fh, fp)
	}
	// nil marks nothing: the same order as MinimumDegree.
	if p := MinimumDegreeLast(n, a.ColPtr, a.RowIdx, nil); !slices.Equal(p, plain) {
		t.Error("MinimumDegreeLast with nil differs from MinimumDegree")
	}
}
