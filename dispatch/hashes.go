package dispatch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
)

// ConfigHashes identify the configuration a schedule was computed and written with.
// They are stored in every schedule's plan ("config") and in its schedule.propose audit
// event, so a reviewer can tell which site config and which register maps were in force.
type ConfigHashes struct {
	// ConfigSHA256 is the SHA-256 of the validated site config in force, as canonical
	// JSON (HashConfig). It changes with any setting of the config.
	ConfigSHA256 string `json:"config_sha256"`
	// ConfigFileSHA256 is the SHA-256 of the config file's bytes as read at start
	// (`sha256sum site.yaml`); empty when the config did not come from a file.
	ConfigFileSHA256 string `json:"config_file_sha256,omitempty"`
	// ProfileSHA256 maps each device ID to the SHA-256 of its register-map profile in
	// force (HashProfile).
	ProfileSHA256 map[string]string `json:"profile_sha256"`
}

// HashConfig returns the SHA-256 (hex) of a site config's canonical JSON encoding
// (struct fields in declaration order, map keys sorted). The path the config was read
// from is not part of it: the same settings in another file hash the same.
func HashConfig(cfg *site.Config) (string, error) {
	if cfg == nil {
		return "", fmt.Errorf("hash config: nil config")
	}
	c := *cfg
	c.File = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("hash config: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// HashProfile returns the SHA-256 (hex) of a device profile's canonical JSON encoding
// (register map, byte and word order, scaling, watchdog). Where the profile was loaded
// from is not part of it.
func HashProfile(p *fieldbus.Profile) (string, error) {
	if p == nil {
		return "", fmt.Errorf("hash profile: nil profile")
	}
	c := *p
	c.Source = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("hash profile %s: %w", p.Name, err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// computeHashes hashes cfg and the profile of every device in it, and returns the
// profiles it hashed. Profiles missing
// from profiles are resolved the way the config check does (fieldbus.CheckSite).
func computeHashes(cfg *site.Config, profiles map[string]*fieldbus.Profile, fileSHA256 string) (ConfigHashes, map[string]*fieldbus.Profile, error) {
	h := ConfigHashes{ConfigFileSHA256: fileSHA256, ProfileSHA256: map[string]string{}}
	var err error
	if h.ConfigSHA256, err = HashConfig(cfg); err != nil {
		return h, nil, err
	}
	missing := false
	for _, d := range cfg.Devices {
		if profiles[d.ID] == nil {
			missing = true
		}
	}
	if missing {
		resolved, err := fieldbus.CheckSite(cfg)
		if err != nil {
			return h, nil, fmt.Errorf("resolve device profiles to hash them: %w", err)
		}
		merged := make(map[string]*fieldbus.Profile, len(resolved))
		for id, p := range resolved {
			merged[id] = p
		}
		for id, p := range profiles {
			if p != nil {
				merged[id] = p
			}
		}
		profiles = merged
	}
	ids := make([]string, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		ids = append(ids, d.ID)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := profiles[id]
		if p == nil {
			return h, nil, fmt.Errorf("hash profiles: device %q has no profile", id)
		}
		if h.ProfileSHA256[id], err = HashProfile(p); err != nil {
			return h, nil, fmt.Errorf("device %q: %w", id, err)
		}
	}
	return h, profiles, nil
}

// ConfigHashes returns the hashes of the config and profiles in force.
func (s *Service) ConfigHashes() ConfigHashes {
	out := s.hashes
	out.ProfileSHA256 = make(map[string]string, len(s.hashes.ProfileSHA256))
	for k, v := range s.hashes.ProfileSHA256 {
		out.ProfileSHA256[k] = v
	}
	return out
}
