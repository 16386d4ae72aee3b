package site

import "time"

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
