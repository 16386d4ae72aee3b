// Package optimizer owns gridd's dispatch optimisation: the scenario format
// (`gridd plan` reads it as JSON), its validation, the dispatch linear
// program, and the resulting Plan.
//
// # Sign convention and units
//
// Power is in kW and positive when drawn from the site bus: battery charging
// +, PV generation −, load +, grid import +. Energy is in kWh, prices per
// kWh, the demand charge per kW. dt = step_minutes/60 h.
//
// # Formulation
//
// For every step t = 0..steps−1:
//
//   - Grid: import_t ∈ [0, import_limit_kw], export_t ∈ [0, export_limit_kw]
//     (a limit of 0 forbids that direction), and import_t − export_t equals
//     the root node's net power.
//   - Nodes: flow_{n,t} ∈ [−limit_kw, +limit_kw] is the net power of node n's
//     subtree; balance row: flow_{n,t} − Σ children's flows − own flexible
//     assets = own fixed power (loads − non-curtailable PV). limit_kw must be
//     > 0; use a large value for "unlimited". The dual of the balance row,
//     divided by dt, is the node price.
//   - Load: power = forecast (forecasts must be ≥ 0; model generation as PV).
//   - PV: power = −g_t with 0 ≤ g_t ≤ forecast, g_t = forecast when not
//     curtailable.
//   - Battery: power = c_t − d_t, c_t ∈ [0, max_charge_kw],
//     d_t ∈ [0, max_discharge_kw]; soc_{t+1} = soc_t + dt·(ηc·c_t − d_t/ηd),
//     min_soc ≤ soc_t ≤ max_soc for t = 1..steps, soc_steps ≥
//     terminal_soc_kwh when given; wear cost wear·dt·(c_t + d_t). Plans report
//     soc_kwh with steps+1 values: soc_kwh[t] is the SoC at the start of step
//     t, soc_kwh[steps] at the end of the horizon. Binding messages use the
//     same index ("max_soc at step 40" is soc_kwh[40]).
//   - EV session: active in [arrival_step, min(departure_step, steps));
//     p_t = pc_t − pd_t with pc_t ∈ [0, max_charge_kw] and pd_t ∈ [0,
//     max_discharge_kw] (no pd without V2G). Energy counts at the
//     charger's meter (energy_kwh is what the meter must deliver); the
//     vehicle's charge_efficiency ηc and discharge_efficiency ηd (0 or
//     omitted = 1) charge V2G its round trip: the energy credited to the
//     session is e_k = Σ_{t<k} dt·(pc_t − pd_t/(ηc·ηd)), so a kWh
//     discharged takes 1/(ηc·ηd) kWh of charging to put back;
//     e_k ∈ [−v2g_budget_kwh/ηc, energy_kwh] (the vehicle's battery gives
//     up at most v2g_budget_kwh); unmet = max(0, required − e_end) is
//     costed at unmet_penalty_per_kwh and discharge at wear·dt·pd_t. A
//     shortfall is penalised, never infeasible.
//     Sessions departing after the horizon: required = max(0, energy_kwh −
//     max_charge_kw·dt·(departure_step − max(arrival_step, steps))), i.e. the
//     plan must deliver whatever could not still be delivered at full power
//     after the horizon, so it never under-charges by pushing the energy
//     beyond the horizon; it may still charge up to energy_kwh. Sessions
//     arriving at or after the end of the horizon have no schedule and no
//     requirement in this plan.
//     LP form: with V2G, a chain of energy columns e and rows e_{t+1} =
//     e_t + dt·(pc_t − pd_t/(ηc·ηd)). Without V2G, p ≥ 0 makes e monotone,
//     so the whole session is one ranged row, required ≤ Σ dt·pc_t + unmet
//     ≤ energy_kwh (unmet ≥ 0 is positive only below required, so this
//     equals Σ dt·pc_t ≤ energy_kwh), with no per-step chain.
//   - Demand charge: a running-peak chain q_t ≥ import_t + margin_t −
//     peak_so_far_kw, q_t ≥ q_{t−1}, q ≥ 0, with demand_charge_per_kw·
//     q_{steps−1} in the objective. (A single peak variable would be a
//     dense column; the chain keeps the normal equations sparse.) margin_t
//     is grid.peak_margin_kw[t] (0 when absent): headroom for forecast
//     error that the plan keeps under its peak target, paid for like a
//     peak, so the target rises only when that is cheaper than holding
//     import down. Plan.PeakTargetKW = peak_so_far_kw + q_{steps−1} =
//     max(peak_so_far_kw, max_t(import_t + margin_t)) is the import level
//     the real-time layer must hold; 0 without a demand charge. The peak
//     is per step: with steps shorter than the billing's demand interval
//     it is conservative (the highest step bounds the interval's mean);
//     with longer steps a step's mean may hide a higher interval mean.
//     With grid.peak_period_starts (the steps at which a new billing period
//     begins inside the horizon), the chain restarts at each of them: a
//     later period's rows are q_t ≥ import_t + margin_t (from 0, not the
//     peak so far), q_t ≥ q_{t−1} only within a period, and each period's
//     last q is charged; q_{steps−1} below then means the first period's
//     last, and Plan.PeakTargetKW is the first (current) period's target.
//     With grid.peak_cost_steps, q_{steps−1} = Σ_k b_k (one row), b_k ∈
//     [0, width_kw_k] priced price_per_kw_k, and a last band b ∈ [0, ∞)
//     at demand_charge_per_kw in place of q_{steps−1}'s own cost: the
//     expected cost of the peak (prices do not decrease, so the cheapest
//     bands fill first); CostBreakdown.DemandCharge is then that
//     expected cost.
//
// Every column's bounds: import_t ∈ [0, min(import_limit_kw,
// import_cap_kw[t])], export_t ∈ [0, min(export_limit_kw, export_cap_kw[t])]
// (the per-step caps are optional: limits set from outside for a time), flow ∈ [−limit_kw, limit_kw], PV g ∈ [0, forecast],
// battery c ∈ [0, max_charge_kw], d ∈ [0, max_discharge_kw], soc ∈
// [min_soc_kwh, max_soc_kwh] (the last one's lower bound raised to
// terminal_soc_kwh), EV pc ∈ [0, max_charge_kw], pd ∈ [0,
// max_discharge_kw], e ∈ [−v2g_budget_kwh/ηc, energy_kwh], unmet ∈ [0,
// required] (never more than the energy requested within the horizon),
// q ∈ [0, ∞); soft-mode violation and stability deviation columns ∈ [0,
// ∞). Every row is an equality (balances, battery and EV energy) except
// the peak rows (≤), the EV target (≥, ranged without V2G) and the soft
// limits (ranged).
//
// Objective: Σ_t dt·(import_price_t·import_t − export_price_t·export_t) +
// demand charge + battery wear + EV wear + unmet penalty. Validation rejects
// export_price > import_price at any step (simultaneous import and export
// would be profitable and the LP unbounded). After the solve, equal
// simultaneous import and export, and EV charge and discharge, are netted,
// which keeps every constraint and never raises the cost (with vehicle
// losses netting credits the session the energy the pair would have lost;
// a lossless battery's simultaneous charge and discharge are netted too);
// the reported objective and cost_breakdown are recomputed from the
// reported schedule.
//
// Ties: at equal prices, moving energy between storage assets only loses
// it when the assets have losses or wear, so such plans do not swap
// charge and discharge between a battery and a vehicle or between
// vehicles. Assets that are lossless and wear-free (efficiencies 1, wear
// 0) are genuinely indifferent, and the interior-point method may return
// any mix of them; gridd's site defaults give batteries and vehicles
// losses and V2G a wear cost.
//
// # Soft mode and plan stability
//
// Options.Soft moves grid import/export limits, node limits and battery SoC
// limits (terminal SoC included) into rows lo ≤ x − over + under ≤ hi whose
// violation columns cost 1000·(1 + the scenario's largest cost coefficient)
// per kW·h (power limits, times dt) or per kWh (SoC). Solve then skips the
// infeasibility pre-check and returns the least-violating plan with Status
// "relaxed", Plan.Violations listing each violated limit and amount, and
// CostBreakdown.ViolationPenalty; a feasible scenario gives the plan it
// would give without Soft. Binding does not list softened limits.
//
// Options.StabilityPerKW with Options.Reference (the last approved plan)
// adds, for every battery and EV session step that the reference schedules
// at the same time, deviation columns up, down ≥ 0 with power − up + down =
// reference power, costing StabilityPerKW·dt each (CostBreakdown.
// StabilityPenalty).
//
// # Shared limits
//
// SolveShared solves several scenarios on the same time grid as one LP: the
// union of their dispatch LPs plus, per SharedImportLimit (sites below a
// shared transformer or feeder) and step, a flow column y ∈ [0, limit_kw]
// and a row y − Σ child limits' y − Σ its other sites' import = 0 (limits
// must nest or be disjoint; the flow columns keep a limit over exactly its
// children's sites from being a linearly dependent row). The flow column's
// reduced cost divided by dt is the limit's price per kWh. It is the
// centralised reference of the district coordinator (package district).
// Plan.DualBound returns the solver's dual objective, a lower bound on the
// optimum the coordinator sums into its certified bound.
//
// # Export
//
// ExportLP and ExportMPS write exactly the LP that Solve solves for the same
// scenario and options (CPLEX LP and free MPS; see optimizer/lp). Its optimal
// objective is Plan.Objective; the tests solve exported files with glpsol and
// compare the objectives to 1e-6 relative.
//
// optimizer/scengen generates reproducible scenarios of any size from the
// real data in data/ (`gridd scenario gen`).
//
// # Validation
//
// ParseScenario decodes strictly: unknown fields are rejected, because a
// misspelt field would otherwise silently read as zero. Validate reports
// every problem (up to 20) with its field path and value, e.g.
// "batteries[2].min_soc_kwh: 80 > max_soc_kwh 60". All numbers must be
// finite and within ±1e9.
//
// # Infeasibility
//
// Solve first runs a cheap pre-check that words the common conflicts
// precisely (a node or grid limit below the fixed load, non-curtailable PV
// above the export limit, an unreachable terminal SoC). Anything else that
// makes the LP infeasible is found by the solver; the elastic model
// (lp.Model.Elastic, one penalised slack per row) is then solved and the rows
// it must violate are reported. Either way Solve returns an *InfeasibleError
// (errors.Is(err, ErrInfeasible)).
//
// # Binding constraints
//
// Plan.Binding lists grid import/export limits, node limits, demand peaks
// and battery charge/discharge/SoC/terminal limits that are active and whose
// shadow price exceeds 1e-5 times the scenario's largest cost coefficient.
// EV power limits are not listed.
//
// # Solver
//
// The LP is built with optimizer/lp (columns and rows named by group and
// step) and solved by optimizer/ipm, a primal-dual interior-point method
// with Mehrotra's predictor-corrector whose normal equations A·Θ·Aᵀ are
// factored by the sparse Cholesky of optimizer/sparse (approximate minimum
// degree ordering, symbolic factorisation once per solve, numeric
// factorisation per iteration). Default stopping rule: relative duality gap
// ≤ Options.Tolerance (1e-6) and relative primal and dual infeasibility ≤
// Tolerance/10 (rows and bounds each relative to their own scale); the
// iteration limit defaults to 200. When progress stalls in the last
// digits, the best iterate is accepted if it meets the gap tolerance and the
// feasibility tolerance loosened to Tolerance (from Tolerance/10); Plan.Gap
// and Plan.PrimalResidual report what was reached. Plan.SolveMS is
// wall-clock compute time and the only use of the real clock here.
//
// # Warm start
//
// Options.WarmStart takes the previous cycle's plan (the *Plan Solve
// returned; besides the schedule it keeps the LP's row duals, which are
// not part of its JSON). Step t of the scenario is step t + offset of the
// plan, offset = (scenario start − plan start)/step. The starting point
// (optimizer/warm.go) keeps the plan's battery charge/discharge, PV
// generation and EV power per asset ID and step; steps the plan does not
// cover are idle (batteries), uncurtailed (PV) or share what an EV session
// still requires evenly (also every step of a session the plan does not
// know); battery SoC is integrated from the scenario's initial SoC, and EV
// energy, unmet energy, node flows, grid import/export and the peak chain
// follow, so every balance row holds. Row duals are taken by row name and
// step, holding the plan's last step past its horizon. optimizer/ipm
// (ipm.Start) moves this point inside the bounds, derives the reduced
// costs from the duals and centres it at a relative duality gap of about 0.3;
// a point violating some row by more than the row's magnitude is replaced
// by the cold start, and a warm-started solve that does not reach the
// optimum is repeated cold. The stopping rule is unchanged, so the optimum
// is the same. On generated scenarios shifted by 1-4 steps, forecasts and
// SoC also changed or not (optimizer/warm_test.go, BenchmarkWarmStart), it
// saves about 40 % of the iterations. A plan decoded from JSON carries node
// prices but no other duals; warm starts from it were measured slower than
// cold starts, so it is ignored.
//
// gonum parts used: gonum.org/v1/gonum/floats for the interior-point vector
// kernels; gonum.org/v1/gonum/mat (dense Cholesky) as the reference in the
// sparse Cholesky tests; gonum.org/v1/gonum/optimize/convex/lp (dense
// simplex) only as a test reference on tiny problems
// (optimizer/internal/lpref).
package optimizer
