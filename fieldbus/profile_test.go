package fieldbus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

func TestBuiltinProfiles(t *testing.T) {
	names := BuiltinProfiles()
	want := []string{"bess", "ev-charger", "load-meter", "ocpp-ev-charger", "pv-inverter", "rtu104-bess", "rtu104-feeder-meter", "substation-meter"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("BuiltinProfiles() = %v, want %v", names, want)
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			p, err := BuiltinProfile(n)
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != n || p.Source != "builtin:"+n {
				t.Fatalf("name %q source %q", p.Name, p.Source)
			}
			for _, req := range RequiredPoints(p.Kind) {
				if _, ok := p.Point(req); !ok {
					t.Errorf("%s (kind %s) lacks required point %s", n, p.Kind, req)
				}
			}
			for _, r := range kindRequirements[p.Kind] {
				if pt, _ := p.Point(r.point); r.writable && !pt.Writable() {
					t.Errorf("%s: %s must be rw", n, r.point)
				}
			}
			for _, pt := range p.Points {
				if pt.Writable() && !pt.HasLimits {
					t.Errorf("%s: rw point %s without limits", n, pt.Name)
				}
			}
		})
	}
	if _, err := BuiltinProfile("nope"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("BuiltinProfile(nope) error = %v", err)
	}
	if _, err := BuiltinProfile("../profiles/bess"); err == nil {
		t.Fatal("BuiltinProfile with a path must fail")
	}
	// Copies are independent.
	a, _ := BuiltinProfile("bess")
	a.Points[0].Scale = 99
	b, _ := BuiltinProfile("bess")
	if b.Points[0].Scale == 99 {
		t.Fatal("BuiltinProfile returned shared state")
	}
	// The shipped profiles exercise the codec: both word orders and several types.
	seen := map[string]bool{}
	for _, n := range names {
		p, _ := BuiltinProfile(n)
		for _, pt := range p.Points {
			seen[string(pt.Type)] = true
			seen[string(pt.WordOrder)] = true
		}
	}
	for _, k := range []string{"u16", "i16", "u32", "i32", "f32", "bool", "high_first", "low_first"} {
		if !seen[k] {
			t.Errorf("no builtin profile uses %s", k)
		}
	}
}

const goodProfile = `name: test
kind: bess
byte_order: big
word_order: high_first
points:
  - name: soc_pct
    register: input
    address: 0
    type: u16
    scale: 0.1
    unit: "%"
  - name: setpoint_kw
    register: holding
    address: 10
    type: i32
    scale: 0.1
    access: rw
    min: -100
    max: 100
`

func TestParseProfileGood(t *testing.T) {
	p, err := ParseProfile("test.yaml", []byte(goodProfile))
	if err != nil {
		t.Fatal(err)
	}
	sp, ok := p.Point("setpoint_kw")
	if !ok || !sp.Writable() || sp.Min != -100 || sp.Max != 100 || sp.Unit != "kW" || sp.Line != 12 {
		t.Fatalf("setpoint_kw = %+v", sp)
	}
	soc, _ := p.Point("soc_pct")
	if soc.Access != ReadOnly || soc.Scale != 0.1 || soc.WordOrder != HighFirst || soc.HasLimits {
		t.Fatalf("soc_pct = %+v", soc)
	}
	if _, ok := p.Point("nope"); ok {
		t.Fatal("Point(nope) found")
	}
}

func TestParseProfileErrors(t *testing.T) {
	cases := []struct {
		name    string
		old     string // text in goodProfile to replace
		new     string
		want    []string // every substring must appear
		notWant string
	}{
		{"unknown type", "type: u16", "type: u17", []string{`test.yaml:9: points[0].type: "u17": unknown data type (want one of u16, i16`}, ""},
		{"unknown register", "register: input", "register: inputs", []string{`points[0].register: "inputs": unknown register table`}, ""},
		{"unknown access", "access: rw", "access: w", []string{`points[1].access: "w": unknown access`}, ""},
		{"unknown semantic", "name: soc_pct", "name: soc", []string{`test.yaml:6: points[0].name: "soc": unknown semantic name`}, ""},
		{"duplicate semantic", "name: setpoint_kw", "name: soc_pct", []string{`points[1].name: "soc_pct": duplicate point (first defined at points[0])`}, ""},
		{"overlap", "address: 10", "address: 0\n    register: input", nil, ""}, // replaced below
		{"rw on input", "    scale: 0.1\n    unit: \"%\"", "    scale: 0.1\n    unit: \"%\"\n    access: rw\n    min: 0\n    max: 100", []string{`points[0].access: "rw": input points are read-only`}, ""},
		{"rw without limits", "    min: -100\n    max: 100\n", "", []string{`points[1].min: missing: rw points need min and max`}, ""},
		{"min above max", "min: -100", "min: 200", []string{`points[1].min: 200: is above max 100`}, ""},
		{"limit not representable", "type: i32", "type: u16", []string{`points[1].min: -100: not representable as u16`}, ""},
		{"limit beyond type", "max: 100", "max: 1e12", []string{`points[1].max: 1e+12: not representable as i32`}, ""},
		{"scale zero", "scale: 0.1\n    unit", "scale: 0\n    unit", []string{`test.yaml:10: points[0].scale: 0: must not be 0`}, ""},
		{"address past end", "address: 10", "address: 65535", []string{`points[1].address: 65535: a i32 spans 2 registers and would end past address 65535`}, ""},
		{"negative address", "address: 0", "address: -1", []string{`points[0].address: -1: must be in 0..65535`}, ""},
		{"missing name", "name: test\n", "", []string{`test.yaml: name: missing`}, ""},
		{"missing kind", "kind: bess\n", "", []string{`kind: missing`}, ""},
		{"unknown kind", "kind: bess", "kind: battery", []string{`kind: "battery": unknown kind (want one of meter, bess, pv, ev_charger, load)`}, ""},
		{"typo field", "    address: 0\n", "    adress: 0\n", []string{`test.yaml:8: points[0].adress: unknown field "adress"`}, ""}, //nolint:misspell // the misspelt field is the case under test
		{"bad word order", "word_order: high_first", "word_order: middle", []string{`word_order: "middle": unknown word order`}, ""},
		{"unit mismatch", `unit: "%"`, `unit: "permille"`, []string{`points[0].unit: "permille": soc_pct is always in "%"`}, ""},
		{"bool on holding", "type: i32", "type: bool", []string{`points[1].type: "bool": bool is only for coil and discrete points`}, ""},
		{"wrong type on coil", "register: holding", "register: coil", []string{`points[1].type: "i32": a coil holds single bits`}, ""},
		{"address not a number", "address: 0", "address: zero", []string{`test.yaml:8: points[0].address: cannot unmarshal !!str ` + "`zero`" + ` into an integer`}, ""},
		{"no points", goodProfile[strings.Index(goodProfile, "points:"):], "points: []\n", []string{`points: no points defined`}, ""},
		{"only min", "    max: 100\n", "", []string{`points[1].max: missing: min and max must be given together`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(goodProfile, c.old, c.new, 1)
			want := c.want
			if c.name == "overlap" {
				// setpoint moved onto the input table at 0..1 over soc_pct.
				src = strings.Replace(goodProfile, "register: holding\n    address: 10\n    type: i32\n    scale: 0.1\n    access: rw\n    min: -100\n    max: 100\n",
					"register: input\n    address: 0\n    type: i32\n    scale: 0.1\n", 1)
				want = []string{`test.yaml:14: points[1].address: 0: input 0..1 overlaps points[0] (soc_pct, input 0..0)`}
			}
			if src == goodProfile {
				t.Fatalf("case did not change the profile")
			}
			p, err := ParseProfile("test.yaml", []byte(src))
			if err == nil {
				t.Fatalf("ParseProfile succeeded: %+v", p)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nwant it to contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseProfileEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "- a\n- b\n", "name: x\n---\nname: y\n"} {
		if _, err := ParseProfile("e.yaml", []byte(src)); err == nil || !strings.HasPrefix(err.Error(), "e.yaml") {
			t.Errorf("ParseProfile(%q) error = %v, want one naming e.yaml", src, err)
		}
	}
}

func TestResolveProfile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my.yaml"), []byte(goodProfile), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ref, base string
		wantName  string
		wantErr   string
	}{
		{"builtin:bess", "", "bess", ""},
		{"my.yaml", dir, "test", ""},
		{filepath.Join(dir, "my.yaml"), "/elsewhere", "test", ""},
		{"missing.yaml", dir, "", "no such file"},
		{"builtin:nope", dir, "", "not found"},
		{"", dir, "", "empty profile reference"},
	}
	for _, c := range cases {
		p, err := ResolveProfile(c.ref, c.base)
		switch {
		case c.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("ResolveProfile(%q) error = %v, want %q", c.ref, err, c.wantErr)
			}
		case err != nil:
			t.Errorf("ResolveProfile(%q): %v", c.ref, err)
		case p.Name != c.wantName:
			t.Errorf("ResolveProfile(%q) = %s, want %s", c.ref, p.Name, c.wantName)
		}
	}
}

func TestRequiredPoints(t *testing.T) {
	cases := map[string][]string{
		site.KindMeter:     {"active_power_kw"},
		site.KindBESS:      {"active_power_kw", "soc_pct", "setpoint_kw"},
		site.KindPV:        {"active_power_kw"},
		site.KindEVCharger: {"active_power_kw", "connected", "setpoint_kw"},
		site.KindLoad:      {"active_power_kw"},
		"spaceship":        {},
	}
	for k, want := range cases {
		if got := RequiredPoints(k); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("RequiredPoints(%s) = %v, want %v", k, got, want)
		}
	}
	for _, s := range Vocabulary {
		if _, ok := LookupSemantic(s.Name); !ok || s.Meaning == "" {
			t.Errorf("vocabulary entry %q incomplete", s.Name)
		}
	}
}

func TestCheckSite(t *testing.T) {
	dev := func(id, kind, profile string) site.Device {
		return site.Device{ID: id, Kind: kind, Node: "root", Endpoint: "127.0.0.1:1502", Profile: profile, Timeout: site.Duration{D: time.Second}}
	}
	curtailable := dev("pv2", site.KindPV, "profiles/pv-no-limit.yaml")
	curtailable.PV = &site.PVParams{CapacityKW: 10, Curtailable: true}
	notCurtailable := dev("pv1", site.KindPV, "profiles/pv-no-limit.yaml")
	notCurtailable.PV = &site.PVParams{CapacityKW: 10}
	cfg := &site.Config{
		File: "testdata/site.yaml",
		Devices: []site.Device{
			dev("meter", site.KindMeter, "builtin:substation-meter"),
			dev("bess", site.KindBESS, "builtin:bess"),
			notCurtailable,
			curtailable,
			dev("ev", site.KindEVCharger, "builtin:pv-inverter"),
			dev("bess2", site.KindBESS, "profiles/bess-readonly.yaml"),
			dev("load", site.KindLoad, "profiles/missing.yaml"),
			dev("load2", site.KindLoad, "builtin:load-meter"),
		},
	}
	profiles, err := CheckSite(cfg)
	if err == nil {
		t.Fatal("CheckSite succeeded on a broken site")
	}
	wantErrs := []string{
		`testdata/site.yaml: devices[3].profile (device pv2): "profiles/pv-no-limit.yaml": profile pv-no-limit has no power_limit_kw point (pv.curtailable is set)`,
		`testdata/site.yaml: devices[4].profile (device ev): "builtin:pv-inverter": profile pv-inverter is for kind "pv", device ev is "ev_charger"`,
		`testdata/site.yaml: devices[5].profile (device bess2): "profiles/bess-readonly.yaml": profile bess-readonly point setpoint_kw must be access rw (every bess device needs it)`,
		`testdata/site.yaml: devices[6].profile (device load): "profiles/missing.yaml": read profile:`,
	}
	for _, w := range wantErrs {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("CheckSite error\n%v\nwant it to contain\n%s", err, w)
		}
	}
	if n := len(strings.Split(err.Error(), "\n")); n != len(wantErrs) {
		t.Errorf("CheckSite reported %d errors, want %d:\n%v", n, len(wantErrs), err)
	}
	for _, id := range []string{"meter", "bess", "pv1", "load2"} {
		if profiles[id] == nil {
			t.Errorf("no profile for good device %s", id)
		}
	}
	if profiles["bess"].Name != "bess" || profiles["pv1"].Name != "pv-no-limit" {
		t.Errorf("wrong profiles resolved: %s, %s", profiles["bess"].Name, profiles["pv1"].Name)
	}
	// A clean site passes.
	cfg.Devices = cfg.Devices[:3]
	if _, err := CheckSite(cfg); err != nil {
		t.Fatalf("CheckSite on a good site: %v", err)
	}
}
