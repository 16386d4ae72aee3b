package lp

// Status is the outcome of a solve.
type Status int

// Solve outcomes.
const (
	// Optimal: the tolerances on gap and feasibility were met.
	Optimal Status = iota
	// Infeasible: the solver proved or detected that no point satisfies
	// every row and bound.
	Infeasible
	// IterationLimit: the iteration limit was reached first.
	IterationLimit
	// Stalled: the solver stopped making progress (typically an
	// infeasible problem, or numerical difficulty).
	Stalled
)

func (s Status) String() string {
	switch s {
	case Optimal:
		return "optimal"
	case Infeasible:
		return "infeasible"
	case IterationLimit:
		return "iteration_limit"
	case Stalled:
		return "stalled"
	}
	return "unknown"
}

// Solution is a solver's answer for a Model.
type Solution struct {
	Status Status
	// X holds one value per column.
	X []float64
	// RowDual holds one value per row: the rate of change of the optimal
	// objective per unit increase of the row's active bound (zero for rows
	// that are not active).
	RowDual []float64
	// ReducedCost holds c − Aᵀy per column: positive at an active lower
	// bound, negative at an active upper bound.
	ReducedCost []float64
	// Objective is cᵀx + Offset; DualObjective is the matching dual bound.
	Objective, DualObjective float64
	Iterations               int
	// Gap is the relative duality gap |primal − dual| / (1 + |primal|).
	Gap float64
	// PrimalInf and DualInf are the relative primal and dual infeasibility.
	PrimalInf, DualInf float64
}
