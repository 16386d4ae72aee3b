package site_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gridd/gridd/site"
)

// lineOf is the 1-based line of the first occurrence of s in doc.
func lineOf(t *testing.T, doc, s string) int {
	t.Helper()
	i := strings.Index(doc, s)
	if i < 0 {
		t.Fatalf("%q not in the config", s)
	}
	return strings.Count(doc[:i], "\n") + 1
}

// TestConfigErrorsNameIDLineAndValue: a config error names the device by its id,
// the YAML line, the value as written, and for a typo the field meant.
func TestConfigErrorsNameIDLineAndValue(t *testing.T) {
	data, err := os.ReadFile("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	demo := string(data)
	for _, tc := range []struct {
		name, from, to string
		wantPath       string
		wantID         string
		wantValue      string
		wantMsg        []string
	}{
		{"typo in a field name", "import_limit_kw:", "import_limt_kw:", "grid.import_limt_kw", "", "",
			[]string{"unknown field", "did you mean import_limit_kw?"}},
		{"transposed letters", "capacity_kwh: 200", "capacity_kwh: 200\n      max_soc_pcy: 90", "devices[4].bess.max_soc_pcy", "bess-1", "",
			[]string{"did you mean max_soc_pct?"}},
		{"a name far from any field", "capacity_kwh: 200", "capacity_kwh: 200\n      colour: red", "devices[4].bess.colour", "bess-1", "",
			[]string{"unknown field (devices[4].bess takes: capacity_kwh,"}},
		{"number with its unit", "capacity_kwh: 200", `capacity_kwh: "200 kWh"`, "devices[4].bess.capacity_kwh", "bess-1", "200 kWh",
			[]string{"not a number", `without "kWh"`}},
		{"text for a number", "capacity_kwh: 200", "capacity_kwh: big", "devices[4].bess.capacity_kwh", "bess-1", "big",
			[]string{"not a number"}},
		{"fraction for a whole number", "unit_id: 1", "unit_id: 1.5", "", "", "1.5", []string{"want a whole number"}},
		{"invalid value", "capacity_kwh: 200", "capacity_kwh: -5", "devices[4].bess.capacity_kwh", "bess-1", "-5",
			[]string{"must be greater than 0"}},
		{"text for a flag", "curtailable: true", "curtailable: maybe", "", "", "maybe", []string{"want true or false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(demo, tc.from) {
				t.Fatalf("demo config lacks %q", tc.from)
			}
			doc := strings.Replace(demo, tc.from, tc.to, 1)
			line := lineOf(t, doc, strings.Split(tc.to, "\n")[len(strings.Split(tc.to, "\n"))-1])
			_, err := site.Parse("site.yaml", []byte(doc))
			var errs site.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse: %v, want site.Errors", err)
			}
			e := errs[0]
			if tc.wantPath != "" && e.Path != tc.wantPath {
				t.Errorf("path %q, want %q (%v)", e.Path, tc.wantPath, e)
			}
			if e.Line != line {
				t.Errorf("line %d, want %d (%v)", e.Line, line, e)
			}
			if e.ID != tc.wantID && tc.wantPath != "" {
				t.Errorf("id %q, want %q (%v)", e.ID, tc.wantID, e)
			}
			if e.Value != tc.wantValue {
				t.Errorf("value %q, want %q (%v)", e.Value, tc.wantValue, e)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(e.Error(), m) {
					t.Errorf("%q lacks %q", e.Error(), m)
				}
			}
			if tc.wantID != "" && !strings.Contains(e.Error(), "(device "+tc.wantID+")") {
				t.Errorf("%q does not name device %s", e.Error(), tc.wantID)
			}
		})
	}
}

// TestConfigWarnings: implausible but valid sizes are accepted with a warning
// naming the field, device and line; a plausible config has none.
func TestConfigWarnings(t *testing.T) {
	data, err := os.ReadFile("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	demo := string(data)
	cfg, err := site.Parse("site.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Fatalf("the demo config has warnings: %v", w)
	}
	for _, tc := range []struct {
		name, from, to string
		wantPath       string
		wantMsg        string
	}{
		{"watts typed as kW on a battery", "max_charge_kw: 100", "max_charge_kw: 100000", "devices[4].bess.max_charge_kw", "500 C"},
		{"charger in watts", "ev_charger: {max_charge_kw: 11,", "ev_charger: {max_charge_kw: 11000,", "", "more than any vehicle charger"},
		{"grid limit in watts", "import_limit_kw: 600", "import_limit_kw: 600000000", "grid.import_limit_kw", "site connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(demo, tc.from) {
				t.Fatalf("demo config lacks %q", tc.from)
			}
			doc := strings.Replace(demo, tc.from, tc.to, 1)
			cfg, err := site.Parse("site.yaml", []byte(doc))
			if err != nil {
				t.Fatalf("an implausible value is refused: %v", err)
			}
			ws := cfg.Warnings()
			if len(ws) != 1 {
				t.Fatalf("%d warnings, want 1: %v", len(ws), ws)
			}
			w := ws[0]
			if tc.wantPath != "" && w.Path != tc.wantPath {
				t.Errorf("path %q, want %q", w.Path, tc.wantPath)
			}
			if want := lineOf(t, doc, tc.to); w.Line != want {
				t.Errorf("line %d, want %d (%v)", w.Line, want, w)
			}
			if !strings.Contains(w.Error(), tc.wantMsg) || !strings.Contains(w.Error(), "warning") {
				t.Errorf("%q lacks %q", w.Error(), tc.wantMsg)
			}
		})
	}
}
