package ipm

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gridd/gridd/optimizer/sparse"
)

// TestNormalAssemblyMatchesDirectProduct cross-checks the gathered
// assembly of A·Θ·Aᵀ (in parallel ranges) against the product computed
// directly, entry by entry, from the columns of A.
func TestNormalAssemblyMatchesDirectProduct(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows, cols int
		density    float64
		workers    int
	}{
		{"small", 6, 10, 0.4, 1},
		{"wide", 40, 400, 0.05, 1},
		{"parallel", 300, 60000, 0.004, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := runtime.GOMAXPROCS(tc.workers)
			defer runtime.GOMAXPROCS(prev)
			rng := rand.New(rand.NewPCG(uint64(tc.rows), uint64(tc.cols)))
			var ri, ci []int
			var vv []float64
			for j := 0; j < tc.cols; j++ {
				for i := 0; i < tc.rows; i++ {
					if rng.Float64() < tc.density {
						ri, ci, vv = append(ri, i), append(ci, j), append(vv, rng.NormFloat64())
					}
				}
			}
			for i := 0; i < tc.rows; i++ { // no empty row
				ri, ci, vv = append(ri, i), append(ci, rng.IntN(tc.cols)), append(vv, 1+rng.Float64())
			}
			a, err := sparse.FromTriplets(tc.rows, tc.cols, ri, ci, vv)
			if err != nil {
				t.Fatal(err)
			}
			ne, err := newNormalEq(a, a.Transpose(), nil, new(workspace))
			if err != nil {
				t.Fatal(err)
			}
			theta := make([]float64, tc.cols)
			for j := range theta {
				theta[j] = math.Exp(4 * rng.NormFloat64())
			}
			if tc.cols > 1 {
				theta[1] = 0
			}
			const reg = 1e-3
			if err := ne.factor(theta, reg); err != nil {
				t.Fatal(err)
			}
			// Direct product, original row order.
			want := make([]float64, tc.rows*tc.rows)
			for j := 0; j < tc.cols; j++ {
				for p := a.ColPtr[j]; p < a.ColPtr[j+1]; p++ {
					for q := a.ColPtr[j]; q < a.ColPtr[j+1]; q++ {
						want[a.RowIdx[p]*tc.rows+a.RowIdx[q]] += theta[j] * a.Val[p] * a.Val[q]
					}
				}
			}
			for i := 0; i < tc.rows; i++ {
				want[i*tc.rows+i] += reg
			}
			seen := make([]bool, tc.rows*tc.rows)
			for k := 0; k < tc.rows; k++ { // column k of the permuted upper triangle
				for p := ne.cp[k]; p < ne.cp[k+1]; p++ {
					i, j := ne.perm[ne.ri[p]], ne.perm[k]
					w := want[i*tc.rows+j]
					if got := ne.val[p]; math.Abs(got-w) > 1e-12*(1+math.Abs(w)) {
						t.Fatalf("M(%d,%d) = %v, direct product %v", i, j, got, w)
					}
					seen[i*tc.rows+j], seen[j*tc.rows+i] = true, true
				}
			}
			for e, w := range want {
				if w != 0 && !seen[e] {
					t.Fatalf("M(%d,%d) = %v missing from the pattern", e/tc.rows, e%tc.rows, w)
				}
			}
		})
	}
}

// TestSumRangeIsIndependentOfWorkers checks that sumRange gives the same
// bits with one and two workers and agrees with a plain sum.
func TestSumRangeIsIndependentOfWorkers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, sumChunk - 1, sumChunk + 1, parMin + 12345} {
		v := make([]float64, n)
		plain := [2]float64{}
		for i := range v {
			v[i] = rng.NormFloat64() * math.Exp(10*rng.Float64())
			plain[0] += v[i]
			plain[1] = math.Max(plain[1], math.Abs(v[i]))
		}
		f := func(lo, hi int, acc []float64) {
			s := 0.0
			for _, x := range v[lo:hi] {
				s += x
			}
			acc[0] = s
			acc[1] = float64(hi - lo)
		}
		var got [2][2]float64
		for w := 1; w <= 2; w++ {
			prev := runtime.GOMAXPROCS(w)
			sumRange(n, 2, nil, got[w-1][:], f)
			runtime.GOMAXPROCS(prev)
		}
		if got[0] != got[1] {
			t.Errorf("n=%d: one worker %v, two workers %v", n, got[0], got[1])
		}
		if got[0][1] != float64(n) {
			t.Errorf("n=%d: ranges cover %v elements", n, got[0][1])
		}
		if d := math.Abs(got[0][0] - plain[0]); d > 1e-12*float64(n+1)*plain[1] {
			t.Errorf("n=%d: sum %v, plain sum %v", n, got[0][0], plain[0])
		}
	}
}
