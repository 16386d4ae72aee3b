// Package gridd holds the files bundled into the gridd binary: the demo site
// configuration and the real open data series in testdata/ that the simulator replays.
package gridd

import "embed"

// Files holds the demo site configs and testdata/*.csv (see testdata/ATTRIBUTION.md).
//
//go:embed configs/demo-site.yaml configs/jiangsu-site.yaml testdata/*.csv testdata/ATTRIBUTION.md
var Files embed.FS

// DemoConfigPath is the path of the default demo site config inside Files.
const DemoConfigPath = "configs/demo-site.yaml"

// DemoSites maps `gridd demo --site NAME` to its config inside Files.
var DemoSites = map[string]string{
	"campus":  DemoConfigPath,
	"jiangsu": "configs/jiangsu-site.yaml",
}
