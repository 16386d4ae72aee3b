package replay

import (
	"math"
	"time"

	"github.com/gridd/gridd/site"
)

// KPIs are a replay's key figures. Energy in kWh, power in kW, money in the tariff's
// currency, shares in percent.
type KPIs struct {
	Steps int `json:"steps"`

	ImportKWh float64 `json:"import_kwh"`
	ExportKWh float64 `json:"export_kwh"`
	// EnergyCost is import cost minus export revenue.
	EnergyCost float64 `json:"energy_cost"`
	// DemandCharge is billed as the utility bills it: in each billing period
	// (tariff.demand_period) the highest mean import over one demand interval
	// (tariff.demand_interval) times demand_charge_per_kw, summed over the periods
	// the replay touches.
	DemandCharge    float64 `json:"demand_charge"`
	BatteryWearCost float64 `json:"battery_wear_cost"`
	// EVUnmetPenalty is the unmet EV energy of completed sessions times the site's
	// ev.unmet_penalty_per_kwh: what the optimiser trades against.
	EVUnmetPenalty float64 `json:"ev_unmet_penalty"`
	// TotalCost = EnergyCost + DemandCharge + BatteryWearCost + EVUnmetPenalty.
	TotalCost    float64 `json:"total_cost"`
	PeakImportKW float64 `json:"peak_import_kw"`

	LoadKWh        float64 `json:"load_kwh"`
	PVKWh          float64 `json:"pv_kwh"`
	PVCurtailedKWh float64 `json:"pv_curtailed_kwh"`
	// SelfConsumptionPct is the share of PV generation used on site.
	SelfConsumptionPct float64 `json:"self_consumption_pct"`
	// SelfSufficiencyPct is the share of site consumption (loads, EVs) not imported.
	SelfSufficiencyPct float64 `json:"self_sufficiency_pct"`

	EVSessions      int     `json:"ev_sessions"`
	EVRequestedKWh  float64 `json:"ev_requested_kwh"`
	EVDeliveredKWh  float64 `json:"ev_delivered_kwh"`
	EVUnmetSessions int     `json:"ev_unmet_sessions"`
	EVUnmetKWh      float64 `json:"ev_unmet_kwh"`
	// EVOpenSessions were still plugged in at the end (not scored).
	EVOpenSessions int `json:"ev_open_sessions"`
	// EVEnergyKWh is all EV charging energy in the period (open sessions too).
	EVEnergyKWh float64 `json:"ev_energy_kwh"`

	BatteryThroughputKWh float64 `json:"battery_throughput_kwh"`
	// BatteryEquivalentCycles = throughput / (2 × usable capacity).
	BatteryEquivalentCycles float64 `json:"battery_equivalent_cycles"`

	// PlanPeakTargetKW is the highest peak target of the plans made (with a demand
	// charge): the import the real-time layer was asked to hold; PeakImportKW is
	// what the site actually reached.
	PlanPeakTargetKW float64 `json:"plan_peak_target_kw"`
	// BelowReserveSteps counts steps in which a battery discharged and ended below
	// its reserve.
	BelowReserveSteps int `json:"below_reserve_steps"`
	// ControlTicks, ControlCorrections and ControlErrors count the real-time
	// layer's corrections (replay models two ticks per step), the setpoints it moved
	// and the ticks that reported an error.
	ControlTicks       int `json:"control_ticks"`
	ControlCorrections int `json:"control_corrections"`
	ControlErrors      int `json:"control_errors"`

	LimitViolationSteps int      `json:"limit_violation_steps"`
	FirstViolations     []string `json:"first_violations"`

	// Forecast error of the site's total load and available PV: mean absolute error
	// over every step of every horizon inside the period, and of the first step only;
	// NMAE is relative to the mean actual.
	ForecastLoadMAEKW   float64 `json:"forecast_load_mae_kw"`
	ForecastLoadNMAEPct float64 `json:"forecast_load_nmae_pct"`
	ForecastLoadMAE1KW  float64 `json:"forecast_load_mae_first_step_kw"`
	ForecastPVMAEKW     float64 `json:"forecast_pv_mae_kw"`
	ForecastPVNMAEPct   float64 `json:"forecast_pv_nmae_pct"`
	ForecastPVMAE1KW    float64 `json:"forecast_pv_mae_first_step_kw"`
	FailedCycles        int     `json:"failed_cycles"`
	// RelaxedCycles proposed the least-violating plan of an infeasible scenario;
	// HeldCycles left their proposal for a dispatcher (relaxed plans, or outside
	// the auto-approve bounds): the replay has no dispatcher, so the last approved
	// schedule or the safe state stays in force.
	RelaxedCycles int `json:"relaxed_cycles"`
	HeldCycles    int `json:"held_cycles"`
}

// unmetTolerance is the shortfall below which a session counts as met (setpoints
// are written with 0.1 kW resolution).
const unmetTolerance = 0.1

func computeKPIs(cfg *site.Config, r *Result) KPIs {
	var k KPIs
	dt := float64(r.StepMinutes) / 60
	k.Steps = len(r.Steps)
	var consKWh float64
	for _, s := range r.Steps {
		if s.BelowReserve > 0 {
			k.BelowReserveSteps++
		}
		imp, exp := math.Max(s.GridKW, 0), math.Max(-s.GridKW, 0)
		k.ImportKWh += imp * dt
		k.ExportKWh += exp * dt
		k.EnergyCost += (imp*s.ImportPrice - exp*s.ExportPrice) * dt
		k.PeakImportKW = math.Max(k.PeakImportKW, imp)
		k.LoadKWh += s.LoadKW * dt
		k.PVKWh += s.PVKW * dt
		k.PVCurtailedKWh += (s.PVAvailKW - s.PVKW) * dt
		k.EVEnergyKWh += s.EVKW * dt
		consKWh += (s.LoadKW + math.Max(s.EVKW, 0)) * dt
		k.BatteryThroughputKWh += s.BESSThroughputKW * dt
		k.BatteryWearCost += s.BESSWearCost
		if len(s.Violations) > 0 {
			k.LimitViolationSteps++
			for _, v := range s.Violations {
				if len(k.FirstViolations) < 10 {
					k.FirstViolations = append(k.FirstViolations, s.Time.UTC().Format("2006-01-02T15:04Z")+" "+v)
				}
			}
		}
	}
	k.DemandCharge = billedDemandKW(cfg, r.Steps) * cfg.Tariff.DemandChargePerKW
	k.PlanPeakTargetKW = r.peakTargetKW
	k.ControlTicks, k.ControlCorrections, k.ControlErrors = r.controlTicks, r.controlCorrections, r.controlErrors
	if k.PVKWh > 0 {
		k.SelfConsumptionPct = 100 * math.Max(0, math.Min(1, (k.PVKWh-k.ExportKWh)/k.PVKWh))
	}
	if consKWh > 0 {
		k.SelfSufficiencyPct = 100 * math.Max(0, math.Min(1, (consKWh-k.ImportKWh)/consKWh))
	}
	if r.capKWh > 0 {
		k.BatteryEquivalentCycles = k.BatteryThroughputKWh / (2 * r.capKWh)
	}
	for _, s := range r.Sessions {
		if !s.Complete {
			k.EVOpenSessions++
			continue
		}
		k.EVSessions++
		k.EVRequestedKWh += s.RequestedKWh
		k.EVDeliveredKWh += s.DeliveredKWh
		if short := s.RequestedKWh - s.DeliveredKWh; short > unmetTolerance {
			k.EVUnmetSessions++
			k.EVUnmetKWh += short
		}
	}
	k.EVUnmetPenalty = k.EVUnmetKWh * cfg.EV.UnmetPenaltyPerKWh
	k.TotalCost = k.EnergyCost + k.DemandCharge + k.BatteryWearCost + k.EVUnmetPenalty
	k.ForecastLoadMAEKW, k.ForecastLoadNMAEPct, k.ForecastLoadMAE1KW = r.fcLoad.scores()
	k.ForecastPVMAEKW, k.ForecastPVNMAEPct, k.ForecastPVMAE1KW = r.fcPV.scores()
	k.FailedCycles = r.FailedCycles
	k.RelaxedCycles = r.RelaxedCycles
	k.HeldCycles = r.HeldCycles
	return k
}

func (a errAcc) scores() (mae, nmaePct, mae1 float64) {
	if a.n > 0 {
		mae = a.absSum / float64(a.n)
		if a.actSum > 0 {
			nmaePct = 100 * a.absSum / a.actSum
		}
	}
	if a.n1 > 0 {
		mae1 = a.abs1 / float64(a.n1)
	}
	return mae, nmaePct, mae1
}

// billedDemandKW sums, over the billing periods the steps touch, each period's
// highest demand-interval mean of net import (a step longer than the interval counts
// as its own mean).
func billedDemandKW(cfg *site.Config, steps []StepRecord) float64 {
	iv := cfg.Tariff.DemandIntervalD()
	type acc struct {
		sum float64
		n   int
	}
	intervals := map[time.Time]*acc{}
	var order []time.Time
	for _, s := range steps {
		k := s.Time.Truncate(iv)
		a := intervals[k]
		if a == nil {
			a = &acc{}
			intervals[k] = a
			order = append(order, k)
		}
		a.sum += s.GridKW
		a.n++
	}
	peaks := map[time.Time]float64{} // by billing period start
	var periods []time.Time
	for _, k := range order {
		from, _ := cfg.Tariff.DemandPeriodAt(k, cfg.Site.Location)
		if _, seen := peaks[from]; !seen {
			periods = append(periods, from)
		}
		a := intervals[k]
		peaks[from] = math.Max(peaks[from], a.sum/float64(a.n))
	}
	total := 0.0
	for _, p := range periods { // in time order, so the sum is reproducible
		total += peaks[p]
	}
	return total
}
