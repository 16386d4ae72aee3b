package fieldbus

import (
	"slices"
	"sort"

	"github.com/gridd/gridd/site"
)

// Semantic describes one name of the point vocabulary: what a profile point means,
// independent of how a device encodes it.
type Semantic struct {
	// Name is what profiles write in points[].name.
	Name string
	// Unit is the engineering unit every decoded value of this point is in.
	// A device that reports another unit converts with scale and offset.
	Unit string
	// Meaning says what the value is, including its sign convention.
	Meaning string
}

// Vocabulary is the table of semantic point names a profile may use. Add a row to
// extend it; nothing else needs to change for the poller to read the new point.
var Vocabulary = []Semantic{
	{"active_power_kw", "kW", "active power at the device's connection; positive = drawn from the site bus (battery charging, load, grid import at the root meter), negative = fed into it (PV generation, battery discharging)"},
	{"reactive_power_kvar", "kvar", "reactive power; positive = inductive, drawn from the bus"},
	{"voltage_v", "V", "line-to-line voltage"},
	{"current_a", "A", "phase current magnitude"},
	{"frequency_hz", "Hz", "grid frequency"},
	{"energy_import_kwh", "kWh", "cumulative energy drawn from the site bus (monotonic counter)"},
	{"energy_export_kwh", "kWh", "cumulative energy fed into the site bus (monotonic counter)"},
	{"soc_pct", "%", "battery state of charge, 0-100"},
	{"soh_pct", "%", "battery state of health, 0-100"},
	{"capacity_kwh", "kWh", "usable battery capacity"},
	{"setpoint_kw", "kW", "writable active power setpoint in the site sign convention: positive = draw from the bus (charge), negative = feed into it (discharge, V2G)"},
	{"power_limit_kw", "kW", "writable generation cap as a non-negative magnitude (PV curtailment); the device feeds in at most this much"},
	{"max_charge_kw", "kW", "charge power the device can take now, non-negative magnitude"},
	{"max_discharge_kw", "kW", "discharge power the device can give now, non-negative magnitude"},
	{"connected", "", "1 while a vehicle is plugged in, else 0"},
	{"session_energy_kwh", "kWh", "energy delivered to the vehicle in the current session"},
	{"session_energy_request_kwh", "kWh", "energy the vehicle asked for in the current session (0 = unknown)"},
	{"session_departure_unix", "s", "expected departure of the current session as Unix epoch seconds (0 = unknown)"},
	{"status", "", "device-specific status code"},
	{"alarm", "", "device-specific alarm code or bitmap; 0 = no alarm"},
	{"temperature_c", "°C", "device temperature"},
	{"heartbeat", "", "counter the device increments to show it is alive"},
	{"manufacturer", "", "manufacturer name (a string point)"},
	{"model", "", "model name (a string point)"},
	{"serial_number", "", "serial number (a string point)"},
	{"firmware_version", "", "firmware version (a string point)"},
}

// LookupSemantic returns the vocabulary entry for name.
func LookupSemantic(name string) (Semantic, bool) {
	for _, s := range Vocabulary {
		if s.Name == name {
			return s, true
		}
	}
	return Semantic{}, false
}

func vocabularyNames() []string {
	out := make([]string, len(Vocabulary))
	for i, s := range Vocabulary {
		out[i] = s.Name
	}
	sort.Strings(out)
	return out
}

// requirement is a point a device kind must have.
type requirement struct {
	point    string
	writable bool
	why      string // overrides "a KIND device needs it"
}

var kindRequirements = map[string][]requirement{
	site.KindMeter:     {{"active_power_kw", false, ""}},
	site.KindBESS:      {{"active_power_kw", false, ""}, {"soc_pct", false, ""}, {"setpoint_kw", true, ""}},
	site.KindPV:        {{"active_power_kw", false, ""}},
	site.KindEVCharger: {{"active_power_kw", false, ""}, {"connected", false, ""}, {"setpoint_kw", true, ""}},
	site.KindLoad:      {{"active_power_kw", false, ""}},
}

// RequiredPoints lists the semantic points a profile for kind must define.
// setpoint_kw (bess, ev_charger) must also be writable. For pv, power_limit_kw
// (writable) is required only when the device is curtailable (pv.curtailable);
// CheckSite enforces that per device.
func RequiredPoints(kind string) []string {
	reqs := kindRequirements[kind]
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.point
	}
	return out
}

func requirementsFor(d *site.Device) []requirement {
	reqs := slices.Clone(kindRequirements[d.Kind])
	if d.Kind == site.KindPV && d.PV != nil && d.PV.Curtailable {
		reqs = append(reqs, requirement{"power_limit_kw", true, "pv.curtailable is set"})
	}
	return reqs
}
