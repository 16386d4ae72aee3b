package sparse

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// upperOf returns the upper triangle (with the full diagonal) of the dense
// symmetric matrix m, reordered by perm (perm[k] = original index placed
// k-th; nil for the natural order), in CSC form. Zero entries off the
// diagonal are left out.
func upperOf(t *testing.T, m [][]float64, perm []int) *CSC {
	t.Helper()
	n := len(m)
	if perm == nil {
		perm = make([]int, n)
		for i := range perm {
			perm[i] = i
		}
	}
	var ri, ci []int
	var v []float64
	for a := 0; a < n; a++ {
		for b := a; b < n; b++ {
			x := m[perm[a]][perm[b]]
			if x != 0 || a == b {
				ri, ci, v = append(ri, a), append(ci, b), append(v, x)
			}
		}
	}
	up, err := FromTriplets(n, n, ri, ci, v)
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// patternPerm returns a minimum degree order of the nonzero pattern of m.
func patternPerm(t *testing.T, m [][]float64) []int {
	t.Helper()
	up := upperOf(t, m, nil)
	return MinimumDegree(len(m), up.ColPtr, up.RowIdx)
}

// denseCholesky is the reference: a dense left-looking LLᵀ of a with the
// same rule for dependent pivots as Cholesky.
func denseCholesky(a [][]float64, tol float64) (l [][]float64, replaced int) {
	n := len(a)
	l = make([][]float64, n)
	for i := range l {
		l[i] = make([]float64, n)
	}
	for j := 0; j < n; j++ {
		d := a[j][j]
		for k := 0; k < j; k++ {
			d -= l[j][k] * l[j][k]
		}
		if !(d > tol*math.Abs(a[j][j])) || d <= 0 {
			d = hugePivot
			replaced++
		}
		l[j][j] = math.Sqrt(d)
		for i := j + 1; i < n; i++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= l[i][k] * l[j][k]
			}
			l[i][j] = s / l[j][j]
		}
	}
	return l, replaced
}

// supernodalFactor returns the computed factor as a dense matrix in the
// internal (postordered) order, and that order.
func supernodalFactor(c *Cholesky) ([][]float64, []int) {
	s := c.sn
	l := make([][]float64, s.n)
	for i := range l {
		l[i] = make([]float64, s.n)
	}
	for k := 0; k+1 < len(s.first); k++ {
		f, nc := s.first[k], s.ncols(k)
		rs := s.rows[s.rptr[k]:s.rptr[k+1]]
		L := s.lx[s.xptr[k]:s.xptr[k+1]]
		for r, i := range rs {
			for c := 0; c < nc && c <= r; c++ {
				l[i][f+c] = L[r*nc+c]
			}
		}
	}
	return l, s.perm
}

func zeros(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

// gram returns B·Bᵀ (+ shift·I) for the rows of b.
func gram(b [][]float64, shift float64) [][]float64 {
	n := len(b)
	m := zeros(n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			s := 0.0
			for k := range b[i] {
				s += b[i][k] * b[j][k]
			}
			m[i][j], m[j][i] = s, s
		}
		m[i][i] += shift
	}
	return m
}

// Structured test matrices.
func randomSparseSPD(rng *rand.Rand, n int, density float64) [][]float64 {
	b := zeros(n)
	for i := range b {
		for k := range b[i] {
			if rng.Float64() < density {
				b[i][k] = rng.NormFloat64()
			}
		}
	}
	return gram(b, 1)
}

func banded(rng *rand.Rand, n, w int) [][]float64 {
	m := zeros(n)
	for i := 0; i < n; i++ {
		for j := max(0, i-w); j < i; j++ {
			v := rng.Float64() - 0.5
			m[i][j], m[j][i] = v, v
		}
	}
	for i := 0; i < n; i++ {
		m[i][i] = float64(2*w) + rng.Float64()
	}
	return m
}

// feederLike has dense blocks (feeders), each coupled to a few leaf rows
// (assets) and to a dense set of root rows.
func feederLike(rng *rand.Rand, feeders, block, leaves, root int) [][]float64 {
	n := feeders*(block+leaves) + root
	m := zeros(n)
	set := func(i, j int, v float64) { m[i][j], m[j][i] = v, v }
	r0 := n - root
	for f := 0; f < feeders; f++ {
		b0 := f * (block + leaves)
		for i := 0; i < block; i++ {
			for j := 0; j < i; j++ {
				set(b0+i, b0+j, rng.Float64()-0.5)
			}
			for q := 0; q < 3; q++ {
				set(b0+i, r0+rng.IntN(root), rng.Float64()-0.5)
			}
		}
		for l := 0; l < leaves; l++ {
			for q := 0; q < 4; q++ {
				set(b0+block+l, b0+rng.IntN(block), rng.Float64()-0.5)
			}
		}
	}
	for i := r0; i < n; i++ {
		for j := r0; j < i; j++ {
			set(i, j, rng.Float64()-0.5)
		}
	}
	for i := 0; i < n; i++ {
		s := 0.0
		for j := 0; j < n; j++ {
			if j != i {
				s += math.Abs(m[i][j])
			}
		}
		m[i][i] = s + 0.1 + rng.Float64()
	}
	return m
}

// rankDeficient returns Σ v vᵀ over a few integer vectors whose first
// nonzero is 1, so that elimination cancels exactly and dependent pivots
// come out as exact zeros.
func rankDeficient(rng *rand.Rand, n, rank int) [][]float64 {
	b := zeros(n)
	for q := 0; q < rank; q++ {
		lead := q * n / rank
		b[lead][q] = 1
		for i := lead + 1; i < n; i++ {
			if rng.Float64() < 0.5 {
				b[i][q] = float64(rng.IntN(5) - 2)
			}
		}
	}
	return gram(b, 0)
}

// TestSupernodalMatchesDenseReference factors matrices of varied structure
// (single-column supernodes, bands, dense blocks, arrows, forests, fully
// dense, exactly rank deficient) and compares every entry of the factor
// and the solution of a consistent system with a dense reference.
func TestSupernodalMatchesDenseReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	tridiag := func(n int) [][]float64 { return banded(rng, n, 1) }
	tests := []struct {
		name      string
		m         [][]float64
		reorder   bool
		wantRepl  int // -1: not checked
		wantMinSn int // at least one supernode with this many columns
	}{
		{"1x1", [][]float64{{4}}, false, 0, 1},
		{"tridiagonal", tridiag(50), false, 0, 1},
		{"band 6", banded(rng, 80, 6), false, 0, 2},
		{"band 6 reordered", banded(rng, 80, 6), true, 0, 1},
		{"dense 70", gram(randomDense(rng, 70), 1), false, 0, 70},
		{"random sparse", randomSparseSPD(rng, 90, 0.04), true, 0, 1},
		{"random denser", randomSparseSPD(rng, 60, 0.15), true, 0, 2},
		{"feeder blocks and root", feederLike(rng, 4, 24, 10, 12), true, 0, 12},
		{"forest", blockDiag(banded(rng, 20, 3), randomSparseSPD(rng, 25, 0.1), [][]float64{{2}}), true, 0, 1},
		{"rank deficient", rankDeficient(rng, 30, 5), false, 25, 1},
		{"zero row", blockDiag([][]float64{{0}}, banded(rng, 10, 2), [][]float64{{0}}), false, 2, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.m)
			var perm []int
			if tc.reorder {
				perm = patternPerm(t, tc.m)
			}
			up := upperOf(t, tc.m, perm)
			c, err := NewCholesky(n, up.ColPtr, up.RowIdx)
			if err != nil {
				t.Fatal(err)
			}
			if c.sn == nil {
				t.Fatal("supernodal factorisation not selected")
			}
			if err := c.Factorize(up.Val); err != nil {
				t.Fatal(err)
			}
			maxCols := 0
			for k := 0; k+1 < len(c.sn.first); k++ {
				maxCols = max(maxCols, c.sn.ncols(k))
			}
			if maxCols < tc.wantMinSn {
				t.Errorf("largest supernode has %d columns, want ≥ %d", maxCols, tc.wantMinSn)
			}
			got, order := supernodalFactor(c)
			// Reference on the same (internal) order of the permuted matrix.
			a := zeros(n)
			for i := 0; i < n; i++ {
				for j := 0; j < n; j++ {
					a[i][j] = up.At(min(order[i], order[j]), max(order[i], order[j]))
				}
			}
			want, repl := denseCholesky(a, c.PivotTol)
			if c.Replaced != repl {
				t.Errorf("replaced %d pivots, reference %d", c.Replaced, repl)
			}
			if tc.wantRepl >= 0 && repl != tc.wantRepl {
				t.Errorf("reference replaced %d pivots, want %d", repl, tc.wantRepl)
			}
			for i := 0; i < n; i++ {
				for j := 0; j <= i; j++ {
					if d := math.Abs(got[i][j] - want[i][j]); d > 1e-10*(1+math.Abs(want[i][j])) {
						t.Fatalf("L(%d,%d) = %v, reference %v", i, j, got[i][j], want[i][j])
					}
				}
			}
			// A consistent right-hand side b = M·x0 is solved to a small
			// residual, dependent rows or not.
			x0 := make([]float64, n)
			for i := range x0 {
				x0[i] = rng.NormFloat64()
			}
			b := make([]float64, n)
			SymMulUpper(b, up.ColPtr, up.RowIdx, up.Val, x0)
			x := append([]float64(nil), b...)
			c.Solve(x)
			y := make([]float64, n)
			SymMulUpper(y, up.ColPtr, up.RowIdx, up.Val, x)
			scale := 1.0
			for _, v := range b {
				scale = math.Max(scale, math.Abs(v))
			}
			for i := range y {
				if math.Abs(y[i]-b[i]) > 1e-9*scale {
					t.Fatalf("residual %g at %d (scale %g)", y[i]-b[i], i, scale)
				}
			}
		})
	}
}

func randomDense(rng *rand.Rand, n int) [][]float64 {
	b := zeros(n)
	for i := range b {
		for k := range b[i] {
			b[i][k] = rng.NormFloat64()
		}
	}
	return b
}

func blockDiag(blocks ...[][]float64) [][]float64 {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	m := zeros(n)
	o := 0
	for _, b := range blocks {
		for i := range b {
			copy(m[o+i][o:], b[i])
		}
		o += len(b)
	}
	return m
}

// TestSupernodalRejectsNonFinite checks that non-finite input, and a
// factor that overflows, are errors.
func TestSupernodalRejectsNonFinite(t *testing.T) {
	tests := []struct {
		name string
		m    [][]float64
		bad  func(val []float64)
	}{
		{"NaN off the diagonal", [][]float64{{4, 1}, {1, 4}}, func(v []float64) { v[1] = math.NaN() }},
		{"Inf on the diagonal", [][]float64{{4, 1}, {1, 4}}, func(v []float64) { v[0] = math.Inf(1) }},
		{"overflow", [][]float64{{1e-300, 1e300}, {1e300, 1}}, func([]float64) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := upperOf(t, tc.m, nil)
			c, err := NewCholesky(len(tc.m), up.ColPtr, up.RowIdx)
			if err != nil {
				t.Fatal(err)
			}
			val := append([]float64(nil), up.Val...)
			tc.bad(val)
			if err := c.Factorize(val); err == nil {
				t.Fatal("no error")
			}
			// The same object factors good values afterwards.
			if err := c.Factorize(upperOf(t, [][]float64{{4, 1}, {1, 4}}, nil).Val); err != nil {
				t.Fatalf("after a failure: %v", err)
			}
		})
	}
}

// TestSupernodalBitsIndependentOfWorkers factors the 10,000-EV pattern
// (and a grid) with schedules for 1, 2 and 3 workers and with GOMAXPROCS 1
// and 2, and checks that factor and solution are identical bit for bit.
func TestSupernodalBitsIndependentOfWorkers(t *testing.T) {
	n, cp, ri := loadPattern(t, "testdata/ev10000_normal.pattern.gz")
	val := spdValues(n, cp, ri, 7)
	rhs := make([]float64, n)
	for i := range rhs {
		rhs[i] = math.Sin(float64(i))
	}
	type result struct {
		lx, x []float64
	}
	run := func(procs, workers int) result {
		prev := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(prev)
		c, err := NewCholesky(n, cp, ri)
		if err != nil {
			t.Fatal(err)
		}
		if workers > 0 {
			c.sn.schedule(workers, 0)
		}
		if workers > 1 && c.sn.part == nil {
			t.Fatalf("%d workers: no parallel schedule", workers)
		}
		if err := c.Factorize(val); err != nil {
			t.Fatal(err)
		}
		x := append([]float64(nil), rhs...)
		c.Solve(x)
		return result{append([]float64(nil), c.sn.lx...), x}
	}
	ref := run(1, 0)
	for _, cfg := range []struct{ procs, workers int }{{2, 0}, {2, 2}, {2, 3}, {1, 2}} {
		got := run(cfg.procs, cfg.workers)
		for p := range ref.lx {
			if math.Float64bits(got.lx[p]) != math.Float64bits(ref.lx[p]) {
				t.Fatalf("GOMAXPROCS %d, %d workers: factor entry %d is %v, sequential %v", cfg.procs, cfg.workers, p, got.lx[p], ref.lx[p])
			}
		}
		for i := range ref.x {
			if math.Float64bits(got.x[i]) != math.Float64bits(ref.x[i]) {
				t.Fatalf("GOMAXPROCS %d, %d workers: x[%d] is %v, sequential %v", cfg.procs, cfg.workers, i, got.x[i], ref.x[i])
			}
		}
	}
	// The solve is accurate.
	c, err := NewCholesky(n, cp, ri)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Factorize(val); err != nil {
		t.Fatal(err)
	}
	y := make([]float64, n)
	SymMulUpper(y, cp, ri, val, ref.x)
	for i := range y {
		if math.Abs(y[i]-rhs[i]) > 1e-10 {
			t.Fatalf("residual %g at %d", y[i]-rhs[i], i)
		}
	}
}

// TestSupernodalMatchesUpLooking compares the supernodal and the up-looking
// factorisation on the 10,000-EV pattern: same pivots replaced, solutions
// agreeing to rounding.
func TestSupernodalMatchesUpLooking(t *testing.T) {
	n, cp, ri := loadPattern(t, "testdata/ev10000_normal.pattern.gz")
	val := spdValues(n, cp, ri, 3)
	// Make a few rows dependent: zero rows and columns (diagonal kept).
	for k := 0; k < n; k += 5000 {
		for j := 0; j < n; j++ {
			for p := cp[j]; p < cp[j+1]; p++ {
				if ri[p] == k || j == k {
					val[p] = 0
				}
			}
		}
	}
	var xs [2][]float64
	var repl [2]int
	var flops [2]float64
	for i, super := range []bool{false, true} {
		prev := useSupernodal
		useSupernodal = super
		c, err := NewCholesky(n, cp, ri)
		useSupernodal = prev
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Factorize(val); err != nil {
			t.Fatal(err)
		}
		if got, want := c.NnzL(), 653972; got != want {
			t.Errorf("super=%v: NnzL %d, want %d", super, got, want)
		}
		if c.N() != n {
			t.Errorf("super=%v: N %d, want %d", super, c.N(), n)
		}
		var top float64
		flops[i], top = c.Flops()
		if !(top > 0 && top <= flops[i]) {
			t.Errorf("super=%v: top flops %g of %g", super, top, flops[i])
		}
		repl[i] = c.Replaced
		xs[i] = make([]float64, n)
		for j := range xs[i] {
			xs[i][j] = math.Cos(float64(j))
		}
		c.Solve(xs[i])
	}
	if flops[0] != flops[1] {
		t.Errorf("flops: up-looking %g, supernodal %g", flops[0], flops[1])
	}
	if repl[0] != repl[1] || repl[0] != 9 {
		t.Errorf("replaced pivots: up-looking %d, supernodal %d, want 9", repl[0], repl[1])
	}
	for j := range xs[0] {
		if math.Abs(xs[0][j]-xs[1][j]) > 1e-12*(1+math.Abs(xs[0][j])) {
			t.Fatalf("x[%d]: up-looking %v, supernodal %v", j, xs[0][j], xs[1][j])
		}
	}
}

// TestCholeskyDuplicateEntriesAddUp checks that repeated pattern entries
// are summed, as in A = [[1+3, 2], [2, 5]], by both factorisations.
func TestCholeskyDuplicateEntriesAddUp(t *testing.T) {
	cp := []int{0, 2, 5}
	ri := []int{0, 0, 0, 1, 1}
	val := []float64{1, 3, 2, 2, 3}
	for _, super := range []bool{false, true} {
		prev := useSupernodal
		useSupernodal = super
		c, err := NewCholesky(2, cp, ri)
		useSupernodal = prev
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Factorize(val); err != nil {
			t.Fatal(err)
		}
		// A·(1, 1) = (6, 7).
		x := []float64{6, 7}
		c.Solve(x)
		if math.Abs(x[0]-1) > 1e-14 || math.Abs(x[1]-1) > 1e-14 {
			t.Errorf("supernodal=%v: x = %v, want (1, 1)", super, x)
		}
	}
}
