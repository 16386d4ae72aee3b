package optimizer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gridd/gridd/optimizer/ipm"
	"github.com/gridd/gridd/optimizer/lp"
)

// Asset kinds in a plan.
const (
	KindLoad    = "load"
	KindPV      = "pv"
	KindBattery = "battery"
	KindEV      = "ev"
)

// Plan statuses other than StatusOptimal accompany an error from Solve.
const (
	StatusOptimal      = "optimal"
	StatusInfeasible   = "infeasible"
	StatusNotConverged = "not_converged"
	StatusCanceled     = "canceled"
	// StatusRelaxed (soft mode only, returned without an error) marks a
	// plan that violates limits; Plan.Violations lists them.
	StatusRelaxed = "relaxed"
)

// Options tune Solve.
type Options struct {
	// Tolerance is the relative duality gap to reach (default 1e-6); the
	// relative primal and dual infeasibility must reach Tolerance/10.
	Tolerance float64
	// MaxIterations bounds the interior-point iterations (default 200).
	MaxIterations int
	// WarmStart is the previous cycle's plan, as Solve returned it: the
	// solver starts from it, mapped onto this scenario by asset ID, row
	// and absolute time, which typically saves a third to half of the
	// interior-point iterations when the scenario is the previous one a
	// few steps later with updated forecasts (see doc.go, "Warm start").
	// The optimum is the same as without it. A plan that does not fit (other
	// step length, start off the step grid, no common step, or a plan
	// decoded from JSON, which lacks the LP's row duals) is ignored;
	// a plan holding NaN, infinite or out-of-range values is an error.
	WarmStart *Plan
	// Soft makes grid limits, node limits and battery SoC limits (terminal
	// SoC included) soft: instead of failing as infeasible, Solve returns
	// the plan that violates them least (weighted per kW·h or kWh at a
	// thousand times the scenario's largest cost coefficient) with Status
	// StatusRelaxed and the violations in Plan.Violations. A feasible
	// scenario gives the same plan as without Soft.
	Soft bool
	// StabilityPerKW, with Reference, penalises change against the last
	// approved schedule: StabilityPerKW·dt per kW of difference between
	// an asset's new and reference power, per step, for every battery and
	// EV session (during the session) that Reference schedules at that
	// time. Reference must have the scenario's step length and a start on
	// the scenario's step grid.
	StabilityPerKW float64
	Reference      *Plan
	// Logger receives solver progress at debug level; nil discards.
	Logger *slog.Logger
}

// Plan is an optimised dispatch schedule.
type Plan struct {
	// Status is StatusOptimal for a usable plan; otherwise Solve also
	// returned an error and the schedule fields are empty.
	Status      string    `json:"status"`
	Start       time.Time `json:"start"`
	StepMinutes int       `json:"step_minutes"`
	Steps       int       `json:"steps"`
	// Objective is the total cost, equal to CostBreakdown.Total.
	Objective  float64 `json:"objective"`
	SolveMS    float64 `json:"solve_ms"`
	Iterations int     `json:"iterations"`

	GridImportKW []float64 `json:"grid_import_kw"`
	GridExportKW []float64 `json:"grid_export_kw"`
	// PeakImportKW is the highest grid import of the plan.
	PeakImportKW float64 `json:"peak_import_kw"`
	// PeakTargetKW is the import level the plan's demand charge is paid
	// on and the real-time layer must hold: max(peak_so_far_kw,
	// max_t(import_t + peak_margin_kw_t)). 0 without a demand charge.
	PeakTargetKW float64 `json:"peak_target_kw"`

	Assets        []AssetPlan   `json:"assets"`
	CostBreakdown CostBreakdown `json:"cost_breakdown"`
	// NodePrices holds, per node ID and step, the marginal cost of one
	// more kWh consumed at that node (currency per kWh): the dual of the
	// node's power balance. At the root it is the marginal cost of
	// energy; below a node whose limit binds it differs by the limit's
	// shadow price.
	NodePrices map[string][]float64 `json:"node_prices"`
	// Binding lists the constraints that are active and have a non-zero
	// shadow price, e.g. "node feeder-a limit at step 72 (18:00)".
	Binding []string `json:"binding"`

	// PrimalResidual is the largest absolute violation of any LP row or
	// bound by the reported schedule (kW or kWh).
	PrimalResidual float64 `json:"primal_residual"`
	// Gap is the relative duality gap reached.
	Gap float64 `json:"gap"`

	// Violations (soft mode) lists the limits the plan violates.
	Violations []Violation `json:"violations,omitempty"`

	// duals keeps the LP's row duals for warm-starting the next solve
	// (Options.WarmStart); it is not serialised.
	duals *rowDuals
	// dualBound is the solver's dual objective (see DualBound).
	dualBound float64
}

// DualBound returns a lower bound on the scenario's optimal cost: the
// interior-point method's dual objective at its last iterate, never above
// Objective. It is what a district coordinator sums into its certified
// lower bound. A plan decoded from JSON has none: it returns −Inf.
func (p *Plan) DualBound() float64 {
	if p == nil || p.duals == nil {
		return math.Inf(-1)
	}
	return math.Min(p.dualBound, p.Objective)
}

// Violation is a limit that a soft-mode plan violates.
type Violation struct {
	// Constraint names the limit and step, e.g. "node feeder-a limit at
	// step 72 (18:00)".
	Constraint string `json:"constraint"`
	// Amount is how far the limit is exceeded, in Unit ("kW" or "kWh").
	Amount float64 `json:"amount"`
	Unit   string  `json:"unit"`
}

// AssetPlan is one asset's schedule. PowerKW follows the site sign
// convention: positive when drawn from the site bus.
type AssetPlan struct {
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	PowerKW []float64 `json:"power_kw"`
	// EnergyKWh is Σ dt·PowerKW over the horizon: for an EV, the energy
	// delivered to it.
	EnergyKWh float64 `json:"energy_kwh"`
	// SoCKWh (batteries) has steps+1 values: SoCKWh[t] is the state of
	// charge at the start of step t, SoCKWh[steps] at the end of the
	// horizon.
	SoCKWh []float64 `json:"soc_kwh,omitempty"`
	// ChargeKW and DischargeKW (batteries) split PowerKW = ChargeKW −
	// DischargeKW; the SoC follows them through the efficiencies. At the
	// solver's tolerance both may be slightly positive in the same step.
	ChargeKW    []float64 `json:"charge_kw,omitempty"`
	DischargeKW []float64 `json:"discharge_kw,omitempty"`
	// CurtailedKW (PV) is the available generation not used.
	CurtailedKW []float64 `json:"curtailed_kw,omitempty"`
	// RequiredKWh (EVs) is the energy the session must receive within the
	// horizon (see doc.go for sessions departing after it); UnmetKWh is
	// the shortfall, which is penalised: RequiredKWh less the energy
	// credited, charging less 1/(ηc·ηd) times V2G discharge.
	RequiredKWh float64 `json:"required_kwh,omitempty"`
	UnmetKWh    float64 `json:"unmet_kwh,omitempty"`
}

// CostBreakdown splits the objective. Total = EnergyImport −
// EnergyExportRevenue + DemandCharge + BatteryWear + EVWear + UnmetPenalty
// + StabilityPenalty + ViolationPenalty. The last two are zero unless
// Options.StabilityPerKW or Options.Soft apply. DemandCharge is
// demand_charge_per_kw × (PeakTargetKW − peak_so_far_kw).
type CostBreakdown struct {
	EnergyImport        float64 `json:"energy_import"`
	EnergyExportRevenue float64 `json:"energy_export_revenue"`
	DemandCharge        float64 `json:"demand_charge"`
	BatteryWear         float64 `json:"battery_wear"`
	EVWear              float64 `json:"ev_wear"`
	UnmetPenalty        float64 `json:"unmet_penalty"`
	StabilityPenalty    float64 `json:"stability_penalty,omitempty"`
	ViolationPenalty    float64 `json:"violation_penalty,omitempty"`
	Total               float64 `json:"total"`
}

// Asset returns the plan of the asset with the given ID, or nil.
func (p *Plan) Asset(id string) *AssetPlan {
	if p == nil {
		return nil
	}
	for i := range p.Assets {
		if p.Assets[i].ID == id {
			return &p.Assets[i]
		}
	}
	return nil
}

// ErrInfeasible is matched (errors.Is) by every *InfeasibleError.
var ErrInfeasible = errors.New("optimizer: scenario is infeasible")

// InfeasibleError explains why no schedule satisfies every constraint.
type InfeasibleError struct {
	// Conflicts describes the conflicting constraints, most specific first.
	Conflicts []string
}

func (e *InfeasibleError) Error() string {
	return "optimizer: scenario is infeasible: " + strings.Join(e.Conflicts, "; ")
}

// Is reports whether target is ErrInfeasible.
func (e *InfeasibleError) Is(target error) bool { return target == ErrInfeasible }

// Solve validates the scenario and computes the minimum-cost dispatch plan.
// On failure it returns an error and, once the scenario has validated, a
// Plan whose Status says what happened (infeasible, not_converged,
// canceled). Infeasibility is reported as an *InfeasibleError naming the
// conflicting constraints.
func Solve(ctx context.Context, s *Scenario, opts Options) (*Plan, error) {
	if s == nil {
		return nil, errors.New("optimizer: nil scenario")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if err := opts.validate(s); err != nil {
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
	plan := &Plan{Start: s.Start, StepMinutes: s.StepMinutes, Steps: s.Steps}
	finish := func(status string) {
		plan.Status = status
		plan.SolveMS = float64(time.Since(began).Microseconds()) / 1000
	}

	if !opts.Soft {
		if conflicts := precheck(s); len(conflicts) > 0 {
			finish(StatusInfeasible)
			return plan, &InfeasibleError{Conflicts: conflicts}
		}
	}
	f := formulate(s, opts.form())
	iopts := ipm.Options{GapTol: tol, FeasTol: tol / 10, MaxIter: opts.MaxIterations, Logger: logger}
	if opts.WarmStart != nil {
		var why string
		if iopts.Start, why = f.warmStart(opts.WarmStart); iopts.Start == nil {
			logger.Debug("optimizer starting cold: warm start plan not used", "reason", why)
		}
	}
	sol, err := ipm.Solve(ctx, f.m, iopts)
	iopts.Start = nil // the diagnosis solves another model
	if err != nil {
		if ctx.Err() != nil {
			finish(StatusCanceled)
			return plan, fmt.Errorf("optimizer: %w", err)
		}
		finish(StatusNotConverged)
		return plan, fmt.Errorf("optimizer: %w", err)
	}
	plan.Iterations = sol.Iterations
	if (sol.Status == lp.Stalled || sol.Status == lp.IterationLimit) && sol.Gap <= tol && sol.PrimalInf <= tol && sol.DualInf <= tol {
		// Progress stalled in the last digits (typically a degenerate
		// optimum): the best iterate meets the gap and meets the
		// feasibility tolerance loosened from Tolerance/10 to Tolerance.
		logger.Debug("optimizer accepted a stalled solve within tolerance", "status", sol.Status,
			"gap", sol.Gap, "primal_inf", sol.PrimalInf, "dual_inf", sol.DualInf)
		sol.Status = lp.Optimal
	}
	logger.Debug("optimizer solved", "status", sol.Status, "iterations", sol.Iterations,
		"columns", f.m.NumVars(), "rows", f.m.NumRows(), "gap", sol.Gap)
	if sol.Status == lp.IterationLimit {
		finish(StatusNotConverged)
		return plan, fmt.Errorf("optimizer: iteration limit %d reached: relative primal infeasibility %.3g, dual infeasibility %.3g, gap %.3g",
			sol.Iterations, sol.PrimalInf, sol.DualInf, sol.Gap)
	}
	if sol.Status != lp.Optimal {
		conflicts, derr := f.diagnose(ctx, iopts)
		if derr != nil {
			finish(StatusNotConverged)
			return plan, fmt.Errorf("optimizer: solver stopped (%v) and diagnosis failed: %w", sol.Status, derr)
		}
		if len(conflicts) > 0 {
			finish(StatusInfeasible)
			return plan, &InfeasibleError{Conflicts: conflicts}
		}
		finish(StatusNotConverged)
		return plan, fmt.Errorf("optimizer: solver stopped (%v) after %d iterations: relative primal infeasibility %.3g, dual infeasibility %.3g, gap %.3g",
			sol.Status, sol.Iterations, sol.PrimalInf, sol.DualInf, sol.Gap)
	}
	f.extract(sol, plan)
	plan.duals = newRowDuals(f.m, sol.RowDual)
	plan.dualBound = sol.DualObjective
	if len(plan.Violations) > 0 {
		finish(StatusRelaxed)
		return plan, nil
	}
	finish(StatusOptimal)
	return plan, nil
}

func (o *Options) form() formOptions {
	return formOptions{soft: o.Soft, stability: o.StabilityPerKW, reference: o.Reference}
}

// validate checks the options that shape the LP against the scenario.
func (o *Options) validate(s *Scenario) error {
	switch {
	case math.IsNaN(o.Tolerance) || o.Tolerance < 0 || o.Tolerance >= 1:
		return fmt.Errorf("optimizer: options: tolerance %v must be in [0, 1) (0 selects 1e-6)", o.Tolerance)
	case o.MaxIterations < 0:
		return fmt.Errorf("optimizer: options: max_iterations %d must not be negative", o.MaxIterations)
	case math.IsNaN(o.StabilityPerKW) || o.StabilityPerKW < 0 || o.StabilityPerKW > MaxMagnitude:
		return fmt.Errorf("optimizer: options: stability_per_kw %v must be in [0, %g]", o.StabilityPerKW, float64(MaxMagnitude))
	case o.StabilityPerKW > 0 && o.Reference == nil:
		return fmt.Errorf("optimizer: options: stability_per_kw %v needs a reference plan", o.StabilityPerKW)
	}
	if err := validateWarmStart(o.WarmStart); err != nil {
		return err
	}
	if r := o.Reference; r != nil && o.StabilityPerKW > 0 {
		if r.StepMinutes != s.StepMinutes {
			return fmt.Errorf("optimizer: options: reference plan step_minutes %d differs from the scenario's %d", r.StepMinutes, s.StepMinutes)
		}
		step := time.Duration(s.StepMinutes) * time.Minute
		if d := s.Start.Sub(r.Start); d%step != 0 {
			return fmt.Errorf("optimizer: options: reference plan start %s is not on the scenario's step grid (start %s, %d-minute steps)",
				r.Start.Format(time.RFC3339), s.Start.Format(time.RFC3339), s.StepMinutes)
		}
		for _, a := range r.Assets {
			for t, p := range a.PowerKW {
				if math.IsNaN(p) || math.IsInf(p, 0) || math.Abs(p) > MaxMagnitude {
					return fmt.Errorf("optimizer: options: reference plan asset %s power_kw[%d]: %v is not a valid power", a.ID, t, p)
				}
			}
		}
	}
	return nil
}

// diagnose solves the elastic model and lists the rows that must be
// violated; an empty list means the scenario is feasible after all.
func (f *formulation) diagnose(ctx context.Context, opts ipm.Options) ([]string, error) {
	// Weights in currency-free "kWh": power rows cost dt per kW, energy
	// rows twice that per kWh, so the diagnosis prefers naming the node or
	// grid balance that cannot be met; later steps are slightly cheaper,
	// which points at the moment a resource runs out and makes the
	// diagnosis unique.
	el := f.m.Elastic(func(i int) float64 {
		r := f.rows[i]
		late := 1 + 0.01*float64(f.T-1-max(r.step, 0))/float64(f.T)
		switch r.kind {
		case kBalance, kGridRow:
			return f.dt * late
		}
		return 2 * late
	})
	opts.GapTol = 1e-9
	opts.FeasTol = 1e-9
	opts.MaxIter = 0 // the default limit
	sol, err := ipm.Solve(ctx, el, opts)
	if err != nil {
		return nil, err
	}
	if sol.Status != lp.Optimal {
		return nil, fmt.Errorf("elastic model: %v after %d iterations", sol.Status, sol.Iterations)
	}
	n := f.m.NumVars()
	type viol struct {
		row    int
		amount float64
	}
	var vs []viol
	scale := 1.0
	for i := 0; i < f.m.NumRows(); i++ {
		lo, hi := f.m.RowBounds(i)
		for _, b := range []float64{lo, hi} {
			if !math.IsInf(b, 0) {
				scale = math.Max(scale, math.Abs(b))
			}
		}
	}
	tol := 1e-6 * scale
	for i := 0; i < f.m.NumRows(); i++ {
		a := sol.X[n+2*i] - sol.X[n+2*i+1]
		if math.Abs(a) > tol {
			vs = append(vs, viol{i, a})
		}
	}
	if len(vs) == 0 {
		return nil, nil
	}
	sort.SliceStable(vs, func(a, b int) bool { return math.Abs(vs[a].amount) > math.Abs(vs[b].amount) })
	const maxListed = 8
	var out []string
	for k, v := range vs {
		if k == maxListed {
			out = append(out, fmt.Sprintf("and %d more", len(vs)-maxListed))
			break
		}
		out = append(out, f.describeViolation(v.row, v.amount))
	}
	return out, nil
}

// describeViolation words the elastic slack a (added to row i's activity).
func (f *formulation) describeViolation(i int, a float64) string {
	r := f.rows[i]
	desc := f.describeRow(i)
	switch r.kind {
	case kBalance, kGridRow:
		if a > 0 {
			return fmt.Sprintf("%s: %.4g kW of demand cannot be supplied within the limits", desc, a)
		}
		return fmt.Sprintf("%s: %.4g kW of generation cannot be absorbed within the limits", desc, -a)
	case kBatRow, kEVRow:
		// The slack enters with the SoC change's sign reversed: a < 0
		// creates energy, a > 0 destroys it.
		if a < 0 {
			return fmt.Sprintf("%s: %.4g kWh short", desc, -a)
		}
		return fmt.Sprintf("%s: %.4g kWh in excess", desc, a)
	}
	return fmt.Sprintf("%s: violated by %.4g", desc, math.Abs(a))
}

// extract fills the plan from an optimal LP solution.
func (f *formulation) extract(sol *lp.Solution, plan *Plan) {
	s, T, dt := f.s, f.T, f.dt
	x := sol.X
	// Simultaneous import and export (or EV charge and discharge, or a
	// lossless battery's charge and discharge) never lowers the cost; net
	// them so the schedule is physically clean. (With vehicle losses,
	// netting credits the session the energy the pair would have lost.)
	for t := 0; t < T; t++ {
		if m := math.Min(x[f.imp[t]], x[f.exp[t]]); m > 0 {
			x[f.imp[t]] -= m
			x[f.exp[t]] -= m
		}
	}
	for b, bt := range s.Batteries {
		if bt.ChargeEfficiency != 1 || bt.DischargeEfficiency != 1 {
			continue // with losses the pair changes the SoC; it is not an optimum at positive prices
		}
		bc := f.bat[b]
		for t := 0; t < T; t++ {
			if m := math.Min(x[bc.c[t]], x[bc.d[t]]); m > 0 {
				x[bc.c[t]] -= m
				x[bc.d[t]] -= m
			}
		}
	}
	for _, ec := range f.ev {
		cum := 0.0
		for i := range ec.pd {
			if m := math.Min(x[ec.pc[i]], x[ec.pd[i]]); m > 0 {
				x[ec.pc[i]] -= m
				x[ec.pd[i]] -= m
			}
			if ec.roundTrip != 1 {
				cum += dt * (x[ec.pc[i]] - x[ec.pd[i]]/ec.roundTrip)
				x[ec.e[i]] = cum
			}
		}
	}
	plan.PrimalResidual = f.m.MaxViolation(x).Amount
	plan.Gap = sol.Gap

	cb := &plan.CostBreakdown
	plan.GridImportKW = make([]float64, T)
	plan.GridExportKW = make([]float64, T)
	for t := 0; t < T; t++ {
		plan.GridImportKW[t] = x[f.imp[t]]
		plan.GridExportKW[t] = x[f.exp[t]]
		plan.PeakImportKW = math.Max(plan.PeakImportKW, x[f.imp[t]])
		cb.EnergyImport += dt * s.Grid.ImportPrice[t] * x[f.imp[t]]
		cb.EnergyExportRevenue += dt * s.Grid.ExportPrice[t] * x[f.exp[t]]
	}
	if s.Grid.DemandChargePerKW > 0 {
		// Each billing period in the horizon is charged on its own peak; the
		// target the real-time layer holds is the first (current) period's.
		for k, sg := range f.segs {
			peak := sg.peakSoFarKW
			for t := sg.from; t < sg.to; t++ {
				peak = math.Max(peak, x[f.imp[t]]+s.Grid.margin(t))
			}
			if k == 0 {
				plan.PeakTargetKW = peak
				if f.peakStep != nil {
					// The expected charge: each band of the increase at its price.
					cb.DemandCharge += s.Grid.PeakCostOf(peak - sg.peakSoFarKW)
					continue
				}
			}
			cb.DemandCharge += s.Grid.DemandChargePerKW * (peak - sg.peakSoFarKW)
		}
	}

	for _, l := range s.Loads {
		a := AssetPlan{ID: l.ID, Kind: KindLoad, Node: l.Node, PowerKW: append([]float64(nil), l.ForecastKW...)}
		a.EnergyKWh = energy(a.PowerKW, dt)
		plan.Assets = append(plan.Assets, a)
	}
	for p, pv := range s.PV {
		a := AssetPlan{ID: pv.ID, Kind: KindPV, Node: pv.Node, PowerKW: make([]float64, T), CurtailedKW: make([]float64, T)}
		for t := 0; t < T; t++ {
			g := pv.ForecastKW[t]
			if f.pvGen[p] != nil {
				g = x[f.pvGen[p][t]]
			}
			a.PowerKW[t] = -g
			a.CurtailedKW[t] = pv.ForecastKW[t] - g
		}
		a.EnergyKWh = energy(a.PowerKW, dt)
		plan.Assets = append(plan.Assets, a)
	}
	for b, bt := range s.Batteries {
		bc := f.bat[b]
		a := AssetPlan{ID: bt.ID, Kind: KindBattery, Node: bt.Node, PowerKW: make([]float64, T), SoCKWh: make([]float64, T+1),
			ChargeKW: make([]float64, T), DischargeKW: make([]float64, T)}
		a.SoCKWh[0] = bt.SoCKWh
		for t := 0; t < T; t++ {
			c, d := x[bc.c[t]], x[bc.d[t]]
			a.PowerKW[t] = c - d
			a.ChargeKW[t], a.DischargeKW[t] = c, d
			a.SoCKWh[t+1] = x[bc.soc[t]]
			cb.BatteryWear += bt.WearCostPerKWh * dt * (c + d)
		}
		a.EnergyKWh = energy(a.PowerKW, dt)
		plan.Assets = append(plan.Assets, a)
	}
	for k, e := range s.EVSessions {
		ec := f.ev[k]
		a := AssetPlan{ID: e.ID, Kind: KindEV, Node: e.Node, PowerKW: make([]float64, T), RequiredKWh: ec.target}
		got := 0.0 // energy credited to the session, at the charger's meter
		for i := range ec.pc {
			p := x[ec.pc[i]]
			got += dt * p
			if ec.pd != nil {
				d := x[ec.pd[i]]
				p -= d
				got -= dt * d / ec.roundTrip
				cb.EVWear += e.WearCostPerKWh * dt * d
			}
			a.PowerKW[ec.from+i] = p
		}
		a.EnergyKWh = energy(a.PowerKW, dt)
		a.UnmetKWh = math.Max(0, ec.target-got)
		cb.UnmetPenalty += e.UnmetPenaltyPerKWh * a.UnmetKWh
		plan.Assets = append(plan.Assets, a)
	}
	for _, st := range f.stab {
		p := 0.0
		for k, j := range st.cols {
			p += st.vals[k] * x[j]
		}
		cb.StabilityPenalty += st.weight * math.Abs(p-st.ref)
	}
	for _, sl := range f.soft {
		v := math.Max(0, math.Max(x[sl.col]-sl.hi, sl.lo-x[sl.col]))
		cb.ViolationPenalty += sl.weight * v
		scale := 1.0
		for _, b := range []float64{sl.lo, sl.hi} {
			if !math.IsInf(b, 0) {
				scale = math.Max(scale, math.Abs(b))
			}
		}
		if v > 1e-6*scale {
			plan.Violations = append(plan.Violations, Violation{Constraint: sl.what, Amount: v, Unit: sl.unit})
		}
	}
	cb.Total = cb.EnergyImport - cb.EnergyExportRevenue + cb.DemandCharge + cb.BatteryWear + cb.EVWear + cb.UnmetPenalty +
		cb.StabilityPenalty + cb.ViolationPenalty
	plan.Objective = cb.Total

	plan.NodePrices = make(map[string][]float64, len(s.Nodes))
	for n, node := range s.Nodes {
		prices := make([]float64, T)
		for t := 0; t < T; t++ {
			prices[t] = sol.RowDual[f.balRow[n][t]] / dt
		}
		plan.NodePrices[node.ID] = prices
	}
	plan.Binding = f.binding(sol)
}

func energy(p []float64, dt float64) float64 {
	e := 0.0
	for _, v := range p {
		e += v * dt
	}
	return e
}

// binding lists grid, node, demand-peak and battery constraints that are
// active with a shadow price above a small threshold relative to the
// scenario's largest cost coefficient.
func (f *formulation) binding(sol *lp.Solution) []string {
	s := f.s
	thr := 1e-5 * math.Max(f.costScale(), 1e-6) * f.dt // duals are per kW·step
	x, rc := sol.X, sol.ReducedCost
	atUpper := func(j int) bool {
		_, hi := f.m.VarBounds(j)
		return rc[j] < -thr && x[j] >= hi-1e-6*(1+math.Abs(hi))
	}
	atLower := func(j int) bool {
		lo, _ := f.m.VarBounds(j)
		return rc[j] > thr && x[j] <= lo+1e-6*(1+math.Abs(lo))
	}
	var out []string
	for t := 0; t < f.T; t++ {
		if atUpper(f.imp[t]) {
			out = append(out, "grid import limit at "+f.stepLabel(t))
		}
		if atUpper(f.exp[t]) {
			out = append(out, "grid export limit at "+f.stepLabel(t))
		}
		if f.peakRow != nil && sol.RowDual[f.peakRow[t]] < -thr {
			out = append(out, "demand peak at "+f.stepLabel(t))
		}
	}
	for n, node := range s.Nodes {
		for t := 0; t < f.T; t++ {
			j := f.flow[n][t]
			if atUpper(j) {
				out = append(out, fmt.Sprintf("node %s limit at %s", node.ID, f.stepLabel(t)))
			}
			if atLower(j) {
				out = append(out, fmt.Sprintf("node %s reverse-flow limit at %s", node.ID, f.stepLabel(t)))
			}
		}
	}
	for b, bt := range s.Batteries {
		bc := f.bat[b]
		for t := 0; t < f.T; t++ {
			_, pinned := bt.PinnedKW[t] // a pinned step's power is fixed, not bound by the rating
			if !pinned && atUpper(bc.c[t]) {
				out = append(out, fmt.Sprintf("battery %s max_charge at %s", bt.ID, f.stepLabel(t)))
			}
			if !pinned && atUpper(bc.d[t]) {
				out = append(out, fmt.Sprintf("battery %s max_discharge at %s", bt.ID, f.stepLabel(t)))
			}
			j := bc.soc[t]
			if atUpper(j) {
				out = append(out, fmt.Sprintf("battery %s max_soc at step %d", bt.ID, t+1))
			}
			if atLower(j) {
				lo, _ := f.m.VarBounds(j)
				if t == f.T-1 && bt.TerminalSoCKWh != nil && *bt.TerminalSoCKWh > bt.MinSoCKWh && lo == *bt.TerminalSoCKWh {
					out = append(out, fmt.Sprintf("battery %s terminal_soc at step %d", bt.ID, t+1))
				} else {
					out = append(out, fmt.Sprintf("battery %s min_soc at step %d", bt.ID, t+1))
				}
			}
		}
	}
	return out
}
