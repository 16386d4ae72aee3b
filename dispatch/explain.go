package dispatch

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// ReasonSteps is how many steps ahead Explain gives per-asset reasons for.
const ReasonSteps = 4

// Explanation says why a schedule is what it is.
type Explanation struct {
	ScheduleID int64  `json:"schedule_id"`
	Currency   string `json:"currency"`
	// Previous is the schedule the costs and setpoints are compared with: the approved
	// schedule the policy compared it with, else the one proposed before it (0 = none).
	Previous int64             `json:"previous,omitempty"`
	Cost     []CostLine        `json:"cost"`
	Steps    []StepExplanation `json:"steps"`
	Reasons  []AssetReason     `json:"reasons"`
	Diff     []AssetDiff       `json:"diff,omitempty"`
	Pins     []Pin             `json:"pins,omitempty"`
	Policy   *PolicyResult     `json:"policy,omitempty"`
}

// CostLine is one cost term of the schedule against the previous one.
type CostLine struct {
	Term     string   `json:"term"`
	This     float64  `json:"this"`
	Previous *float64 `json:"previous,omitempty"`
	Change   *float64 `json:"change,omitempty"`
}

// StepExplanation holds one step's prices and binding constraints.
type StepExplanation struct {
	Step         int                `json:"step"`
	Time         time.Time          `json:"time"`
	ImportPrice  float64            `json:"import_price"`
	ExportPrice  float64            `json:"export_price"`
	GridImportKW float64            `json:"grid_import_kw"`
	NodePrices   map[string]float64 `json:"node_prices"`
	Binding      []string           `json:"binding,omitempty"`
}

// AssetReason is a plain-language reason for one asset's setpoint in one step.
type AssetReason struct {
	DeviceID string    `json:"device_id"`
	Step     int       `json:"step"`
	Time     time.Time `json:"time"`
	PowerKW  float64   `json:"power_kw"`
	Text     string    `json:"text"`
	// Key names the kind of reason ("bess.charge", "ev.wait", ...) and Args holds its
	// values (kW, prices, times, the binding constraints), so a client can write the
	// reason in its own language; Text is the English sentence.
	Key  string         `json:"key"`
	Args map[string]any `json:"args"`
}

// AssetDiff is the largest change of one asset's setpoints against the previous schedule.
type AssetDiff struct {
	DeviceID    string    `json:"device_id"`
	MaxChangeKW float64   `json:"max_change_kw"`
	At          time.Time `json:"at"`
	// ChangeKW holds this minus previous per step of this schedule (0 where the
	// previous schedule has no value).
	ChangeKW []float64 `json:"change_kw"`
}

// CostTerms are the cost terms an explanation lists, in order ("total" last).
var CostTerms = []string{"energy_import", "energy_export_revenue", "demand_charge", "battery_wear", "ev_wear", "unmet_penalty", "total"}

var stepRef = regexp.MustCompile(`at step (\d+)`)

// Explain explains a stored schedule.
func (s *Service) Explain(ctx context.Context, id int64) (*Explanation, error) {
	sc, err := s.store.GetSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	doc, err := decodePlan(sc)
	if err != nil {
		return nil, err
	}
	plan, scn := doc.Plan, doc.Scenario
	ex := &Explanation{ScheduleID: id, Currency: s.cfg.Tariff.Currency, Pins: doc.Pins, Policy: doc.Policy}

	prev, err := s.previous(ctx, sc, doc)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		ex.Previous = prev.ID
	}
	for _, t := range CostTerms {
		line := CostLine{Term: t, This: sc.CostBreakdown[t]}
		if prev != nil {
			p := prev.CostBreakdown[t]
			c := line.This - p
			line.Previous, line.Change = &p, &c
		}
		ex.Cost = append(ex.Cost, line)
	}

	binding := map[int][]string{}
	for _, b := range plan.Binding {
		if m := stepRef.FindStringSubmatch(b); m != nil {
			k, _ := strconv.Atoi(m[1])
			binding[k] = append(binding[k], localBinding(b, plan.Start, plan.StepMinutes, s.cfg.Site.Location))
		}
	}
	steps := plan.Steps
	for k := 0; k < steps; k++ {
		st := StepExplanation{Step: k, Time: plan.Start.Add(time.Duration(k*plan.StepMinutes) * time.Minute), NodePrices: map[string]float64{}, Binding: binding[k]}
		if scn != nil && k < len(scn.Grid.ImportPrice) {
			st.ImportPrice, st.ExportPrice = scn.Grid.ImportPrice[k], scn.Grid.ExportPrice[k]
		}
		if k < len(plan.GridImportKW) && k < len(plan.GridExportKW) {
			st.GridImportKW = plan.GridImportKW[k] - plan.GridExportKW[k]
		}
		for n, ps := range plan.NodePrices {
			if k < len(ps) {
				st.NodePrices[n] = ps[k]
			}
		}
		ex.Steps = append(ex.Steps, st)
	}
	ex.Reasons = s.reasons(plan, scn, ex.Steps, doc.Pins)
	if prev != nil {
		ex.Diff = diff(sc, prev)
	}
	return ex, nil
}

// previous finds the schedule to compare with.
func (s *Service) previous(ctx context.Context, sc *storage.Schedule, doc *planDoc) (*storage.Schedule, error) {
	if doc.Policy != nil && doc.Policy.Against != 0 {
		return s.store.GetSchedule(ctx, doc.Policy.Against)
	}
	list, err := s.store.ListSchedules(ctx, storage.Epoch, sc.CreatedAt.Add(storage.TimePrecision), "")
	if err != nil {
		return nil, err
	}
	var best int64
	for _, x := range list {
		if x.ID < sc.ID && x.ID > best {
			best = x.ID
		}
	}
	if best == 0 {
		return nil, nil
	}
	return s.store.GetSchedule(ctx, best)
}

func diff(sc, prev *storage.Schedule) []AssetDiff {
	old := map[string]float64{}
	for _, sp := range prev.Setpoints {
		old[sp.DeviceID+"@"+sp.Time.UTC().Format(time.RFC3339)] = sp.PowerKW
	}
	by := map[string]*AssetDiff{}
	for _, sp := range sc.Setpoints {
		d := by[sp.DeviceID]
		if d == nil {
			d = &AssetDiff{DeviceID: sp.DeviceID, ChangeKW: make([]float64, sc.Steps)}
			by[sp.DeviceID] = d
		}
		v, ok := old[sp.DeviceID+"@"+sp.Time.UTC().Format(time.RFC3339)]
		if !ok || sp.Step >= sc.Steps {
			continue
		}
		c := sp.PowerKW - v
		d.ChangeKW[sp.Step] = c
		if math.Abs(c) > d.MaxChangeKW {
			d.MaxChangeKW, d.At = math.Abs(c), sp.Time
		}
	}
	out := make([]AssetDiff, 0, len(by))
	for _, d := range by {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	return out
}

// reasons writes the per-asset reason texts for the first ReasonSteps steps.
func (s *Service) reasons(plan *optimizer.Plan, scn *optimizer.Scenario, steps []StepExplanation, pins []Pin) []AssetReason {
	loc := s.cfg.Site.Location
	if loc == nil {
		loc = time.UTC
	}
	var ref time.Time // the step a reason is about: times on its local day go without the date
	hhmm := func(t time.Time) string { return SiteTime(loc, t, ref) }
	price := func(node string, k int) float64 {
		if k < len(steps) {
			if p, ok := steps[k].NodePrices[node]; ok {
				return p
			}
			return steps[k].ImportPrice
		}
		return math.NaN()
	}
	pinned := map[string]Pin{}
	for _, p := range pins {
		pinned[p.DeviceID] = p
	}
	var out []AssetReason
	ids := make([]string, 0)
	for _, d := range s.cfg.Devices {
		if controllable(d.Kind) {
			ids = append(ids, d.ID)
		}
	}
	sort.Strings(ids)
	n := min(ReasonSteps, plan.Steps)
	for _, id := range ids {
		d, _ := s.cfg.Device(id)
		a := plan.Asset(id)
		for k := 0; k < n; k++ {
			t := steps[k].Time
			ref = t
			r := AssetReason{DeviceID: id, Step: k, Time: t}
			if p, ok := pinned[id]; ok && !t.Before(p.From.Truncate(time.Duration(plan.StepMinutes)*time.Minute)) && t.Before(p.Until) {
				r.PowerKW = p.PowerKW
				r.Text = fmt.Sprintf("%s pinned at %.0f kW by %s until %s: %s", id, p.PowerKW, p.Actor, hhmm(p.Until), p.Reason)
				r.Key, r.Args = "pinned", map[string]any{"device": id, "kw": p.PowerKW, "by": p.Actor, "until": p.Until, "reason": p.Reason}
				out = append(out, r)
				continue
			}
			if a == nil {
				why := "no fresh reading"
				if d.Kind == site.KindEVCharger {
					why = "no vehicle plugged in or reported, or no fresh reading"
				}
				r.Text = fmt.Sprintf("%s is not in this plan: %s", id, why)
				r.Key, r.Args = "absent", map[string]any{"device": id}
				if d.Kind == site.KindEVCharger {
					r.Key = "absent.ev"
				}
				out = append(out, r)
				continue
			}
			p := a.PowerKW[k]
			r.PowerKW = p
			now := price(a.Node, k)
			// The most and least expensive later steps at the asset's node.
			// The earliest of the most and least expensive later steps at the asset's
			// node (duals differ in the last digits; 1e-4 per kWh is no difference).
			hiV, loV := now, now
			for j := k + 1; j < plan.Steps; j++ {
				hiV, loV = math.Max(hiV, price(a.Node, j)), math.Min(loV, price(a.Node, j))
			}
			hi, lo := k, k
			for j := plan.Steps - 1; j > k; j-- {
				if price(a.Node, j) >= hiV-1e-4 {
					hi = j
				}
				if price(a.Node, j) <= loV+1e-4 {
					lo = j
				}
			}
			switch a.Kind {
			case optimizer.KindBattery:
				switch {
				case p > 0.5:
					r.Text = fmt.Sprintf("%s charges %.0f kW: price %.2f now vs %.2f at %s", id, p, now, price(a.Node, hi), hhmm(steps[hi].Time))
					r.Key, r.Args = "bess.charge", map[string]any{"kw": p, "then": price(a.Node, hi), "at": steps[hi].Time}
				case p < -0.5:
					r.Text = fmt.Sprintf("%s discharges %.0f kW: price %.2f now vs %.2f at %s", id, -p, now, price(a.Node, lo), hhmm(steps[lo].Time))
					r.Key, r.Args = "bess.discharge", map[string]any{"kw": -p, "then": price(a.Node, lo), "at": steps[lo].Time}
				default:
					r.Text = fmt.Sprintf("%s idles: price %.2f now; spread to %.2f at %s does not pay for losses and wear, or SoC is at a limit", id, now, price(a.Node, hi), hhmm(steps[hi].Time))
					r.Key, r.Args = "bess.idle", map[string]any{"then": price(a.Node, hi), "at": steps[hi].Time}
				}
				if a.SoCKWh != nil && d.BESS != nil && d.BESS.CapacityKWh > 0 {
					r.Text += fmt.Sprintf(" (SoC %.0f%%)", a.SoCKWh[k]/d.BESS.CapacityKWh*100)
					r.Args["soc_pct"] = a.SoCKWh[k] / d.BESS.CapacityKWh * 100
				}
			case optimizer.KindEV:
				dep := ""
				var depAt time.Time
				var depKWh float64
				if scn != nil {
					for _, e := range scn.EVSessions {
						if e.ID == id {
							depAt, depKWh = plan.Start.Add(time.Duration(e.DepartureStep*plan.StepMinutes)*time.Minute), e.EnergyKWh
							dep = fmt.Sprintf(", departs %s, %.1f kWh requested", SiteTime(loc, depAt, plan.Start.Add(-24*time.Hour)), e.EnergyKWh)
						}
					}
				}
				switch {
				case p > 0.05:
					r.Text = fmt.Sprintf("%s charges %.1f kW: price %.2f now vs %.2f at %s%s", id, p, now, price(a.Node, hi), hhmm(steps[hi].Time), dep)
					r.Key, r.Args = "ev.charge", map[string]any{"kw": p, "then": price(a.Node, hi), "at": steps[hi].Time}
				case p < -0.05:
					r.Text = fmt.Sprintf("%s discharges %.1f kW (V2G): price %.2f now vs %.2f at %s%s", id, -p, now, price(a.Node, lo), hhmm(steps[lo].Time), dep)
					r.Key, r.Args = "ev.v2g", map[string]any{"kw": -p, "then": price(a.Node, lo), "at": steps[lo].Time}
				default:
					r.Text = fmt.Sprintf("%s waits: price %.2f now vs %.2f at %s%s", id, now, price(a.Node, lo), hhmm(steps[lo].Time), dep)
					r.Key, r.Args = "ev.wait", map[string]any{"then": price(a.Node, lo), "at": steps[lo].Time}
				}
				if dep != "" {
					r.Args["departs"], r.Args["energy_kwh"] = depAt, depKWh
				}
			case optimizer.KindPV:
				c := 0.0
				if k < len(a.CurtailedKW) {
					c = a.CurtailedKW[k]
				}
				if c > curtailmentThresholdKW {
					r.Text = fmt.Sprintf("%s curtailed by %.0f kW to %.0f kW: price at %s is %.2f (export %.2f)", id, c, -p, a.Node, now, steps[k].ExportPrice)
					r.Key, r.Args = "pv.curtailed", map[string]any{"curtailed_kw": c, "kw": -p, "node": a.Node, "export": steps[k].ExportPrice}
				} else {
					r.Text = fmt.Sprintf("%s generates %.0f kW uncapped: price at %s %.2f", id, -p, a.Node, now)
					r.Key, r.Args = "pv.generate", map[string]any{"kw": -p, "node": a.Node}
				}
			default:
				r.Text = fmt.Sprintf("%s at %.1f kW", id, p)
				r.Key, r.Args = "other", map[string]any{"kw": p}
			}
			r.Args["device"], r.Args["now"] = id, now
			var bind []string
			for _, b := range steps[k].Binding {
				if strings.Contains(b, a.Node) || strings.Contains(b, id) || strings.Contains(b, "grid") {
					r.Text += "; binding: " + b
					bind = append(bind, b)
				}
			}
			if bind != nil {
				r.Args["binding"] = bind
			}
			out = append(out, r)
		}
	}
	return out
}
