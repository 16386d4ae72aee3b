package sparse

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"
)

// hugePivot replaces a dependent pivot; its square root is the stored
// diagonal of L, so the matching solution component is ~1e-64 times its
// right-hand side.
const hugePivot = 1e128

// useSupernodal selects the supernodal factorisation for new Cholesky
// values; otherwise the up-looking (row-by-row) one, kept as a reference
// for tests and benchmarks, is used.
var useSupernodal = true

// Cholesky is a sparse LLᵀ factorisation of a symmetric positive
// (semi)definite matrix whose upper triangle (including the full diagonal)
// has a fixed pattern. The caller applies any fill-reducing permutation to
// the pattern before calling NewCholesky; the factorisation may reorder
// further within the elimination tree (which changes neither fill nor
// work), transparently to Solve.
//
// Factorize must not run concurrently with other calls on the same value;
// Solve calls may run concurrently with each other.
type Cholesky struct {
	ar     *arena // the supernodal factorisation's arrays (Release)
	n      int
	cp, ri []int // upper-triangular input pattern

	parent []int // elimination tree

	// Up-looking factorisation (used when sn is nil).
	rowPtr []int // row k of L (strictly lower part) is rowCol[rowPtr[k]:rowPtr[k+1]],
	rowCol []int // in topological order of the elimination tree

	lp []int // column pointers of L; the diagonal is stored first in each column
	li []int // row indices of L
	lx []float64

	x    []float64 // dense workspace
	next []int     // symbolic phase: next free position of each column
	// Numeric phase: per column, the computed part of its strict lower
	// part is li/lx[lo:end], and d is its diagonal entry of L; kept
	// together so that a row's update touches one cache line per column.
	cs []colState

	// Parallel schedule: rows of disjoint elimination subtrees are
	// independent; part[w] lists the rows worker w factors (ascending),
	// top the remaining rows, factored afterwards in order.
	part [][]int
	top  []int

	// sn is the supernodal factorisation; nil when the up-looking one
	// is used.
	sn *supernodal

	// PivotTol is the relative tolerance below which a pivot is taken as
	// zero: a pivot d of row k is replaced when d ≤ PivotTol·A(k,k).
	PivotTol float64
	// Replaced counts the pivots replaced by the last Factorize call.
	Replaced int
}

// NewCholesky performs the symbolic factorisation of the n×n symmetric matrix
// whose upper triangle has the pattern (colPtr, rowIdx): column k holds rows
// i ≤ k, and every diagonal entry must be present.
func NewCholesky(n int, colPtr, rowIdx []int) (*Cholesky, error) {
	if len(colPtr) != n+1 {
		return nil, fmt.Errorf("sparse: cholesky: colPtr has %d entries, want %d", len(colPtr), n+1)
	}
	if n < 0 {
		return nil, fmt.Errorf("sparse: cholesky: negative dimension %d", n)
	}
	if colPtr[0] != 0 || colPtr[n] > len(rowIdx) {
		return nil, fmt.Errorf("sparse: cholesky: colPtr spans [%d,%d), rowIdx has %d entries", colPtr[0], colPtr[n], len(rowIdx))
	}
	for k := 0; k < n; k++ {
		if colPtr[k+1] < colPtr[k] {
			return nil, fmt.Errorf("sparse: cholesky: colPtr decreases at column %d (%d to %d)", k, colPtr[k], colPtr[k+1])
		}
	}
	c := &Cholesky{n: n, cp: colPtr, ri: rowIdx, PivotTol: 1e-30}
	for k := 0; k < n; k++ {
		hasDiag := false
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			i := rowIdx[p]
			if i > k || i < 0 {
				return nil, fmt.Errorf("sparse: cholesky: entry (%d,%d) is not in the upper triangle", i, k)
			}
			if i == k {
				hasDiag = true
			}
		}
		if !hasDiag {
			return nil, fmt.Errorf("sparse: cholesky: diagonal entry %d missing from pattern", k)
		}
	}

	// Elimination tree (Liu's algorithm with path compression).
	c.parent = make([]int, n)
	ancestor := make([]int, n)
	for k := 0; k < n; k++ {
		c.parent[k] = -1
		ancestor[k] = -1
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			for i := rowIdx[p]; i != -1 && i < k; {
				inext := ancestor[i]
				ancestor[i] = k
				if inext == -1 {
					c.parent[i] = k
				}
				i = inext
			}
		}
	}

	if useSupernodal {
		if n > math.MaxInt32 {
			return nil, fmt.Errorf("sparse: cholesky: dimension %d too large", n)
		}
		c.ar = getArena()
		c.sn = newSupernodal(n, colPtr, rowIdx, c.parent, c.ar)
		c.sn.schedule(runtime.GOMAXPROCS(0), parallelMinWork)
		return c, nil
	}

	// Row structure of L by elimination-tree reach; column counts follow.
	count := make([]int, n)
	flag := make([]int, n)
	for i := range flag {
		flag[i] = -1
	}
	stack := make([]int, n)
	c.rowPtr = make([]int, n+1)
	for k := 0; k < n; k++ {
		pat := c.ereach(k, flag, stack)
		c.rowCol = append(c.rowCol, pat...)
		for _, j := range pat {
			count[j]++
		}
		c.rowPtr[k+1] = len(c.rowCol)
	}
	c.lp = make([]int, n+1)
	for j := 0; j < n; j++ {
		c.lp[j+1] = c.lp[j] + 1 + count[j]
	}
	nnz := c.lp[n]
	c.li = make([]int, nnz)
	c.lx = make([]float64, nnz)
	c.next = make([]int, n)
	for j := 0; j < n; j++ {
		c.li[c.lp[j]] = j
		c.next[j] = c.lp[j] + 1
	}
	for k := 0; k < n; k++ {
		for _, j := range c.rowCol[c.rowPtr[k]:c.rowPtr[k+1]] {
			c.li[c.next[j]] = k
			c.next[j]++
		}
	}
	c.x = make([]float64, n)
	c.cs = make([]colState, n)
	c.schedule(runtime.GOMAXPROCS(0), parallelMinWork)
	return c, nil
}

type colState struct {
	lo, end int
	d       float64
}

// parallelMinWork is the smallest estimated factorisation work (flops)
// worth spreading over goroutines.
const parallelMinWork = 2e6

// schedule splits the elimination forest into disjoint subtrees for the
// given number of workers. Row k of L only reads and writes columns in its
// own subtree (its row pattern is a set of descendants), so subtrees can be
// factored concurrently; rows outside the chosen subtrees form the top,
// factored after them.
func (c *Cholesky) schedule(workers int, minWork float64) {
	n := c.n
	c.part, c.top = nil, nil
	// Work of row k: Σ over its pattern j of the column length of j seen
	// so far, approximated by the final column count.
	work := make([]float64, n)
	total := 0.0
	for k := 0; k < n; k++ {
		w := 1.0
		for _, j := range c.rowCol[c.rowPtr[k]:c.rowPtr[k+1]] {
			w += float64(c.lp[j+1] - c.lp[j])
		}
		work[k] = w
		total += w
	}
	all := func() {
		c.part = nil
		c.top = make([]int, n)
		for k := range c.top {
			c.top[k] = k
		}
	}
	if workers < 2 || total < minWork {
		all()
		return
	}
	subs, isTop, sub := splitSubtrees(c.parent, work, total/float64(4*workers))
	// Longest-processing-time assignment of subtrees to workers.
	sort.Slice(subs, func(a, b int) bool { return sub[subs[a]] > sub[subs[b]] })
	load := make([]float64, workers)
	owner := make([]int, n)
	for i := range owner {
		owner[i] = -1
	}
	for _, r := range subs {
		w := 0
		for i := range load {
			if load[i] < load[w] {
				w = i
			}
		}
		load[w] += sub[r]
		owner[r] = w
	}
	topWork := 0.0
	for k := n - 1; k >= 0; k-- { // parents before children
		if isTop[k] {
			topWork += work[k]
			continue
		}
		if owner[k] < 0 {
			owner[k] = owner[c.parent[k]]
		}
	}
	if topWork > 0.9*total {
		all()
		return
	}
	c.part = make([][]int, workers)
	for k := 0; k < n; k++ {
		if isTop[k] {
			c.top = append(c.top, k)
		} else {
			c.part[owner[k]] = append(c.part[owner[k]], k)
		}
	}
}

// splitSubtrees splits a forest (parent[k] > k, or −1 for a root) into
// disjoint subtrees of at most limit work each where it can: starting from
// the roots, the heaviest subtree above the limit is removed (its root goes
// to the top, isTop) and its children's subtrees take its place. It returns
// the subtree roots left, the top marks and every node's subtree work.
func splitSubtrees(parent []int, work []float64, limit float64) (subs []int, isTop []bool, sub []float64) {
	n := len(parent)
	sub = append([]float64(nil), work...)
	children := make([][]int, n)
	for k := 0; k < n; k++ {
		if p := parent[k]; p >= 0 {
			sub[p] += sub[k]
			children[p] = append(children[p], k)
		} else {
			subs = append(subs, k)
		}
	}
	isTop = make([]bool, n)
	for {
		h, hw := -1, limit
		for i, r := range subs {
			if sub[r] > hw {
				h, hw = i, sub[r]
			}
		}
		if h < 0 {
			break
		}
		r := subs[h]
		isTop[r] = true
		subs = append(subs[:h], subs[h+1:]...)
		subs = append(subs, children[r]...)
	}
	return subs, isTop, sub
}

// ereach returns the pattern of row k of L (columns j < k), topologically
// ordered (every node before its elimination-tree ancestors).
func (c *Cholesky) ereach(k int, flag, s []int) []int {
	n := c.n
	top := n
	flag[k] = k
	for p := c.cp[k]; p < c.cp[k+1]; p++ {
		i := c.ri[p]
		if i > k {
			continue
		}
		length := 0
		for ; flag[i] != k; i = c.parent[i] {
			s[length] = i
			length++
			flag[i] = k
		}
		for length > 0 {
			top--
			length--
			s[top] = s[length]
		}
	}
	return s[top:n]
}

// N returns the matrix dimension.
func (c *Cholesky) N() int { return c.n }

// NnzL returns the number of entries of the factor L, diagonal included
// (structural nonzeros; explicit zeros stored in supernodes not counted).
func (c *Cholesky) NnzL() int {
	if c.sn != nil {
		return c.sn.nnzL
	}
	return c.lp[c.n]
}

// Flops returns the number of multiply-adds of one numeric factorisation
// (Σ over columns of the squared column count below the diagonal, explicit
// zeros of supernodes not counted) and the share of it in the columns
// (supernodal) or rows (up-looking) factored after the parallel subtrees.
func (c *Cholesky) Flops() (total, top float64) {
	if c.sn != nil {
		return c.sn.flops()
	}
	isTop := make([]bool, c.n)
	for _, k := range c.top {
		isTop[k] = true
	}
	for k := 0; k < c.n; k++ {
		w := 0.0
		for _, j := range c.rowCol[c.rowPtr[k]:c.rowPtr[k+1]] {
			w += float64(c.lp[j+1] - c.lp[j] - 1)
		}
		total += w
		if isTop[k] {
			top += w
		}
	}
	return total, top
}

// Factorize computes the numeric factor for the values val, aligned with the
// pattern given to NewCholesky. Dependent pivots are replaced (see PivotTol);
// their number is left in Replaced. It fails only on non-finite input.
func (c *Cholesky) Factorize(val []float64) error {
	n := c.n
	if len(val) != c.cp[n] {
		return fmt.Errorf("sparse: cholesky: %d values for a pattern of %d entries", len(val), c.cp[n])
	}
	if c.sn != nil {
		var err error
		c.Replaced, err = c.sn.factorize(val, c.PivotTol)
		return err
	}
	lp, lx := c.lp, c.lx
	for j := 0; j < n; j++ {
		c.cs[j] = colState{lo: lp[j] + 1, end: lp[j] + 1}
	}
	c.Replaced = 0
	if c.part != nil {
		var wg sync.WaitGroup
		errs := make([]error, len(c.part))
		repl := make([]int, len(c.part))
		for w, rows := range c.part[1:] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				repl[w+1], errs[w+1] = c.factorRows(val, rows)
			}()
		}
		repl[0], errs[0] = c.factorRows(val, c.part[0]) // on the calling goroutine
		wg.Wait()
		for w := range errs {
			c.Replaced += repl[w]
			if errs[w] != nil {
				return errs[w]
			}
		}
	}
	r, err := c.factorRows(val, c.top)
	c.Replaced += r
	if err != nil {
		return err
	}
	for _, v := range lx {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("sparse: cholesky: factor has non-finite entry %v", v)
		}
	}
	return nil
}

// factorRows computes the rows listed in rows (ascending) and returns the
// number of replaced pivots.
func (c *Cholesky) factorRows(val []float64, rows []int) (int, error) {
	x := c.x
	lp, li, lx, cs := c.lp, c.li, c.lx, c.cs
	replaced := 0
	for _, k := range rows {
		for p := c.cp[k]; p < c.cp[k+1]; p++ {
			x[c.ri[p]] += val[p]
		}
		d := x[k]
		x[k] = 0
		orig := d
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return replaced, fmt.Errorf("sparse: cholesky: non-finite diagonal %v at %d", d, k)
		}
		for _, j := range c.rowCol[c.rowPtr[k]:c.rowPtr[k+1]] {
			cj := &cs[j]
			lkj := x[j] / cj.d
			x[j] = 0
			lo, end := cj.lo, cj.end
			col := li[lo:end]
			vals := lx[lo:end]
			vals = vals[:len(col)]
			for q, i := range col {
				x[i] -= vals[q] * lkj
			}
			d -= lkj * lkj
			lx[end] = lkj
			cj.end = end + 1
		}
		if !(d > c.PivotTol*math.Abs(orig)) || d <= 0 {
			d = hugePivot
			replaced++
		}
		lx[lp[k]] = math.Sqrt(d)
		cs[k].d = lx[lp[k]]
	}
	return replaced, nil
}

// Solve overwrites b with the solution of (LLᵀ)·x = b.
func (c *Cholesky) Solve(b []float64) {
	if c.sn != nil {
		c.sn.solve(b)
		return
	}
	n := c.n
	lp, li, lx := c.lp, c.li, c.lx
	for j := 0; j < n; j++ {
		bj := b[j] / lx[lp[j]]
		b[j] = bj
		if bj == 0 {
			continue
		}
		for p := lp[j] + 1; p < lp[j+1]; p++ {
			b[li[p]] -= lx[p] * bj
		}
	}
	for j := n - 1; j >= 0; j-- {
		s := b[j]
		for p := lp[j] + 1; p < lp[j+1]; p++ {
			s -= lx[p] * b[li[p]]
		}
		b[j] = s / lx[lp[j]]
	}
}

// SymMulUpper sets y = A·x for the symmetric matrix whose upper triangle is
// given by the pattern (colPtr, rowIdx) and values val.
func SymMulUpper(y []float64, colPtr, rowIdx []int, val, x []float64) {
	n := len(colPtr) - 1
	for i := 0; i < n; i++ {
		y[i] = 0
	}
	for k := 0; k < n; k++ {
		xk := x[k]
		s := 0.0
		for p := colPtr[k]; p < colPtr[k+1]; p++ {
			i := rowIdx[p]
			v := val[p]
			if i == k {
				s += v * xk
				continue
			}
			y[i] += v * xk
			s += v * x[i]
		}
		y[k] += s
	}
}
