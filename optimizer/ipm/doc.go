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
// Θ = 1/(zl/xl + zu/xu) is bounded by 10¹⁰ (and is 10⁸ for free columns):
// near the optimum, columns strictly inside their bounds would otherwise make
// A·Θ·Aᵀ so ill-conditioned that the directions lose the primal feasibility
// already reached. The right-hand sides of the complementarity equations are
// kept divided by their slacks, so one Newton direction reads the fewest
// vectors (see direction); the long vectors, not the flops, bound the speed of
// these loops. A step writes the next iterate into one of three buffers, so
// the best iterate so far is kept without copying.
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
// steps. They stop once the gap is within 10 times its tolerance, so the
// final iterates approach the optimal face.
//
// Options.Start warm-starts the method from a previous solution (see Start):
// the point is pushed inside the bounds, its duals set for a moderate gap,
// and a point that violates the rows by more than their own magnitude is
// replaced by the cold start. A warm-started solve that ends other than
// optimal is repeated from the cold start.
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
// The iterate, the directions and the normal equations' arrays come from
// slabs that later solves reuse (a dispatch cycle solves a model of about
// the same size every few minutes); every vector is zeroed when handed out,
// so a solve gives the same bits as with fresh memory.
//
// gonum's floats package supplies the dense vector kernels (dot products,
// norms, scaled additions).
package ipm
