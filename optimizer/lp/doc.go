// Package lp owns the solver-independent description of a linear program
// and of its solution:
//
//	minimise    cᵀx + offset
//	subject to  rlo ≤ A·x ≤ rhi   (row ranges; rlo = rhi for equalities)
//	            lo  ≤ x   ≤ hi    (column bounds; ±Inf where unbounded)
//
// A Model is built column by column and row by row. Every column and row
// carries a name made of a group (e.g. "bess-1.soc") and an index (usually
// the time step), so diagnostics, binding-constraint reports and the LP/MPS
// export read naturally without storing one string per entry.
//
// WriteLP and WriteMPS write a model in CPLEX LP and free MPS format for
// other solvers (glpsol, cbc, HiGHS); see export.go for the conventions
// (name sanitising, ranged rows split in two, "- 3 x" never "+ -3 x").
//
// Solvers (see optimizer/ipm) take a *Model and return a *Solution holding
// the primal values, the row duals (∂objective/∂row bound) and the reduced
// costs (c − Aᵀy).
package lp
