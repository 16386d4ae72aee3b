package ipm

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gridd/gridd/optimizer/lp"
)

// dispatchLikeLP has the shape of the dispatch LP: per-step balance rows
// coupled by many assets with a ranged energy row each (K·W > parMin
// columns, so the parallel loops and factorisation are exercised).
func dispatchLikeLP(rng *rand.Rand, T, K, W int) *lp.Model {
	m := lp.NewModel()
	g, r := m.Group("x"), m.Group("r")
	imp := make([]int, T)
	for t := range imp {
		imp[t] = m.AddVar(g, t, 0, float64(K), 0.1+rng.Float64())
	}
	bal := make([][]int, T)
	balV := make([][]float64, T)
	for t := range bal {
		bal[t] = []int{imp[t]}
		balV[t] = []float64{1}
	}
	for k := 0; k < K; k++ {
		from := rng.IntN(T - W + 1)
		var cols []int
		var vals []float64
		for i := 0; i < W; i++ {
			c := m.AddVar(g, k, 0, 1+rng.Float64(), 0)
			cols, vals = append(cols, c), append(vals, 0.25)
			bal[from+i] = append(bal[from+i], c)
			balV[from+i] = append(balV[from+i], -1)
		}
		u := m.AddVar(g, k, 0, 5, 0.5+rng.Float64())
		cols, vals = append(cols, u), append(vals, 1)
		m.AddRow(r, k, 2+rng.Float64()*3, 20, cols, vals)
	}
	for t := range bal {
		m.AddRow(r, t, 0.5, 0.5, bal[t], balV[t])
	}
	return m
}

// TestParallelSolveIsDeterministic solves the same LP with one and with two
// workers: every parallel kernel splits work without changing arithmetic,
// so the solutions are identical.
func TestParallelSolveIsDeterministic(t *testing.T) {
	m := dispatchLikeLP(rand.New(rand.NewPCG(1, 2)), 96, 1200, 40)
	if m.NumVars() < parMin {
		t.Fatalf("test LP has %d columns, want ≥ %d", m.NumVars(), parMin)
	}
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	one, err := Solve(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GOMAXPROCS(2)
	two, err := Solve(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if one.Status != lp.Optimal || two.Status != lp.Optimal {
		t.Fatalf("status %v and %v", one.Status, two.Status)
	}
	if one.Iterations != two.Iterations {
		t.Errorf("iterations %d with one worker, %d with two", one.Iterations, two.Iterations)
	}
	for j := range one.X {
		if one.X[j] != two.X[j] {
			t.Fatalf("x[%d] = %v with one worker, %v with two", j, one.X[j], two.X[j])
		}
	}
	for i := range one.RowDual {
		if one.RowDual[i] != two.RowDual[i] {
			t.Fatalf("y[%d] = %v with one worker, %v with two", i, one.RowDual[i], two.RowDual[i])
		}
	}
}
