package ipm

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gridd/gridd/optimizer/lp"
)

// widened returns m with the bounds of about a fifth of its columns moved
// outwards (a model close to m whose optimum differs), so that a solution
// of m can warm-start it.
func widened(rng *rand.Rand, m *lp.Model) *lp.Model {
	for j := 0; j < m.NumVars(); j++ {
		if rng.IntN(5) != 0 {
			continue
		}
		lo, hi := m.VarBounds(j)
		m.SetVarBounds(j, lo-rng.Float64(), hi+rng.Float64())
	}
	return m
}

func relDiff(a, b float64) float64 { return math.Abs(a-b) / (1 + math.Abs(b)) }

func TestWarmStartRandomLPs(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, m       int
		trials     int
		maxRatio   float64 // bound on warm/cold iterations in total
		startValue func(rng *rand.Rand, sol *lp.Solution) *Start
	}{
		{"previous optimum", 60, 30, 40, 0.9, func(_ *rand.Rand, sol *lp.Solution) *Start {
			return &Start{X: sol.X, Y: sol.RowDual}
		}},
		{"previous optimum, half unknown", 60, 30, 40, 1.1, func(rng *rand.Rand, sol *lp.Solution) *Start {
			st := &Start{X: append([]float64(nil), sol.X...), Y: append([]float64(nil), sol.RowDual...)}
			for j := range st.X {
				if rng.IntN(2) == 0 {
					st.X[j] = math.NaN()
				}
			}
			for i := range st.Y {
				if rng.IntN(2) == 0 {
					st.Y[i] = math.NaN()
				}
			}
			return st
		}},
		// Rejected: it does not fit the rows.
		{"unrelated point", 60, 30, 40, 1, func(rng *rand.Rand, sol *lp.Solution) *Start {
			st := &Start{X: make([]float64, len(sol.X)), Y: make([]float64, len(sol.RowDual))}
			for j := range st.X {
				st.X[j] = 1e4 * rng.NormFloat64()
			}
			for i := range st.Y {
				st.Y[i] = 1e3 * rng.NormFloat64()
			}
			return st
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			coldIters, warmIters := 0, 0
			for trial := 0; trial < tc.trials; trial++ {
				seed := rng.Uint64()
				prev, err := Solve(context.Background(), randomLP(rand.New(rand.NewPCG(seed, 1)), tc.n, tc.m, 0.1), Options{})
				if err != nil || prev.Status != lp.Optimal {
					t.Fatalf("trial %d: previous solve: %v %v", trial, prev.Status, err)
				}
				next := func() *lp.Model {
					return widened(rand.New(rand.NewPCG(seed, 2)), randomLP(rand.New(rand.NewPCG(seed, 1)), tc.n, tc.m, 0.1))
				}
				cold, err := Solve(context.Background(), next(), Options{})
				if err != nil || cold.Status != lp.Optimal {
					t.Fatalf("trial %d: cold solve: %v %v", trial, cold.Status, err)
				}
				mod := next()
				warm, err := Solve(context.Background(), mod, Options{Start: tc.startValue(rng, prev)})
				if err != nil {
					t.Fatalf("trial %d: warm solve: %v", trial, err)
				}
				if warm.Status != lp.Optimal {
					t.Fatalf("trial %d: warm solve: status %v after %d iterations", trial, warm.Status, warm.Iterations)
				}
				if d := relDiff(warm.Objective, cold.Objective); d > 1e-6 {
					t.Errorf("trial %d: warm objective %.10g, cold %.10g (relative difference %.2g)", trial, warm.Objective, cold.Objective, d)
				}
				if v := mod.MaxViolation(warm.X); v.Amount > 1e-6*(1+scaleOf(mod)) {
					t.Errorf("trial %d: warm solution violates row %d col %d by %g", trial, v.Row, v.Col, v.Amount)
				}
				coldIters += cold.Iterations
				warmIters += warm.Iterations
			}
			t.Logf("%d trials: %d iterations cold, %d warm", tc.trials, coldIters, warmIters)
			if float64(warmIters) > tc.maxRatio*float64(coldIters) {
				t.Errorf("warm starts took %d iterations in total, cold starts %d: more than %g times", warmIters, coldIters, tc.maxRatio)
			}
		})
	}
}

func TestWarmStartInvalid(t *testing.T) {
	mod := randomLP(rand.New(rand.NewPCG(5, 1)), 8, 4, 0.4)
	n, m := mod.NumVars(), mod.NumRows()
	vec := func(k int, at int, v float64) []float64 {
		out := make([]float64, k)
		if at >= 0 {
			out[at] = v
		}
		return out
	}
	for _, tc := range []struct {
		name string
		st   Start
		want string
	}{
		{"short x", Start{X: vec(n-1, -1, 0), Y: vec(m, -1, 0)}, "x has 7 values for 8 columns"},
		{"long y", Start{X: vec(n, -1, 0), Y: vec(m+1, -1, 0)}, "y has 5 values for 4 rows"},
		{"nil y", Start{X: vec(n, -1, 0)}, "y has 0 values for 4 rows"},
		{"infinite x", Start{X: vec(n, 3, math.Inf(1)), Y: vec(m, -1, 0)}, "x[3] (x[3]) is +Inf"},
		{"infinite y", Start{X: vec(n, -1, 0), Y: vec(m, 2, math.Inf(-1))}, "y[2] (r[2]) is -Inf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Solve(context.Background(), mod, Options{Start: &tc.st})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A warm-started solve that does not reach the optimum is repeated from
// the cold start, and both runs' iterations are counted.
func TestWarmStartRerunsCold(t *testing.T) {
	mod := randomLP(rand.New(rand.NewPCG(9, 1)), 80, 40, 0.1)
	full, err := Solve(context.Background(), mod, Options{})
	if err != nil || full.Status != lp.Optimal {
		t.Fatalf("cold solve: %v %v", full.Status, err)
	}
	if full.Iterations < 4 {
		t.Fatalf("cold solve took %d iterations; the test needs a model that takes more than 3", full.Iterations)
	}
	// The optimum fits the model, but a warm start is centred far from
	// it and does not converge within 2 iterations.
	st := &Start{X: full.X, Y: full.RowDual}
	sol, err := Solve(context.Background(), mod, Options{MaxIter: 2, Start: st})
	if err != nil {
		t.Fatal(err)
	}
	if sol.Status != lp.IterationLimit {
		t.Fatalf("status %v, want %v", sol.Status, lp.IterationLimit)
	}
	if sol.Iterations != 4 {
		t.Errorf("iterations %d, want 2 warm + 2 cold", sol.Iterations)
	}
}
