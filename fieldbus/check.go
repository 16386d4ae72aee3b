package fieldbus

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gridd/gridd/site"
)

// CheckSite checks every device's endpoint with the driver registered for its scheme
// (VerifyEndpoint: syntax and parameters; for Modbus TLS, that the certificate files
// load), resolves its profile (relative paths against the config
// file's directory), checks that the profile's kind matches the device's kind and that the
// points the kind needs exist (writable where they must be). It returns the profiles by
// device id and all problems joined, each naming FILE: devices[i].profile: "VALUE": reason.
func CheckSite(cfg *site.Config) (map[string]*Profile, error) {
	file := cfg.File
	baseDir := "."
	if file != "" {
		baseDir = filepath.Dir(file)
	} else {
		file = "site config"
	}
	type loaded struct {
		p   *Profile
		err error
	}
	cache := map[string]loaded{}
	out := make(map[string]*Profile, len(cfg.Devices))
	var errs []error
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if err := VerifyEndpoint(d.Endpoint); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %q: %w", file, cfg.Where(fmt.Sprintf("devices[%d].endpoint", i)), d.Endpoint, err))
		}
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s: %q: %s", file, cfg.Where(fmt.Sprintf("devices[%d].profile", i)), d.Profile, fmt.Sprintf(format, args...)))
		}
		key := d.Profile
		if !strings.HasPrefix(key, BuiltinPrefix) && key != "" && !filepath.IsAbs(key) {
			key = filepath.Join(baseDir, key)
		}
		l, ok := cache[key]
		if !ok {
			p, err := ResolveProfile(d.Profile, baseDir)
			l = loaded{p, err}
			cache[key] = l
		}
		if l.err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %q: %w", file, cfg.Where(fmt.Sprintf("devices[%d].profile", i)), d.Profile, l.err))
			continue
		}
		p := l.p
		if p.Kind != d.Kind {
			fail("profile %s is for kind %q, device %s is %q", p.Name, p.Kind, d.ID, d.Kind)
			continue
		}
		bad := false
		for _, r := range requirementsFor(d) {
			pt, ok := p.Point(r.point)
			why := "every " + d.Kind + " device needs it"
			if r.why != "" {
				why = r.why
			}
			switch {
			case !ok:
				fail("profile %s has no %s point (%s)", p.Name, r.point, why)
				bad = true
			case r.writable && !pt.Writable():
				fail("profile %s point %s must be access rw (%s)", p.Name, r.point, why)
				bad = true
			}
		}
		if !bad {
			out[d.ID] = p.Clone()
		}
	}
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}
