package control

import (
	"math"
	"strings"
	"testing"
	"time"
)

func root(measured, imp, exp float64) Node {
	return Node{ID: "sub", ImportLimitKW: imp, ExportLimitKW: exp, MeasuredKW: measured, Measured: true, ImportWhy: "peak target", ExportWhy: "grid"}
}

func bat(id, node string, intent, actual float64) Asset {
	return Asset{ID: id, Kind: Battery, Node: node, IntentKW: intent, ActualKW: actual, WrittenKW: actual, HasWritten: true,
		LoKW: -100, HiKW: 100, AboveReserveKWh: 100, BelowMaxKWh: 100, ChargeEff: 0.95, DischargeEff: 0.95}
}

func ev(id, node string, intent, actual float64) Asset {
	return Asset{ID: id, Kind: Charger, Node: node, IntentKW: intent, ActualKW: actual, WrittenKW: actual, HasWritten: true, LoKW: 0, HiKW: 11}
}

func TestCorrect(t *testing.T) {
	hold := 2 * time.Second
	cases := []struct {
		name string
		in   Input
		want map[string]float64
		// unresolved is the total excess left, by direction.
		unresolved map[string]float64
	}{
		{
			name: "within limits: intent unchanged",
			in:   Input{HoldFor: hold, Nodes: []Node{root(200, 300, 100)}, Assets: []Asset{bat("b", "sub", 20, 20), ev("e", "sub", 11, 11)}},
			want: map[string]float64{"b": 20, "e": 11},
		},
		{
			name: "import over the peak target: battery discharges the excess",
			// Base load 330 - 20 - 11 = 299; with intent: 330 > 300 by 30.
			in:   Input{HoldFor: hold, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{bat("b", "sub", 20, 20), ev("e", "sub", 11, 11)}},
			want: map[string]float64{"b": -10, "e": 11},
		},
		{
			name: "measured power not yet at the new intent: the projection uses the intent",
			// Actual battery 0 (the plan just changed to -20): base = 300, projected = 300-20+11 = 291.
			in: Input{HoldFor: hold, Nodes: []Node{root(311, 300, 100)}, Assets: []Asset{
				{ID: "b", Kind: Battery, Node: "sub", IntentKW: -20, ActualKW: 0, LoKW: -100, HiKW: 100, AboveReserveKWh: 100, BelowMaxKWh: 100, ChargeEff: 1, DischargeEff: 1},
				ev("e", "sub", 11, 11)}},
			want: map[string]float64{"b": -20, "e": 11},
		},
		{
			name: "battery at its reserve: EV charging is reduced instead",
			in: Input{HoldFor: hold, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{
				func() Asset { a := bat("b", "sub", 0, 0); a.LoKW = 0; return a }(), ev("e1", "sub", 11, 11), ev("e2", "sub", 11, 11)}},
			want: map[string]float64{"b": 0, "e1": 0, "e2": 0},
			// 330 - 22 = 308 > 300: 8 kW left.
			unresolved: map[string]float64{"import": 8},
		},
		{
			name: "economic target: a vehicle that must charge to leave with its energy is not held back",
			// Hard limit 400 not reached; target 300 exceeded by 30. Battery at its
			// reserve; e1 needs its full 11 kW, e2 can give 6 of its 11.
			in: Input{HoldFor: hold, Nodes: []Node{func() Node {
				n := root(330, 400, 100)
				n.TargetKW, n.TargetWhy = 300, "the plan's peak target"
				return n
			}()}, Assets: []Asset{
				func() Asset { a := bat("b", "sub", 0, 0); a.LoKW = 0; return a }(),
				func() Asset { a := ev("e1", "sub", 11, 11); a.MinChargeKW = 11; return a }(),
				func() Asset { a := ev("e2", "sub", 11, 11); a.MinChargeKW = 5; return a }()}},
			want:       map[string]float64{"b": 0, "e1": 11, "e2": 5},
			unresolved: map[string]float64{"import": 24},
		},
		{
			name: "hard limit: vehicles are held back whatever they need",
			in: Input{HoldFor: hold, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{
				func() Asset { a := bat("b", "sub", 0, 0); a.LoKW = 0; return a }(),
				func() Asset { a := ev("e1", "sub", 11, 11); a.MinChargeKW = 11; return a }(),
				func() Asset { a := ev("e2", "sub", 11, 11); a.MinChargeKW = 5; return a }()}},
			want:       map[string]float64{"b": 0, "e1": 0, "e2": 0},
			unresolved: map[string]float64{"import": 8},
		},
		{
			name: "economic target under the limit: the battery still discharges for it",
			in: Input{HoldFor: hold, Nodes: []Node{func() Node {
				n := root(330, 400, 100)
				n.TargetKW = 300
				return n
			}()}, Assets: []Asset{bat("b", "sub", 20, 20), func() Asset { a := ev("e", "sub", 11, 11); a.MinChargeKW = 11; return a }()}},
			want: map[string]float64{"b": -10, "e": 11},
		},
		{
			name: "energy above the reserve bounds the discharge for the hold time",
			// 1 kWh above reserve for 15 min at eff 1: at most 4 kW of discharge.
			in: Input{HoldFor: 15 * time.Minute, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{
				func() Asset { a := bat("b", "sub", 0, 0); a.AboveReserveKWh, a.DischargeEff = 1, 1; return a }(), ev("e", "sub", 11, 11)}},
			want: map[string]float64{"b": -4, "e": 0},
			// 330 - 4 - 11 = 315 > 300.
			unresolved: map[string]float64{"import": 15},
		},
		{
			name: "feeder limit is corrected with the assets below the feeder only",
			in: Input{HoldFor: hold, Nodes: []Node{
				root(250, 400, 100),
				{ID: "fa", Parent: "sub", ImportLimitKW: 100, ExportLimitKW: 100, MeasuredKW: 120, Measured: true},
				{ID: "fb", Parent: "sub", ImportLimitKW: 200, ExportLimitKW: 200, MeasuredKW: 130, Measured: true},
			}, Assets: []Asset{ev("ea1", "fa", 11, 11), ev("ea2", "fa", 11, 11), bat("bb", "fb", 0, 0)}},
			want: map[string]float64{"ea1": 1, "ea2": 1, "bb": 0},
		},
		{
			name: "two batteries share the correction in proportion to their headroom",
			in: Input{HoldFor: hold, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{
				bat("b1", "sub", 0, 0), func() Asset { a := bat("b2", "sub", 0, 0); a.LoKW = -50; return a }()}},
			want: map[string]float64{"b1": -20, "b2": -10},
		},
		{
			name: "export over the limit: battery charges, then PV is curtailed",
			in: Input{HoldFor: hold, Nodes: []Node{root(-150, 300, 100)}, Assets: []Asset{
				func() Asset { a := bat("b", "sub", 0, 0); a.HiKW = 20; return a }(),
				{ID: "pv", Kind: PV, Node: "sub", IntentKW: 200, ActualKW: -180, LoKW: 0, HiKW: 200}}},
			// 50 kW too much export: battery +20, PV cap 180 - 30 = 150.
			want: map[string]float64{"b": 20, "pv": 150},
		},
		{
			name: "a full vehicle drawing less than its setpoint offers no room to rise",
			in: Input{HoldFor: hold, Nodes: []Node{root(-120, 300, 100)}, Assets: []Asset{
				{ID: "e", Kind: Charger, Node: "sub", IntentKW: 11, ActualKW: 0, WrittenKW: 11, HasWritten: true, LoKW: 0, HiKW: 11}}},
			want:       map[string]float64{"e": 11},
			unresolved: map[string]float64{"export": 20},
		},
		{
			name: "an idle charger is not counted on",
			in: Input{HoldFor: hold, Nodes: []Node{root(320, 300, 100)}, Assets: []Asset{
				{ID: "e", Kind: Charger, Node: "sub", IntentKW: 11, ActualKW: 0, Idle: true, LoKW: 0, HiKW: 11}}},
			want:       map[string]float64{"e": 11},
			unresolved: map[string]float64{"import": 20},
		},
		{
			name: "a fixed asset (override) is never moved",
			in: Input{HoldFor: hold, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{
				func() Asset { a := bat("b", "sub", 50, 50); a.Fixed = true; return a }(), ev("e", "sub", 11, 11)}},
			want:       map[string]float64{"b": 50, "e": 0},
			unresolved: map[string]float64{"import": 19},
		},
		{
			name: "a node without a measurement is not corrected",
			in: Input{HoldFor: hold, Nodes: []Node{{ID: "sub", ImportLimitKW: 10, ExportLimitKW: 10}}, Assets: []Asset{
				bat("b", "sub", 50, 50)}},
			want: map[string]float64{"b": 50},
		},
		{
			name: "V2G is not started by a correction",
			in: Input{HoldFor: hold, Nodes: []Node{root(320, 300, 100)}, Assets: []Asset{
				{ID: "e", Kind: Charger, Node: "sub", IntentKW: 5, ActualKW: 5, WrittenKW: 5, HasWritten: true, LoKW: -11, HiKW: 11}}},
			want:       map[string]float64{"e": 0},
			unresolved: map[string]float64{"import": 15},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := Correct(c.in)
			if err != nil {
				t.Fatal(err)
			}
			for id, want := range c.want {
				got, ok := res.Setpoints[id]
				if !ok {
					t.Fatalf("no setpoint for %s", id)
				}
				if math.Abs(got.ValueKW-want) > 1e-6 {
					t.Errorf("%s = %.3f kW, want %.3f (reasons %v)", id, got.ValueKW, want, got.Reasons)
				}
				if got.Corrected != (math.Abs(want-assetIntent(c.in, id)) > 1e-9) {
					t.Errorf("%s: Corrected = %v", id, got.Corrected)
				}
				if got.Corrected && len(got.Reasons) == 0 {
					t.Errorf("%s corrected without a reason", id)
				}
			}
			left := map[string]float64{}
			for _, e := range res.Unresolved {
				left[e.Direction] += e.ExcessKW
			}
			for _, dir := range []string{"import", "export"} {
				if math.Abs(left[dir]-c.unresolved[dir]) > 1e-6 {
					t.Errorf("unresolved %s = %.3f kW, want %.3f", dir, left[dir], c.unresolved[dir])
				}
			}
		})
	}
}

func assetIntent(in Input, id string) float64 {
	for _, a := range in.Assets {
		if a.ID == id {
			return a.IntentKW
		}
	}
	return math.NaN()
}

// After the correction is applied, a second correction with the devices at their new
// setpoints is stable: the layer does not oscillate.
func TestCorrectIsStable(t *testing.T) {
	in := Input{HoldFor: 2 * time.Second, Nodes: []Node{root(330, 300, 100)}, Assets: []Asset{bat("b", "sub", 20, 20), ev("e", "sub", 11, 11)}}
	r1, err := Correct(in)
	if err != nil {
		t.Fatal(err)
	}
	// The battery follows: measured import drops by 30.
	in.Nodes[0].MeasuredKW = 300
	in.Assets[0].ActualKW, in.Assets[0].WrittenKW = r1.Setpoints["b"].ValueKW, r1.Setpoints["b"].ValueKW
	r2, err := Correct(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Setpoints["b"].ValueKW; math.Abs(got-(-10)) > 1e-6 {
		t.Fatalf("second tick: b = %.3f, want -10 (held)", got)
	}
	// The load falls by 50: the correction is released and the intent returns.
	in.Nodes[0].MeasuredKW = 250
	r3, _ := Correct(in)
	if got := r3.Setpoints["b"].ValueKW; got != 20 || r3.Setpoints["b"].Corrected {
		t.Fatalf("after the load fell: b = %.3f (corrected %v), want the intent 20", got, r3.Setpoints["b"].Corrected)
	}
}

func TestCorrectRefusesBadInput(t *testing.T) {
	good := func() Input {
		return Input{HoldFor: time.Second, Nodes: []Node{root(10, 100, 100)}, Assets: []Asset{bat("b", "sub", 0, 0)}}
	}
	cases := []struct {
		name, want string
		edit       func(*Input)
	}{
		{"NaN measurement", "measured_kw", func(in *Input) { in.Nodes[0].MeasuredKW = math.NaN() }},
		{"negative limit", "import_limit_kw", func(in *Input) { in.Nodes[0].ImportLimitKW = -1 }},
		{"NaN intent", "intent_kw", func(in *Input) { in.Assets[0].IntentKW = math.NaN() }},
		{"Inf actual", "actual_kw", func(in *Input) { in.Assets[0].ActualKW = math.Inf(1) }},
		{"unknown node", "is not a node", func(in *Input) { in.Assets[0].Node = "nowhere" }},
		{"duplicate asset", "listed twice", func(in *Input) { in.Assets = append(in.Assets, in.Assets[0]) }},
		{"lo above hi", "lo_kw", func(in *Input) { in.Assets[0].LoKW = 200 }},
		{"cycle", "cycle", func(in *Input) {
			in.Nodes = append(in.Nodes, Node{ID: "x", Parent: "y"}, Node{ID: "y", Parent: "x"})
		}},
		{"negative hold", "hold_for", func(in *Input) { in.HoldFor = -time.Second }},
		{"negative target", "target_kw", func(in *Input) { in.Nodes[0].TargetKW = -5 }},
		{"NaN vehicle need", "min_charge_kw", func(in *Input) { in.Assets[0].MinChargeKW = math.NaN() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := good()
			c.edit(&in)
			_, err := Correct(in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one naming %q", err, c.want)
			}
		})
	}
}

func FuzzCorrect(f *testing.F) {
	f.Add(330.0, 300.0, 100.0, 20.0, 20.0, 11.0, 11.0, 1.0, int64(2e9))
	f.Fuzz(func(t *testing.T, meas, imp, exp, bi, ba, ei, ea, above float64, hold int64) {
		in := Input{HoldFor: time.Duration(hold), Nodes: []Node{root(meas, imp, exp)}, Assets: []Asset{
			func() Asset { a := bat("b", "sub", bi, ba); a.AboveReserveKWh = above; return a }(), ev("e", "sub", ei, ea)}}
		res, err := Correct(in)
		if err != nil {
			return
		}
		for id, sp := range res.Setpoints {
			if !finite(sp.ValueKW) {
				t.Fatalf("%s = %v", id, sp.ValueKW)
			}
			for _, a := range in.Assets {
				if a.ID == id && (sp.ValueKW < a.LoKW-1e-9 || sp.ValueKW > a.HiKW+1e-9) {
					t.Fatalf("%s = %v outside [%v, %v]", id, sp.ValueKW, a.LoKW, a.HiKW)
				}
			}
		}
	})
}
