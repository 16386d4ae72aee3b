package site

import "fmt"

// Sizes beyond these are valid but almost surely a slip (watts typed as kW, a rate in
// the wrong field): Validate lists them as warnings.
const (
	// MaxPlausibleCRate is the charge or discharge rate per hour of capacity beyond
	// which a battery's rating is flagged (the fastest stationary batteries do about 4C).
	MaxPlausibleCRate = 4.0
	// MaxPlausibleDeviceKW is the largest rating a single device of a microgrid
	// plausibly has (100 MW).
	MaxPlausibleDeviceKW = 100_000.0
	// MaxPlausibleChargerKW is the largest EV charger rating (1 MW, megawatt charging).
	MaxPlausibleChargerKW = 1_000.0
)

// implausible returns warnings for sizes that pass validation but are unlikely.
func (c *Config) implausible() Errors {
	var out Errors
	warn := func(path string, value float64, format string, args ...any) {
		out = append(out, &FieldError{Path: path, Value: fmtF(value), Msg: "warning: " + fmt.Sprintf(format, args...)})
	}
	for i, d := range c.Devices {
		p := fmt.Sprintf("devices[%d]", i)
		if b := d.BESS; b != nil && b.CapacityKWh > 0 {
			for _, r := range []struct {
				name string
				kw   float64
			}{{"max_charge_kw", b.MaxChargeKW}, {"max_discharge_kw", b.MaxDischargeKW}} {
				if c := r.kw / b.CapacityKWh; c > MaxPlausibleCRate {
					warn(p+".bess."+r.name, r.kw, "%.3g C on a %s kWh battery (more than %g C): watts typed as kW, or the capacity in the wrong unit?", c, fmtF(b.CapacityKWh), MaxPlausibleCRate)
				}
			}
			if b.CapacityKWh > 10*MaxPlausibleDeviceKW {
				warn(p+".bess.capacity_kwh", b.CapacityKWh, "over 1 GWh: watt-hours typed as kWh?")
			}
		}
		if pv := d.PV; pv != nil && pv.CapacityKW > MaxPlausibleDeviceKW {
			warn(p+".pv.capacity_kw", pv.CapacityKW, "over %g MW for one plant: watts typed as kW?", MaxPlausibleDeviceKW/1000)
		}
		if ev := d.EV; ev != nil {
			if ev.MaxChargeKW > MaxPlausibleChargerKW {
				warn(p+".ev_charger.max_charge_kw", ev.MaxChargeKW, "over %g kW for one charger: watts typed as kW?", MaxPlausibleChargerKW)
			}
			if ev.MaxDischargeKW > MaxPlausibleChargerKW {
				warn(p+".ev_charger.max_discharge_kw", ev.MaxDischargeKW, "over %g kW for one charger: watts typed as kW?", MaxPlausibleChargerKW)
			}
		}
	}
	for i, n := range c.Nodes {
		if n.LimitKW > 10*MaxPlausibleDeviceKW {
			warn(fmt.Sprintf("nodes[%d].limit_kw", i), n.LimitKW, "over 1 GW: watts typed as kW?")
		}
	}
	if c.Grid.ImportLimitKW > 10*MaxPlausibleDeviceKW {
		warn("grid.import_limit_kw", c.Grid.ImportLimitKW, "over 1 GW: watts typed as kW?")
	}
	return out
}
