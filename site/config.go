package site

import "time"

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

	Site     SiteSection `yaml:"site"`
	Tariff   Tariff      `yaml:"tariff"`
	Grid     Grid        `yaml:"grid"`
	Nodes    []Node      `yaml:"nodes"`
	Devices  []Device    `yaml:"devices"`
	Approval Approval    `yaml:"approval"`
	EV       EVDefaults  `yaml:"ev"`
	Sim      SimSection  `yaml:"sim"`
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
	// DemandChargePerKW is charged on the peak import over the billing period.
	DemandChargePerKW float64 `yaml:"demand_charge_per_kw"`
}

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
	// Endpoint is host:port of the Modbus TCP server.
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
	WearCostPerKWh     float64 `yaml:"wear_cost_per_kwh"`
}

// Approval is the schedule approval policy.
type Approval struct {
	// Auto approves every feasible proposed schedule without a person.
	Auto bool `yaml:"auto"`
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
}

// SimSection configures the simulator as a whole.
type SimSection struct {
	// Start is the simulated start time for accelerated runs (RFC 3339); default: now, truncated to the step.
	Start string `yaml:"start"`
}

// Duration is a time.Duration that reads "15m" style strings from YAML.
type Duration struct{ D time.Duration }
