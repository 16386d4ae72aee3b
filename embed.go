// Package gridd holds the files bundled into the gridd binary: the demo site
// configuration and the real open data series in data/ that the simulator replays.
package gridd

import "embed"

// Files holds configs/demo-site.yaml and data/*.csv (see data/ATTRIBUTION.md).
//
//go:embed configs/demo-site.yaml data/*.csv data/ATTRIBUTION.md
var Files embed.FS

// DataDir is the folder of the bundled data series inside Files.
const DataDir = "data"

// DemoConfigPath is the path of the demo site config inside Files.
const DemoConfigPath = "configs/demo-site.yaml"
