// Package sparse owns the sparse linear algebra behind gridd's LP solver:
// compressed sparse column (CSC) matrices, a fill-reducing approximate
// minimum degree ordering for symmetric patterns (MinimumDegreeLast takes
// the rows a caller knows belong at the end, such as the upper level of a
// nested structure), and a sparse Cholesky
// factorisation split into a symbolic phase (elimination tree, structure of
// L, supernodes, schedule; done once per pattern) and a numeric phase (done
// once per interior-point iteration).
//
// The numeric factorisation is supernodal and left-looking. The symbolic
// phase permutes the pattern into a postorder of its elimination tree (same
// fill, same work), groups consecutive columns with nested structure into
// supernodes and merges a supernode into its parent when that adds few
// explicit zeros (relaxed amalgamation). Each supernode is stored densely,
// row-major: its columns, for its own rows and the rows below. Factoring a
// supernode copies in its entries of A, subtracts the updates of the
// supernodes below it that touch its columns (dense products scattered
// through relative row indices, in ascending order of the updating
// supernode), and factors the dense block. A pivot that is not positive, or
// that has lost almost all of its original magnitude to cancellation, marks
// a (numerically) dependent row; it is replaced by a huge value so that the
// corresponding solution component is effectively zero (the
// "Cholesky-infinity" modification used by interior-point codes).
//
// A supernode only reads the supernodes of its own subtree, so the numeric
// phase factors disjoint subtrees concurrently: when the estimated work
// exceeds 2·10⁶ multiply-adds, the symbolic phase splits the supernodal
// elimination forest into subtrees, groups them into a few parts per
// GOMAXPROCS worker (contiguous in column order, balanced by work), which
// the workers claim in turn, and factors the remaining top supernodes
// afterwards, splitting the updates and rows of each large one over the
// workers by row ranges. The solves use the same schedule. The order of
// every floating-point sum is fixed by the structure alone, so factor and
// solutions are identical, bit for bit, for any number of workers.
//
// Cholesky.Release hands a supernodal factorisation's arrays back for the
// next symbolic phase to reuse (optimizer/ipm releases its factor at the end
// of each solve); arrays are zeroed when reused, so results do not change.
//
// The previous up-looking (row-by-row) numeric factorisation is kept as a
// reference behind an unexported switch; tests and benchmarks compare the
// two.
package sparse
