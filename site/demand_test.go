package site

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDemandAndEVFieldErrors: bad demand-charge, EV and reserve fields are errors
// naming the field and the value.
func TestDemandAndEVFieldErrors(t *testing.T) {
	tariff := "  export_price_per_kwh: 0.05\n"
	bess := "    bess: {capacity_kwh: 100, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}\n"
	for _, tc := range []struct {
		name, old, new      string
		wantPath, wantValue string
	}{
		{"interval not dividing a day", tariff, tariff + "  demand_interval: 7m\n", "tariff.demand_interval", "7m"},
		{"interval zero", tariff, tariff + "  demand_interval: 0s\n", "tariff.demand_interval", "0s"},
		{"interval negative", tariff, tariff + "  demand_interval: -15m\n", "tariff.demand_interval", "-15m"},
		{"interval not whole minutes", tariff, tariff + "  demand_interval: 90s\n", "tariff.demand_interval", "1m30s"},
		{"interval above a day", tariff, tariff + "  demand_interval: 48h\n", "tariff.demand_interval", "48h0m0s"},
		{"unknown period", tariff, tariff + "  demand_period: quarterly\n", "tariff.demand_period", "quarterly"},
		{"billing day 31", tariff, tariff + "  demand_billing_day: 31\n", "tariff.demand_billing_day", "31"},
		{"billing day negative", tariff, tariff + "  demand_billing_day: -1\n", "tariff.demand_billing_day", "-1"},
		{"billing day on a weekly period", tariff, tariff + "  demand_period: weekly\n  demand_billing_day: 3\n", "tariff.demand_billing_day", "3"},
		{"negative margin factor", tariff, tariff + "  peak_margin_factor: -1\n", "tariff.peak_margin_factor", "-1"},
		{"EV charge efficiency above 1", "grid:", "ev: {charge_efficiency: 1.1}\ngrid:", "ev.charge_efficiency", "1.1"},
		{"EV discharge efficiency negative", "grid:", "ev: {discharge_efficiency: -0.9}\ngrid:", "ev.discharge_efficiency", "-0.9"},
		{"negative V2G wear", "grid:", "ev: {wear_cost_per_kwh: -0.01}\ngrid:", "ev.wear_cost_per_kwh", "-0.01"},
		{"site reserve not a pct", "grid:", "safety: {reserve_soc_pct: 130}\ngrid:", "safety.reserve_soc_pct", "130"},
		{"site reserve above max_soc", "grid:", "safety: {reserve_soc_pct: 95}\ngrid:", "safety.reserve_soc_pct", "95"},
		{"device reserve above max_soc", bess, bess + "    safety: {reserve_soc_pct: 92}\n", "devices[1].safety.reserve_soc_pct", "92"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodConfig, tc.old) {
				t.Fatalf("test case does not apply: %q not in config", tc.old)
			}
			_, err := Parse("site.yaml", []byte(strings.Replace(goodConfig, tc.old, tc.new, 1)))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T), want site.Errors", err, err)
			}
			for _, e := range errs {
				if e.Path == tc.wantPath && e.Value == tc.wantValue {
					return
				}
			}
			t.Errorf("no error for %s=%q; got:\n%v", tc.wantPath, tc.wantValue, err)
		})
	}
}

func TestDemandAndEVDefaults(t *testing.T) {
	cfg, err := Parse("good.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	tf := cfg.Tariff
	if tf.DemandIntervalD() != 15*time.Minute || tf.DemandPeriod != DemandMonthly || tf.DemandBillingDay != 1 || tf.MarginFactor() != DefaultPeakMarginFactor {
		t.Errorf("demand defaults: interval %v, period %q, billing day %d, margin factor %v", tf.DemandIntervalD(), tf.DemandPeriod, tf.DemandBillingDay, tf.MarginFactor())
	}
	c, d := cfg.EV.Efficiencies()
	if cfg.EV.WearPerKWh() != DefaultV2GWearPerKWh || DefaultV2GWearPerKWh <= 0 || c != DefaultEVEfficiency || d != DefaultEVEfficiency {
		t.Errorf("EV defaults: wear %v, efficiencies %v/%v", cfg.EV.WearPerKWh(), c, d)
	}
	// A tariff built without defaults (e.g. swapped in by a what-if) reads the same.
	var bare Tariff
	if bare.DemandIntervalD() != 15*time.Minute || bare.MarginFactor() != DefaultPeakMarginFactor {
		t.Errorf("bare tariff: interval %v, margin factor %v", bare.DemandIntervalD(), bare.MarginFactor())
	}
}

// TestDemandPeriodAt: billing periods follow the site's local calendar, across
// daylight-saving changes.
func TestDemandPeriodAt(t *testing.T) {
	berlin, ny := mustZone(t, "Europe/Berlin"), mustZone(t, "America/New_York")
	u := func(s string) time.Time { return mustTime(t, s) }
	for _, tc := range []struct {
		name     string
		tariff   Tariff
		loc      *time.Location
		at       string
		from, to string
	}{
		{"monthly", Tariff{}, berlin, "2024-06-12T10:00:00Z", "2024-05-31T22:00:00Z", "2024-06-30T22:00:00Z"},
		{"monthly across the spring change", Tariff{DemandPeriod: DemandMonthly}, berlin, "2024-03-31T12:00:00Z", "2024-02-29T23:00:00Z", "2024-03-31T22:00:00Z"},
		{"first instant of the month", Tariff{}, berlin, "2024-05-31T22:00:00Z", "2024-05-31T22:00:00Z", "2024-06-30T22:00:00Z"},
		{"billing day 15, before it", Tariff{DemandBillingDay: 15}, berlin, "2024-01-10T10:00:00Z", "2023-12-14T23:00:00Z", "2024-01-14T23:00:00Z"},
		{"billing day 15, on it", Tariff{DemandBillingDay: 15}, berlin, "2024-01-15T10:00:00Z", "2024-01-14T23:00:00Z", "2024-02-14T23:00:00Z"},
		{"daily, 23-hour day", Tariff{DemandPeriod: DemandDaily}, berlin, "2024-03-31T08:00:00Z", "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z"},
		{"daily, 25-hour day", Tariff{DemandPeriod: DemandDaily}, berlin, "2024-10-27T22:30:00Z", "2024-10-26T22:00:00Z", "2024-10-27T23:00:00Z"},
		{"daily, New York autumn", Tariff{DemandPeriod: DemandDaily}, ny, "2024-11-03T12:00:00Z", "2024-11-03T04:00:00Z", "2024-11-04T05:00:00Z"},
		{"weekly from Monday", Tariff{DemandPeriod: DemandWeekly}, berlin, "2024-03-27T12:00:00Z", "2024-03-24T23:00:00Z", "2024-03-31T22:00:00Z"},
		{"weekly on a Sunday", Tariff{DemandPeriod: DemandWeekly}, berlin, "2024-03-31T12:00:00Z", "2024-03-24T23:00:00Z", "2024-03-31T22:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := tc.tariff.DemandPeriodAt(u(tc.at), tc.loc)
			if !from.Equal(u(tc.from)) || !to.Equal(u(tc.to)) {
				t.Errorf("period [%s, %s), want [%s, %s)", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), tc.from, tc.to)
			}
		})
	}
}

// TestPeriodStartsIn: the steps of a horizon at which a new billing period begins,
// in site time.
func TestPeriodStartsIn(t *testing.T) {
	london := mustZone(t, "Europe/London")
	at := func(s string) time.Time { return mustTime(t, s) }
	for _, tc := range []struct {
		name   string
		period string
		day    int
		start  string
		steps  int
		want   []int
	}{
		{"monthly, inside a month", DemandMonthly, 1, "2019-06-10T12:00:00Z", 96, nil},
		{"monthly, across the 1st (BST: 23:00Z)", DemandMonthly, 1, "2019-06-30T12:00:00Z", 96, []int{44}},
		{"monthly from the 15th", DemandMonthly, 15, "2019-06-14T22:00:00Z", 8, []int{4}},
		{"daily in winter", DemandDaily, 0, "2019-01-10T12:00:00Z", 96, []int{48}},
		{"daily in summer (site midnight 23:00Z)", DemandDaily, 0, "2019-07-10T12:00:00Z", 96, []int{44}},
		{"daily, two midnights", DemandDaily, 0, "2019-01-10T23:00:00Z", 101, []int{4, 100}},
		{"weekly from Monday", DemandWeekly, 0, "2019-01-06T12:00:00Z", 96, []int{48}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tf := Tariff{DemandPeriod: tc.period, DemandBillingDay: tc.day}
			got := tf.PeriodStartsIn(at(tc.start), 15*time.Minute, tc.steps, london)
			if !slices.Equal(got, tc.want) {
				t.Errorf("starts %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDemandChargeBound(t *testing.T) {
	tariff := "  export_price_per_kwh: 0.05\n"
	for _, tc := range []struct {
		charge string
		ok     bool
	}{{"1e9", true}, {"1e10", false}, {"1e300", false}} {
		_, err := Parse("site.yaml", []byte(strings.Replace(goodConfig, tariff, tariff+"  demand_charge_per_kw: "+tc.charge+"\n", 1)))
		if tc.ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "tariff.demand_charge_per_kw")) {
			t.Errorf("demand charge %s: err = %v, want ok %v", tc.charge, err, tc.ok)
		}
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t *testing.T, rfc3339 string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, rfc3339)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
