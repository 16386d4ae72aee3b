package replay

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/site"
	"gopkg.in/yaml.v3"
)

// SetKeys documents every --set key.
var SetKeys = map[string]string{
	"bess.add":                    "add a battery: CAPACITY_KWH/POWER_KW[@NODE], e.g. 200/100@feeder-a (default node: the first battery's, else the root)",
	"bess.ID.capacity_kwh":        "resize battery ID's energy",
	"bess.ID.power_kw":            "set battery ID's charge and discharge power",
	"pv.scale":                    "scale every PV plant (capacity and generation) by a factor >= 0",
	"pv.ID.capacity_kw":           "resize PV plant ID (capacity and generation)",
	"ev.chargers":                 "EV fleet size: clone the last charger or drop chargers from the end",
	"ev.scale":                    "scale the number of EV chargers by a factor >= 0 (rounded)",
	"tariff":                      "swap the tariff for the one in a YAML file (the tariff: section's fields)",
	"tariff.import_scale":         "multiply every import price by a factor >= 0",
	"tariff.export_price_per_kwh": "flat export price",
	"tariff.demand_charge_per_kw": "demand charge on each billing period's peak demand-interval import",
	"tariff.peak_margin_factor":   "factor >= 0 on the forecast band kept as headroom under the peak target (0 = none)",
	"tariff.demand_period":        "billing period of the demand charge: monthly, weekly or daily",
	"tariff.demand_interval":      "metering interval the billed peak is averaged over, e.g. 30m (at least the site's step in a replay)",
	"tariff.demand_billing_day":   "day of the month (1-28) a monthly billing period starts on",
	"grid.import_limit_kw":        "grid import limit",
	"grid.export_limit_kw":        "grid export limit",
	"site.horizon":                "optimisation horizon, e.g. 12h",
	"tariff.expected_peak":        "true: price a kW above the billing period's peak so far by the chance the rest of the period reaches it anyway (default false: in full)",
	"control.disabled":            "true: replay without the real-time layer (the cycle alone writes setpoints), to measure what the layer recovers",
}

// SetKeyNames returns the --set keys, sorted.
func SetKeyNames() []string {
	out := make([]string, 0, len(SetKeys))
	for k := range SetKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ApplySets returns a copy of cfg with the what-if edits applied, validated. cfg is not
// changed. An unknown key or a bad value is an error naming it.
func ApplySets(cfg *site.Config, sets []string) (*site.Config, error) {
	c := cfg.Clone()
	for _, kv := range sets {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("--set %q: want KEY=VALUE", kv)
		}
		if err := applySet(c, k, v); err != nil {
			return nil, fmt.Errorf("--set %s=%s: %w", k, v, err)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("site after --set: %w", err)
	}
	return c, nil
}

func number(v string, nonNeg bool) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("value %q is not a finite number", v)
	}
	if nonNeg && f < 0 {
		return 0, fmt.Errorf("value %q must not be negative", v)
	}
	return f, nil
}

func device(c *site.Config, kind, id string) (*site.Device, error) {
	d, ok := c.Device(id)
	if !ok || d.Kind != kind {
		var ids []string
		for _, x := range c.Devices {
			if x.Kind == kind {
				ids = append(ids, x.ID)
			}
		}
		return nil, fmt.Errorf("no %s device %q (have %s)", kind, id, strings.Join(ids, ", "))
	}
	return d, nil
}

func unknownKey(k string) error {
	return fmt.Errorf("unknown key %q (want one of %s)", k, strings.Join(SetKeyNames(), ", "))
}

func applySet(c *site.Config, k, v string) error {
	parts := strings.Split(k, ".")
	switch {
	case k == "bess.add":
		return addBattery(c, v)
	case len(parts) == 3 && parts[0] == "bess" && (parts[2] == "capacity_kwh" || parts[2] == "power_kw"):
		d, err := device(c, site.KindBESS, parts[1])
		if err != nil {
			return err
		}
		f, err := number(v, true)
		if err != nil {
			return err
		}
		if parts[2] == "capacity_kwh" {
			d.BESS.CapacityKWh = f
		} else {
			d.BESS.MaxChargeKW, d.BESS.MaxDischargeKW = f, f
		}
	case k == "pv.scale":
		f, err := number(v, true)
		if err != nil {
			return err
		}
		for i := range c.Devices {
			if d := &c.Devices[i]; d.Kind == site.KindPV {
				scalePV(d, f)
			}
		}
	case len(parts) == 3 && parts[0] == "pv" && parts[2] == "capacity_kw":
		d, err := device(c, site.KindPV, parts[1])
		if err != nil {
			return err
		}
		f, err := number(v, true)
		if err != nil {
			return err
		}
		if d.PV.CapacityKW <= 0 {
			return fmt.Errorf("PV plant %s has no capacity to scale from", d.ID)
		}
		scalePV(d, f/d.PV.CapacityKW)
	case k == "ev.chargers":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("value %q is not a whole number >= 0", v)
		}
		return setChargers(c, n)
	case k == "ev.scale":
		f, err := number(v, true)
		if err != nil {
			return err
		}
		n := 0
		for _, d := range c.Devices {
			if d.Kind == site.KindEVCharger {
				n++
			}
		}
		return setChargers(c, int(math.Round(f*float64(n))))
	case k == "tariff":
		return swapTariff(c, v)
	case k == "tariff.import_scale":
		f, err := number(v, true)
		if err != nil {
			return err
		}
		if c.Tariff.DayAhead != nil {
			return errors.New("scales the time-of-use bands, but this site prices import from its tariff.day_ahead feed (swap the tariff with --set tariff=FILE)")
		}
		for i := range c.Tariff.Import {
			c.Tariff.Import[i].PricePerKWh *= f
		}
	case k == "tariff.export_price_per_kwh":
		f, err := number(v, false)
		if err != nil {
			return err
		}
		c.Tariff.Export, c.Tariff.ExportFlatPerKWh = nil, f
	case k == "tariff.demand_charge_per_kw":
		f, err := number(v, true)
		if err != nil {
			return err
		}
		c.Tariff.DemandChargePerKW = f
	case k == "tariff.peak_margin_factor":
		f, err := number(v, true)
		if err != nil {
			return err
		}
		c.Tariff.PeakMarginFactor = &f
	case k == "grid.import_limit_kw" || k == "grid.export_limit_kw":
		f, err := number(v, true)
		if err != nil {
			return err
		}
		if k == "grid.import_limit_kw" {
			c.Grid.ImportLimitKW = f
		} else {
			c.Grid.ExportLimitKW = f
		}
	case k == "tariff.expected_peak":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("value %q: want true or false", v)
		}
		c.Tariff.ExpectedPeak = &b
	case k == "control.disabled":
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("value %q: want true or false", v)
		}
		c.Control.Disabled = b
	case k == "tariff.demand_period":
		c.Tariff.DemandPeriod = v
		if v != site.DemandMonthly {
			c.Tariff.DemandBillingDay = 0 // a day of the month means nothing to other periods
		}
	case k == "tariff.demand_interval":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("value %q is not a duration such as 30m", v)
		}
		c.Tariff.DemandInterval = &site.Duration{D: d}
	case k == "tariff.demand_billing_day":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("value %q is not a whole day of the month", v)
		}
		c.Tariff.DemandBillingDay = n
	case k == "site.horizon":
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("value %q is not a duration such as 12h", v)
		}
		c.Site.Horizon.D = d
	default:
		return unknownKey(k)
	}
	return nil
}

// scalePV scales a plant's capacity and its generation. Bundled per-unit series
// (konstanz:pv, the default) follow the capacity; other series follow sim.scale.
func scalePV(d *site.Device, f float64) {
	d.PV.CapacityKW *= f
	if d.Sim == nil {
		d.Sim = &site.DeviceSim{Scale: 1}
	}
	if s := d.Sim.Series; s != "" && s != "konstanz:pv" {
		if d.Sim.Scale == 0 {
			d.Sim.Scale = 1
		}
		d.Sim.Scale *= f
	}
}

func addBattery(c *site.Config, v string) error {
	spec, node, _ := strings.Cut(v, "@")
	capS, powS, ok := strings.Cut(spec, "/")
	if !ok {
		return errors.New("want CAPACITY_KWH/POWER_KW[@NODE], e.g. 200/100@feeder-a")
	}
	capKWh, err := number(capS, true)
	if err != nil {
		return err
	}
	powKW, err := number(powS, true)
	if err != nil {
		return err
	}
	tmpl := site.Device{Kind: site.KindBESS, Profile: "builtin:bess", Endpoint: "127.0.0.1:15099", UnitID: 1,
		BESS: &site.BESSParams{MinSoCPct: 10, MaxSoCPct: 95, ChargeEfficiency: 0.95, DischargeEfficiency: 0.95}}
	n := 0
	for _, d := range c.Devices {
		if d.Kind == site.KindBESS {
			if n == 0 {
				tmpl = d.Clone()
			}
			n++
		}
	}
	if node == "" {
		node = tmpl.Node
		if node == "" {
			node = c.Root()
		}
	}
	nd := tmpl
	nd.ID = fmt.Sprintf("bess-whatif-%d", n+1)
	nd.Node = node
	nd.Endpoint, nd.UnitID = "127.0.0.1:15099", n+1
	b := *tmpl.BESS
	b.CapacityKWh, b.MaxChargeKW, b.MaxDischargeKW = capKWh, powKW, powKW
	nd.BESS = &b
	nd.Sim = &site.DeviceSim{Scale: 1}
	c.Devices = append(c.Devices, nd)
	return nil
}

func setChargers(c *site.Config, n int) error {
	var idx []int
	for i, d := range c.Devices {
		if d.Kind == site.KindEVCharger {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 && n > 0 {
		return errors.New("the site has no EV charger to clone")
	}
	if n < len(idx) {
		drop := map[int]bool{}
		for _, i := range idx[n:] {
			drop[i] = true
		}
		var keep []site.Device
		for i, d := range c.Devices {
			if !drop[i] {
				keep = append(keep, d)
			}
		}
		c.Devices = keep
		return nil
	}
	tmpl := c.Devices[idx[len(idx)-1]]
	for k := len(idx); k < n; k++ {
		d := tmpl.Clone()
		d.ID = fmt.Sprintf("ev-whatif-%03d", k+1)
		d.Endpoint = fmt.Sprintf("127.0.0.1:%d", 41000+k/200)
		d.UnitID = k%200 + 1
		if d.Sim != nil {
			d.Sim.User = "" // the next most active user nobody replays yet
		}
		c.Devices = append(c.Devices, d)
	}
	return nil
}

func swapTariff(c *site.Config, path string) error {
	if !filepath.IsAbs(path) && c.File != "" {
		if _, err := os.Stat(path); err != nil {
			path = filepath.Join(filepath.Dir(c.File), path)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read tariff: %w", err)
	}
	var t site.Tariff
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return fmt.Errorf("tariff file %s: %w", path, err)
	}
	if t.Currency == "" {
		t.Currency = c.Tariff.Currency
	}
	c.Tariff = t
	return nil
}
