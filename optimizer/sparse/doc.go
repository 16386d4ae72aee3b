// Package sparse owns the sparse linear algebra behind gridd's LP solver:
// compressed sparse column (CSC) matrices, a fill-reducing approximate
// minimum degree ordering for symmetric patterns, and a sparse Cholesky
// factorisation split into a symbolic phase (elimination tree, row and column
// structure of L; done once per pattern) and a numeric phase (done once per
// interior-point iteration).
//
// The Cholesky factorisation is the up-looking (row-by-row) algorithm. A pivot
// that is not positive, or that has lost almost all of its original magnitude
// to cancellation, marks a (numerically) dependent row; it is replaced by a
// huge value so that the corresponding solution component is effectively
// zero (the "Cholesky-infinity" modification used by interior-point codes).
//
// Row k of L only reads and writes the columns of its own elimination subtree,
// so the numeric phase factors disjoint subtrees concurrently: the symbolic
// phase splits the elimination forest into subtrees balanced over GOMAXPROCS
// workers (when the estimated work exceeds 2·10⁶ flops) and factors the
// remaining top rows afterwards. The factor is identical, bit for bit, to the
// sequential one.
package sparse
