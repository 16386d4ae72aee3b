package lp

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func exportSample() *Model {
	m := NewModel()
	g := m.Group("ev.EV-1[x]")
	x := m.AddVar(g, 3, 0, 10, 1.5)
	y := m.AddVar(m.Group("flow"), -1, math.Inf(-1), math.Inf(1), -2)
	z := m.AddVar(m.Group("flow"), -1, math.Inf(-1), 4, 0) // same name as y
	w := m.AddVar(m.Group("fixed"), 0, 2, 2, 0)            // in no row, no cost
	_ = w
	m.AddRow(m.Group("balance"), 7, 1, 1, []int{x, y, x}, []float64{1, -2, 3})
	m.AddRow(m.Group("range"), 0, -1, 5, []int{y, z}, []float64{1, 1e-7})
	m.AddRow(m.Group("free"), 0, math.Inf(-1), math.Inf(1), []int{x}, []float64{1})
	m.AddRow(m.Group("cap"), -1, math.Inf(-1), 4, []int{z, y}, []float64{-1, 0})
	m.Offset = 0.5
	return m
}

func TestWriteLP(t *testing.T) {
	var b bytes.Buffer
	if err := exportSample().WriteLP(&b); err != nil {
		t.Fatal(err)
	}
	lp := b.String()
	for _, want := range []string{
		"obj: + 1.5 x_ev.EV_1_x__3 - 2 x_flow + 0 x_fixed_0 + 0.5 x_objective_offset",
		"r_balance_7: + 4 x_ev.EV_1_x__3 - 2 x_flow = 1", // x merged: 1 + 3
		"r_range_0_lo: + 1 x_flow + 1e-07 x_flow_2 >= -1",
		"r_range_0_hi: + 1 x_flow + 1e-07 x_flow_2 <= 5",
		"r_cap: - 1 x_flow_2 <= 4", // zero coefficient dropped
		" 0 <= x_ev.EV_1_x__3 <= 10\n",
		" x_flow free\n",
		" -inf <= x_flow_2 <= 4\n",
		" x_fixed_0 = 2\n",
		" x_objective_offset = 1\n",
	} {
		if !strings.Contains(lp, want) {
			t.Errorf("LP lacks %q:\n%s", want, lp)
		}
	}
	if strings.Contains(lp, "r_free") {
		t.Error("a row without finite bounds was written")
	}
	if strings.Contains(lp, "+ -") {
		t.Error(`LP contains "+ -"`)
	}
}

func TestWriteMPS(t *testing.T) {
	var b bytes.Buffer
	if err := exportSample().WriteMPS(&b); err != nil {
		t.Fatal(err)
	}
	mps := b.String()
	for _, want := range []string{
		"ROWS\n N obj\n E r_balance_7\n G r_range_0_lo\n L r_range_0_hi\n L r_cap\nCOLUMNS\n",
		" x_ev.EV_1_x__3 obj 1.5\n x_ev.EV_1_x__3 r_balance_7 4\n",
		" x_flow_2 r_cap -1\n",
		" x_fixed_0 obj 0\n",
		" x_objective_offset obj 0.5\n",
		" RHS r_balance_7 1\n RHS r_range_0_lo -1\n RHS r_range_0_hi 5\n RHS r_cap 4\n",
		" LO BND x_ev.EV_1_x__3 0\n UP BND x_ev.EV_1_x__3 10\n FR BND x_flow\n MI BND x_flow_2\n UP BND x_flow_2 4\n FX BND x_fixed_0 2\n FX BND x_objective_offset 1\nENDATA\n",
	} {
		if !strings.Contains(mps, want) {
			t.Errorf("MPS lacks %q:\n%s", want, mps)
		}
	}
	if strings.Contains(mps, "x_flow r_cap") {
		t.Error("zero coefficient written")
	}
}

func TestWriteRejectsBadModel(t *testing.T) {
	m := NewModel()
	m.AddVar(m.Group("x"), 0, 1, 0, 0) // lo > hi
	if err := m.WriteLP(&bytes.Buffer{}); err == nil {
		t.Error("WriteLP accepted inverted bounds")
	}
	if err := m.WriteMPS(&bytes.Buffer{}); err == nil {
		t.Error("WriteMPS accepted inverted bounds")
	}
}
