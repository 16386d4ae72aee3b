// Package gridd holds the files bundled into the gridd binary: the demo site
// configuration and the real open data series in testdata/ that the simulator replays.
package gridd

import "embed"

// Files holds configs/demo-site.yaml and testdata/*.csv (see testdata/ATTRIBUTION.md).
//
//go:embed configs/demo-site.yaml testdata/*.csv testdata/ATTRIBUTION.md
var Files embed.FS

// DemoConfigPath is the path of the demo site config inside Files.
const DemoConfigPath = "configs/demo-site.yaml"
