package lp

import (
	"fmt"
	"math"
	"strconv"

	"github.com/gridd/gridd/optimizer/sparse"
)

// Group identifies a family of columns or rows sharing a name stem.
type Group int32

// Model is a linear program under construction. The zero value is not
// usable; call NewModel.
type Model struct {
	groups []string

	colGroup []Group
	colIndex []int32
	lo, hi   []float64
	cost     []float64

	rowGroup []Group
	rowIndex []int32
	rlo, rhi []float64
	rowPtr   []int // row i's entries are ecol/eval[rowPtr[i]:rowPtr[i+1]]
	ecol     []int
	eval     []float64

	// Offset is a constant added to the objective.
	Offset float64
}

// NewModel returns an empty model.
func NewModel() *Model {
	return &Model{rowPtr: []int{0}}
}

// Grow reserves room for cols more columns, rows more rows and entries
// more coefficients, so that building a model of known size does not
// reallocate.
func (m *Model) Grow(cols, rows, entries int) {
	m.colGroup = growTo(m.colGroup, cols)
	m.colIndex = growTo(m.colIndex, cols)
	m.lo = growTo(m.lo, cols)
	m.hi = growTo(m.hi, cols)
	m.cost = growTo(m.cost, cols)
	m.rowGroup = growTo(m.rowGroup, rows)
	m.rowIndex = growTo(m.rowIndex, rows)
	m.rlo = growTo(m.rlo, rows)
	m.rhi = growTo(m.rhi, rows)
	m.rowPtr = growTo(m.rowPtr, rows)
	m.ecol = growTo(m.ecol, entries)
	m.eval = growTo(m.eval, entries)
}

func growTo[T any](s []T, more int) []T {
	if more <= 0 || cap(s)-len(s) >= more {
		return s
	}
	return append(make([]T, 0, len(s)+more), s...)
}

// Group registers a name stem for columns or rows.
func (m *Model) Group(name string) Group {
	m.groups = append(m.groups, name)
	return Group(len(m.groups) - 1)
}

// AddVar adds a column with bounds [lo, hi] (use ±Inf for none) and
// objective coefficient cost, named group[index] (index < 0: no index). It
// returns the column number.
func (m *Model) AddVar(g Group, index int, lo, hi, cost float64) int {
	m.colGroup = append(m.colGroup, g)
	m.colIndex = append(m.colIndex, int32(index))
	m.lo = append(m.lo, lo)
	m.hi = append(m.hi, hi)
	m.cost = append(m.cost, cost)
	return len(m.lo) - 1
}

// AddRow adds the row lo ≤ Σ vals[k]·x[cols[k]] ≤ hi, named group[index],
// and returns the row number. Repeated columns are summed by the solver.
func (m *Model) AddRow(g Group, index int, lo, hi float64, cols []int, vals []float64) int {
	m.rowGroup = append(m.rowGroup, g)
	m.rowIndex = append(m.rowIndex, int32(index))
	m.rlo = append(m.rlo, lo)
	m.rhi = append(m.rhi, hi)
	m.ecol = append(m.ecol, cols...)
	m.eval = append(m.eval, vals...)
	m.rowPtr = append(m.rowPtr, len(m.ecol))
	return len(m.rlo) - 1
}

// NumVars returns the number of columns.
func (m *Model) NumVars() int { return len(m.lo) }

// NumRows returns the number of rows.
func (m *Model) NumRows() int { return len(m.rlo) }

// NumEntries returns the number of coefficients.
func (m *Model) NumEntries() int { return len(m.ecol) }

// VarName returns the name of column j.
func (m *Model) VarName(j int) string { return m.name(m.colGroup[j], m.colIndex[j]) }

// RowName returns the name of row i.
func (m *Model) RowName(i int) string { return m.name(m.rowGroup[i], m.rowIndex[i]) }

func (m *Model) name(g Group, idx int32) string {
	if idx < 0 {
		return m.groups[g]
	}
	return m.groups[g] + "[" + strconv.Itoa(int(idx)) + "]"
}

// VarGroup returns the group and index column j was added with.
func (m *Model) VarGroup(j int) (Group, int) { return m.colGroup[j], int(m.colIndex[j]) }

// RowGroup returns the group and index row i was added with.
func (m *Model) RowGroup(i int) (Group, int) { return m.rowGroup[i], int(m.rowIndex[i]) }

// GroupName returns the name stem of g.
func (m *Model) GroupName(g Group) string { return m.groups[g] }

// VarBounds returns column j's bounds.
func (m *Model) VarBounds(j int) (lo, hi float64) { return m.lo[j], m.hi[j] }

// Cost returns column j's objective coefficient.
func (m *Model) Cost(j int) float64 { return m.cost[j] }

// RowBounds returns row i's range.
func (m *Model) RowBounds(i int) (lo, hi float64) { return m.rlo[i], m.rhi[i] }

// Row returns the columns and coefficients of row i. The slices alias the
// model and must not be modified.
func (m *Model) Row(i int) (cols []int, vals []float64) {
	return m.ecol[m.rowPtr[i]:m.rowPtr[i+1]], m.eval[m.rowPtr[i]:m.rowPtr[i+1]]
}

// Check reports the first structural problem: a non-finite cost or
// coefficient, a NaN or inverted bound, or a column index out of range.
func (m *Model) Check() error {
	for j := range m.lo {
		if math.IsNaN(m.cost[j]) || math.IsInf(m.cost[j], 0) {
			return fmt.Errorf("lp: column %s: cost %v is not finite", m.VarName(j), m.cost[j])
		}
		if math.IsNaN(m.lo[j]) || math.IsNaN(m.hi[j]) || m.lo[j] > m.hi[j] || math.IsInf(m.lo[j], 1) || math.IsInf(m.hi[j], -1) {
			return fmt.Errorf("lp: column %s: bounds [%v, %v] are invalid", m.VarName(j), m.lo[j], m.hi[j])
		}
	}
	for i := range m.rlo {
		if math.IsNaN(m.rlo[i]) || math.IsNaN(m.rhi[i]) || m.rlo[i] > m.rhi[i] || math.IsInf(m.rlo[i], 1) || math.IsInf(m.rhi[i], -1) {
			return fmt.Errorf("lp: row %s: range [%v, %v] is invalid", m.RowName(i), m.rlo[i], m.rhi[i])
		}
		cols, vals := m.Row(i)
		for k, j := range cols {
			if j < 0 || j >= len(m.lo) {
				return fmt.Errorf("lp: row %s: column %d out of range [0,%d)", m.RowName(i), j, len(m.lo))
			}
			if math.IsNaN(vals[k]) || math.IsInf(vals[k], 0) {
				return fmt.Errorf("lp: row %s: coefficient %v of %s is not finite", m.RowName(i), vals[k], m.VarName(j))
			}
		}
	}
	if math.IsNaN(m.Offset) || math.IsInf(m.Offset, 0) {
		return fmt.Errorf("lp: objective offset %v is not finite", m.Offset)
	}
	return nil
}

// Matrix returns A as a NumRows×NumVars CSC matrix (repeated entries summed).
func (m *Model) Matrix() (*sparse.CSC, error) {
	ri := make([]int, len(m.ecol))
	for i := range m.rlo {
		for p := m.rowPtr[i]; p < m.rowPtr[i+1]; p++ {
			ri[p] = i
		}
	}
	return sparse.FromTriplets(len(m.rlo), len(m.lo), ri, m.ecol, m.eval)
}

// Objective returns cᵀx + Offset.
func (m *Model) Objective(x []float64) float64 {
	s := m.Offset
	for j, c := range m.cost {
		s += c * x[j]
	}
	return s
}

// Activity returns A·x, one value per row.
func (m *Model) Activity(x []float64) []float64 {
	act := make([]float64, len(m.rlo))
	for i := range act {
		s := 0.0
		for p := m.rowPtr[i]; p < m.rowPtr[i+1]; p++ {
			s += m.eval[p] * x[m.ecol[p]]
		}
		act[i] = s
	}
	return act
}

// Violation is the largest absolute infeasibility of x and where it occurs.
type Violation struct {
	Amount float64
	// Row is the violated row, or -1 for a column bound.
	Row int
	// Col is the column whose bound is violated, or -1 for a row.
	Col int
}

// MaxViolation returns the largest absolute violation of any row range or
// column bound by x (zero when x is feasible).
func (m *Model) MaxViolation(x []float64) Violation {
	v := Violation{Row: -1, Col: -1}
	for j := range m.lo {
		if d := math.Max(m.lo[j]-x[j], x[j]-m.hi[j]); d > v.Amount {
			v = Violation{Amount: d, Row: -1, Col: j}
		}
	}
	for i, a := range m.Activity(x) {
		if d := math.Max(m.rlo[i]-a, a-m.rhi[i]); d > v.Amount {
			v = Violation{Amount: d, Row: i, Col: -1}
		}
	}
	return v
}

// Elastic returns the phase-one model used to diagnose infeasibility: the
// same rows and column bounds, zero original costs, and for every row i two
// extra columns — NumVars()+2i adds to the row activity and NumVars()+2i+1
// subtracts from it — each costing weight(i) (1 when weight is nil; weights
// must be positive). It is always feasible, and its optimum is zero exactly
// when m is feasible; the positive extra columns at the optimum show which
// rows cannot be satisfied together. Weights steer the diagnosis towards the
// rows whose violation explains the conflict best.
func (m *Model) Elastic(weight func(row int) float64) *Model {
	e := NewModel()
	e.groups = append(e.groups, m.groups...)
	gPlus := e.Group("elastic+")
	gMinus := e.Group("elastic-")
	for j := range m.lo {
		e.AddVar(m.colGroup[j], int(m.colIndex[j]), m.lo[j], m.hi[j], 0)
	}
	n := len(m.lo)
	for i := range m.rlo {
		w := 1.0
		if weight != nil {
			w = weight(i)
		}
		e.AddVar(gPlus, i, 0, math.Inf(1), w)
		e.AddVar(gMinus, i, 0, math.Inf(1), w)
	}
	for i := range m.rlo {
		cols, vals := m.Row(i)
		c := append(append([]int(nil), cols...), n+2*i, n+2*i+1)
		v := append(append([]float64(nil), vals...), 1, -1)
		e.AddRow(m.rowGroup[i], int(m.rowIndex[i]), m.rlo[i], m.rhi[i], c, v)
	}
	return e
}

// SetVarBounds replaces column j's bounds.
func (m *Model) SetVarBounds(j int, lo, hi float64) {
	m.lo[j] = lo
	m.hi[j] = hi
}
