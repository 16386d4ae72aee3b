package dreplay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/replay"
	"github.com/gridd/gridd/site"
)

// Load reads a district file and every site's config and history for [from,
// to): history "builtin" replays each site from the bundled data in fsys (the
// series its devices' sim sections name); otherwise history is a directory
// with one subdirectory per site ID, read as replay.LoadHistory reads a
// site's. Every site must be local (a config, not remote). Errors name the
// file, the site and the value.
func Load(districtFile, history string, fsys fs.FS, from, to time.Time) (*district.Config, []Site, error) {
	dc, err := district.Load(districtFile)
	if err != nil {
		return nil, nil, err
	}
	sites := make([]Site, len(dc.Sites))
	for i, ref := range dc.Sites {
		if ref.Remote {
			return nil, nil, fmt.Errorf("%s: sites[%d] (%s): a remote site cannot be replayed: give its config", districtFile, i, ref.ID)
		}
		cfg, err := site.Load(dc.SiteConfigPath(i))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: sites[%d] (%s): %w", districtFile, i, ref.ID, err)
		}
		var h *replay.History
		if history == "builtin" {
			h, err = replay.LoadHistory(cfg, history, fsys, from, to)
		} else {
			dir := filepath.Join(history, ref.ID)
			if fi, e := os.Stat(dir); e != nil || !fi.IsDir() {
				return nil, nil, fmt.Errorf("--history %s: no directory %s for site %s", history, dir, ref.ID)
			}
			h, err = replay.LoadHistory(cfg, dir, nil, from, to)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("site %s: --from %s --to %s: %w", ref.ID, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		sites[i] = Site{Config: cfg, History: h}
	}
	if len(sites) == 0 {
		return nil, nil, errors.New(districtFile + ": no sites")
	}
	return dc, sites, nil
}
