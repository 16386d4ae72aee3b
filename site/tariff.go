package site

import (
	"math"
	"time"
)

// PriceAt returns the import and export price per kWh in force at t (site local time).
func (t Tariff) PriceAt(at time.Time, loc *time.Location) (importPerKWh, exportPerKWh float64) {
	if loc == nil {
		loc = time.UTC
	}
	lt := at.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	importPerKWh = bandPrice(t.Import, m)
	exportPerKWh = t.ExportFlatPerKWh
	if len(t.Export) > 0 {
		exportPerKWh = bandPrice(t.Export, m)
	}
	return importPerKWh, exportPerKWh
}

// Prices returns per-step import and export prices for steps starting at start.
// Each step takes the price in force at its start.
func (t Tariff) Prices(start time.Time, step time.Duration, steps int, loc *time.Location) (imp, exp []float64) {
	imp = make([]float64, steps)
	exp = make([]float64, steps)
	for k := 0; k < steps; k++ {
		imp[k], exp[k] = t.PriceAt(start.Add(time.Duration(k)*step), loc)
	}
	return imp, exp
}

// Device returns the device with the given id.
func (c *Config) Device(id string) (*Device, bool) {
	for i := range c.Devices {
		if c.Devices[i].ID == id {
			return &c.Devices[i], true
		}
	}
	return nil, false
}

// Root returns the root node's id.
func (c *Config) Root() string {
	for _, n := range c.Nodes {
		if n.Parent == "" {
			return n.ID
		}
	}
	return ""
}

// Subtree returns the ids of node and every node below it.
func (c *Config) Subtree(node string) []string {
	out := []string{node}
	for i := 0; i < len(out); i++ {
		for _, n := range c.Nodes {
			if n.Parent == out[i] {
				out = append(out, n.ID)
			}
		}
	}
	return out
}

// PointImportAvgKW is the telemetry point, on the root node's meter, that holds one
// sample per closed demand interval: time = the interval's start, value = the
// time-weighted mean net import over it in kW (negative = export). The demand peak of
// a billing period is the highest of these.
const PointImportAvgKW = "import_avg_kw"

// Demand billing periods.
const (
	DemandDaily   = "daily"
	DemandWeekly  = "weekly"
	DemandMonthly = "monthly"
)

// Defaults of the demand charge and of EV sessions.
const (
	DefaultDemandInterval   = 15 * time.Minute
	DefaultPeakMarginFactor = 0.5
	// DefaultV2GWearPerKWh is the wear charged per kWh a vehicle discharges: a pack
	// of about 150 per kWh that lasts about 3,000 full cycles costs 0.05 per kWh
	// cycled.
	DefaultV2GWearPerKWh = 0.05
	// DefaultEVEfficiency is a vehicle's charge and discharge efficiency between
	// the charger's meter and its battery (on-board conversion, about 85 % round
	// trip).
	DefaultEVEfficiency = 0.92
)

// DemandIntervalD returns the demand interval (DefaultDemandInterval when not set).
func (t Tariff) DemandIntervalD() time.Duration {
	if t.DemandInterval == nil {
		return DefaultDemandInterval
	}
	return t.DemandInterval.D
}

// MarginFactor returns the peak margin factor (DefaultPeakMarginFactor when not set).
func (t Tariff) MarginFactor() float64 {
	if t.PeakMarginFactor == nil {
		return DefaultPeakMarginFactor
	}
	return *t.PeakMarginFactor
}

// DemandPeriodAt returns the billing period [start, end) that contains at: local
// midnight of the day, of the week's Monday, or of the billing day of the month
// (demand_billing_day), in loc. Periods follow the local calendar, so a day across a
// daylight-saving change is 23 or 25 hours long.
// PeriodStartsIn returns the steps k in 1..steps−1 at which a new billing period
// (DemandPeriodAt) begins inside the horizon of steps steps from start: where
// step k's period differs from step k−1's.
func (t Tariff) PeriodStartsIn(start time.Time, step time.Duration, steps int, loc *time.Location) []int {
	var out []int
	_, end := t.DemandPeriodAt(start, loc)
	for k := 1; k < steps; k++ {
		if at := start.Add(time.Duration(k) * step); !at.Before(end) {
			out = append(out, k)
			_, end = t.DemandPeriodAt(at, loc)
		}
	}
	return out
}

func (t Tariff) DemandPeriodAt(at time.Time, loc *time.Location) (start, end time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	lt := at.In(loc)
	y, m, d := lt.Date()
	switch t.DemandPeriod {
	case DemandDaily:
		start = time.Date(y, m, d, 0, 0, 0, 0, loc)
		end = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	case DemandWeekly:
		back := (int(lt.Weekday()) + 6) % 7 // days since Monday
		start = time.Date(y, m, d-back, 0, 0, 0, 0, loc)
		end = time.Date(y, m, d-back+7, 0, 0, 0, 0, loc)
	default:
		day := max(t.DemandBillingDay, 1)
		if d < day {
			m--
		}
		start = time.Date(y, m, day, 0, 0, 0, 0, loc)
		end = time.Date(y, m+1, day, 0, 0, 0, 0, loc)
	}
	// A local midnight that a daylight-saving change skips is normalised by
	// time.Date; the period still contains at.
	if at.Before(start) {
		start = at
	}
	return start, end
}

// WearPerKWh returns the V2G wear cost per kWh discharged (DefaultV2GWearPerKWh when
// not set).
func (e EVDefaults) WearPerKWh() float64 {
	if e.WearCostPerKWh == nil {
		return DefaultV2GWearPerKWh
	}
	return *e.WearCostPerKWh
}

// Efficiencies returns the vehicles' charge and discharge efficiencies
// (DefaultEVEfficiency for those not set).
func (e EVDefaults) Efficiencies() (charge, discharge float64) {
	charge, discharge = e.ChargeEfficiency, e.DischargeEfficiency
	if charge == 0 {
		charge = DefaultEVEfficiency
	}
	if discharge == 0 {
		discharge = DefaultEVEfficiency
	}
	return charge, discharge
}

// ReserveSoCPct returns a battery's reserve in percent: the higher of the site-wide
// safety.reserve_soc_pct and the device's own; 0 for other devices.
func (c *Config) ReserveSoCPct(d *Device) float64 {
	if d.Kind != KindBESS {
		return 0
	}
	r := c.Safety.ReserveSoCPct
	if d.Safety != nil {
		r = math.Max(r, d.Safety.ReserveSoCPct)
	}
	return r
}

// ExpectedPeakOn reports whether tariff.expected_peak is true: a kW above the
// billing period's peak so far is then priced by the chance that the days left would
// reach it anyway. Off (the default), the plans charge every such kW in full, as if
// the horizon were the rest of the period.
func (t Tariff) ExpectedPeakOn() bool { return t.ExpectedPeak != nil && *t.ExpectedPeak }
