// Package gridd holds the files bundled into the gridd binary: the demo site
// configuration and the real open data series in data/ that the simulator replays.
package gridd

import "embed"

// Files holds configs/demo-site.yaml and data/*.csv (see data/ATTRIBUTION.md;
// fieldbus/sim.ReadData finds a data file in it).
//
//go:embed configs/demo-site.yaml data/*.csv data/ATTRIBUTION.md
var Files embed.FS

// DemoConfigPath is the path of the demo site config inside Files.
const DemoConfigPath = "configs/demo-site.yaml"
