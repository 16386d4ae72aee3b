// Package ipm owns gridd's linear-programming solver: a primal-dual
// interior-point method with Mehrotra's predictor-corrector and Gondzio's
// multiple centrality correctors, for models described by optimizer/lp.
//
// The model is first brought to the internal form
//
//	min cᵀx  s.t.  A·x = b,  l ≤ x ≤ u
//
// by a small presolve (fixed columns are substituted, empty and free rows
// dropped, ranged rows get a bounded slack column). Each iteration solves the
// Newton system through the normal equations A·Θ·Aᵀ·Δy = r with a sparse
// Cholesky factorisation (optimizer/sparse): the fill-reducing ordering and
// symbolic factorisation are computed once, the numeric factorisation every
// iteration (in parallel over disjoint elimination subtrees, see
// optimizer/sparse). A solve with the factor is refined iteratively while its
// residual exceeds 1e-9 relative to the right-hand side. Free columns receive
// a small primal regularisation; numerically dependent rows are handled by
// the factorisation's pivot replacement.
//
// A·Θ·Aᵀ is assembled by gathering: every entry of its upper triangle keeps
// the list of columns of A that contribute to it (fixed at set-up, in
// ascending column order), so entries are summed independently, in parallel
// ranges, in a fixed order. The long vector loops (residuals, Newton
// directions with their step lengths in the same pass, the predictor's
// complementarity) run in parallel ranges; sums are taken over ranges of a
// fixed length and added in order, so a solve gives the same bits for any
// GOMAXPROCS.
//
// After the Mehrotra direction, up to three centrality correctors are tried
// (complementarity products of the trial point are pushed into [0.1, 10]
// times the centring target); a corrector is kept only when it lengthens the
// steps. They stop once the gap is within 1000 times its tolerance, so the
// final iterates approach the optimal face.
//
// Stopping rule (defaults): relative duality gap |p − d|/(1 + |p|) ≤ 1e-6;
// primal infeasibility ≤ 1e-7, measured per row as |b_i − (Ax)_i| / (1 +
// max(|b_i|, largest |a_ij·x_j| of the row)) and per bound as |residual| /
// (1 + |bound|), so every row is met relative to its own magnitude; and
// relative dual infeasibility ‖c − Aᵀy − zl + zu‖∞/(1 + ‖c‖∞) ≤ 1e-7. The
// reported primal point is projected onto the column bounds. When progress
// stalls, or the dual objective diverges, the solve stops with a
// non-optimal status and the best iterate; the caller decides how to
// diagnose it (optimizer uses the elastic model of lp.Model.Elastic).
//
// gonum's floats package supplies the dense vector kernels (dot products,
// norms, scaled additions).
package ipm
