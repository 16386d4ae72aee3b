package main

import (
	"fmt"
	"strings"
)

// Devices of one generated feeder, after its meter: 10 loads, 5 batteries, 30 EV
// chargers and 4 PV plants (50 devices with the meter).
const (
	feederLoads    = 10
	feederBESS     = 5
	feederChargers = 30
	feederPV       = 4
	feederSize     = 1 + feederLoads + feederBESS + feederChargers + feederPV
	// gatewayUnits devices share one Modbus TCP endpoint (unit ids 1..gatewayUnits).
	gatewayUnits = 10
)

var buildings = []string{"cambridge:b9", "cambridge:b57", "cambridge:b36", "cambridge:b40"}

// genSite returns the YAML of a site of n devices: a substation meter and feeders of
// feederSize devices (the last one cut short), behind gateways of gatewayUnits unit
// ids on ports 1, 2, ... (load moves them to -port). A demand charge gives the plan a
// peak target for the real-time layer to hold.
func genSite(n int) string {
	var b strings.Builder
	feeders := (n - 1 + feederSize - 1) / feederSize
	fmt.Fprintf(&b, `site: {name: bench-%d, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 6h}
tariff:
  import:
    - {from: "00:00", to: "07:00", price_per_kwh: 0.12}
    - {from: "07:00", to: "16:00", price_per_kwh: 0.24}
    - {from: "16:00", to: "19:00", price_per_kwh: 0.38}
    - {from: "19:00", to: "24:00", price_per_kwh: 0.24}
  export_price_per_kwh: 0.05
  demand_charge_per_kw: 10
grid: {import_limit_kw: %d, export_limit_kw: %d}
approval: {auto: true}
ev: {default_dwell: 8h, default_energy_kwh: 20, unmet_penalty_per_kwh: 1.0}
nodes:
  - {id: sub, parent: "", limit_kw: %d}
`, n, 400*feeders, 200*feeders, 400*feeders)
	for f := range feeders {
		fmt.Fprintf(&b, "  - {id: f%02d, parent: sub, limit_kw: 500}\n", f)
	}
	b.WriteString("devices:\n")
	i := 0
	dev := func(id, kind, node, profile, extra string) {
		fmt.Fprintf(&b, "  - {id: %s, kind: %s, node: %s, endpoint: \"127.0.0.1:%d\", unit_id: %d, profile: \"builtin:%s\"%s}\n",
			id, kind, node, 1+i/gatewayUnits, 1+i%gatewayUnits, profile, extra)
		i++
	}
	dev("meter-sub", "meter", "sub", "substation-meter", "")
	for f := 0; i < n; f++ {
		node := fmt.Sprintf("f%02d", f)
		dev("meter-"+node, "meter", node, "substation-meter", "")
		for k := 0; k < feederLoads && i < n; k++ {
			dev(fmt.Sprintf("load-%s-%02d", node, k), "load", node, "load-meter",
				fmt.Sprintf(", sim: {series: %q, scale: 0.1}", buildings[(f+k)%len(buildings)]))
		}
		for k := 0; k < feederBESS && i < n; k++ {
			dev(fmt.Sprintf("bess-%s-%d", node, k), "bess", node, "bess",
				fmt.Sprintf(", bess: {capacity_kwh: 100, min_soc_pct: 10, max_soc_pct: 95, max_charge_kw: 50, max_discharge_kw: 50, charge_efficiency: 0.95, discharge_efficiency: 0.95}, safety: {reserve_soc_pct: 20}, sim: {initial_soc_pct: %d}", 40+10*(k%4)))
		}
		for k := 0; k < feederChargers && i < n; k++ {
			dev(fmt.Sprintf("ev-%s-%02d", node, k), "ev_charger", node, "ev-charger", ", ev_charger: {max_charge_kw: 11}")
		}
		for k := 0; k < feederPV && i < n; k++ {
			dev(fmt.Sprintf("pv-%s-%d", node, k), "pv", node, "pv-inverter", ", pv: {capacity_kw: 25, curtailable: true}")
		}
	}
	return b.String()
}
