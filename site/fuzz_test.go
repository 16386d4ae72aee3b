package site

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the config parser: it must never panic, and it
// either returns a valid config or field errors that name the file.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodConfig))
	if demo, err := os.ReadFile("../configs/demo-site.yaml"); err == nil {
		f.Add(demo)
	}
	f.Add([]byte("site: {name: x}\n"))
	f.Add([]byte(strings.Replace(goodConfig, "  export_price_per_kwh: 0.05\n",
		"  export_price_per_kwh: 0.05\n  demand_charge_per_kw: 9\n  demand_interval: 30m\n  demand_period: monthly\n  demand_billing_day: 5\n  peak_margin_factor: 1.5\nev: {charge_efficiency: 0.9, wear_cost_per_kwh: 0}\nsafety: {reserve_soc_pct: 20}\n", 1)))
	f.Add([]byte("nodes: [{id: a, parent: a, limit_kw: 1}]\n"))
	f.Add([]byte("site:\n  step: 1e400\n"))
	// Cycle specs, including those that crash the cron library (robfig/cron#554).
	for _, spec := range []string{"TZ=0", "CRON_TZ=UTC", "TZ=", "@every 0s", "@every -1s", "@every 2s", "0 0 30 2 *", "@hourly"} {
		f.Add([]byte(strings.Replace(goodConfig, `cycle: "*/15 * * * *"`, `cycle: "`+spec+`"`, 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty site.Errors: %T %v", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Path == "" || !strings.HasPrefix(e.Error(), "fuzz.yaml") {
					t.Fatalf("field error without file or path: %#v", e)
				}
			}
			return
		}
		if cfg.Site.Location == nil || cfg.Site.Steps() <= 0 || cfg.Root() == "" {
			t.Fatalf("accepted config is not usable: %+v", cfg.Site)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config fails re-validation: %v", err)
		}
	})
}
