package replay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

func count(cfg *site.Config, kind string) int {
	n := 0
	for _, d := range cfg.Devices {
		if d.Kind == kind {
			n++
		}
	}
	return n
}

func TestApplySets(t *testing.T) {
	base := demoConfig(t)
	tariff := filepath.Join(t.TempDir(), "flat.yaml")
	must(t, os.WriteFile(tariff, []byte("import: [{from: \"00:00\", to: \"24:00\", price_per_kwh: 0.3}]\nexport_price_per_kwh: 0.1\n"), 0o644))
	tests := []struct {
		name  string
		sets  []string
		check func(c *site.Config) bool
	}{
		{"add a battery", []string{"bess.add=300/150@feeder-b"}, func(c *site.Config) bool {
			d, ok := c.Device("bess-whatif-2")
			return ok && count(c, site.KindBESS) == 2 && d.Node == "feeder-b" && d.BESS.CapacityKWh == 300 && d.BESS.MaxChargeKW == 150
		}},
		{"resize a battery", []string{"bess.bess-1.capacity_kwh=500", "bess.bess-1.power_kw=250"}, func(c *site.Config) bool {
			d, _ := c.Device("bess-1")
			return d.BESS.CapacityKWh == 500 && d.BESS.MaxDischargeKW == 250
		}},
		{"scale PV", []string{"pv.scale=2"}, func(c *site.Config) bool { d, _ := c.Device("pv-1"); return d.PV.CapacityKW == 300 }},
		{"PV capacity", []string{"pv.pv-1.capacity_kw=75"}, func(c *site.Config) bool { d, _ := c.Device("pv-1"); return d.PV.CapacityKW == 75 }},
		{"grow the fleet", []string{"ev.chargers=50"}, func(c *site.Config) bool { return count(c, site.KindEVCharger) == 50 }},
		{"shrink the fleet", []string{"ev.scale=0.5"}, func(c *site.Config) bool { return count(c, site.KindEVCharger) == 7 }},
		{"swap the tariff", []string{"tariff=" + tariff}, func(c *site.Config) bool {
			imp, exp := c.Tariff.PriceAt(time.Date(2019, 6, 3, 17, 0, 0, 0, time.UTC), c.Site.Location)
			return imp == 0.3 && exp == 0.1 && c.Tariff.Currency == "GBP"
		}},
		{"demand charge and horizon", []string{"tariff.demand_charge_per_kw=12", "site.horizon=6h"}, func(c *site.Config) bool {
			return c.Tariff.DemandChargePerKW == 12 && c.Site.Steps() == 24
		}},
		{"peak margin factor", []string{"tariff.peak_margin_factor=0"}, func(c *site.Config) bool {
			return c.Tariff.PeakMarginFactor != nil && c.Tariff.MarginFactor() == 0
		}},
		{"weekly billing, 30-minute demand interval", []string{"tariff.demand_period=weekly", "tariff.demand_interval=30m"}, func(c *site.Config) bool {
			return c.Tariff.DemandPeriod == site.DemandWeekly && c.Tariff.DemandIntervalD() == 30*time.Minute && c.Tariff.DemandBillingDay == 0
		}},
		{"billing day", []string{"tariff.demand_billing_day=15"}, func(c *site.Config) bool { return c.Tariff.DemandBillingDay == 15 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ApplySets(base, tc.sets)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("%v not applied", tc.sets)
			}
		})
	}
	if count(base, site.KindEVCharger) != 14 || base.Devices[4].BESS.CapacityKWh != 200 {
		t.Error("ApplySets changed its input")
	}
}

func TestApplySetsErrors(t *testing.T) {
	base := demoConfig(t)
	tests := []struct {
		set  string
		want []string
	}{
		{"bess.size=3", []string{`unknown key "bess.size"`, "bess.add"}},
		{"pv.scale=lots", []string{"pv.scale=lots", `"lots" is not a finite number`}},
		{"pv.scale=-1", []string{"must not be negative"}},
		{"ev.chargers=2.5", []string{`"2.5" is not a whole number`}},
		{"bess.nope.capacity_kwh=10", []string{`no bess device "nope"`, "bess-1"}},
		{"bess.add=100", []string{"CAPACITY_KWH/POWER_KW"}},
		{"bess.add=100/50@nowhere", []string{"unknown node", "nowhere"}},
		{"site.horizon=10 days", []string{`"10 days" is not a duration`}},
		{"site.horizon=200h", []string{"site.horizon", "168h"}},
		{"tariff=/does/not/exist.yaml", []string{"read tariff"}},
		{"noequals", []string{"want KEY=VALUE"}},
		{"tariff.peak_margin_factor=11", []string{"tariff.peak_margin_factor", "11", "[0, 10]"}},
		{"tariff.demand_period=yearly", []string{"tariff.demand_period", "yearly", "monthly, weekly or daily"}},
		{"tariff.demand_interval=7m", []string{"tariff.demand_interval", `"7m"`, "divide a day"}},
		{"tariff.demand_interval=soon", []string{`"soon" is not a duration`}},
		{"tariff.demand_billing_day=31", []string{"tariff.demand_billing_day", "31", "1..28"}},
		{"tariff.demand_billing_day=first", []string{`"first" is not a whole day`}},
	}
	for _, tc := range tests {
		t.Run(tc.set, func(t *testing.T) {
			_, err := ApplySets(base, []string{tc.set})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
