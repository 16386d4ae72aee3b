package sparse

import (
	"fmt"
	"math"
	"sort"
)

// CSC is a sparse matrix in compressed sparse column form. Row indices within
// a column are sorted ascending and unique.
type CSC struct {
	Rows, Cols int
	// ColPtr has Cols+1 entries; column j occupies RowIdx[ColPtr[j]:ColPtr[j+1]].
	ColPtr []int
	RowIdx []int
	Val    []float64
}

// FromTriplets builds a rows×cols CSC matrix from coordinate entries
// (ri[k], ci[k], v[k]). Duplicate coordinates are summed; explicit zeros are
// kept. It fails on mismatched slice lengths, out-of-range indices and
// non-finite values.
func FromTriplets(rows, cols int, ri, ci []int, v []float64) (*CSC, error) {
	if rows < 0 || cols < 0 {
		return nil, fmt.Errorf("sparse: negative dimension %d×%d", rows, cols)
	}
	if len(ri) != len(ci) || len(ri) != len(v) {
		return nil, fmt.Errorf("sparse: triplet lengths differ: %d rows, %d cols, %d values", len(ri), len(ci), len(v))
	}
	count := make([]int, cols+1)
	for k := range ri {
		if ri[k] < 0 || ri[k] >= rows {
			return nil, fmt.Errorf("sparse: entry %d: row %d out of range [0,%d)", k, ri[k], rows)
		}
		if ci[k] < 0 || ci[k] >= cols {
			return nil, fmt.Errorf("sparse: entry %d: column %d out of range [0,%d)", k, ci[k], cols)
		}
		if math.IsNaN(v[k]) || math.IsInf(v[k], 0) {
			return nil, fmt.Errorf("sparse: entry %d (%d,%d): non-finite value %v", k, ri[k], ci[k], v[k])
		}
		count[ci[k]+1]++
	}
	for j := 0; j < cols; j++ {
		count[j+1] += count[j]
	}
	rowIdx := make([]int, len(ri))
	val := make([]float64, len(ri))
	next := append([]int(nil), count[:cols]...)
	for k := range ri {
		p := next[ci[k]]
		next[ci[k]]++
		rowIdx[p] = ri[k]
		val[p] = v[k]
	}
	a := &CSC{Rows: rows, Cols: cols, ColPtr: make([]int, cols+1)}
	a.RowIdx = rowIdx[:0]
	a.Val = val[:0]
	// Sort each column and merge duplicates, compacting in place.
	out := 0
	for j := 0; j < cols; j++ {
		lo, hi := count[j], count[j+1]
		if !strictlyIncreasing(rowIdx[lo:hi]) {
			// (A column already in order, without duplicates, is left
			// as it is: sorting would not move anything.)
			sort.Sort(byRow{rowIdx[lo:hi], val[lo:hi]})
		}
		a.ColPtr[j] = out
		for p := lo; p < hi; p++ {
			if out > a.ColPtr[j] && rowIdx[out-1] == rowIdx[p] {
				val[out-1] += val[p]
				continue
			}
			rowIdx[out] = rowIdx[p]
			val[out] = val[p]
			out++
		}
	}
	a.ColPtr[cols] = out
	a.RowIdx = rowIdx[:out]
	a.Val = val[:out]
	return a, nil
}

func strictlyIncreasing(r []int) bool {
	for i := 1; i < len(r); i++ {
		if r[i] <= r[i-1] {
			return false
		}
	}
	return true
}

type byRow struct {
	r []int
	v []float64
}

func (b byRow) Len() int           { return len(b.r) }
func (b byRow) Less(i, j int) bool { return b.r[i] < b.r[j] }
func (b byRow) Swap(i, j int) {
	b.r[i], b.r[j] = b.r[j], b.r[i]
	b.v[i], b.v[j] = b.v[j], b.v[i]
}

// Nnz returns the number of stored entries.
func (a *CSC) Nnz() int { return a.ColPtr[a.Cols] }

// Transpose returns Aᵀ in CSC form (equivalently, A in CSR form).
func (a *CSC) Transpose() *CSC {
	t := &CSC{Rows: a.Cols, Cols: a.Rows, ColPtr: make([]int, a.Rows+1)}
	nnz := a.Nnz()
	t.RowIdx = make([]int, nnz)
	t.Val = make([]float64, nnz)
	for p := 0; p < nnz; p++ {
		t.ColPtr[a.RowIdx[p]+1]++
	}
	for i := 0; i < a.Rows; i++ {
		t.ColPtr[i+1] += t.ColPtr[i]
	}
	next := append([]int(nil), t.ColPtr[:a.Rows]...)
	for j := 0; j < a.Cols; j++ {
		for p := a.ColPtr[j]; p < a.ColPtr[j+1]; p++ {
			q := next[a.RowIdx[p]]
			next[a.RowIdx[p]]++
			t.RowIdx[q] = j
			t.Val[q] = a.Val[p]
		}
	}
	return t
}

// MulVec sets y = A·x. len(x) must be Cols and len(y) Rows.
func (a *CSC) MulVec(y, x []float64) {
	for i := range y[:a.Rows] {
		y[i] = 0
	}
	for j := 0; j < a.Cols; j++ {
		xj := x[j]
		if xj == 0 {
			continue
		}
		for p := a.ColPtr[j]; p < a.ColPtr[j+1]; p++ {
			y[a.RowIdx[p]] += a.Val[p] * xj
		}
	}
}

// MulTransVec sets y = Aᵀ·x. len(x) must be Rows and len(y) Cols.
func (a *CSC) MulTransVec(y, x []float64) {
	for j := 0; j < a.Cols; j++ {
		s := 0.0
		for p := a.ColPtr[j]; p < a.ColPtr[j+1]; p++ {
			s += a.Val[p] * x[a.RowIdx[p]]
		}
		y[j] = s
	}
}

// At returns the entry A(i,j) (zero if not stored).
func (a *CSC) At(i, j int) float64 {
	col := a.RowIdx[a.ColPtr[j]:a.ColPtr[j+1]]
	k := sort.SearchInts(col, i)
	if k < len(col) && col[k] == i {
		return a.Val[a.ColPtr[j]+k]
	}
	return 0
}
