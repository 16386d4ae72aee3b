package site

import (
	"strings"
	"testing"
)

// TestConfigErrorsNameLineIDAndSuggestion: a misspelt field names its YAML line and
// the nearest known field; a value with a unit names the field and says to write the
// number only; a device's error names it by id with its line; implausible sizes are
// warnings that do not stop the config.
func TestConfigErrorsNameLineIDAndSuggestion(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           string // in the error text; "" = parses
		warn           string // in a warning's text
	}{
		{"misspelt field", "grid: {import_limit_kw: 100,", "grid: {import_limt_kw: 100,",
			"site.yaml:13: grid.import_limt_kw: unknown field; did you mean import_limit_kw?", ""},
		{"misspelt device field", "bess: {capacity_kwh: 100,", "bess: {capacity_kw: 100,",
			"site.yaml:24: b: devices[1].bess.capacity_kw: unknown field; did you mean capacity_kwh?", ""},
		{"unit in the value", "capacity_kwh: 100,", `capacity_kwh: "100 kWh",`,
			`site.yaml:24: b: devices[1].bess.capacity_kwh: "100 kWh": want a number (the unit, kWh, is in the field name: write the number only)`, ""},
		{"device by id and line", "min_soc_pct: 10, max_soc_pct: 90", "min_soc_pct: 95, max_soc_pct: 90",
			`site.yaml:24: b: devices[1].bess`, ""},
		{"watts as kW", "max_charge_kw: 50,", "max_charge_kw: 50000,",
			"", `site.yaml:24: b: devices[1].bess.max_charge_kw: "50000": warning: 500 C on a 100 kWh battery`},
		{"plausible", "", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(goodConfig, tc.old, tc.new, 1)
			if tc.old != "" && data == goodConfig {
				t.Fatalf("test case does not apply: %q", tc.old)
			}
			cfg, err := Parse("site.yaml", []byte(data))
			switch {
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v\nwant it to contain %q", err, tc.want)
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "":
				return
			}
			if tc.warn == "" {
				if len(cfg.Warnings) != 0 {
					t.Fatalf("warnings %v", cfg.Warnings)
				}
				return
			}
			if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0].Error(), tc.warn) {
				t.Fatalf("warnings %v, want %q", cfg.Warnings, tc.warn)
			}
		})
	}
}
