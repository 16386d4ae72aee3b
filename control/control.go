package control

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Kind is an asset's kind as the real-time layer sees it.
type Kind string

const (
	Battery Kind = "bess"
	Charger Kind = "ev_charger"
	PV      Kind = "pv"
)

// Asset is one controllable device at the moment of a correction. Powers follow the
// site sign convention (positive = drawn from the bus), except a PV plant's IntentKW,
// LoKW and HiKW, which are its generation cap (a non-negative magnitude).
type Asset struct {
	ID   string
	Kind Kind
	Node string
	// IntentKW is the setpoint the plan (or the safe state) wants now.
	IntentKW float64
	// ActualKW is the measured active power now.
	ActualKW float64
	// WrittenKW is the setpoint in force on the device (HasWritten false if unknown):
	// a device drawing less than its setpoint (a full vehicle, a battery at its limit)
	// is self-limited, and raising its setpoint changes nothing.
	WrittenKW  float64
	HasWritten bool
	// LoKW and HiKW bound what may be written now (ratings, safety range, SoC
	// interlocks).
	LoKW, HiKW float64
	// Fixed assets keep their intent (a manual override, a comms-loss action, a
	// device that must not be written); their measured power still counts.
	Fixed bool
	// Idle assets cannot change their power (a charger with no vehicle).
	Idle bool
	// Batteries: the energy that may still be taken out above the reserve and put in
	// below the maximum SoC, and the efficiencies, so that a setpoint held for
	// Input.HoldFor never crosses either.
	AboveReserveKWh, BelowMaxKWh float64
	ChargeEff, DischargeEff      float64
	// Chargers: MinChargeKW is the lowest charging power that still delivers the
	// vehicle's session by its departure (charging at full power after
	// Input.HoldFor); 0 when nothing is due. A correction for a node's economic
	// target (Node.TargetKW) does not take the charger below it; one for a limit
	// does.
	MinChargeKW float64
}

// Node is a node of the site's radial tree with the limits the layer must hold.
type Node struct {
	ID     string
	Parent string // "" for the root
	// ImportLimitKW and ExportLimitKW bound the subtree's net power in each
	// direction (positive magnitudes); the root's are the tightest of the grid
	// limits, external limits and the plan's peak target.
	ImportLimitKW, ExportLimitKW float64
	// MeasuredKW is the subtree's net power now (meter, or the sum of its devices).
	MeasuredKW float64
	Measured   bool
	// ImportWhy and ExportWhy name what sets each limit, for the reasons.
	ImportWhy, ExportWhy string
	// TargetKW, when positive, is an economic import level below the limits (the
	// plan's peak target for a demand charge): held with batteries and with EV
	// charging that vehicles can make up before they leave (Asset.MinChargeKW),
	// never at the cost of a session's energy. TargetWhy names it.
	TargetKW  float64
	TargetWhy string
}

// Input is everything one correction needs.
type Input struct {
	Nodes  []Node
	Assets []Asset
	// HoldFor is how long the corrected setpoints will stand (until the next
	// correction); batteries are kept inside their energy for that long.
	HoldFor time.Duration
}

// Setpoint is one asset's corrected value.
type Setpoint struct {
	ID string
	// ValueKW is the value to write (a PV plant's generation cap for PV).
	ValueKW float64
	// Corrected is true when the layer moved the value from the intent for a limit or
	// the battery's energy (clamping into [LoKW, HiKW] alone is not a correction).
	Corrected bool
	Reasons   []string
}

// Excess is a limit the layer could not keep with the flexibility it had.
type Excess struct {
	Node      string
	Direction string // "import" or "export"
	ExcessKW  float64
	Why       string
}

// Result is the outcome of Correct.
type Result struct {
	Setpoints  map[string]Setpoint
	Unresolved []Excess
}

// followTolKW is how far a device's power may differ from its setpoint and still
// count as following it.
const followTolKW = 0.5

// Validate names the first field that cannot be used.
func (in *Input) Validate() error {
	ids := map[string]bool{}
	for _, n := range in.Nodes {
		if n.ID == "" {
			return fmt.Errorf("control: node with empty id")
		}
		if ids[n.ID] {
			return fmt.Errorf("control: node %q listed twice", n.ID)
		}
		ids[n.ID] = true
		for _, f := range []struct {
			name string
			v    float64
		}{{"import_limit_kw", n.ImportLimitKW}, {"export_limit_kw", n.ExportLimitKW}} {
			if math.IsNaN(f.v) || f.v < 0 {
				return fmt.Errorf("control: node %s: %s = %v: must be a non-negative number", n.ID, f.name, f.v)
			}
		}
		if !finite(n.TargetKW) || n.TargetKW < 0 {
			return fmt.Errorf("control: node %s: target_kw = %v: must be a non-negative number", n.ID, n.TargetKW)
		}
		if n.Measured && !finite(n.MeasuredKW) {
			return fmt.Errorf("control: node %s: measured_kw = %v: not a finite number", n.ID, n.MeasuredKW)
		}
	}
	for _, n := range in.Nodes {
		if n.Parent != "" && !ids[n.Parent] {
			return fmt.Errorf("control: node %s: parent %q is not a node", n.ID, n.Parent)
		}
	}
	seen := map[string]bool{}
	for _, a := range in.Assets {
		if seen[a.ID] {
			return fmt.Errorf("control: asset %q listed twice", a.ID)
		}
		seen[a.ID] = true
		if !ids[a.Node] {
			return fmt.Errorf("control: asset %s: node %q is not a node", a.ID, a.Node)
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"intent_kw", a.IntentKW}, {"actual_kw", a.ActualKW}, {"lo_kw", a.LoKW}, {"hi_kw", a.HiKW}, {"min_charge_kw", a.MinChargeKW}} {
			if !finite(f.v) {
				return fmt.Errorf("control: asset %s: %s = %v: not a finite number", a.ID, f.name, f.v)
			}
		}
		if a.LoKW > a.HiKW {
			return fmt.Errorf("control: asset %s: lo_kw %g is above hi_kw %g", a.ID, a.LoKW, a.HiKW)
		}
	}
	if in.HoldFor < 0 {
		return fmt.Errorf("control: hold_for = %v: must not be negative", in.HoldFor)
	}
	return nil
}

type state struct {
	a Asset
	// target is the value to write (sign convention; for PV the cap).
	target float64
	// lo and hi bound target (energy and direction limits included).
	lo, hi  float64
	reasons []string
	// moved is true once the layer changed target for a reason of its own (a limit or
	// the battery's energy), not merely the envelope's range.
	moved bool
}

// projected is the asset's power (sign convention) once target is in force.
func (s *state) projected() float64 {
	a := s.a
	if a.Kind == PV {
		gen := math.Max(0, -a.ActualKW)
		return -math.Min(gen, s.target)
	}
	if a.Idle {
		return a.ActualKW
	}
	if a.HasWritten && !a.Fixed {
		switch {
		case a.ActualKW < a.WrittenKW-followTolKW:
			return math.Min(a.ActualKW, s.target) // self-limited below its setpoint
		case a.ActualKW > a.WrittenKW+followTolKW:
			return math.Max(a.ActualKW, s.target)
		}
	}
	if a.Fixed {
		return a.ActualKW
	}
	return s.target
}

// down is how far the asset's power can still be lowered (kW ≥ 0).
func (s *state) down(economic bool) float64 {
	if s.a.Fixed || s.a.Idle || s.a.Kind == PV {
		return 0
	}
	return math.Max(0, s.projected()-s.floor(economic))
}

// floor is the lowest value a correction may write: for an economic target, a
// charger keeps what its vehicle needs to leave with its energy.
func (s *state) floor(economic bool) float64 {
	if economic && s.a.Kind == Charger && s.a.MinChargeKW > s.lo {
		return math.Min(s.a.MinChargeKW, s.hi)
	}
	return s.lo
}

// up is how far the asset's power can still be raised (kW ≥ 0); for PV, the
// generation that can still be curtailed.
func (s *state) up() float64 {
	if s.a.Fixed || s.a.Idle {
		return 0
	}
	if s.a.Kind == PV {
		return math.Max(0, -s.projected()-s.lo)
	}
	p := s.projected()
	if s.a.HasWritten && s.a.ActualKW < s.a.WrittenKW-followTolKW {
		return 0 // self-limited: a higher setpoint draws no more
	}
	return math.Max(0, s.hi-p)
}

// Correct returns, for every asset, the value to write now so that each measured
// node keeps its limits, taking flexibility from the assets below the node: for
// import, batteries discharge (or charge less) first, then EV charging is reduced;
// for export, batteries charge first, then EV charging rises, then PV is curtailed.
// Within a class the correction is shared in proportion to each asset's headroom.
// A node's economic target (Node.TargetKW) is then held the same way for import,
// except that chargers keep what their vehicles need to leave with their energy
// (Asset.MinChargeKW). Limits and targets that cannot be kept are reported in
// Result.Unresolved.
func Correct(in Input) (Result, error) {
	if err := in.Validate(); err != nil {
		return Result{}, err
	}
	h := in.HoldFor.Hours()
	st := make([]*state, 0, len(in.Assets))
	byNode := map[string][]*state{}
	for _, a := range in.Assets {
		s := &state{a: a, lo: a.LoKW, hi: a.HiKW}
		if a.Kind == Battery && h > 0 {
			if a.DischargeEff > 0 {
				if lim := -math.Max(0, a.AboveReserveKWh) * a.DischargeEff / h; lim > s.lo {
					s.lo = math.Min(lim, s.hi)
					s.reasons = append(s.reasons, fmt.Sprintf("%.2f kWh above reserve for %s: discharge ≤ %.1f kW", a.AboveReserveKWh, in.HoldFor, -s.lo))
				}
			}
			if a.ChargeEff > 0 {
				if lim := math.Max(0, a.BelowMaxKWh) / a.ChargeEff / h; lim < s.hi {
					s.hi = math.Max(lim, s.lo)
					s.reasons = append(s.reasons, fmt.Sprintf("%.2f kWh below max SoC for %s: charge ≤ %.1f kW", a.BelowMaxKWh, in.HoldFor, s.hi))
				}
			}
		}
		if a.Kind == Charger {
			// Corrections reduce charging; they never start V2G the plan did not ask for.
			s.lo = math.Max(s.lo, math.Min(0, a.IntentKW))
			if s.lo > s.hi {
				s.lo = s.hi
			}
		}
		s.target = a.IntentKW
		if !a.Fixed {
			s.target = clamp(a.IntentKW, s.lo, s.hi)
			// Clamping into the envelope's own range is the envelope's business; only a
			// narrower energy or direction bound is a correction.
			if math.Abs(s.target-clamp(a.IntentKW, a.LoKW, a.HiKW)) > 1e-9 {
				s.moved = true
			}
		}
		st = append(st, s)
		byNode[a.Node] = append(byNode[a.Node], s)
	}
	children := map[string][]string{}
	var roots []string
	for _, n := range in.Nodes {
		if n.Parent == "" {
			roots = append(roots, n.ID)
		} else {
			children[n.Parent] = append(children[n.Parent], n.ID)
		}
	}
	nodes := map[string]Node{}
	for _, n := range in.Nodes {
		nodes[n.ID] = n
	}
	// Post-order: a feeder is corrected before the node above it sees the result.
	var order []string
	var walk func(id string, depth int) error
	walk = func(id string, depth int) error {
		if depth > len(in.Nodes) {
			return fmt.Errorf("control: node %s: the tree has a cycle", id)
		}
		for _, c := range children[id] {
			if err := walk(c, depth+1); err != nil {
				return err
			}
		}
		order = append(order, id)
		return nil
	}
	for _, r := range roots {
		if err := walk(r, 0); err != nil {
			return Result{}, err
		}
	}
	if len(order) != len(in.Nodes) {
		return Result{}, fmt.Errorf("control: %d of %d nodes are not reachable from a root (a cycle)", len(in.Nodes)-len(order), len(in.Nodes))
	}
	subtree := func(id string) []*state {
		var out []*state
		var rec func(string)
		rec = func(n string) {
			out = append(out, byNode[n]...)
			for _, c := range children[n] {
				rec(c)
			}
		}
		rec(id)
		return out
	}
	var res Result
	for _, id := range order {
		n := nodes[id]
		if !n.Measured {
			continue
		}
		sub := subtree(id)
		base := n.MeasuredKW
		for _, s := range sub {
			base -= s.a.ActualKW
		}
		proj := func() float64 {
			p := base
			for _, s := range sub {
				p += s.projected()
			}
			return p
		}
		if ex := proj() - n.ImportLimitKW; ex > 1e-6 {
			why := fmt.Sprintf("%s import %.1f kW > %.1f kW (%s)", id, proj(), n.ImportLimitKW, n.ImportWhy)
			left := shift(sub, -ex, why, []Kind{Battery, Charger}, false)
			if left > 1e-6 {
				res.Unresolved = append(res.Unresolved, Excess{Node: id, Direction: "import", ExcessKW: left, Why: why})
			}
		}
		if t := n.TargetKW; t > 0 && t < n.ImportLimitKW {
			if ex := proj() - t; ex > 1e-6 {
				why := fmt.Sprintf("%s import %.1f kW > %.1f kW (%s)", id, proj(), t, n.TargetWhy)
				left := shift(sub, -ex, why, []Kind{Battery, Charger}, true)
				if left > 1e-6 {
					res.Unresolved = append(res.Unresolved, Excess{Node: id, Direction: "import", ExcessKW: left, Why: why})
				}
			}
		}
		if ex := -proj() - n.ExportLimitKW; ex > 1e-6 {
			why := fmt.Sprintf("%s export %.1f kW > %.1f kW (%s)", id, -proj(), n.ExportLimitKW, n.ExportWhy)
			left := shift(sub, ex, why, []Kind{Battery, Charger, PV}, false)
			if left > 1e-6 {
				res.Unresolved = append(res.Unresolved, Excess{Node: id, Direction: "export", ExcessKW: left, Why: why})
			}
		}
	}
	res.Setpoints = make(map[string]Setpoint, len(st))
	for _, s := range st {
		sp := Setpoint{ID: s.a.ID, ValueKW: s.target, Corrected: s.moved}
		if sp.Corrected {
			sp.Reasons = s.reasons
		}
		res.Setpoints[s.a.ID] = sp
	}
	return res, nil
}

// shift moves the subtree's power by deltaKW (negative: less import) in class order,
// sharing each class's part in proportion to headroom, and returns what it could not
// move (a magnitude). economic shifts (for a target, not a limit) keep chargers at
// or above their vehicles' MinChargeKW.
func shift(sub []*state, deltaKW float64, why string, classes []Kind, economic bool) float64 {
	need := math.Abs(deltaKW)
	for _, k := range classes {
		if need <= 1e-9 {
			break
		}
		var group []*state
		total := 0.0
		for _, s := range sub {
			if s.a.Kind != k {
				continue
			}
			room := s.down(economic)
			if deltaKW > 0 {
				room = s.up()
			}
			if room > 1e-9 {
				group = append(group, s)
				total += room
			}
		}
		if total <= 0 {
			continue
		}
		sort.Slice(group, func(i, j int) bool { return group[i].a.ID < group[j].a.ID })
		take := math.Min(need, total)
		for _, s := range group {
			room := s.down(economic)
			if deltaKW > 0 {
				room = s.up()
			}
			part := take * room / total
			before := s.target
			if s.a.Kind == PV {
				// Curtail: cap the generation below what it makes now.
				gen := -s.projected()
				s.target = clamp(gen-part, s.lo, s.hi)
			} else {
				p := s.projected()
				if deltaKW > 0 {
					s.target = clamp(p+part, s.lo, s.hi)
				} else {
					s.target = clamp(p-part, s.floor(economic), s.hi)
				}
			}
			if s.target != before {
				s.moved = true
				s.reasons = append(s.reasons, fmt.Sprintf("%s: %+.1f kW", why, s.target-before))
			}
		}
		need -= take
	}
	return math.Max(0, need)
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Summary is one line describing the corrections in r, for logs and audit.
func (r Result) Summary() string {
	var parts []string
	ids := make([]string, 0, len(r.Setpoints))
	for id := range r.Setpoints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if sp := r.Setpoints[id]; sp.Corrected {
			parts = append(parts, fmt.Sprintf("%s %.1f kW", id, sp.ValueKW))
		}
	}
	for _, e := range r.Unresolved {
		parts = append(parts, fmt.Sprintf("unresolved %s %s %.1f kW", e.Node, e.Direction, e.ExcessKW))
	}
	return strings.Join(parts, "; ")
}
