package district

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/gridd/gridd/optimizer"
)

// Solver answers coordination requests for one site's scenario, keeping the
// last priced and capped plans to warm-start the next round's solves. A
// site's own gridd (package districtnats) and LocalSite both use it.
type Solver struct {
	mu             sync.Mutex
	priced, capped *optimizer.Plan
	// Last is the last capped plan (the plan the site would follow).
	Last *optimizer.Plan
}

// Answer solves req on scenario base (not modified): the priced solve with
// req.PricePerKWh added to the import price, the capped solve with the
// import capped at req.CapKW (narrowing any caps base already has). A
// capped solve that cannot keep the cap answers Feasible false with the
// least-violating plan's import.
func (s *Solver) Answer(ctx context.Context, base *optimizer.Scenario, req Request) Reply {
	rep := Reply{Site: req.Site, Cycle: req.Cycle, Round: req.Round}
	if err := fits(base, req); err != nil {
		rep.Error = err.Error()
		return rep
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dt := base.StepHours()
	if req.PricePerKWh != nil {
		scn := *base
		scn.Grid.ImportPrice = make([]float64, base.Steps)
		for t := range scn.Grid.ImportPrice {
			scn.Grid.ImportPrice[t] = base.Grid.ImportPrice[t] + req.PricePerKWh[t]
		}
		plan, err := optimizer.Solve(ctx, &scn, optimizer.Options{WarmStart: s.priced})
		if err != nil && !errors.Is(err, optimizer.ErrInfeasible) && ctx.Err() == nil {
			plan, err = optimizer.Solve(ctx, &scn, optimizer.Options{Tolerance: 1e-3}) // stalled in the last digits
		}
		if err != nil {
			rep.Error = fmt.Sprintf("priced solve: %v", err)
			return rep
		}
		s.priced = plan
		adder := 0.0
		for t, v := range plan.GridImportKW {
			adder += req.PricePerKWh[t] * dt * v
		}
		rep.Priced = &Answer{ImportKW: plan.GridImportKW, CostTotal: plan.Objective - adder, BoundTotal: plan.DualBound(), Feasible: true}
	}
	if req.CapKW != nil {
		scn := *base
		scn.Grid.ImportCapKW = make([]float64, base.Steps)
		for t := range scn.Grid.ImportCapKW {
			c := math.Max(0, req.CapKW[t])
			if t < len(base.Grid.ImportCapKW) {
				c = math.Min(c, base.Grid.ImportCapKW[t])
			}
			scn.Grid.ImportCapKW[t] = c
		}
		warm := s.capped
		if warm == nil {
			warm = s.priced // the first capped solve starts from the last priced plan
		}
		plan, err := optimizer.Solve(ctx, &scn, optimizer.Options{WarmStart: warm})
		if err != nil && !errors.Is(err, optimizer.ErrInfeasible) && ctx.Err() == nil {
			// A cap right at what the site can reach can stall the
			// interior-point method in the last digits: accept 1e-3.
			plan, err = optimizer.Solve(ctx, &scn, optimizer.Options{Tolerance: 1e-3})
		}
		feasible := true
		if err != nil && ctx.Err() == nil {
			// Infeasible: the least-violating plan.
			feasible = false
			plan, err = optimizer.Solve(ctx, &scn, optimizer.Options{Soft: true})
			if err != nil && ctx.Err() == nil {
				plan, err = optimizer.Solve(ctx, &scn, optimizer.Options{Soft: true, Tolerance: 1e-3})
			}
		}
		if err != nil {
			rep.Error = fmt.Sprintf("capped solve: %v", err)
			return rep
		}
		if feasible {
			s.capped = plan
			s.Last = plan
		}
		rep.Capped = &Answer{ImportKW: plan.GridImportKW, CostTotal: plan.Objective - plan.CostBreakdown.ViolationPenalty, BoundTotal: plan.DualBound(), Feasible: feasible}
		if math.IsInf(rep.Capped.BoundTotal, -1) {
			rep.Capped.BoundTotal = rep.Capped.CostTotal
		}
	}
	return rep
}

// fits checks that a request matches a scenario's time grid and carries
// well-formed vectors.
func fits(base *optimizer.Scenario, req Request) error {
	if !req.Start.Equal(base.Start) || req.StepMinutes != base.StepMinutes || req.Steps != base.Steps {
		return fmt.Errorf("request for %d steps of %d min from %s does not match the site's plan grid (%d steps of %d min from %s)",
			req.Steps, req.StepMinutes, req.Start.UTC().Format("2006-01-02T15:04Z"), base.Steps, base.StepMinutes, base.Start.UTC().Format("2006-01-02T15:04Z"))
	}
	for _, v := range []struct {
		name string
		vs   []float64
	}{{"price_per_kwh", req.PricePerKWh}, {"cap_kw", req.CapKW}} {
		if v.vs == nil {
			continue
		}
		if len(v.vs) != req.Steps {
			return fmt.Errorf("%s: %d values, want %d", v.name, len(v.vs), req.Steps)
		}
		for t, x := range v.vs {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || x > optimizer.MaxMagnitude {
				return fmt.Errorf("%s[%d]: %v must be in [0, %g]", v.name, t, x, float64(optimizer.MaxMagnitude))
			}
		}
	}
	return nil
}

// LocalSite is a site whose scenario this process holds (generated
// districts, the demo, replay, tests).
type LocalSite struct {
	Name     string
	Scenario *optimizer.Scenario
	solver   Solver
}

// ID returns the site's ID.
func (s *LocalSite) ID() string { return s.Name }

// Solve answers a request by solving the site's scenario.
func (s *LocalSite) Solve(ctx context.Context, req Request) (Reply, error) {
	if err := ctx.Err(); err != nil {
		return Reply{}, err
	}
	return s.solver.Answer(ctx, s.Scenario, req), nil
}

// Centralised solves the district as one LP with gridd's own solver
// (optimizer.SolveShared): the reference optimum a coordination is
// measured against. It returns the optimal cost and each site's import.
func Centralised(ctx context.Context, scns []*optimizer.Scenario, limits []Limit) (*optimizer.SharedResult, error) {
	sh := make([]optimizer.SharedImportLimit, len(limits))
	for k, l := range limits {
		sh[k] = optimizer.SharedImportLimit{ID: l.ID, Sites: l.Sites, LimitKW: l.LimitKW}
	}
	return optimizer.SolveShared(ctx, scns, sh, optimizer.Options{})
}
