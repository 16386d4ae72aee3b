package dreplay

import (
	"math"
	"time"
)

// overTolKW is how far a shared node's metered load may exceed its limit in a
// step before the step counts as over it (the replay's violation tolerance).
const overTolKW = 0.05

// KPIs are a district replay's figures: the sites' replay KPIs summed, every
// shared node's loading on the metered (actual, after control) imports, and
// the coordination's effort. Money in the sites' currency, energy in kWh.
type KPIs struct {
	Steps int `json:"steps"`
	// TotalCost is Σ of the sites' total costs (energy, demand charge, battery
	// wear, unmet EV energy); the parts are summed likewise.
	TotalCost       float64 `json:"total_cost"`
	EnergyCost      float64 `json:"energy_cost"`
	DemandCharge    float64 `json:"demand_charge"`
	BatteryWearCost float64 `json:"battery_wear_cost"`
	EVUnmetPenalty  float64 `json:"ev_unmet_penalty"`
	EVUnmetKWh      float64 `json:"ev_unmet_kwh"`
	ImportKWh       float64 `json:"import_kwh"`
	// SiteViolationSteps sums the sites' own limit violation steps;
	// BelowReserveSteps their steps below a battery reserve.
	SiteViolationSteps int `json:"site_violation_steps"`
	BelowReserveSteps  int `json:"below_reserve_steps"`
	FailedCycles       int `json:"failed_cycles"`
	// HighestLoadingPct is the highest step-mean metered import below a shared
	// node as a share of its limit, over every node; OverLimitSteps and
	// OverLimitKWh count the node-steps above a limit and the energy above it.
	HighestLoadingPct float64    `json:"highest_loading_pct"`
	OverLimitSteps    int        `json:"over_limit_steps"`
	OverLimitKWh      float64    `json:"over_limit_kwh"`
	Nodes             []NodeKPIs `json:"nodes"`
	// CapsExcessKW is the largest excess of a cycle's caps over a shared limit
	// (0: every cycle's caps kept every limit).
	CapsExcessKW float64 `json:"caps_excess_kw"`
	// Coordination (coordinated only): rounds per cycle, the certified gap at
	// the end of each cycle, and the cycles in which some site could not plan
	// within its cap.
	RoundsMean         float64 `json:"rounds_mean,omitempty"`
	RoundsMax          int     `json:"rounds_max,omitempty"`
	GapMeanPct         float64 `json:"gap_mean_pct,omitempty"`
	GapMaxPct          float64 `json:"gap_max_pct,omitempty"`
	CapInfeasibleSites int     `json:"cap_infeasible_site_cycles"`
	// CentralisedFallbacks counts the cycles whose centralised LP had no
	// solution (a district that cannot keep its limits): the last caps,
	// moved on a step and scaled to the limits, stood in.
	CentralisedFallbacks int        `json:"centralised_fallback_cycles,omitempty"`
	WallSeconds          float64    `json:"wall_seconds"`
	Sites                []SiteKPIs `json:"sites"`
}

// NodeKPIs are one shared node's loading on the metered imports.
type NodeKPIs struct {
	ID string `json:"id"`
	// PeakKW is the highest step-mean Σ import below the node, LimitKW the
	// node's limit in that step, LoadingPct their ratio; HighestLoadingPct
	// the highest ratio over the steps (with windows it may be another step).
	PeakKW            float64 `json:"peak_kw"`
	HighestLoadingPct float64 `json:"highest_loading_pct"`
	LimitAtPeakKW     float64 `json:"limit_at_highest_loading_kw"`
	OverLimitSteps    int     `json:"over_limit_steps"`
	OverLimitKWh      float64 `json:"over_limit_kwh"`
}

// SiteKPIs are one site's replay KPIs (replay.KPIs) as the district table shows them.
type SiteKPIs struct {
	Site                string  `json:"site"`
	TotalCost           float64 `json:"total_cost"`
	DemandCharge        float64 `json:"demand_charge"`
	PeakImportKW        float64 `json:"peak_import_kw"`
	EVUnmetKWh          float64 `json:"ev_unmet_kwh"`
	BelowReserveSteps   int     `json:"below_reserve_steps"`
	LimitViolationSteps int     `json:"limit_violation_steps"`
	RelaxedCycles       int     `json:"relaxed_cycles"`
	FailedCycles        int     `json:"failed_cycles"`
}

func computeKPIs(r *Result, step time.Duration) KPIs {
	var k KPIs
	dt := step.Hours()
	for _, s := range r.Sites {
		sk := s.KPIs
		k.TotalCost += sk.TotalCost
		k.EnergyCost += sk.EnergyCost
		k.DemandCharge += sk.DemandCharge
		k.BatteryWearCost += sk.BatteryWearCost
		k.EVUnmetPenalty += sk.EVUnmetPenalty
		k.EVUnmetKWh += sk.EVUnmetKWh
		k.ImportKWh += sk.ImportKWh
		k.SiteViolationSteps += sk.LimitViolationSteps
		k.BelowReserveSteps += sk.BelowReserveSteps
		k.FailedCycles += s.FailedCycles
		k.Sites = append(k.Sites, SiteKPIs{Site: s.Site, TotalCost: round(sk.TotalCost), DemandCharge: round(sk.DemandCharge), PeakImportKW: round(sk.PeakImportKW),
			EVUnmetKWh: round(sk.EVUnmetKWh), BelowReserveSteps: sk.BelowReserveSteps, LimitViolationSteps: sk.LimitViolationSteps,
			RelaxedCycles: s.RelaxedCycles, FailedCycles: s.FailedCycles})
	}
	if len(r.Sites) > 0 {
		k.Steps = len(r.Sites[0].Steps)
	}
	for _, l := range r.Limits {
		nk := NodeKPIs{ID: l.ID}
		for t, lim := range l.LimitKW {
			sum := 0.0
			for _, i := range l.Sites {
				if t < len(r.Sites[i].Steps) {
					sum += math.Max(0, r.Sites[i].Steps[t].GridKW)
				}
			}
			nk.PeakKW = math.Max(nk.PeakKW, sum)
			if lim > 0 {
				if pct := 100 * sum / lim; pct > nk.HighestLoadingPct {
					nk.HighestLoadingPct, nk.LimitAtPeakKW = pct, lim
				}
			}
			if sum > lim+overTolKW {
				nk.OverLimitSteps++
				nk.OverLimitKWh += (sum - lim) * dt
			}
		}
		k.HighestLoadingPct = math.Max(k.HighestLoadingPct, nk.HighestLoadingPct)
		k.OverLimitSteps += nk.OverLimitSteps
		k.OverLimitKWh += nk.OverLimitKWh
		nk.PeakKW, nk.HighestLoadingPct, nk.OverLimitKWh = round(nk.PeakKW), round(nk.HighestLoadingPct), round(nk.OverLimitKWh)
		k.Nodes = append(k.Nodes, nk)
	}
	k.CapsExcessKW = r.capsExcessKW
	if len(r.rounds) > 0 {
		sum := 0
		for _, n := range r.rounds {
			sum += n
			k.RoundsMax = max(k.RoundsMax, n)
		}
		k.RoundsMean = float64(sum) / float64(len(r.rounds))
	}
	if len(r.gaps) > 0 {
		sum := 0.0
		for _, g := range r.gaps {
			sum += g
			k.GapMaxPct = math.Max(k.GapMaxPct, g)
		}
		k.GapMeanPct = sum / float64(len(r.gaps))
	}
	k.CapInfeasibleSites = r.infeasible
	k.CentralisedFallbacks = r.fallbacks
	k.WallSeconds = r.wall.Seconds()
	for _, p := range []*float64{&k.TotalCost, &k.EnergyCost, &k.DemandCharge, &k.BatteryWearCost, &k.EVUnmetPenalty, &k.EVUnmetKWh, &k.ImportKWh,
		&k.HighestLoadingPct, &k.OverLimitKWh, &k.CapsExcessKW, &k.RoundsMean, &k.GapMeanPct, &k.GapMaxPct} {
		*p = round(*p)
	}
	k.WallSeconds = math.Round(k.WallSeconds*10) / 10
	return k
}

func round(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1e4) / 1e4
}
