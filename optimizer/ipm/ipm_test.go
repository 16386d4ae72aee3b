package ipm

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gridd/gridd/optimizer/internal/lpref"
	"github.com/gridd/gridd/optimizer/lp"
)

var inf = math.Inf(1)

// randomLP builds a feasible, bounded LP: rows are ranged around A·x0 for a
// point x0 inside the bounds, and costs are c = Aᵀy0 + z0 with duals y0, z0
// of the signs the bounds require, so that the dual is feasible too.
func randomLP(rng *rand.Rand, n, m int, density float64) *lp.Model {
	mod := lp.NewModel()
	g := mod.Group("x")
	r := mod.Group("r")
	x0 := make([]float64, n)
	type colSpec struct{ lo, hi float64 }
	spec := make([]colSpec, n)
	for j := 0; j < n; j++ {
		x0[j] = 10 * rng.NormFloat64()
		switch k := rng.IntN(10); {
		case k < 6:
			spec[j] = colSpec{x0[j] - rng.Float64()*5, x0[j] + rng.Float64()*5}
		case k < 8:
			spec[j] = colSpec{x0[j] - rng.Float64()*5, inf}
		case k < 9:
			spec[j] = colSpec{-inf, x0[j] + rng.Float64()*5}
		default:
			spec[j] = colSpec{-inf, inf}
		}
	}
	type rowSpec struct {
		cols []int
		vals []float64
		lo   float64
		hi   float64
	}
	rows := make([]rowSpec, m)
	y0 := make([]float64, m)
	for i := 0; i < m; i++ {
		var cols []int
		var vals []float64
		for j := 0; j < n; j++ {
			if rng.Float64() < density {
				cols = append(cols, j)
				vals = append(vals, rng.NormFloat64())
			}
		}
		if len(cols) == 0 {
			j := rng.IntN(n)
			cols, vals = []int{j}, []float64{1 + rng.Float64()}
		}
		act := 0.0
		for k, j := range cols {
			act += vals[k] * x0[j]
		}
		rs := rowSpec{cols: cols, vals: vals}
		switch k := rng.IntN(4); k {
		case 0:
			rs.lo, rs.hi = act, act
			y0[i] = rng.NormFloat64()
		case 1:
			rs.lo, rs.hi = act-rng.Float64()*3, act+rng.Float64()*3
			y0[i] = rng.NormFloat64()
		case 2:
			rs.lo, rs.hi = act-rng.Float64()*3, inf
			y0[i] = rng.Float64() // ≥ 0 for a lower-bounded row
		default:
			rs.lo, rs.hi = -inf, act+rng.Float64()*3
			y0[i] = -rng.Float64()
		}
		rows[i] = rs
	}
	c := make([]float64, n)
	for i, rs := range rows {
		for k, j := range rs.cols {
			c[j] += rs.vals[k] * y0[i]
		}
	}
	for j := 0; j < n; j++ {
		switch {
		case !math.IsInf(spec[j].lo, -1) && !math.IsInf(spec[j].hi, 1):
			c[j] += rng.NormFloat64()
		case !math.IsInf(spec[j].lo, -1):
			c[j] += rng.Float64()
		case !math.IsInf(spec[j].hi, 1):
			c[j] -= rng.Float64()
		}
		mod.AddVar(g, j, spec[j].lo, spec[j].hi, c[j])
	}
	for i, rs := range rows {
		mod.AddRow(r, i, rs.lo, rs.hi, rs.cols, rs.vals)
	}
	return mod
}

func TestRandomLPsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	compared := 0
	for trial := 0; trial < 1000; trial++ {
		n := 2 + rng.IntN(14)
		m := 1 + rng.IntN(n)
		mod := randomLP(rng, n, m, 0.4)
		sol, err := Solve(context.Background(), mod, Options{})
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		if sol.Status != lp.Optimal {
			t.Fatalf("trial %d (n=%d m=%d): status %v after %d iterations (pinf %g dinf %g gap %g)",
				trial, n, m, sol.Status, sol.Iterations, sol.PrimalInf, sol.DualInf, sol.Gap)
		}
		if v := mod.MaxViolation(sol.X); v.Amount > 1e-6*(1+scaleOf(mod)) {
			t.Fatalf("trial %d: violation %g at row %d col %d", trial, v.Amount, v.Row, v.Col)
		}
		if got := mod.Objective(sol.X); math.Abs(got-sol.Objective) > 1e-9*(1+math.Abs(got)) {
			t.Fatalf("trial %d: reported objective %v, recomputed %v", trial, sol.Objective, got)
		}
		want, _, err := lpref.Solve(mod)
		if err != nil {
			continue // the dense reference cannot take every shape; IPM checked above
		}
		compared++
		if math.Abs(sol.Objective-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("trial %d (n=%d m=%d): objective %.10g, reference %.10g", trial, n, m, sol.Objective, want)
		}
		// Weak duality check with the reported duals: the dual bound matches.
		if math.Abs(sol.DualObjective-sol.Objective) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("trial %d: dual objective %v vs primal %v", trial, sol.DualObjective, sol.Objective)
		}
	}
	if compared < 600 {
		t.Fatalf("only %d of 1000 random LPs were compared with the reference", compared)
	}
}

// TestDualsAreShadowPrices perturbs an active row bound and checks that the
// objective moves by the reported dual.
func TestDualsAreShadowPrices(t *testing.T) {
	build := func(demand float64) *lp.Model {
		// Two generators (cost 1 and 3, capacity 5 and 10) meet a demand.
		m := lp.NewModel()
		g := m.Group("gen")
		a := m.AddVar(g, 0, 0, 5, 1)
		b := m.AddVar(g, 1, 0, 10, 3)
		m.AddRow(m.Group("balance"), -1, demand, demand, []int{a, b}, []float64{1, 1})
		return m
	}
	tests := []struct {
		demand, wantDual float64
	}{
		{3, 1}, {8, 3},
	}
	for _, tc := range tests {
		sol, err := Solve(context.Background(), build(tc.demand), Options{})
		if err != nil || sol.Status != lp.Optimal {
			t.Fatalf("demand %v: %v %v", tc.demand, sol, err)
		}
		if math.Abs(sol.RowDual[0]-tc.wantDual) > 1e-6 {
			t.Errorf("demand %v: dual %v, want %v", tc.demand, sol.RowDual[0], tc.wantDual)
		}
		up, _ := Solve(context.Background(), build(tc.demand+0.01), Options{})
		if d := (up.Objective - sol.Objective) / 0.01; math.Abs(d-sol.RowDual[0]) > 1e-4 {
			t.Errorf("demand %v: finite difference %v vs dual %v", tc.demand, d, sol.RowDual[0])
		}
		// Reduced cost of the cheap generator at its upper bound is negative.
		if tc.demand == 8 && !(sol.ReducedCost[0] < -1) {
			t.Errorf("reduced cost of capped generator %v, want < -1", sol.ReducedCost[0])
		}
	}
}

func TestInfeasibleLP(t *testing.T) {
	tests := []struct {
		name  string
		build func() *lp.Model
	}{
		{"rows conflict", func() *lp.Model {
			m := lp.NewModel()
			g := m.Group("x")
			x := m.AddVar(g, 0, 0, 10, 1)
			y := m.AddVar(g, 1, 0, 10, 1)
			m.AddRow(g, 0, 15, inf, []int{x, y}, []float64{1, 1})
			m.AddRow(g, 1, -inf, 12, []int{x, y}, []float64{1, 1})
			return m
		}},
		{"bounds too tight", func() *lp.Model {
			m := lp.NewModel()
			g := m.Group("x")
			x := m.AddVar(g, 0, 0, 1, 1)
			y := m.AddVar(g, 1, 0, 1, -1)
			m.AddRow(g, 0, 5, 5, []int{x, y}, []float64{1, 1})
			return m
		}},
		{"fixed columns only", func() *lp.Model {
			m := lp.NewModel()
			g := m.Group("x")
			x := m.AddVar(g, 0, 2, 2, 1)
			m.AddRow(g, 0, 3, 3, []int{x}, []float64{1})
			return m
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.build()
			sol, err := Solve(context.Background(), m, Options{MaxIter: 100})
			if err != nil {
				t.Fatal(err)
			}
			if sol.Status == lp.Optimal {
				t.Fatalf("infeasible model reported optimal: x=%v", sol.X)
			}
			// The elastic model is feasible and has a positive optimum.
			el, err := Solve(context.Background(), m.Elastic(nil), Options{})
			if err != nil || el.Status != lp.Optimal {
				t.Fatalf("elastic: %v %v", el, err)
			}
			if !(el.Objective > 1e-3) {
				t.Fatalf("elastic optimum %v, want > 0", el.Objective)
			}
		})
	}
}

func TestDependentRowsAndFreeColumns(t *testing.T) {
	// x + y = 4 twice (dependent), x − y free difference d: d = x − y,
	// minimise d with 0 ≤ x, y ≤ 3 → x = 1, y = 3, d = −2.
	m := lp.NewModel()
	g := m.Group("x")
	x := m.AddVar(g, 0, 0, 3, 0)
	y := m.AddVar(g, 1, 0, 3, 0)
	d := m.AddVar(g, 2, -inf, inf, 1)
	m.AddRow(g, 0, 4, 4, []int{x, y}, []float64{1, 1})
	m.AddRow(g, 1, 4, 4, []int{x, y}, []float64{1, 1})
	m.AddRow(g, 2, 0, 0, []int{d, x, y}, []float64{1, -1, 1})
	sol, err := Solve(context.Background(), m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sol.Status != lp.Optimal {
		t.Fatalf("status %v", sol.Status)
	}
	want := []float64{1, 3, -2}
	for j, w := range want {
		if math.Abs(sol.X[j]-w) > 1e-6 {
			t.Errorf("x[%d] = %v, want %v", j, sol.X[j], w)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := randomLP(rng, 30, 20, 0.2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Solve(ctx, m, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestInvalidModel(t *testing.T) {
	m := lp.NewModel()
	g := m.Group("x")
	m.AddVar(g, 0, 1, 0, 0)
	if _, err := Solve(context.Background(), m, Options{}); err == nil {
		t.Fatal("inverted bounds accepted")
	}
}

// scaleOf is the largest finite row or column bound of m.
func scaleOf(m *lp.Model) float64 {
	s := 0.0
	for j := 0; j < m.NumVars(); j++ {
		lo, hi := m.VarBounds(j)
		for _, v := range []float64{lo, hi} {
			if !math.IsInf(v, 0) {
				s = math.Max(s, math.Abs(v))
			}
		}
	}
	for i := 0; i < m.NumRows(); i++ {
		lo, hi := m.RowBounds(i)
		for _, v := range []float64{lo, hi} {
			if !math.IsInf(v, 0) {
				s = math.Max(s, math.Abs(v))
			}
		}
	}
	return s
}

func TestBoundsOnlyAndEmptyModels(t *testing.T) {
	m := lp.NewModel()
	g := m.Group("x")
	m.AddVar(g, 0, -1, 2, 3)  // cost > 0: at its lower bound
	m.AddVar(g, 1, -1, 2, -1) // cost < 0: at its upper bound
	m.AddVar(g, 2, 4, 4, 1)   // fixed
	m.Offset = 10
	sol, err := Solve(context.Background(), m, Options{})
	if err != nil || sol.Status != lp.Optimal {
		t.Fatalf("%v %v", sol, err)
	}
	want := []float64{-1, 2, 4}
	for j, w := range want {
		if math.Abs(sol.X[j]-w) > 1e-6 {
			t.Errorf("x[%d] = %v, want %v", j, sol.X[j], w)
		}
	}
	if math.Abs(sol.Objective-(10-3-2+4)) > 1e-6 {
		t.Errorf("objective %v", sol.Objective)
	}
	empty, err := Solve(context.Background(), lp.NewModel(), Options{})
	if err != nil || empty.Status != lp.Optimal || len(empty.X) != 0 {
		t.Fatalf("empty model: %+v %v", empty, err)
	}
}

// TestLastRowsSameSolution: the ordering hint changes how the normal
// equations are factored, not the answer. Random LPs are solved with a
// random set of rows ordered last and without; a row out of range is an
// error naming it.
func TestLastRowsSameSolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for trial := 0; trial < 200; trial++ {
		n := 4 + rng.IntN(20)
		m := 2 + rng.IntN(n-1)
		mod := randomLP(rng, n, m, 0.4)
		var last []int
		for i := 0; i < m; i++ {
			if rng.IntN(3) == 0 {
				last = append(last, i)
			}
		}
		a, err := Solve(context.Background(), mod, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Solve(context.Background(), mod, Options{LastRows: last})
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != b.Status {
			t.Fatalf("trial %d: status %v without the hint, %v with rows %v last", trial, a.Status, b.Status, last)
		}
		if a.Status == lp.Optimal && math.Abs(a.Objective-b.Objective) > 1e-6*(1+math.Abs(a.Objective)) {
			t.Fatalf("trial %d: objective %.10g without the hint, %.10g with rows %v last", trial, a.Objective, b.Objective, last)
		}
	}
	mod := randomLP(rng, 4, 2, 0.5)
	_, err := Solve(context.Background(), mod, Options{LastRows: []int{2}})
	if err == nil || !strings.Contains(err.Error(), "LastRows: row 2") {
		t.Fatalf("row 2 of 2 ordered last: %v, want an error naming LastRows and the row", err)
	}
}
