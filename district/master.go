package district

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/gridd/gridd/optimizer/ipm"
	"github.com/gridd/gridd/optimizer/lp"
)

// tree is the laminar structure of the limits: each limit's parent (the
// smallest limit strictly containing it, -1 for none) and the sites that
// hang directly below it; site i's own limit is direct[i] (-1 for none).
type tree struct {
	parent []int
	site   []int // innermost limit of each site
}

// nest builds the tree of laminar limits (any two nested or disjoint; equal
// site sets nest by order) for n sites.
func nest(limits []Limit, n int) (*tree, error) {
	sets := make([]map[int]bool, len(limits))
	for k, l := range limits {
		sets[k] = make(map[int]bool, len(l.Sites))
		for _, i := range l.Sites {
			if sets[k][i] {
				return nil, fmt.Errorf("district: limit %s lists site %d twice", l.ID, i)
			}
			sets[k][i] = true
		}
	}
	inside := func(a, b int) bool { // a strictly inside b
		if a == b || len(sets[a]) > len(sets[b]) {
			return false
		}
		for i := range sets[a] {
			if !sets[b][i] {
				return false
			}
		}
		return len(sets[a]) < len(sets[b]) || a > b
	}
	tr := &tree{parent: make([]int, len(limits)), site: make([]int, n)}
	for a := range limits {
		tr.parent[a] = -1
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
				return nil, fmt.Errorf("district: limits %s and %s share some sites but neither contains the other", limits[a].ID, limits[b].ID)
			}
			if inside(a, b) && (tr.parent[a] < 0 || inside(b, tr.parent[a])) {
				tr.parent[a] = b
			}
		}
	}
	for i := range tr.site {
		tr.site[i] = -1
	}
	for k, l := range limits {
		for _, i := range l.Sites {
			if j := tr.site[i]; j < 0 || inside(k, j) {
				tr.site[i] = k
			}
		}
	}
	return tr, nil
}

// proposal is one plan a site offered: its import per step and own cost;
// used is the last round a master gave it weight (or the round it came).
type proposal struct {
	imp  []float64
	cost float64
	used int
}

// masterResult is the restricted master's optimum.
type masterResult struct {
	// weights[i][j] is the weight of site i's proposal j.
	weights [][]float64
	// cost is Σ cost·weight; excess Σ of the limit violations (kW·steps).
	cost, excess float64
	// lambda[k][t] is limit k's price per kWh (≥ 0).
	lambda [][]float64
	// iterations of the interior-point method.
	iterations int
}

// excessCost prices a kW·h over a limit in the master: far above any
// energy price, so the master violates a limit only when its proposals
// cannot keep it.
const excessCost = 1e4

// masterGapTol is the relative duality gap a master that stops short of
// optimal (the restricted master is often degenerate: near-parallel plans)
// may end at and still be used: its combination keeps the limits (primal
// feasible), its cost is an upper bound, and its prices are close enough
// to steer the next round.
const masterGapTol = 1e-3

// solveMaster solves the Dantzig–Wolfe restricted master: choose, for every
// active site, a convex combination of its proposals minimising their cost
// such that, for every limit and step, the combined imports keep the
// available limit. Limits nest through flow columns y (limit k's row:
// Σ direct sites' import + Σ child limits' y − y_k − e_k = 0, y_k ∈ [0,
// avail_k], e_k ≥ 0 the violation priced at excessCost), so no row is a
// sum of others. The limit prices are the row duals' differences down the
// tree.
func solveMaster(ctx context.Context, props [][]proposal, active []bool, limits []Limit, tr *tree, avail [][]float64, T int, dt float64) (*masterResult, error) {
	m := lp.NewModel()
	gW, gY, gE := m.Group("w"), m.Group("y"), m.Group("e")
	gL, gC := m.Group("limit"), m.Group("convexity")
	K := len(limits)
	yCol := make([][]int, K)
	eCol := make([][]int, K)
	for k := range limits {
		yCol[k] = make([]int, T)
		eCol[k] = make([]int, T)
		for t := 0; t < T; t++ {
			yCol[k][t] = m.AddVar(gY, k*T+t, 0, avail[k][t]*(1+masterSlack)+masterSlack, 0)
			eCol[k][t] = m.AddVar(gE, k*T+t, 0, math.Inf(1), excessCost*dt)
		}
	}
	// Row entries per limit row.
	type ent struct {
		col int
		v   float64
	}
	rows := make([][][]ent, K)
	for k := range rows {
		rows[k] = make([][]ent, T)
	}
	for k := range rows {
		for t := 0; t < T; t++ {
			rows[k][t] = append(rows[k][t], ent{yCol[k][t], -1}, ent{eCol[k][t], -1})
			if p := tr.parent[k]; p >= 0 {
				rows[p][t] = append(rows[p][t], ent{yCol[k][t], 1})
			}
		}
	}
	wCol := make([][]int, len(props))
	for i, ps := range props {
		if !active[i] {
			continue
		}
		wCol[i] = make([]int, len(ps))
		var cols []int
		var ones []float64
		for j, p := range ps {
			c := m.AddVar(gW, i, 0, 1, p.cost)
			wCol[i][j] = c
			cols = append(cols, c)
			ones = append(ones, 1)
			if k := tr.site[i]; k >= 0 {
				for t := 0; t < T; t++ {
					if p.imp[t] != 0 {
						rows[k][t] = append(rows[k][t], ent{c, p.imp[t]})
					}
				}
			}
		}
		m.AddRow(gC, i, 1, 1, cols, ones)
	}
	lRow := make([][]int, K)
	for k := range rows {
		lRow[k] = make([]int, T)
		for t := 0; t < T; t++ {
			cols := make([]int, len(rows[k][t]))
			vals := make([]float64, len(rows[k][t]))
			for n, e := range rows[k][t] {
				cols[n], vals[n] = e.col, e.v
			}
			lRow[k][t] = m.AddRow(gL, k*T+t, 0, 0, cols, vals)
		}
	}
	// The rows of limits with limits below them are factored last: the
	// blocks of the inner limits stay apart (see ipm.Options.LastRows).
	var last []int
	for k := range limits {
		for _, p := range tr.parent {
			if p == k {
				last = append(last, lRow[k]...)
				break
			}
		}
	}
	sol, err := ipm.Solve(ctx, m, ipm.Options{LastRows: last})
	if err != nil {
		return nil, fmt.Errorf("district: master: %w", err)
	}
	if sol.Status != lp.Optimal && !(sol.Gap <= masterGapTol && sol.PrimalInf <= 1e-6) {
		return nil, fmt.Errorf("district: master: %v after %d iterations (gap %.3g)", sol.Status, sol.Iterations, sol.Gap)
	}
	r := &masterResult{weights: make([][]float64, len(props)), lambda: make([][]float64, K), iterations: sol.Iterations}
	for i := range props {
		if wCol[i] == nil {
			continue
		}
		r.weights[i] = make([]float64, len(wCol[i]))
		sum := 0.0
		for j, c := range wCol[i] {
			r.weights[i][j] = math.Max(0, sol.X[c])
			sum += r.weights[i][j]
		}
		for j := range r.weights[i] { // exact convex weights
			r.weights[i][j] /= sum
			r.cost += r.weights[i][j] * props[i][j].cost
		}
	}
	// Row k's dual π_k ≤ 0 is the cost change per kW more import at k;
	// the price a site below k pays is −π_k/dt, and limit k's own share is
	// what it adds to its parent's.
	price := make([][]float64, K)
	for k := range limits {
		price[k] = make([]float64, T)
		for t := 0; t < T; t++ {
			price[k][t] = math.Max(0, -sol.RowDual[lRow[k][t]]/dt)
			r.excess += sol.X[eCol[k][t]]
		}
	}
	for k := range limits {
		r.lambda[k] = make([]float64, T)
		for t := 0; t < T; t++ {
			up := 0.0
			if p := tr.parent[k]; p >= 0 {
				up = price[p][t]
			}
			r.lambda[k][t] = math.Max(0, price[k][t]-up)
		}
	}
	return r, nil
}

// solveMasters solves the master separately for every tree of limits (a
// limit without a parent and everything below it: they share no row with
// another tree), in parallel, and merges the results; a site under no limit
// takes its cheapest plan. The result equals solveMaster's on the whole
// district, whose normal equations would otherwise be factored as one.
func solveMasters(ctx context.Context, props [][]proposal, active []bool, limits []Limit, tr *tree, avail [][]float64, T int, dt float64) (*masterResult, error) {
	root := make([]int, len(limits))
	for k := range limits {
		r := k
		for tr.parent[r] >= 0 {
			r = tr.parent[r]
		}
		root[k] = r
	}
	type part struct {
		limits []int // global limit indices
		sites  []int // global site indices
	}
	parts := map[int]*part{}
	var order []int
	for k, r := range root {
		if parts[r] == nil {
			parts[r] = &part{}
			order = append(order, r)
		}
		parts[r].limits = append(parts[r].limits, k)
	}
	out := &masterResult{weights: make([][]float64, len(props)), lambda: make([][]float64, len(limits))}
	for i, k := range tr.site {
		if k < 0 {
			if active[i] { // under no limit: its cheapest plan
				w := make([]float64, len(props[i]))
				best := 0
				for j, p := range props[i] {
					if p.cost < props[i][best].cost {
						best = j
					}
				}
				w[best] = 1
				out.weights[i] = w
				out.cost += props[i][best].cost
			}
			continue
		}
		parts[root[k]].sites = append(parts[root[k]].sites, i)
	}
	results := make([]*masterResult, len(order))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for n, r := range order {
		pt := parts[r]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			local := make(map[int]int, len(pt.limits))
			for a, k := range pt.limits {
				local[k] = a
			}
			siteLocal := make(map[int]int, len(pt.sites))
			for a, i := range pt.sites {
				siteLocal[i] = a
			}
			sub := &tree{parent: make([]int, len(pt.limits)), site: make([]int, len(pt.sites))}
			subLimits := make([]Limit, len(pt.limits))
			subAvail := make([][]float64, len(pt.limits))
			for a, k := range pt.limits {
				sub.parent[a] = -1
				if p := tr.parent[k]; p >= 0 {
					sub.parent[a] = local[p]
				}
				subLimits[a] = Limit{ID: limits[k].ID, LimitKW: limits[k].LimitKW}
				for _, i := range limits[k].Sites {
					subLimits[a].Sites = append(subLimits[a].Sites, siteLocal[i])
				}
				subAvail[a] = avail[k]
			}
			subProps := make([][]proposal, len(pt.sites))
			subActive := make([]bool, len(pt.sites))
			for a, i := range pt.sites {
				sub.site[a] = local[tr.site[i]]
				subProps[a], subActive[a] = props[i], active[i]
			}
			results[n], errs[n] = solveMaster(ctx, subProps, subActive, subLimits, sub, subAvail, T, dt)
		}()
	}
	wg.Wait()
	for n, r := range order {
		if errs[n] != nil {
			return nil, errs[n]
		}
		pt, res := parts[r], results[n]
		for a, i := range pt.sites {
			out.weights[i] = res.weights[a]
		}
		for a, k := range pt.limits {
			out.lambda[k] = res.lambda[a]
		}
		out.cost += res.cost
		out.excess += res.excess
		out.iterations = max(out.iterations, res.iterations)
	}
	return out, nil
}

// masterSlack widens every limit in the master by a relative 1e-6: plans
// planned under caps that share a limit exactly would otherwise meet it
// with equality at many steps at once, a degenerate vertex on which the
// interior-point method stalls. The caps are made from the combination by
// Allocate, which keeps the limits exactly.
const masterSlack = 1e-6
