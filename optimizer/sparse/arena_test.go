package sparse

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestReleaseReuse factors and solves matrices of changing size, releasing
// each factorisation before the next, and checks every solution against a
// factorisation in fresh memory, bit for bit; the arenas start poisoned.
func TestReleaseReuse(t *testing.T) {
	// Poisoned arenas in the pool, for the factorisations below to take.
	var poisoned []*arena
	for range 4 {
		a := getArena()
		for range 2 {
			for i, v := 0, a.ints.Take(4096); i < len(v); i++ {
				v[i] = -3
			}
			for i, v := 0, a.f64.Take(4096); i < len(v); i++ {
				v[i] = math.NaN()
			}
			for i, v := 0, a.upd.Take(4096); i < len(v); i++ {
				v[i] = update{d: -1, lo: -1, hi: -1, x: -1}
			}
			for i, v := 0, a.sd.Take(4096); i < len(v); i++ {
				v[i] = snDesc{f: -1, nr: -1, x0: -1}
			}
		}
		a.reset()
		poisoned = append(poisoned, a)
	}
	for _, a := range poisoned {
		putArena(a)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	solve := func(up *CSC, release bool) []float64 {
		c, err := NewCholesky(up.Cols, up.ColPtr, up.RowIdx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Factorize(up.Val); err != nil {
			t.Fatal(err)
		}
		b := make([]float64, up.Cols)
		for i := range b {
			b[i] = float64(i%7) - 3
		}
		c.Solve(b)
		if release {
			c.Release()
			c.Release()
		}
		return b
	}
	for round := 0; round < 3; round++ {
		for _, n := range []int{40, 120, 15, 120, 70} {
			m := randomSparseSPD(rng, n, 0.05)
			up := upperOf(t, m, patternPerm(t, m))
			fresh := solve(up, false)
			if got := solve(up, true); !slices.Equal(got, fresh) {
				t.Fatalf("round %d, n=%d: solution with released memory differs from fresh memory", round, n)
			}
		}
	}
}
