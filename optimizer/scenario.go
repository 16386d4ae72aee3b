package optimizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Limits that keep the LP numerically meaningful. Values beyond them are
// rejected rather than clamped.
const (
	// MaxMagnitude bounds every power (kW), energy (kWh) and price.
	MaxMagnitude = 1e9
	// MaxSteps bounds the horizon length.
	MaxSteps = 20000
	// maxErrors bounds the number of validation errors reported at once.
	maxErrors = 20
)

// Scenario is one optimisation problem: a horizon of equal steps, the grid
// connection and tariff, the radial node tree, and the assets on it. Power
// is in kW, positive when drawn from the site bus; energy in kWh; prices per
// kWh (demand charge per kW).
type Scenario struct {
	Start       time.Time   `json:"start"`
	StepMinutes int         `json:"step_minutes"`
	Steps       int         `json:"steps"`
	Grid        Grid        `json:"grid"`
	Nodes       []Node      `json:"nodes"`
	Loads       []Load      `json:"loads"`
	PV          []PV        `json:"pv"`
	Batteries   []Battery   `json:"batteries"`
	EVSessions  []EVSession `json:"ev_sessions"`
}

// Grid is the point of common coupling and its tariff.
type Grid struct {
	// ImportLimitKW and ExportLimitKW bound grid import and export; 0 means
	// no flow in that direction is allowed.
	ImportLimitKW float64 `json:"import_limit_kw"`
	ExportLimitKW float64 `json:"export_limit_kw"`
	// ImportPrice and ExportPrice hold one price per step, per kWh.
	ImportPrice []float64 `json:"import_price"`
	ExportPrice []float64 `json:"export_price"`
	// DemandChargePerKW is charged on the import peak above PeakSoFarKW.
	DemandChargePerKW float64 `json:"demand_charge_per_kw"`
	PeakSoFarKW       float64 `json:"peak_so_far_kw"`
	// PeakMarginKW (optional; empty = none) holds one margin per step,
	// ≥ 0: headroom the peak target keeps above the planned import for
	// forecast error, so the charged peak covers import_t + margin_t. It
	// applies only with a demand charge.
	PeakMarginKW []float64 `json:"peak_margin_kw,omitempty"`
	// PeakCostSteps (optional) price the peak above PeakSoFarKW by the kW:
	// each step's WidthKW at its PricePerKW, in order, and any peak beyond them
	// at DemandChargePerKW. Prices must not decrease and not exceed
	// DemandChargePerKW. They hold the expected cost of raising the billing
	// period's peak when the rest of the period may raise it anyway (a kW the
	// coming days will likely reach costs little now).
	PeakCostSteps []PeakCostStep `json:"peak_cost_steps,omitempty"`
	// PeakPeriodStarts (optional) are the steps, in increasing order within
	// 1..steps−1, at which a new billing period of the demand charge begins
	// inside the horizon. Each period's peak is charged on its own: the first
	// period's above PeakSoFarKW (with PeakCostSteps), a later one's from 0.
	PeakPeriodStarts []int `json:"peak_period_starts,omitempty"`
	// ImportCapKW and ExportCapKW (optional; empty = none) hold one cap per
	// step, ≥ 0, that narrows ImportLimitKW and ExportLimitKW at that step:
	// limits set from outside for a time (the grid operator's SCADA, a
	// demand-response event, a district coordinator's share of a shared
	// transformer).
	ImportCapKW []float64 `json:"import_cap_kw,omitempty"`
	ExportCapKW []float64 `json:"export_cap_kw,omitempty"`
}

// PeakCostStep is one band of the peak above Grid.PeakSoFarKW and its price.
type PeakCostStep struct {
	WidthKW    float64 `json:"width_kw"`
	PricePerKW float64 `json:"price_per_kw"`
}

// ImportLimitAt returns the import limit of step t: ImportLimitKW, narrowed by
// ImportCapKW[t] when set.
func (g *Grid) ImportLimitAt(t int) float64 {
	if t < len(g.ImportCapKW) {
		return math.Min(g.ImportLimitKW, g.ImportCapKW[t])
	}
	return g.ImportLimitKW
}

// importName names the field that sets the import limit of step t.
func (g *Grid) importName(t int) string {
	if t < len(g.ImportCapKW) && g.ImportCapKW[t] < g.ImportLimitKW {
		return fmt.Sprintf("import_cap_kw[%d]", t)
	}
	return "import_limit_kw"
}

// exportName names the field that sets the export limit of step t.
func (g *Grid) exportName(t int) string {
	if t < len(g.ExportCapKW) && g.ExportCapKW[t] < g.ExportLimitKW {
		return fmt.Sprintf("export_cap_kw[%d]", t)
	}
	return "export_limit_kw"
}

// ExportLimitAt returns the export limit of step t: ExportLimitKW, narrowed by
// ExportCapKW[t] when set.
func (g *Grid) ExportLimitAt(t int) float64 {
	if t < len(g.ExportCapKW) {
		return math.Min(g.ExportLimitKW, g.ExportCapKW[t])
	}
	return g.ExportLimitKW
}

// Node is a node of the radial network tree. The root has Parent "".
type Node struct {
	ID     string `json:"id"`
	Parent string `json:"parent"`
	// LimitKW bounds the net power of the node's subtree in both
	// directions; it must be > 0.
	LimitKW float64 `json:"limit_kw"`
}

// Load is a fixed consumption: its power is its forecast.
type Load struct {
	ID         string    `json:"id"`
	Node       string    `json:"node"`
	ForecastKW []float64 `json:"forecast_kw"`
}

// PV is a PV plant. ForecastKW is the available generation, a non-negative
// magnitude; a curtailable plant may generate less.
type PV struct {
	ID          string    `json:"id"`
	Node        string    `json:"node"`
	ForecastKW  []float64 `json:"forecast_kw"`
	Curtailable bool      `json:"curtailable"`
}

// Battery is a stationary battery.
type Battery struct {
	ID                  string  `json:"id"`
	Node                string  `json:"node"`
	SoCKWh              float64 `json:"soc_kwh"`
	MinSoCKWh           float64 `json:"min_soc_kwh"`
	MaxSoCKWh           float64 `json:"max_soc_kwh"`
	MaxChargeKW         float64 `json:"max_charge_kw"`
	MaxDischargeKW      float64 `json:"max_discharge_kw"`
	ChargeEfficiency    float64 `json:"charge_efficiency"`
	DischargeEfficiency float64 `json:"discharge_efficiency"`
	WearCostPerKWh      float64 `json:"wear_cost_per_kwh"`
	// TerminalSoCKWh, if set, is the minimum SoC at the end of the horizon.
	TerminalSoCKWh *float64 `json:"terminal_soc_kwh,omitempty"`
	// PinnedKW fixes the battery's power (charge positive) in the steps it names
	// (step index -> kW); the other steps stay free. A pin that the SoC limits cannot
	// hold makes the scenario infeasible (Soft lists the violation).
	PinnedKW map[int]float64 `json:"pinned_kw,omitempty"`
}

// EVSession is an EV plugged in from ArrivalStep (inclusive) to
// DepartureStep (exclusive), wanting EnergyKWh by departure.
type EVSession struct {
	ID            string  `json:"id"`
	Node          string  `json:"node"`
	ArrivalStep   int     `json:"arrival_step"`
	DepartureStep int     `json:"departure_step"`
	EnergyKWh     float64 `json:"energy_kwh"`
	MaxChargeKW   float64 `json:"max_charge_kw"`
	// MaxDischargeKW > 0 allows vehicle-to-grid discharge.
	MaxDischargeKW float64 `json:"max_discharge_kw"`
	// V2GBudgetKWh is how much energy the vehicle's battery may give up
	// below its level at arrival.
	V2GBudgetKWh float64 `json:"v2g_budget_kwh"`
	// WearCostPerKWh is charged per kWh discharged (V2G).
	WearCostPerKWh     float64 `json:"wear_cost_per_kwh"`
	UnmetPenaltyPerKWh float64 `json:"unmet_penalty_per_kwh"`
	// ChargeEfficiency and DischargeEfficiency (in (0, 1]; 0 or omitted
	// = 1, lossless) are the vehicle's conversion losses between the
	// charger's meter and its battery. EnergyKWh counts at the charger's
	// meter, so they cost nothing without V2G; a kWh discharged takes
	// 1/(ηc·ηd) kWh of charging to put back.
	ChargeEfficiency    float64 `json:"charge_efficiency,omitempty"`
	DischargeEfficiency float64 `json:"discharge_efficiency,omitempty"`
}

// Efficiencies returns the session's charge and discharge efficiencies, 1
// for those not set.
func (e EVSession) Efficiencies() (charge, discharge float64) {
	charge, discharge = e.ChargeEfficiency, e.DischargeEfficiency
	if charge == 0 {
		charge = 1
	}
	if discharge == 0 {
		discharge = 1
	}
	return charge, discharge
}

// RoundTrip returns ηc·ηd: the kWh at the charger's meter that one kWh of
// charging gives back by discharge.
func (e EVSession) RoundTrip() float64 {
	c, d := e.Efficiencies()
	return c * d
}

// peakSegment is a billing period inside the horizon: steps [from, to), charged
// on its own peak above peakSoFarKW (the scenario's for the first period, 0 for a
// period that begins inside the horizon).
type peakSegment struct {
	from, to    int
	peakSoFarKW float64
}

// peakSegments returns the billing periods inside the horizon, in order (one
// segment [0, steps) without PeakPeriodStarts).
func (g *Grid) peakSegments(steps int) []peakSegment {
	out := make([]peakSegment, 0, len(g.PeakPeriodStarts)+1)
	from, psf := 0, g.PeakSoFarKW
	for _, st := range g.PeakPeriodStarts {
		out = append(out, peakSegment{from, st, psf})
		from, psf = st, 0
	}
	return append(out, peakSegment{from, steps, psf})
}

// margin returns the peak margin of step t (0 without margins).
func (g *Grid) margin(t int) float64 {
	if t < len(g.PeakMarginKW) {
		return g.PeakMarginKW[t]
	}
	return 0
}

// StepHours returns the step length in hours.
func (s *Scenario) StepHours() float64 { return float64(s.StepMinutes) / 60 }

// StepTime returns the start time of step t.
func (s *Scenario) StepTime(t int) time.Time {
	return s.Start.Add(time.Duration(t) * time.Duration(s.StepMinutes) * time.Minute)
}

// ParseScenario decodes a JSON scenario and validates it. Decoding is
// strict: unknown fields (usually misspelt ones, which would otherwise read
// as zero) and trailing data are errors.
func ParseScenario(data []byte) (*Scenario, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("optimizer: decoding scenario: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("optimizer: decoding scenario: unexpected data after the scenario object")
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// ValidationError lists every problem found in a scenario (up to a limit),
// each naming the field path and the bad value.
type ValidationError struct {
	Problems []string
	// More counts problems found beyond those listed.
	More int
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("optimizer: invalid scenario: ")
	b.WriteString(strings.Join(e.Problems, "; "))
	if e.More > 0 {
		fmt.Fprintf(&b, "; and %d more", e.More)
	}
	return b.String()
}

type validator struct{ err ValidationError }

func (v *validator) add(format string, args ...any) {
	if len(v.err.Problems) >= maxErrors {
		v.err.More++
		return
	}
	v.err.Problems = append(v.err.Problems, fmt.Sprintf(format, args...))
}

// number checks that x is finite, within ±MaxMagnitude and not negative
// unless allowed.
func (v *validator) number(path string, x float64, allowNegative bool) bool {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.add("%s: %v is not a finite number", path, x)
	case math.Abs(x) > MaxMagnitude:
		v.add("%s: %g exceeds the magnitude limit %g", path, x, float64(MaxMagnitude))
	case !allowNegative && x < 0:
		v.add("%s: %g must not be negative", path, x)
	default:
		return true
	}
	return false
}

// numberOK reports whether number would accept x.
func numberOK(x float64, allowNegative bool) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0) && math.Abs(x) <= MaxMagnitude && (allowNegative || x >= 0)
}

// series checks a per-step array.
func (v *validator) series(path string, xs []float64, steps int, allowNegative bool) bool {
	if len(xs) != steps {
		v.add("%s: has %d values, want steps = %d", path, len(xs), steps)
		return false
	}
	ok := true
	for t, x := range xs {
		if numberOK(x, allowNegative) {
			continue // the path is formatted only for a bad value
		}
		v.number(fmt.Sprintf("%s[%d]", path, t), x, allowNegative)
		ok = false
	}
	return ok
}

// Validate checks the scenario and returns a *ValidationError naming every
// bad field (field path and value), or nil.
func (s *Scenario) Validate() error {
	v := &validator{}
	if s.Start.IsZero() {
		v.add("start: missing (an RFC 3339 time is required)")
	}
	if s.StepMinutes <= 0 || s.StepMinutes > 1440 {
		v.add("step_minutes: %d must be in 1..1440", s.StepMinutes)
	}
	stepsOK := s.Steps > 0 && s.Steps <= MaxSteps
	if !stepsOK {
		v.add("steps: %d must be in 1..%d", s.Steps, MaxSteps)
	}

	g := s.Grid
	v.number("grid.import_limit_kw", g.ImportLimitKW, false)
	v.number("grid.export_limit_kw", g.ExportLimitKW, false)
	v.number("grid.demand_charge_per_kw", g.DemandChargePerKW, false)
	v.number("grid.peak_so_far_kw", g.PeakSoFarKW, false)
	if stepsOK && len(g.PeakMarginKW) > 0 {
		v.series("grid.peak_margin_kw", g.PeakMarginKW, s.Steps, false)
	}
	for k, st := range g.PeakPeriodStarts {
		lo := 1
		if k > 0 {
			lo = g.PeakPeriodStarts[k-1] + 1
		}
		if st < lo || (stepsOK && st >= s.Steps) {
			v.add("grid.peak_period_starts[%d]: %d must be in %d..steps−1 (%d), after the one before", k, st, lo, s.Steps-1)
		}
	}
	prev := 0.0
	for k, st := range g.PeakCostSteps {
		path := fmt.Sprintf("grid.peak_cost_steps[%d]", k)
		v.number(path+".width_kw", st.WidthKW, false)
		if v.number(path+".price_per_kw", st.PricePerKW, false) {
			if st.PricePerKW < prev {
				v.add("%s.price_per_kw: %g is below the step before (%g); prices must not decrease", path, st.PricePerKW, prev)
			}
			if st.PricePerKW > g.DemandChargePerKW {
				v.add("%s.price_per_kw: %g exceeds grid.demand_charge_per_kw %g", path, st.PricePerKW, g.DemandChargePerKW)
			}
			prev = st.PricePerKW
		}
	}
	if stepsOK && len(g.ImportCapKW) > 0 {
		v.series("grid.import_cap_kw", g.ImportCapKW, s.Steps, false)
	}
	if stepsOK && len(g.ExportCapKW) > 0 {
		v.series("grid.export_cap_kw", g.ExportCapKW, s.Steps, false)
	}
	if stepsOK {
		okI := v.series("grid.import_price", g.ImportPrice, s.Steps, true)
		okE := v.series("grid.export_price", g.ExportPrice, s.Steps, true)
		if okI && okE {
			for t := range g.ExportPrice {
				if g.ExportPrice[t] > g.ImportPrice[t] {
					v.add("grid.export_price[%d]: %g > import_price[%d] %g (buying to sell back would be unbounded profit)",
						t, g.ExportPrice[t], t, g.ImportPrice[t])
				}
			}
		}
	}

	s.validateNodes(v)
	nodes := make(map[string]bool, len(s.Nodes))
	for _, n := range s.Nodes {
		nodes[n.ID] = true
	}
	assetAt := map[string]string{} // id → path of first use
	asset := func(path, id, node string) {
		switch {
		case id == "":
			v.add("%s.id: missing", path)
		case assetAt[id] != "":
			v.add("%s.id: duplicate %q (also %s)", path, id, assetAt[id])
		default:
			assetAt[id] = path
		}
		if !nodes[node] {
			v.add("%s.node: unknown node %q", path, node)
		}
	}
	for i, l := range s.Loads {
		p := fmt.Sprintf("loads[%d]", i)
		asset(p, l.ID, l.Node)
		if stepsOK {
			v.series(p+".forecast_kw", l.ForecastKW, s.Steps, false)
		}
	}
	for i, pv := range s.PV {
		p := fmt.Sprintf("pv[%d]", i)
		asset(p, pv.ID, pv.Node)
		if stepsOK {
			v.series(p+".forecast_kw", pv.ForecastKW, s.Steps, false)
		}
	}
	for i := range s.Batteries {
		b := &s.Batteries[i]
		p := fmt.Sprintf("batteries[%d]", i)
		asset(p, b.ID, b.Node)
		okMin := v.number(p+".min_soc_kwh", b.MinSoCKWh, false)
		okMax := v.number(p+".max_soc_kwh", b.MaxSoCKWh, false)
		okSoC := v.number(p+".soc_kwh", b.SoCKWh, false)
		v.number(p+".max_charge_kw", b.MaxChargeKW, false)
		v.number(p+".max_discharge_kw", b.MaxDischargeKW, false)
		v.number(p+".wear_cost_per_kwh", b.WearCostPerKWh, false)
		for _, e := range []struct {
			name string
			x    float64
		}{{"charge_efficiency", b.ChargeEfficiency}, {"discharge_efficiency", b.DischargeEfficiency}} {
			if !(e.x > 0 && e.x <= 1) {
				v.add("%s.%s: %v must be in (0, 1]", p, e.name, e.x)
			}
		}
		for k, kw := range b.PinnedKW {
			if stepsOK && (k < 0 || k >= s.Steps) {
				v.add("%s.pinned_kw: step %d outside 0..%d", p, k, s.Steps-1)
			}
			v.number(fmt.Sprintf("%s.pinned_kw[%d]", p, k), kw, true)
		}
		if okMin && okMax && b.MinSoCKWh > b.MaxSoCKWh {
			v.add("%s.min_soc_kwh: %g > max_soc_kwh %g", p, b.MinSoCKWh, b.MaxSoCKWh)
			continue
		}
		if okMin && okMax && okSoC && (b.SoCKWh < b.MinSoCKWh || b.SoCKWh > b.MaxSoCKWh) {
			v.add("%s.soc_kwh: %g outside [min_soc_kwh %g, max_soc_kwh %g]", p, b.SoCKWh, b.MinSoCKWh, b.MaxSoCKWh)
		}
		if b.TerminalSoCKWh != nil {
			ts := *b.TerminalSoCKWh
			if v.number(p+".terminal_soc_kwh", ts, false) && okMin && okMax && (ts < b.MinSoCKWh || ts > b.MaxSoCKWh) {
				v.add("%s.terminal_soc_kwh: %g outside [min_soc_kwh %g, max_soc_kwh %g]", p, ts, b.MinSoCKWh, b.MaxSoCKWh)
			}
		}
	}
	for i, e := range s.EVSessions {
		p := fmt.Sprintf("ev_sessions[%d]", i)
		asset(p, e.ID, e.Node)
		if e.ArrivalStep < 0 {
			v.add("%s.arrival_step: %d must not be negative (use 0 for a session already plugged in)", p, e.ArrivalStep)
		}
		if e.DepartureStep <= e.ArrivalStep {
			v.add("%s.departure_step: %d must be after arrival_step %d", p, e.DepartureStep, e.ArrivalStep)
		}
		v.number(p+".energy_kwh", e.EnergyKWh, false)
		v.number(p+".max_charge_kw", e.MaxChargeKW, false)
		v.number(p+".max_discharge_kw", e.MaxDischargeKW, false)
		v.number(p+".v2g_budget_kwh", e.V2GBudgetKWh, false)
		v.number(p+".wear_cost_per_kwh", e.WearCostPerKWh, false)
		v.number(p+".unmet_penalty_per_kwh", e.UnmetPenaltyPerKWh, false)
		for _, x := range []struct {
			name string
			v    float64
		}{{"charge_efficiency", e.ChargeEfficiency}, {"discharge_efficiency", e.DischargeEfficiency}} {
			if !(x.v >= 0 && x.v <= 1) {
				v.add("%s.%s: %v must be in (0, 1] (0 or omitted = 1)", p, x.name, x.v)
			}
		}
	}
	if len(v.err.Problems) > 0 {
		return &v.err
	}
	return nil
}

func (s *Scenario) validateNodes(v *validator) {
	if len(s.Nodes) == 0 {
		v.add("nodes: at least one node (the root) is required")
		return
	}
	index := map[string]int{}
	var roots []string
	for i, n := range s.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		if n.ID == "" {
			v.add("%s.id: missing", p)
		} else if j, dup := index[n.ID]; dup {
			v.add("%s.id: duplicate %q (also nodes[%d])", p, n.ID, j)
		} else {
			index[n.ID] = i
		}
		if v.number(p+".limit_kw", n.LimitKW, false) && n.LimitKW <= 0 {
			v.add("%s.limit_kw: %g must be > 0", p, n.LimitKW)
		}
		if n.Parent == "" {
			roots = append(roots, fmt.Sprintf("nodes[%d] %q", i, n.ID))
		}
	}
	if len(roots) != 1 {
		v.add("nodes: %d roots (%s); exactly one node must have parent \"\"", len(roots), strings.Join(roots, ", "))
	}
	for i, n := range s.Nodes {
		if n.Parent != "" {
			if _, ok := index[n.Parent]; !ok {
				v.add("nodes[%d].parent: unknown node %q", i, n.Parent)
			}
		}
	}
	// Cycles: follow parents from each node; report each cycle once, at
	// the first node found on it.
	reported := map[string]bool{}
	for i, n := range s.Nodes {
		seen := map[string]int{}
		path := []string{}
		for cur := n.ID; cur != ""; {
			if k, again := seen[cur]; again {
				cycle := append(path[k:], cur)
				key := cycle[0]
				for _, c := range cycle {
					if c < key {
						key = c
					}
				}
				if !reported[key] {
					reported[key] = true
					v.add("nodes[%d].parent: cycle %s", i, strings.Join(cycle, " -> "))
				}
				break
			}
			seen[cur] = len(path)
			path = append(path, cur)
			j, ok := index[cur]
			if !ok {
				break
			}
			cur = s.Nodes[j].Parent
		}
	}
}

// PeakCostOf is what raising the peak by riseKW above PeakSoFarKW costs: by
// PeakCostSteps where given, the rest at DemandChargePerKW.
func (g *Grid) PeakCostOf(riseKW float64) float64 {
	cost, left := 0.0, math.Max(0, riseKW)
	for _, st := range g.PeakCostSteps {
		v := math.Min(left, st.WidthKW)
		cost += v * st.PricePerKW
		left -= v
	}
	return cost + left*g.DemandChargePerKW
}
