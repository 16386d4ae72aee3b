package plant

import (
	"math"
	"testing"
)

func TestSplitEnergy(t *testing.T) {
	cases := []struct {
		p0, p1, h, imp, exp float64
	}{
		{10, 10, 2, 20, 0},
		{-4, -2, 1, 0, 3},
		{10, -10, 1, 2.5, 2.5},
		{-10, 30, 1, 11.25, 1.25},
		{0, 0, 5, 0, 0},
		{0, -6, 1, 0, 3},
	}
	for _, c := range cases {
		imp, exp := splitEnergy(c.p0, c.p1, c.h)
		if math.Abs(imp-c.imp) > 1e-12 || math.Abs(exp-c.exp) > 1e-12 {
			t.Errorf("splitEnergy(%v, %v, %v) = %v, %v; want %v, %v", c.p0, c.p1, c.h, imp, exp, c.imp, c.exp)
		}
	}
}
