package lp

import (
	"math"
	"strings"
	"testing"
)

func sample() (*Model, []int) {
	m := NewModel()
	g := m.Group("battery.b1.soc")
	f := m.Group("flow")
	x := m.AddVar(g, 3, 0, 10, 1.5)
	y := m.AddVar(f, -1, math.Inf(-1), math.Inf(1), -2)
	m.AddRow(m.Group("balance"), 7, 1, 1, []int{x, y, x}, []float64{1, 2, 3})
	m.AddRow(m.Group("cap"), -1, math.Inf(-1), 4, []int{y}, []float64{1})
	m.Offset = 0.5
	return m, []int{x, y}
}

func TestModelNamesAndAccessors(t *testing.T) {
	m, cols := sample()
	if got := m.VarName(cols[0]); got != "battery.b1.soc[3]" {
		t.Errorf("VarName = %q", got)
	}
	if got := m.VarName(cols[1]); got != "flow" {
		t.Errorf("VarName without index = %q", got)
	}
	if got := m.RowName(0); got != "balance[7]" {
		t.Errorf("RowName = %q", got)
	}
	if g, i := m.VarGroup(cols[0]); m.GroupName(g) != "battery.b1.soc" || i != 3 {
		t.Errorf("VarGroup = %v %v", g, i)
	}
	if g, i := m.RowGroup(1); m.GroupName(g) != "cap" || i != -1 {
		t.Errorf("RowGroup = %v %v", g, i)
	}
	if m.NumVars() != 2 || m.NumRows() != 2 || m.NumEntries() != 4 {
		t.Errorf("sizes %d %d %d", m.NumVars(), m.NumRows(), m.NumEntries())
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	a, err := m.Matrix()
	if err != nil {
		t.Fatal(err)
	}
	if a.At(0, cols[0]) != 4 || a.At(0, cols[1]) != 2 || a.At(1, cols[1]) != 1 || a.At(1, cols[0]) != 0 {
		t.Errorf("matrix entries wrong (duplicates must be summed)")
	}
	x := []float64{2, 3}
	if got := m.Objective(x); got != 0.5+3-6 {
		t.Errorf("Objective = %v", got)
	}
	act := m.Activity(x)
	if act[0] != 2+6+6 || act[1] != 3 {
		t.Errorf("Activity = %v", act)
	}
	// Row 0 wants 1 but has 14: violation 13.
	if v := m.MaxViolation(x); v.Amount != 13 || v.Row != 0 || v.Col != -1 {
		t.Errorf("MaxViolation = %+v", v)
	}
	// Rows met (4·11 + 2·(−21.5) = 1), x above its bound 10 by 1.
	if v := m.MaxViolation([]float64{11, -21.5}); v.Amount != 1 || v.Col != 0 || v.Row != -1 {
		t.Errorf("bound violation not found: %+v", v)
	}
}

func TestModelCheck(t *testing.T) {
	tests := []struct {
		name  string
		build func(m *Model)
		want  string
	}{
		{"inverted bounds", func(m *Model) { m.AddVar(m.Group("x"), 0, 2, 1, 0) }, "x[0]: bounds [2, 1]"},
		{"NaN cost", func(m *Model) { m.AddVar(m.Group("x"), 0, 0, 1, math.NaN()) }, "cost NaN"},
		{"lower +Inf", func(m *Model) { m.AddVar(m.Group("x"), 0, math.Inf(1), math.Inf(1), 0) }, "bounds"},
		{"row range", func(m *Model) { m.AddRow(m.Group("r"), 1, 3, 2, nil, nil) }, "r[1]: range [3, 2]"},
		{"column out of range", func(m *Model) { m.AddRow(m.Group("r"), 0, 0, 0, []int{5}, []float64{1}) }, "column 5 out of range"},
		{"NaN coefficient", func(m *Model) {
			j := m.AddVar(m.Group("x"), 0, 0, 1, 0)
			m.AddRow(m.Group("r"), 0, 0, 0, []int{j}, []float64{math.Inf(1)})
		}, "coefficient +Inf"},
		{"offset", func(m *Model) { m.Offset = math.NaN() }, "offset"},
	}
	for _, tc := range tests {
		m := NewModel()
		tc.build(m)
		err := m.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestElastic(t *testing.T) {
	m, _ := sample()
	e := m.Elastic(func(i int) float64 { return float64(i + 2) })
	n := m.NumVars()
	if e.NumVars() != n+2*m.NumRows() || e.NumRows() != m.NumRows() {
		t.Fatalf("elastic sizes %d×%d", e.NumRows(), e.NumVars())
	}
	for j := 0; j < n; j++ {
		if e.Cost(j) != 0 {
			t.Errorf("original column %d keeps cost %v", j, e.Cost(j))
		}
		lo, hi := e.VarBounds(j)
		mlo, mhi := m.VarBounds(j)
		if lo != mlo || hi != mhi {
			t.Errorf("column %d bounds changed", j)
		}
	}
	for i := 0; i < m.NumRows(); i++ {
		if e.Cost(n+2*i) != float64(i+2) || e.Cost(n+2*i+1) != float64(i+2) {
			t.Errorf("row %d: slack costs %v %v", i, e.Cost(n+2*i), e.Cost(n+2*i+1))
		}
		cols, vals := e.Row(i)
		k := len(cols)
		if cols[k-2] != n+2*i || vals[k-2] != 1 || cols[k-1] != n+2*i+1 || vals[k-1] != -1 {
			t.Errorf("row %d: slack entries %v %v", i, cols, vals)
		}
	}
	// With the slacks, any point is feasible: x = (0, 0) fixed by slack.
	x := make([]float64, e.NumVars())
	x[n+0] = 1 // row 0 needs activity 1
	if v := e.MaxViolation(x); v.Amount != 0 {
		t.Errorf("elastic point infeasible: %+v", v)
	}
	if u := m.Elastic(nil); u.Cost(n) != 1 {
		t.Errorf("default weight %v", u.Cost(n))
	}
}
