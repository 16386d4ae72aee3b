package sparse

import (
	"math"
	"testing"
)

// FuzzCholesky builds a symmetric positive definite matrix M = B·Bᵀ + I
// from the input (B sparse, up to 40 rows), orders it by minimum degree and
// factors it. The factorisation must replace no pivot and solve M·x = b to
// a small residual, and must agree with the dense reference. Inputs that
// are not a valid upper-triangular pattern (a second use of the bytes) must
// be rejected by NewCholesky with an error, never a panic.
func FuzzCholesky(f *testing.F) {
	f.Add([]byte{5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	f.Add([]byte{40, 0, 255, 17, 3, 99, 42, 7, 7, 7, 7, 200, 13, 1, 1, 1, 1, 128})
	f.Add([]byte{1})
	f.Add([]byte{12, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		// The raw bytes as a pattern: n, then column pointers and row indices.
		if n := int(data[0] % 8); len(data) > n+2 {
			cp := make([]int, n+1)
			for k := range cp {
				cp[k] = int(data[1+k] % 16)
			}
			ri := make([]int, 0, len(data))
			for _, b := range data[n+2:] {
				ri = append(ri, int(b%10)-1)
			}
			if c, err := NewCholesky(n, cp, ri); err == nil {
				// Accepted: it must factor values of the right length.
				val := make([]float64, c.cp[n])
				for i := range val {
					val[i] = 1
				}
				_ = c.Factorize(val)
			}
		}

		n := 1 + int(data[0])%40
		b := make([][]float64, n)
		for i := range b {
			b[i] = make([]float64, n)
		}
		for k := 1; k+2 < len(data); k += 3 {
			i, j := int(data[k])%n, int(data[k+1])%n
			b[i][j] = float64(int(data[k+2])-128) / 16
		}
		m := make([][]float64, n)
		for i := range m {
			m[i] = make([]float64, n)
			for j := range m[i] {
				for k := 0; k < n; k++ {
					m[i][j] += b[i][k] * b[j][k]
				}
			}
			m[i][i]++
		}
		perm := patternPerm(t, m)
		up := upperOf(t, m, perm)
		c, err := NewCholesky(n, up.ColPtr, up.RowIdx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Factorize(up.Val); err != nil {
			t.Fatal(err)
		}
		if c.Replaced != 0 {
			t.Fatalf("%d pivots replaced in a positive definite matrix", c.Replaced)
		}
		// Right-hand side in the permuted order; compare with the dense
		// reference factor of the same permuted matrix.
		pm := make([][]float64, n)
		for a := range pm {
			pm[a] = make([]float64, n)
			for bb := range pm[a] {
				pm[a][bb] = m[perm[a]][perm[bb]]
			}
		}
		rhs := make([]float64, n)
		for i := range rhs {
			rhs[i] = float64(i%7) - 3
		}
		x := append([]float64(nil), rhs...)
		c.Solve(x)
		l, _ := denseCholesky(pm, c.PivotTol)
		y := append([]float64(nil), rhs...)
		for i := 0; i < n; i++ {
			for k := 0; k < i; k++ {
				y[i] -= l[i][k] * y[k]
			}
			y[i] /= l[i][i]
		}
		for i := n - 1; i >= 0; i-- {
			for k := i + 1; k < n; k++ {
				y[i] -= l[k][i] * y[k]
			}
			y[i] /= l[i][i]
		}
		scale := 0.0
		for i := range y {
			scale = math.Max(scale, math.Abs(y[i]))
		}
		for i := range x {
			if d := math.Abs(x[i] - y[i]); !(d <= 1e-8*(1+scale)) {
				t.Fatalf("n=%d: x[%d] = %v, dense reference %v", n, i, x[i], y[i])
			}
		}
		res := 0.0
		for i := 0; i < n; i++ {
			s := rhs[i]
			for j := 0; j < n; j++ {
				s -= pm[i][j] * x[j]
			}
			res = math.Max(res, math.Abs(s))
		}
		if res > 1e-8*(1+scale) {
			t.Fatalf("n=%d: residual %g", n, res)
		}
	})
}
