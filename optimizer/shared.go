package optimizer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/gridd/gridd/optimizer/ipm"
	"github.com/gridd/gridd/optimizer/lp"
)

// SharedImportLimit bounds the summed grid import of several scenarios
// (sites below one shared transformer or feeder): Σ_{i ∈ Sites}
// import_{i,t} ≤ LimitKW[t] at every step t.
type SharedImportLimit struct {
	ID string `json:"id"`
	// Sites are indices into the scenarios passed to SolveShared.
	Sites []int `json:"sites"`
	// LimitKW holds one limit per step, ≥ 0.
	LimitKW []float64 `json:"limit_kw"`
}

// SharedResult is the optimum of several scenarios solved as one LP under
// shared import limits.
type SharedResult struct {
	// Plans holds one plan per scenario, in order. Each plan's Objective
	// and CostBreakdown are that scenario's own cost.
	Plans []*Plan `json:"plans"`
	// Objective is Σ Plans[i].Objective.
	Objective float64 `json:"objective"`
	// Prices holds, per shared limit and step, the shadow price of the
	// limit in currency per kWh of import (≥ 0; 0 where it does not bind).
	Prices     [][]float64 `json:"prices"`
	Iterations int         `json:"iterations"`
	Gap        float64     `json:"gap"`
	SolveMS    float64     `json:"solve_ms"`
}

// SolveShared solves several scenarios, all with the same start, step and
// horizon, as one linear program whose columns and rows are the union of
// each scenario's dispatch LP plus one row per shared limit and step:
// Σ_{i ∈ Sites} import_{i,t} ≤ LimitKW[t]. It is the centralised reference
// a district coordinator's distributed result is measured against. Soft
// mode, stability terms and warm starts are not supported here.
func SolveShared(ctx context.Context, scns []*Scenario, limits []SharedImportLimit, opts Options) (*SharedResult, error) {
	if len(scns) == 0 {
		return nil, errors.New("optimizer: shared solve: no scenarios")
	}
	if opts.Soft || opts.StabilityPerKW > 0 || opts.WarmStart != nil {
		return nil, errors.New("optimizer: shared solve: soft mode, stability and warm start are not supported")
	}
	if err := opts.validate(scns[0]); err != nil {
		return nil, err
	}
	first := scns[0]
	for i, s := range scns {
		if s == nil {
			return nil, fmt.Errorf("optimizer: shared solve: scenario %d is nil", i)
		}
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("optimizer: shared solve: scenario %d: %w", i, err)
		}
		if s.Steps != first.Steps || s.StepMinutes != first.StepMinutes || !s.Start.Equal(first.Start) {
			return nil, fmt.Errorf("optimizer: shared solve: scenario %d: start %s, %d steps of %d min differ from scenario 0's %s, %d of %d",
				i, s.Start.Format(time.RFC3339), s.Steps, s.StepMinutes, first.Start.Format(time.RFC3339), first.Steps, first.StepMinutes)
		}
	}
	T := first.Steps
	for k, l := range limits {
		if len(l.LimitKW) != T {
			return nil, fmt.Errorf("optimizer: shared solve: limits[%d] (%s).limit_kw: %d values, want %d", k, l.ID, len(l.LimitKW), T)
		}
		for t, v := range l.LimitKW {
			if math.IsNaN(v) || v < 0 || v > MaxMagnitude {
				return nil, fmt.Errorf("optimizer: shared solve: limits[%d] (%s).limit_kw[%d]: %v must be in [0, %g]", k, l.ID, t, v, float64(MaxMagnitude))
			}
		}
		if len(l.Sites) == 0 {
			return nil, fmt.Errorf("optimizer: shared solve: limits[%d] (%s).sites: empty", k, l.ID)
		}
		for _, i := range l.Sites {
			if i < 0 || i >= len(scns) {
				return nil, fmt.Errorf("optimizer: shared solve: limits[%d] (%s).sites: %d is not a scenario index", k, l.ID, i)
			}
		}
	}
	children, err := nestLimits(limits)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	tol := opts.Tolerance
	if tol <= 0 {
		tol = 1e-6
	}
	began := time.Now() // wall-clock solve time, reported only

	forms := make([]*formulation, len(scns))
	colOff := make([]int, len(scns)+1)
	rowOff := make([]int, len(scns)+1)
	for i, s := range scns {
		forms[i] = formulate(s, formOptions{})
		colOff[i+1] = colOff[i] + forms[i].m.NumVars()
		rowOff[i+1] = rowOff[i] + forms[i].m.NumRows()
	}
	all := lp.NewModel()
	entries := 0
	for _, f := range forms {
		entries += f.m.NumEntries()
	}
	sharedRows := 0
	for _, l := range limits {
		sharedRows += T
		entries += T * (len(l.Sites) + 2)
	}
	all.Grow(colOff[len(scns)]+sharedRows, rowOff[len(scns)]+sharedRows, entries)
	for i, f := range forms {
		groups := make(map[lp.Group]lp.Group)
		group := func(g lp.Group) lp.Group {
			ng, ok := groups[g]
			if !ok {
				ng = all.Group(fmt.Sprintf("s%d.%s", i, f.m.GroupName(g)))
				groups[g] = ng
			}
			return ng
		}
		for j := 0; j < f.m.NumVars(); j++ {
			g, idx := f.m.VarGroup(j)
			lo, hi := f.m.VarBounds(j)
			all.AddVar(group(g), idx, lo, hi, f.m.Cost(j))
		}
		for r := 0; r < f.m.NumRows(); r++ {
			g, idx := f.m.RowGroup(r)
			lo, hi := f.m.RowBounds(r)
			cols, vals := f.m.Row(r)
			shifted := make([]int, len(cols))
			for k, c := range cols {
				shifted[k] = c + colOff[i]
			}
			all.AddRow(group(g), idx, lo, hi, shifted, vals)
		}
		all.Offset += f.m.Offset
	}
	// Each limit gets a flow column per step, y_k ∈ [0, LimitKW], and a
	// balance row y_k − Σ child limits' y − Σ its other sites' import = 0:
	// a limit over exactly the union of its children's sites would
	// otherwise be a sum of their rows, and linearly dependent rows make
	// the normal equations singular.
	gY := all.Group("shared.flow")
	gB := all.Group("shared.balance")
	yCol := make([][]int, len(limits))
	for k, l := range limits {
		yCol[k] = make([]int, T)
		for t := 0; t < T; t++ {
			yCol[k][t] = all.AddVar(gY, k*T+t, 0, l.LimitKW[t], 0)
		}
	}
	for k, l := range limits {
		var cols []int
		var vals []float64
		covered := make(map[int]bool)
		for _, c := range children[k] {
			for _, i := range limits[c].Sites {
				covered[i] = true
			}
		}
		for t := 0; t < T; t++ {
			cols, vals = cols[:0], vals[:0]
			cols = append(cols, yCol[k][t])
			vals = append(vals, 1)
			for _, c := range children[k] {
				cols = append(cols, yCol[c][t])
				vals = append(vals, -1)
			}
			for _, i := range l.Sites {
				if !covered[i] {
					cols = append(cols, colOff[i]+forms[i].imp[t])
					vals = append(vals, -1)
				}
			}
			all.AddRow(gB, k*T+t, 0, 0, append([]int(nil), cols...), append([]float64(nil), vals...))
		}
	}
	sol, err := ipm.Solve(ctx, all, ipm.Options{GapTol: tol, FeasTol: tol / 10, MaxIter: opts.MaxIterations, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("optimizer: shared solve: %w", err)
	}
	if (sol.Status == lp.Stalled || sol.Status == lp.IterationLimit) && sol.Gap <= tol && sol.PrimalInf <= tol && sol.DualInf <= tol {
		sol.Status = lp.Optimal
	}
	if sol.Status == lp.Infeasible {
		return nil, fmt.Errorf("optimizer: shared solve: %w: the sites cannot keep the shared limits together", ErrInfeasible)
	}
	if sol.Status != lp.Optimal {
		return nil, fmt.Errorf("optimizer: shared solve: solver stopped (%v) after %d iterations: gap %.3g, primal infeasibility %.3g",
			sol.Status, sol.Iterations, sol.Gap, sol.PrimalInf)
	}
	res := &SharedResult{Plans: make([]*Plan, len(scns)), Iterations: sol.Iterations, Gap: sol.Gap}
	for i, f := range forms {
		sub := &lp.Solution{
			Status:      lp.Optimal,
			X:           append([]float64(nil), sol.X[colOff[i]:colOff[i+1]]...),
			RowDual:     sol.RowDual[rowOff[i]:rowOff[i+1]],
			ReducedCost: sol.ReducedCost[colOff[i]:colOff[i+1]],
			Iterations:  sol.Iterations,
			Gap:         sol.Gap,
		}
		plan := &Plan{Start: first.Start, StepMinutes: first.StepMinutes, Steps: T, Iterations: sol.Iterations, Status: StatusOptimal}
		f.extract(sub, plan)
		res.Plans[i] = plan
		res.Objective += plan.Objective
	}
	dt := first.StepHours()
	res.Prices = make([][]float64, len(limits))
	for k := range limits {
		res.Prices[k] = make([]float64, T)
		for t := 0; t < T; t++ {
			// The flow column's reduced cost at its upper bound is the
			// objective's change per kW of limit (≤ 0); per kWh of
			// import it is divided by dt.
			res.Prices[k][t] = math.Max(0, -sol.ReducedCost[yCol[k][t]]/dt)
		}
	}
	res.SolveMS = float64(time.Since(began).Microseconds()) / 1000
	for _, p := range res.Plans {
		p.SolveMS = res.SolveMS
	}
	return res, nil
}

// nestLimits returns each limit's children: the largest limits whose sites
// are a subset of its own. The limits must be laminar (any two are nested
// or disjoint), as a radial network's are; equal site sets nest by order.
func nestLimits(limits []SharedImportLimit) ([][]int, error) {
	sets := make([]map[int]bool, len(limits))
	for k, l := range limits {
		sets[k] = make(map[int]bool, len(l.Sites))
		for _, i := range l.Sites {
			if sets[k][i] {
				return nil, fmt.Errorf("optimizer: shared solve: limits[%d] (%s).sites: %d listed twice", k, l.ID, i)
			}
			sets[k][i] = true
		}
	}
	// inside(a, b): a nests strictly inside b (equal sets: the later inside
	// the earlier).
	inside := func(a, b int) bool {
		if len(sets[a]) > len(sets[b]) || a == b {
			return false
		}
		for i := range sets[a] {
			if !sets[b][i] {
				return false
			}
		}
		return len(sets[a]) < len(sets[b]) || a > b
	}
	parent := make([]int, len(limits))
	for a := range limits {
		parent[a] = -1
		for b := range limits {
			if a == b {
				continue
			}
			common := 0
			for i := range sets[a] {
				if sets[b][i] {
					common++
				}
			}
			if common > 0 && common < len(sets[a]) && common < len(sets[b]) {
				return nil, fmt.Errorf("optimizer: shared solve: limits %s and %s share some sites but neither contains the other", limits[a].ID, limits[b].ID)
			}
			if inside(a, b) && (parent[a] < 0 || inside(b, parent[a])) {
				parent[a] = b
			}
		}
	}
	children := make([][]int, len(limits))
	for a, p := range parent {
		if p >= 0 {
			children[p] = append(children[p], a)
		}
	}
	return children, nil
}
