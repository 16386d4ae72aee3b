// Package gridd holds the files bundled into the gridd binary: the demo site
// configuration and the real open data series in data/ that the simulator replays.
package gridd

import "embed"

// Files holds the demo site configs and data/*.csv (see data/ATTRIBUTION.md;
// fieldbus/sim.ReadData finds a data file in it).
//
//go:embed configs/demo-site.yaml configs/jiangsu-site.yaml data/*.csv data/ATTRIBUTION.md
var Files embed.FS

// DemoConfigPath is the path of the default demo site config inside Files.
const DemoConfigPath = "configs/demo-site.yaml"

// DemoSites maps `gridd demo --site NAME` to its config inside Files.
var DemoSites = map[string]string{
	"campus":  DemoConfigPath,
	"jiangsu": "configs/jiangsu-site.yaml",
}
