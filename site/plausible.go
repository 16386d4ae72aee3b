package site

import "fmt"

// Bounds past which a valid value is most likely a typing mistake (watts typed
// as kW, a rate typed as a capacity). They warn; they do not refuse.
const (
	// plausibleCRate is the highest charge or discharge rate, in multiples of
	// the capacity per hour, of stationary batteries (high-power cells reach
	// about 4 C).
	plausibleCRate = 4
	// plausibleChargerKW is above the most powerful vehicle chargers built
	// (megawatt charging, 3.75 MW).
	plausibleChargerKW = 4000
	// plausibleSiteKW is above what one site's connection carries
	// (a 110 kV connection of a large industrial site).
	plausibleSiteKW = 500_000
)

// plausibility lists the values that are valid but implausible.
func (c *Config) plausibility() Errors {
	var out Errors
	warn := func(path string, value float64, format string, args ...any) {
		out = append(out, &FieldError{File: c.File, Path: path, Value: fmtF(value), Msg: "warning: " + fmt.Sprintf(format, args...)})
	}
	for _, lim := range []struct {
		path string
		kw   float64
	}{{"grid.import_limit_kw", c.Grid.ImportLimitKW}, {"grid.export_limit_kw", c.Grid.ExportLimitKW}} {
		if lim.kw > plausibleSiteKW {
			warn(lim.path, lim.kw, "%s kW is more than a site connection carries (%d kW); watts typed as kW?", fmtF(lim.kw), plausibleSiteKW)
		}
	}
	for i, n := range c.Nodes {
		if n.LimitKW > plausibleSiteKW {
			warn(fmt.Sprintf("nodes[%d].limit_kw", i), n.LimitKW, "%s kW is more than a site connection carries (%d kW); watts typed as kW?", fmtF(n.LimitKW), plausibleSiteKW)
		}
	}
	for i, d := range c.Devices {
		if b := d.BESS; b != nil && b.CapacityKWh > 0 {
			for _, r := range []struct {
				name string
				kw   float64
			}{{"max_charge_kw", b.MaxChargeKW}, {"max_discharge_kw", b.MaxDischargeKW}} {
				if rate := r.kw / b.CapacityKWh; rate > plausibleCRate {
					warn(fmt.Sprintf("devices[%d].bess.%s", i, r.name), r.kw,
						"%s kW on a %s kWh battery is %.0f C (%s takes it from empty to full in %.1f minutes); batteries manage up to about %d C: watts typed as kW, or the capacity wrong?",
						fmtF(r.kw), fmtF(b.CapacityKWh), rate, r.name, 60/rate, plausibleCRate)
				}
			}
		}
		if e := d.EV; e != nil {
			for _, r := range []struct {
				name string
				kw   float64
			}{{"max_charge_kw", e.MaxChargeKW}, {"max_discharge_kw", e.MaxDischargeKW}} {
				if r.kw > plausibleChargerKW {
					warn(fmt.Sprintf("devices[%d].ev_charger.%s", i, r.name), r.kw, "%s kW is more than any vehicle charger delivers (%d kW); watts typed as kW?", fmtF(r.kw), plausibleChargerKW)
				}
			}
		}
		if p := d.PV; p != nil && p.CapacityKW > plausibleSiteKW {
			warn(fmt.Sprintf("devices[%d].pv.capacity_kw", i), p.CapacityKW, "%s kW is more than a site connection carries (%d kW); watts typed as kW?", fmtF(p.CapacityKW), plausibleSiteKW)
		}
	}
	c.nameItems(out)
	return out
}
