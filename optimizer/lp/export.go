package lp

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Export formats. Both write exactly the model: the same columns, bounds,
// costs and coefficients (printed with the shortest representation that
// reads back to the same float64), with these conventions shared by both:
//
//   - Names are the model's names with every character outside
//     [A-Za-z0-9_.] replaced by '_' and "[i]" written as "_i"; a name that
//     would repeat an earlier one gets "_k" appended (k = 2, 3, …). Rows are
//     prefixed "r_" and columns "x_", so rows and columns never clash.
//   - A ranged row (both bounds finite and different) is written as two
//     rows, NAME_lo (≥ lo) and NAME_hi (≤ hi). A row without finite bounds
//     constrains nothing and is omitted.
//   - Repeated columns in a row are summed and zero coefficients dropped.
//   - A non-zero objective offset is written as the column "x_objective_offset"
//     fixed at 1 with the offset as its cost.
//   - Coefficients are never written as "+ -3 x": a negative coefficient is
//     written "- 3 x" (GLPK rejects the former).

// exportNames returns sanitised, unique names for columns and rows.
func (m *Model) exportNames() (cols, rows []string) {
	used := make(map[string]bool, len(m.lo)+len(m.rlo))
	unique := func(base string) string {
		name := base
		for k := 2; used[name]; k++ {
			name = base + "_" + strconv.Itoa(k)
		}
		used[name] = true
		return name
	}
	cols = make([]string, len(m.lo))
	for j := range m.lo {
		cols[j] = unique("x_" + sanitize(m.VarName(j)))
	}
	rows = make([]string, len(m.rlo))
	for i := range m.rlo {
		rows[i] = unique("r_" + sanitize(m.RowName(i)))
	}
	return cols, rows
}

// sanitize maps a model name to the characters every LP and MPS reader
// accepts in a name.
func sanitize(s string) string {
	s = strings.TrimSuffix(strings.ReplaceAll(s, "[", "_"), "]")
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// num formats x exactly (shortest round-trip representation).
func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// mergedRow returns row i's columns (ascending) and summed non-zero
// coefficients.
func (m *Model) mergedRow(i int, cols []int, vals []float64) ([]int, []float64) {
	rc, rv := m.Row(i)
	cols, vals = cols[:0], vals[:0]
	idx := make([]int, len(rc))
	for k := range idx {
		idx[k] = k
	}
	sort.Slice(idx, func(a, b int) bool { return rc[idx[a]] < rc[idx[b]] })
	for _, k := range idx {
		if n := len(cols); n > 0 && cols[n-1] == rc[k] {
			vals[n-1] += rv[k]
			continue
		}
		cols = append(cols, rc[k])
		vals = append(vals, rv[k])
	}
	w := 0
	for k := range cols {
		if vals[k] != 0 {
			cols[w], vals[w] = cols[k], vals[k]
			w++
		}
	}
	return cols[:w], vals[:w]
}

// exportRow is one written row: a name, a sense and a right-hand side.
type exportRow struct {
	row   int
	name  string
	sense byte // 'E', 'L' or 'G'
	rhs   float64
}

func (m *Model) exportRows(names []string) []exportRow {
	var out []exportRow
	for i := range m.rlo {
		lo, hi := m.rlo[i], m.rhi[i]
		loF, hiF := !math.IsInf(lo, 0), !math.IsInf(hi, 0)
		switch {
		case loF && hiF && lo == hi:
			out = append(out, exportRow{i, names[i], 'E', lo})
		case loF && hiF:
			out = append(out, exportRow{i, names[i] + "_lo", 'G', lo}, exportRow{i, names[i] + "_hi", 'L', hi})
		case loF:
			out = append(out, exportRow{i, names[i], 'G', lo})
		case hiF:
			out = append(out, exportRow{i, names[i], 'L', hi})
		}
	}
	return out
}

// WriteLP writes the model in CPLEX LP format (as read by glpsol --lp,
// cbc, HiGHS and CPLEX). It returns an error if the model fails Check or
// writing fails.
func (m *Model) WriteLP(w io.Writer) error {
	if err := m.Check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cn, rn := m.exportNames()
	const offsetName = "x_objective_offset"

	// Columns that appear in no row must still appear somewhere before
	// the bounds section, so the objective lists them (with 0 if need be).
	inRow := make([]bool, len(m.lo))
	for _, j := range m.ecol {
		inRow[j] = true
	}
	zeroName := offsetName // a column to write "0 x" with
	if len(cn) > 0 {
		zeroName = cn[0]
	}
	line := &lpLine{w: bw}
	bw.WriteString("\\ gridd dispatch LP\nMinimize\n obj:")
	line.n = 0
	wrote := false
	for j, c := range m.cost {
		if c == 0 && inRow[j] {
			continue
		}
		line.term(c, cn[j])
		wrote = true
	}
	if m.Offset != 0 {
		line.term(m.Offset, offsetName)
		wrote = true
	}
	if !wrote {
		line.term(0, zeroName)
	}
	bw.WriteString("\nSubject To\n")
	var cols []int
	var vals []float64
	for _, r := range m.exportRows(rn) {
		cols, vals = m.mergedRow(r.row, cols, vals)
		bw.WriteString(" ")
		bw.WriteString(r.name)
		bw.WriteString(":")
		line.n = 0
		if len(cols) == 0 {
			// A row of zeros: 0 x relop rhs keeps the row (and its
			// infeasibility, if any).
			line.term(0, zeroName)
		}
		for k, j := range cols {
			line.term(vals[k], cn[j])
		}
		switch r.sense {
		case 'E':
			bw.WriteString(" = ")
		case 'L':
			bw.WriteString(" <= ")
		case 'G':
			bw.WriteString(" >= ")
		}
		bw.WriteString(num(r.rhs))
		bw.WriteString("\n")
	}
	bw.WriteString("Bounds\n")
	for j := range m.lo {
		lo, hi := m.lo[j], m.hi[j]
		switch {
		case lo == hi:
			fmt.Fprintf(bw, " %s = %s\n", cn[j], num(lo))
		case math.IsInf(lo, -1) && math.IsInf(hi, 1):
			fmt.Fprintf(bw, " %s free\n", cn[j])
		case math.IsInf(lo, -1):
			fmt.Fprintf(bw, " -inf <= %s <= %s\n", cn[j], num(hi))
		case math.IsInf(hi, 1):
			fmt.Fprintf(bw, " %s >= %s\n", cn[j], num(lo))
		default:
			fmt.Fprintf(bw, " %s <= %s <= %s\n", num(lo), cn[j], num(hi))
		}
	}
	if m.Offset != 0 || (len(m.lo) == 0) {
		fmt.Fprintf(bw, " %s = 1\n", offsetName)
	}
	bw.WriteString("End\n")
	return bw.Flush()
}

// lpLine writes "+ c name" / "- c name" terms, breaking lines every few
// terms so no line gets long.
type lpLine struct {
	w *bufio.Writer
	n int
}

func (l *lpLine) term(c float64, name string) {
	if l.n > 0 && l.n%8 == 0 {
		l.w.WriteString("\n   ")
	}
	l.n++
	if c < 0 || (c == 0 && math.Signbit(c)) {
		l.w.WriteString(" - ")
		c = -c
	} else {
		l.w.WriteString(" + ")
	}
	l.w.WriteString(num(c))
	l.w.WriteString(" ")
	l.w.WriteString(name)
}

// WriteMPS writes the model in free MPS format (glpsol --freemps, cbc,
// HiGHS). Every column's bounds are written explicitly.
func (m *Model) WriteMPS(w io.Writer) error {
	if err := m.Check(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	cn, rn := m.exportNames()
	const offsetName = "x_objective_offset"
	rows := m.exportRows(rn)

	bw.WriteString("NAME gridd\nROWS\n N obj\n")
	for _, r := range rows {
		fmt.Fprintf(bw, " %c %s\n", r.sense, r.name)
	}
	// Column-wise entries: for each column, the written rows it is in.
	type entry struct {
		row int // index into rows
		v   float64
	}
	byCol := make([][]entry, len(m.lo))
	var cols []int
	var vals []float64
	for k, r := range rows {
		cols, vals = m.mergedRow(r.row, cols, vals)
		for q, j := range cols {
			byCol[j] = append(byCol[j], entry{k, vals[q]})
		}
	}
	bw.WriteString("COLUMNS\n")
	for j := range m.lo {
		if m.cost[j] != 0 || len(byCol[j]) == 0 {
			fmt.Fprintf(bw, " %s obj %s\n", cn[j], num(m.cost[j]))
		}
		for _, e := range byCol[j] {
			fmt.Fprintf(bw, " %s %s %s\n", cn[j], rows[e.row].name, num(e.v))
		}
	}
	if m.Offset != 0 {
		fmt.Fprintf(bw, " %s obj %s\n", offsetName, num(m.Offset))
	}
	bw.WriteString("RHS\n")
	for _, r := range rows {
		if r.rhs != 0 {
			fmt.Fprintf(bw, " RHS %s %s\n", r.name, num(r.rhs))
		}
	}
	bw.WriteString("BOUNDS\n")
	for j := range m.lo {
		lo, hi := m.lo[j], m.hi[j]
		switch {
		case lo == hi:
			fmt.Fprintf(bw, " FX BND %s %s\n", cn[j], num(lo))
		case math.IsInf(lo, -1) && math.IsInf(hi, 1):
			fmt.Fprintf(bw, " FR BND %s\n", cn[j])
		default:
			if math.IsInf(lo, -1) {
				fmt.Fprintf(bw, " MI BND %s\n", cn[j])
			} else {
				fmt.Fprintf(bw, " LO BND %s %s\n", cn[j], num(lo))
			}
			if math.IsInf(hi, 1) {
				fmt.Fprintf(bw, " PL BND %s\n", cn[j])
			} else {
				fmt.Fprintf(bw, " UP BND %s %s\n", cn[j], num(hi))
			}
		}
	}
	if m.Offset != 0 {
		fmt.Fprintf(bw, " FX BND %s 1\n", offsetName)
	}
	bw.WriteString("ENDATA\n")
	return bw.Flush()
}
