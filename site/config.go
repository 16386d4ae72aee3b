package site

import (
	"strings"
	"time"
)

// Device kinds.
const (
	KindMeter     = "meter"
	KindBESS      = "bess"
	KindPV        = "pv"
	KindEVCharger = "ev_charger"
	KindLoad      = "load"
)

// Kinds lists every valid device kind.
var Kinds = []string{KindMeter, KindBESS, KindPV, KindEVCharger, KindLoad}

// Config is a whole site configuration file.
type Config struct {
	// File is the path the config was read from ("" when built in code).
	File string `yaml:"-"`
	// warnings: see Warnings.
	warnings Errors
	// doc indexes the parsed file's lines (nil for a config built in code).
	doc *docIndex

	Site     SiteSection `yaml:"site"`
	Tariff   Tariff      `yaml:"tariff"`
	Grid     Grid        `yaml:"grid"`
	Nodes    []Node      `yaml:"nodes"`
	Devices  []Device    `yaml:"devices"`
	Approval Approval    `yaml:"approval"`
	Safety   Safety      `yaml:"safety"`
	EV       EVDefaults  `yaml:"ev"`
	Sim      SimSection  `yaml:"sim"`
	Control  Control     `yaml:"control"`
	Weather  Weather     `yaml:"weather"`
	IEC104   *IEC104     `yaml:"iec104"`
	OCPP     *OCPP       `yaml:"ocpp"`
}

// Weather names a weather file the forecasts read: CSV with a header row,
// column timestamp_utc (RFC 3339, one row per hour, the value holding for that
// hour) and temperature_c (°C) and/or ghi_wm2 (global horizontal irradiance,
// W/m²). It must cover the horizon from start-up on; the API
// (PUT /api/v1/weather) can extend it.
type Weather struct {
	File string `yaml:"file"` // relative paths are relative to the config file
}

// SiteSection holds identity and timing.
type SiteSection struct {
	Name     string `yaml:"name"`
	Timezone string `yaml:"timezone"`
	// Cycle is a standard 5-field cron spec (or a descriptor such as "@every 15m").
	Cycle string `yaml:"cycle"`
	// Step is the optimisation step length, e.g. "15m".
	Step Duration `yaml:"step"`
	// Horizon is the optimisation horizon, e.g. "24h".
	Horizon Duration `yaml:"horizon"`

	// LatitudeDeg and LongitudeDeg locate the site for the PV clear-sky model
	// (degrees north and east); both or neither.
	LatitudeDeg  *float64 `yaml:"latitude"`
	LongitudeDeg *float64 `yaml:"longitude"`

	// Location is the parsed Timezone (set by Validate).
	Location *time.Location `yaml:"-"`
}

// Steps returns the number of optimisation steps in the horizon.
func (s SiteSection) Steps() int {
	if s.Step.D <= 0 {
		return 0
	}
	return int(s.Horizon.D / s.Step.D)
}

// Tariff is a time-of-use import and export price.
type Tariff struct {
	Currency string `yaml:"currency"`
	// Import lists time-of-use bands in local site time; together they cover the day.
	Import []TOUBand `yaml:"import"`
	// Export lists time-of-use bands for export; empty means ExportFlatPerKWh all day.
	Export []TOUBand `yaml:"export"`
	// ExportFlatPerKWh applies when Export is empty.
	ExportFlatPerKWh float64 `yaml:"export_price_per_kwh"`
	// DemandChargePerKW is charged on the peak import over the billing period: the
	// highest mean import over one demand interval, as the utility's meter bills it.
	DemandChargePerKW float64 `yaml:"demand_charge_per_kw"`
	// DemandInterval is the metering interval the peak is averaged over; default 15m.
	// It must be a whole number of minutes that divides a day.
	DemandInterval *Duration `yaml:"demand_interval,omitempty"`
	// DemandPeriod is the billing period the peak is taken over: "monthly" (the
	// default), "weekly" (from Monday 00:00) or "daily", in site time.
	DemandPeriod string `yaml:"demand_period,omitempty"`
	// DemandBillingDay (monthly periods) is the day of the month a billing period
	// starts on, 1-28; default 1.
	DemandBillingDay int `yaml:"demand_billing_day,omitempty"`
	// PeakMarginFactor scales the forecast band kept as headroom under the plan's
	// peak target (see dispatch); default 0.5 (DefaultPeakMarginFactor), 0 = no margin.
	PeakMarginFactor *float64 `yaml:"peak_margin_factor,omitempty"`
	// ExpectedPeak (default false) prices a kW above the billing period's peak so far
	// by the chance that the days still to come would not reach it anyway, from the
	// root meter's daily peaks of the last four weeks; false charges it in full.
	ExpectedPeak *bool `yaml:"expected_peak,omitempty"`
	// DayAhead, when set, prices import (and export where the feed gives it) from a
	// dynamic day-ahead series instead of the bands above (package prices).
	DayAhead *DayAhead `yaml:"day_ahead,omitempty"`
}

// DayAhead is a dynamic day-ahead price feed, e.g. an Agile-style half-hourly
// series: a CSV file read at start and/or prices pushed over the API
// (PUT /api/v1/prices). Each price holds for Interval from its time on.
type DayAhead struct {
	// File is a CSV price file (relative paths are relative to the config file):
	// a header row with TimeColumn (RFC 3339), ImportColumn and, optionally,
	// ExportColumn. Empty means prices come only over the API.
	File         string `yaml:"file,omitempty"`
	TimeColumn   string `yaml:"time_column,omitempty"`   // default timestamp_utc
	ImportColumn string `yaml:"import_column,omitempty"` // default import_price_per_kwh
	ExportColumn string `yaml:"export_column,omitempty"` // default export_price_per_kwh (optional in the file)
	// Interval is how long each price holds; default 30m. It must divide a day.
	Interval *Duration `yaml:"interval,omitempty"`
	// Fallback says what prices a step the feed does not cover: "tou" (the import
	// bands; the default when bands are given) or "none" (the cycle fails with an
	// error naming the step; the default without bands).
	Fallback string `yaml:"fallback,omitempty"`
}

// Day-ahead fallbacks.
const (
	FallbackTOU  = "tou"
	FallbackNone = "none"
)

// Default day-ahead settings.
const (
	DefaultDayAheadInterval     = 30 * time.Minute
	DefaultDayAheadTimeColumn   = "timestamp_utc"
	DefaultDayAheadImportColumn = "import_price_per_kwh"
	DefaultDayAheadExportColumn = "export_price_per_kwh"
)

// TOUBand is a price that applies from From (inclusive) to To (exclusive), "HH:MM", local time.
// To may be "24:00".
type TOUBand struct {
	From        string  `yaml:"from"`
	To          string  `yaml:"to"`
	PricePerKWh float64 `yaml:"price_per_kwh"`
}

// Grid is the point of common coupling.
type Grid struct {
	ImportLimitKW float64 `yaml:"import_limit_kw"`
	ExportLimitKW float64 `yaml:"export_limit_kw"`
}

// Node is one node of the radial network tree: the substation transformer (root) or a feeder.
type Node struct {
	ID     string `yaml:"id"`
	Parent string `yaml:"parent"`
	// LimitKW bounds the net power of everything in the node's subtree, in both directions.
	LimitKW float64 `yaml:"limit_kw"`
}

// Device is one field device.
type Device struct {
	ID   string `yaml:"id"`
	Kind string `yaml:"kind"`
	Node string `yaml:"node"`
	// Endpoint is host:port of a Modbus TCP server, or a URL for the other transports
	// (tls://, tcp+tls://, rtuovertcp://, rtu://, ascii://; see fieldbus/modbus.ParseEndpoint);
	// the scheme selects the fieldbus driver (fieldbus.Register).
	Endpoint string `yaml:"endpoint"`
	UnitID   int    `yaml:"unit_id"`
	// Profile is "builtin:NAME" or a path to a profile YAML file (relative to the config file).
	Profile string `yaml:"profile"`
	// Timeout for one Modbus request; default 1s.
	Timeout Duration `yaml:"timeout"`
	// Owner is the charging operator (or other party) that owns the device; optional.
	Owner string `yaml:"owner"`

	BESS *BESSParams `yaml:"bess,omitempty"`
	PV   *PVParams   `yaml:"pv,omitempty"`
	EV   *EVParams   `yaml:"ev_charger,omitempty"`
	// Safety narrows the device's safety envelope; optional.
	Safety *DeviceSafety `yaml:"safety,omitempty"`
	// Sim configures the simulated device behind this endpoint (used by `gridd sim` and the demo).
	Sim *DeviceSim `yaml:"sim,omitempty"`
}

// BESSParams are a battery's ratings.
type BESSParams struct {
	CapacityKWh         float64 `yaml:"capacity_kwh"`
	MinSoCPct           float64 `yaml:"min_soc_pct"`
	MaxSoCPct           float64 `yaml:"max_soc_pct"`
	MaxChargeKW         float64 `yaml:"max_charge_kw"`
	MaxDischargeKW      float64 `yaml:"max_discharge_kw"`
	ChargeEfficiency    float64 `yaml:"charge_efficiency"`
	DischargeEfficiency float64 `yaml:"discharge_efficiency"`
	WearCostPerKWh      float64 `yaml:"wear_cost_per_kwh"`
	// TerminalSoCPct, if set, is the minimum SoC at the end of the horizon.
	TerminalSoCPct *float64 `yaml:"terminal_soc_pct,omitempty"`
}

// PVParams are a PV plant's ratings.
type PVParams struct {
	CapacityKW  float64 `yaml:"capacity_kw"`
	Curtailable bool    `yaml:"curtailable"`
	// TiltDeg (from horizontal, default 30) and AzimuthDeg (the direction the
	// modules face, degrees clockwise from north; default 180 north of the
	// equator, 0 south of it) describe the array for the clear-sky model.
	TiltDeg    *float64 `yaml:"tilt_deg"`
	AzimuthDeg *float64 `yaml:"azimuth_deg"`
}

// EVParams are an EV charger's ratings.
type EVParams struct {
	MaxChargeKW    float64 `yaml:"max_charge_kw"`
	MaxDischargeKW float64 `yaml:"max_discharge_kw"` // 0 = no V2G
	V2GBudgetKWh   float64 `yaml:"v2g_budget_kwh"`
}

// EVDefaults fill in what a charging session does not report.
type EVDefaults struct {
	// DefaultDwell is assumed when a session reports no departure time; default 8h.
	DefaultDwell Duration `yaml:"default_dwell"`
	// DefaultEnergyKWh is assumed when a session reports no energy request; default 20.
	DefaultEnergyKWh   float64 `yaml:"default_energy_kwh"`
	UnmetPenaltyPerKWh float64 `yaml:"unmet_penalty_per_kwh"` // default 1.0
	// WearCostPerKWh is charged per kWh a vehicle discharges (V2G); default
	// DefaultV2GWearPerKWh, 0 allowed.
	WearCostPerKWh *float64 `yaml:"wear_cost_per_kwh,omitempty"`
	// ChargeEfficiency and DischargeEfficiency are a vehicle's losses between the
	// charger's meter and its battery, in (0, 1]; defaults DefaultEVEfficiency. They
	// make V2G pay its round trip.
	ChargeEfficiency    float64 `yaml:"charge_efficiency,omitempty"`
	DischargeEfficiency float64 `yaml:"discharge_efficiency,omitempty"`
}

// Approval is the schedule approval policy.
type Approval struct {
	// Auto approves a feasible proposed schedule without a person when it is inside
	// every bound below (a zero bound is no bound) and violates no device limit.
	Auto bool `yaml:"auto"`
	// MaxCostIncrease bounds the objective's increase over the last approved schedule,
	// in the tariff currency; 0 = no bound.
	MaxCostIncrease float64 `yaml:"max_cost_increase"`
	// MaxSetpointChangeKW bounds the largest change of any device's setpoint against the
	// last approved schedule at the same time; 0 = no bound.
	MaxSetpointChangeKW float64 `yaml:"max_setpoint_change_kw"`
	// Deadline is how long a proposal waits for a decision before it expires; 0 = until
	// it is superseded.
	Deadline Duration `yaml:"deadline"`
	// SafeState applies when no approved schedule covers the current step:
	// "hold" (devices keep their last setpoints, the default) or "zero" (every
	// controllable device is set to 0 kW; PV caps are lifted to capacity).
	SafeState string `yaml:"safe_state"`
}

// Safe states and comms-loss actions.
const (
	SafeHold     = "hold"      // leave the device at its last setpoint
	SafeZero     = "zero"      // set the device to 0 kW (a PV cap to capacity for SafeState)
	SafeLastSafe = "last_safe" // write the last value that was written and read back
)

// Safety is the site-wide part of the safety envelope.
type Safety struct {
	// Paused starts the service with the kill switch engaged (automation paused).
	Paused bool `yaml:"paused"`
	// CommsLossAfter is the number of consecutive failed polls after which a device
	// counts as lost and its comms-loss action applies; default 2.
	CommsLossAfter int `yaml:"comms_loss_after"`
	// CommsLoss maps a device kind to its comms-loss action (hold, last_safe, zero);
	// defaults: bess zero, ev_charger zero, pv hold.
	CommsLoss map[string]string `yaml:"comms_loss"`
	// ReserveSoCPct is every battery's reserve: no discharge at or below it (an
	// interlock), and the optimiser's lower SoC bound. A device's own
	// safety.reserve_soc_pct applies when higher (Config.ReserveSoCPct).
	ReserveSoCPct float64 `yaml:"reserve_soc_pct,omitempty"`
}

// DeviceSafety narrows one device's safety envelope. Powers follow the site sign
// convention; for a PV plant they bound the generation cap (power_limit_kw).
type DeviceSafety struct {
	// MinKW and MaxKW bound the setpoint; defaults come from the device ratings.
	MinKW *float64 `yaml:"min_kw,omitempty"`
	MaxKW *float64 `yaml:"max_kw,omitempty"`
	// RampKWPerMin bounds the change between consecutive setpoints; 0 = no limit.
	RampKWPerMin float64 `yaml:"ramp_kw_per_min"`
	// ReserveSoCPct (batteries): no discharge at or below this SoC (an interlock), and
	// the optimiser's lower SoC bound; the higher of it and safety.reserve_soc_pct
	// applies.
	ReserveSoCPct float64 `yaml:"reserve_soc_pct"`
	// SoCGuardPct (batteries): no discharge within this band above min_soc_pct and no
	// charge within this band below max_soc_pct.
	SoCGuardPct float64 `yaml:"soc_guard_pct"`
	// CommsLoss overrides the kind's comms-loss action for this device.
	CommsLoss string `yaml:"comms_loss"`
}

// DeviceSim configures a simulated device.
type DeviceSim struct {
	// Series names a bundled data series (see fieldbus/sim) or "file:PATH" (relative to the config file).
	Series string `yaml:"series"`
	// Column selects the CSV column for "file:" series.
	Column string `yaml:"column"`
	// Scale multiplies the series (e.g. to size a PV plant); default 1.
	Scale float64 `yaml:"scale"`
	// InitialSoCPct is a simulated battery's SoC at start; default 50.
	InitialSoCPct float64 `yaml:"initial_soc_pct"`
	// User selects which EV user's sessions a simulated charger replays.
	User string `yaml:"user"`
	// Shift moves a series in time: the device at time t replays the series at
	// t + Shift, so a series recorded in another time zone keeps its local time of
	// day (a UTC+1 PV series on a UTC+8 site: 7h). Whole hours, at most 24h either way.
	Shift Duration `yaml:"shift"`
}

// SimSection configures the simulator as a whole.
type SimSection struct {
	// Start is the simulated start time for accelerated runs (RFC 3339); default: now, truncated to the step.
	Start string `yaml:"start"`
}

// Duration is a time.Duration that reads "15m" style strings from YAML.
type Duration struct{ D time.Duration }

// FormatDuration writes d as a config would: "7m", "1h30m", "90s" (time.Duration's
// form without its zero minutes and seconds).
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
