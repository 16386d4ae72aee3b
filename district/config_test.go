package district

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/site"
)

const goodDistrict = `district:
  id: north
  time_zone: Europe/London
  step_minutes: 15
  horizon_steps: 96
sites:
  - {id: campus, config: campus.yaml}
  - {id: depot, config: depot.yaml}
  - {id: school, remote: true}
nodes:
  - id: feeder-1
    limit_kw: 900
    sites: [school]
  - id: tx-1
    parent: feeder-1
    limit_kw: 600
    windows:
      - {from: "17:00", to: "21:00", limit_kw: 400}
    sites: [campus, depot]
coordination:
  time_budget: 10s
`

func TestParseDistrict(t *testing.T) {
	c, err := Parse("d/district.yaml", []byte(goodDistrict))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got := c.SiteConfigPath(0); got != "d/campus.yaml" {
		t.Errorf("site config path %q, want d/campus.yaml", got)
	}
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, c.Location)
	ls := c.Limits(start)
	if len(ls) != 2 {
		t.Fatalf("%d limits, want 2", len(ls))
	}
	// feeder-1 covers every site (school directly, the others through tx-1).
	if got := ls[0].Sites; len(got) != 3 {
		t.Errorf("feeder-1 sites %v, want all three", got)
	}
	if got := ls[1].Sites; len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Errorf("tx-1 sites %v, want [0 1]", got)
	}
	if ls[1].LimitKW[0] != 600 || ls[1].LimitKW[17*4] != 400 || ls[1].LimitKW[21*4] != 600 || ls[1].LimitKW[21*4-1] != 400 {
		t.Errorf("tx-1 limits at 00:00 %v, 17:00 %v, 20:45 %v, 21:00 %v; want 600, 400, 400, 600",
			ls[1].LimitKW[0], ls[1].LimitKW[68], ls[1].LimitKW[83], ls[1].LimitKW[84])
	}
	if c.Coordination.TimeBudget.D != 10*time.Second || c.Coordination.MaxRounds != 30 {
		t.Errorf("coordination %+v: want the budget read and max_rounds defaulted", c.Coordination)
	}
}

func TestParseDistrictErrors(t *testing.T) {
	for _, tc := range []struct {
		name, from, to string
		path, msg      string
	}{
		{"duplicate site", "  - {id: depot, config: depot.yaml}", "  - {id: campus, config: depot.yaml}", "sites[1].id", "duplicate site id"},
		{"node with no sites", "coordination:", "  - {id: tx-2, parent: feeder-1, limit_kw: 5}\ncoordination:", "nodes[2].sites", "no site hangs below"},
		{"cycle", "  - id: feeder-1\n", "  - id: feeder-1\n    parent: tx-1\n", "nodes[0].parent", "cycle in the district tree"},
		{"unknown site", "sites: [school]", "sites: [gym]", "nodes[0].sites[0]", "unknown site"},
		{"unknown parent", "parent: feeder-1", "parent: feeder-9", "nodes[1].parent", "unknown node"},
		{"site below two nodes", "sites: [school]", "sites: [school, depot]", "nodes[1].sites[1]", "already hangs below"},
		{"negative limit", "limit_kw: 900", "limit_kw: -5", "nodes[0].limit_kw", "must be a number of kW"},
		{"bad window", `from: "17:00"`, `from: "25:00"`, "nodes[1].windows[0].from", "time of day"},
		{"empty window", `{from: "17:00", to: "21:00"`, `{from: "7:00", to: "07:00"`, "nodes[1].windows[0].to", "empty"},
		{"no config nor remote", "{id: school, remote: true}", "{id: school}", "sites[2].config", "needs a site config path"},
		{"bad site id", "{id: school, remote: true}", "{id: 'sch.ool', remote: true}", "sites[2].id", "letters, digits"},
		{"bad step", "step_minutes: 15", "step_minutes: 7", "district.step_minutes", "must divide 60"},
		{"unknown field", "time_budget: 10s", "time_budgett: 10s", "(file)", "time_budgett"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(goodDistrict, tc.from, tc.to, 1)
			if in == goodDistrict {
				t.Fatalf("replacement %q not found", tc.from)
			}
			_, err := Parse("district.yaml", []byte(in))
			var errs site.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T), want site.Errors", err, err)
			}
			for _, e := range errs {
				if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) && e.File == "district.yaml" {
					return
				}
			}
			t.Errorf("no error at %s containing %q; got:\n%v", tc.path, tc.msg, err)
		})
	}
}

// FuzzParseDistrict: the parser never panics; it returns a config whose
// limits cover valid site indices, or field errors naming the file.
func FuzzParseDistrict(f *testing.F) {
	f.Add([]byte(goodDistrict))
	f.Add([]byte("district: {id: x}\nsites: [{id: a, remote: true}]\nnodes: [{id: n, parent: n, limit_kw: 1, sites: [a]}]\n"))
	f.Add([]byte("nodes: [{id: a, parent: b, limit_kw: 1}, {id: b, parent: a, limit_kw: 1}]\n"))
	f.Add([]byte("district: {id: x, step_minutes: 60}\nsites: [{id: a, remote: true}]\nnodes: [{id: n, limit_kw: 5, windows: [{from: '23:00', to: '01:00', limit_kw: 2}], sites: [a]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs site.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a non-empty site.Errors: %T %v", err, err)
			}
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Path == "" {
					t.Fatalf("field error without file or path: %#v", e)
				}
			}
			return
		}
		ls := c.Limits(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		if _, err := nest(ls, len(c.Sites)); err != nil {
			t.Fatalf("a valid config gives limits that do not nest: %v", err)
		}
		for _, l := range ls {
			if len(l.Sites) == 0 || len(l.LimitKW) != c.District.HorizonSteps {
				t.Fatalf("limit %s: %d sites, %d steps", l.ID, len(l.Sites), len(l.LimitKW))
			}
			for _, v := range l.LimitKW {
				if !(v > 0) {
					t.Fatalf("limit %s: %v", l.ID, v)
				}
			}
		}
	})
}

// TestConsoleURL: a site's console_url is kept when it is an absolute http or https
// URL; anything else is refused naming the field and the value.
func TestConsoleURL(t *testing.T) {
	for _, tc := range []struct {
		url, msg string // msg "" = accepted
	}{
		{"https://campus.example.org/", ""},
		{"http://10.0.4.2:8080", ""},
		{"https://[2001:db8::1]:8443/console/", ""},
		{"campus.example.org", "absolute http:// or https://"},
		{"/console", "absolute http:// or https://"},
		{"ftp://campus.example.org/", "absolute http:// or https://"},
		{"javascript:alert(1)", "absolute http:// or https://"},
		{"https://", "with a host"},
		{"https://:8080/", "with a host"},
		{"https://op:secret@campus.example.org/", "must not carry credentials"},
		{"https://campus.example.org/#site", "must not carry a fragment"},
		{"http://campus example.org/", "not a URL"},
		{"https://campus.example.org/%zz", "not a URL"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			in := strings.Replace(goodDistrict, "{id: school, remote: true}", "{id: school, remote: true, console_url: '"+tc.url+"'}", 1)
			c, err := Parse("district.yaml", []byte(in))
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := c.Sites[2].ConsoleURL; got != tc.url {
					t.Errorf("console_url %q, want %q", got, tc.url)
				}
				return
			}
			var errs site.Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("error %v, want one field error", err)
			}
			e := errs[0]
			if e.File != "district.yaml" || e.Path != "sites[2].console_url" || e.Value != tc.url || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %#v, want sites[2].console_url = %q: …%s…", e, tc.url, tc.msg)
			}
			if !strings.Contains(err.Error(), "sites[2].console_url") || !strings.Contains(err.Error(), tc.url) {
				t.Errorf("message %q does not name the field and the value", err)
			}
		})
	}
}
