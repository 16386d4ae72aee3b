package dispatch_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

const hashSite = `
site: {name: h, timezone: UTC, cycle: "*/15 * * * *", step: 15m, horizon: 24h}
tariff:
  import: [{from: "00:00", to: "24:00", price_per_kwh: 0.30}]
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes: [{id: sub, parent: "", limit_kw: 500}]
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "127.0.0.1:5020", unit_id: 1, profile: "builtin:substation-meter"}
  - id: bess
    kind: bess
    node: sub
    endpoint: "127.0.0.1:5021"
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50, charge_efficiency: 0.9, discharge_efficiency: 0.9}
`

func TestHashConfigChangesWithEverySetting(t *testing.T) {
	base, err := site.Parse("a.yaml", []byte(hashSite))
	if err != nil {
		t.Fatal(err)
	}
	h0, err := dispatch.HashConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(h0) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", h0)
	}
	for _, tc := range []struct {
		name, file, old, new string
		same                 bool
	}{
		{"same settings in another file", "other/b.yaml", "", "", true},
		{"reformatted YAML", "a.yaml", "export_price_per_kwh: 0.01", "export_price_per_kwh:    0.010", true},
		{"import price", "a.yaml", "price_per_kwh: 0.30", "price_per_kwh: 0.31", false},
		{"battery capacity", "a.yaml", "capacity_kwh: 200", "capacity_kwh: 201", false},
		{"endpoint", "a.yaml", "127.0.0.1:5021", "127.0.0.1:5022", false},
		{"profile reference", "a.yaml", `profile: "builtin:substation-meter"`, `profile: "builtin:load-meter"`, false},
		{"grid limit", "a.yaml", "export_limit_kw: 200", "export_limit_kw: 150", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := hashSite
			if tc.old != "" {
				if !strings.Contains(y, tc.old) {
					t.Fatalf("config has no %q", tc.old)
				}
				y = strings.Replace(y, tc.old, tc.new, 1)
			}
			cfg, err := site.Parse(tc.file, []byte(y))
			if err != nil {
				t.Fatal(err)
			}
			h, err := dispatch.HashConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if (h == h0) != tc.same {
				t.Errorf("hash %s vs base %s: same=%v, want same=%v", h, h0, h == h0, tc.same)
			}
		})
	}
}

// changedProfile returns a deep-enough copy of p with one change applied.
func changedProfile(p *fieldbus.Profile, change func(*fieldbus.Profile)) *fieldbus.Profile {
	c := *p
	c.Points = append([]fieldbus.Point(nil), p.Points...)
	change(&c)
	return &c
}

func TestHashProfileChangesWithRegisterMap(t *testing.T) {
	p, err := fieldbus.BuiltinProfile("bess")
	if err != nil {
		t.Fatal(err)
	}
	h0, err := dispatch.HashProfile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*fieldbus.Profile)
		same   bool
	}{
		{"loaded from elsewhere", func(c *fieldbus.Profile) { c.Source = "/etc/gridd/bess.yaml" }, true},
		{"point scale", func(c *fieldbus.Profile) { c.Points[0].Scale *= 10 }, false},
		{"point address", func(c *fieldbus.Profile) { c.Points[0].Address++ }, false},
		{"word order", func(c *fieldbus.Profile) {
			if c.WordOrder == fieldbus.HighFirst {
				c.WordOrder = fieldbus.LowFirst
			} else {
				c.WordOrder = fieldbus.HighFirst
			}
		}, false},
		{"watchdog", func(c *fieldbus.Profile) { c.Watchdog += time.Second }, false},
		{"point removed", func(c *fieldbus.Profile) { c.Points = c.Points[1:] }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := dispatch.HashProfile(changedProfile(p, tc.change))
			if err != nil {
				t.Fatal(err)
			}
			if (h == h0) != tc.same {
				t.Errorf("hash %s vs base %s: same=%v, want same=%v", h, h0, h == h0, tc.same)
			}
		})
	}
	if h1, _ := dispatch.HashProfile(p); h1 != h0 {
		t.Fatal("hashing changed the profile")
	}
}

// recorded returns the config hashes stored in a schedule's plan and in its
// schedule.propose audit event, and fails unless the two agree.
func recorded(t *testing.T, r *rig, sc *storage.Schedule) dispatch.ConfigHashes {
	t.Helper()
	var doc struct {
		Config *dispatch.ConfigHashes `json:"config"`
	}
	if err := json.Unmarshal(sc.Plan, &doc); err != nil || doc.Config == nil {
		t.Fatalf("schedule %d plan has no config hashes (%v): %.200s", sc.ID, err, sc.Plan)
	}
	var fromAudit *dispatch.ConfigHashes
	for _, e := range r.audit(t, "schedule.propose") {
		if e.Subject != "schedule:"+itoa(sc.ID) {
			continue
		}
		en, ok := audit.Parse(e.Detail)
		if !ok {
			t.Fatalf("schedule.propose event is not chained: %q", e.Detail)
		}
		var d struct {
			Input string `json:"input_sha256"`
			dispatch.ConfigHashes
		}
		if err := json.Unmarshal(en.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Input != sc.InputHash {
			t.Errorf("audit input hash %q, schedule %q", d.Input, sc.InputHash)
		}
		fromAudit = &d.ConfigHashes
	}
	if fromAudit == nil {
		t.Fatalf("no schedule.propose event for schedule %d", sc.ID)
	}
	a, _ := json.Marshal(doc.Config)
	b, _ := json.Marshal(fromAudit)
	if string(a) != string(b) {
		t.Fatalf("plan records %s, audit %s", a, b)
	}
	return *doc.Config
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestScheduleRecordsConfigAndProfileHashes: every proposal stores the hashes of the
// config and of each device's profile; a service started with a changed battery
// profile or a changed config records different hashes for exactly what changed.
func TestScheduleRecordsConfigAndProfileHashes(t *testing.T) {
	start := at8.Add(-30 * time.Minute)
	r := newRig(t, "{auto: false}", "", 50, start)
	res := r.cycle(t, start)
	if res.Schedule == nil {
		t.Fatal("no schedule proposed")
	}
	first := recorded(t, r, res.Schedule)
	want := r.svc.ConfigHashes()
	if first.ConfigSHA256 != want.ConfigSHA256 || len(first.ProfileSHA256) != len(r.cfg.Devices) {
		t.Fatalf("recorded %+v, service %+v", first, want)
	}
	for _, d := range r.cfg.Devices {
		if first.ProfileSHA256[d.ID] == "" || first.ProfileSHA256[d.ID] != want.ProfileSHA256[d.ID] {
			t.Fatalf("device %s: recorded %q, service %q", d.ID, first.ProfileSHA256[d.ID], want.ProfileSHA256[d.ID])
		}
	}

	profiles, err := fieldbus.CheckSite(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bessHash, _ := dispatch.HashProfile(profiles["bess"])
	if first.ProfileSHA256["bess"] != bessHash {
		t.Fatalf("recorded bess profile %s, HashProfile %s", first.ProfileSHA256["bess"], bessHash)
	}

	for _, tc := range []struct {
		name          string
		cfg           func(site.Config) *site.Config
		bess          func(*fieldbus.Profile)
		wantCfgChange bool
		wantBess      bool
	}{
		{"unchanged", func(c site.Config) *site.Config { return &c }, nil, false, false},
		{"battery profile scale", func(c site.Config) *site.Config { return &c }, func(p *fieldbus.Profile) { p.Points[0].Scale *= 2 }, false, true},
		{"config import limit", func(c site.Config) *site.Config { c.Grid.ImportLimitKW++; return &c }, nil, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := map[string]*fieldbus.Profile{}
			for id, p := range profiles {
				ps[id] = p
			}
			if tc.bess != nil {
				ps["bess"] = changedProfile(profiles["bess"], tc.bess)
			}
			svc, err := dispatch.New(dispatch.Options{Config: tc.cfg(*r.cfg), Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk, Profiles: ps, ConfigFileSHA256: strings.Repeat("ab", 32)})
			if err != nil {
				t.Fatal(err)
			}
			r2 := &rig{svc: svc, st: r.st, sm: r.sm, clk: r.clk, cfg: r.cfg, poller: r.poller, writer: r.writer}
			at := r.clk.Now().Add(15 * time.Minute)
			res := r2.cycle(t, at)
			if res.Schedule == nil {
				t.Fatal("no schedule proposed")
			}
			got := recorded(t, r2, res.Schedule)
			if got.ConfigFileSHA256 != strings.Repeat("ab", 32) {
				t.Errorf("config file hash %q not recorded", got.ConfigFileSHA256)
			}
			if (got.ConfigSHA256 != first.ConfigSHA256) != tc.wantCfgChange {
				t.Errorf("config hash %s vs %s: changed=%v, want %v", got.ConfigSHA256, first.ConfigSHA256, got.ConfigSHA256 != first.ConfigSHA256, tc.wantCfgChange)
			}
			if (got.ProfileSHA256["bess"] != first.ProfileSHA256["bess"]) != tc.wantBess {
				t.Errorf("bess profile hash changed=%v, want %v", got.ProfileSHA256["bess"] != first.ProfileSHA256["bess"], tc.wantBess)
			}
			for id, h := range first.ProfileSHA256 {
				if id != "bess" && got.ProfileSHA256[id] != h {
					t.Errorf("device %s profile hash changed without a change", id)
				}
			}
		})
	}
}

func TestNewRejectsUnresolvableProfile(t *testing.T) {
	y := strings.Replace(hashSite, `profile: "builtin:bess"`, `profile: "no-such-profile.yaml"`, 1)
	cfg, err := site.Parse("a.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "{auto: false}", "", 50, at8)
	_, err = dispatch.New(dispatch.Options{Config: cfg, Store: r.st, Poller: r.poller, Writer: r.writer, Clock: r.clk})
	if err == nil || !strings.Contains(err.Error(), "no-such-profile.yaml") {
		t.Fatalf("err = %v, want one naming the profile", err)
	}
}
