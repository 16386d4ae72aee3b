package district

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gridd/gridd/site"
)

// Config is a district file (district.yaml): the sites that take part, the
// shared upstream nodes (transformers, feeders) with their import limits and
// which sites and nodes hang below each, and the coordination settings.
type Config struct {
	District     Identity     `yaml:"district"`
	Sites        []SiteRef    `yaml:"sites"`
	Nodes        []SharedNode `yaml:"nodes"`
	Coordination Coordination `yaml:"coordination"`

	// File is the path the config was read from (relative site configs are
	// resolved against its directory).
	File string `yaml:"-"`
	// Location is District.TimeZone loaded.
	Location *time.Location `yaml:"-"`
}

// Identity names the district and sets its time grid: every site plans on
// the same steps (StepMinutes) over the same horizon (HorizonSteps).
type Identity struct {
	ID           string `yaml:"id"`
	TimeZone     string `yaml:"time_zone"`
	StepMinutes  int    `yaml:"step_minutes"`
	HorizonSteps int    `yaml:"horizon_steps"`
}

// SiteRef is one site of the district: a site config this process can load
// (Config, relative to the district file), or a remote gridd that joins over
// NATS under ID (Remote: true). ConsoleURL, when set, is the address of the
// site's own web console (an absolute http or https URL): the district
// console links each site to it.
type SiteRef struct {
	ID         string `yaml:"id"`
	Config     string `yaml:"config,omitempty"`
	Remote     bool   `yaml:"remote,omitempty"`
	ConsoleURL string `yaml:"console_url,omitempty"`
}

// SharedNode is a shared transformer or feeder. LimitKW bounds the summed
// grid import of every site below it (listed in Sites, or below a child
// node, whose Parent is this node's ID) at every step; Windows narrow it at
// times of day.
type SharedNode struct {
	ID      string   `yaml:"id"`
	Parent  string   `yaml:"parent,omitempty"`
	LimitKW float64  `yaml:"limit_kw"`
	Windows []Window `yaml:"windows,omitempty"`
	Sites   []string `yaml:"sites,omitempty"`
}

// Window narrows a node's limit to LimitKW from From to To (times of day,
// "HH:MM", in the district's time zone; To before From wraps past midnight).
type Window struct {
	From    string  `yaml:"from"`
	To      string  `yaml:"to"`
	LimitKW float64 `yaml:"limit_kw"`

	from, to int // minutes after midnight
}

// Coordination tunes the coordinator's cycle.
type Coordination struct {
	// Cycle is how often the district is coordinated (default 15m).
	Cycle site.Duration `yaml:"cycle"`
	// TimeBudget bounds one coordination (default 20s); at the budget the
	// best caps found so far are issued.
	TimeBudget site.Duration `yaml:"time_budget"`
	// RoundTimeout bounds how long a site may take to answer one round
	// (default 5s); a site that does not answer in time is capped from its
	// last known plan.
	RoundTimeout site.Duration `yaml:"round_timeout"`
	// MaxRounds bounds the rounds of one coordination (default 30).
	MaxRounds int `yaml:"max_rounds"`
	// GapPct stops early when the certified gap is below it (default 0.5).
	GapPct float64 `yaml:"gap_pct"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Load reads and validates a district file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read district config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a district file; file names it in errors and
// anchors relative site config paths. Every problem is a *site.FieldError
// naming the file, the field path and the bad value (site.Errors).
func Parse(file string, data []byte) (*Config, error) {
	c := &Config{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, site.Errors{{File: file, Path: "(file)", Msg: "empty district config"}}
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		return nil, site.Errors{{File: file, Path: "(file)", Msg: msg}}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate fills the defaults of a config built in code and checks it as
// Parse does (site.Errors on failure).
func (c *Config) Validate() error {
	c.applyDefaults()
	if errs := c.validate(); len(errs) > 0 {
		return errs
	}
	return nil
}

func (c *Config) applyDefaults() {
	if c.District.TimeZone == "" {
		c.District.TimeZone = "UTC"
	}
	if c.District.StepMinutes == 0 {
		c.District.StepMinutes = 15
	}
	if c.District.HorizonSteps == 0 && c.District.StepMinutes > 0 {
		c.District.HorizonSteps = 24 * 60 / c.District.StepMinutes
	}
	co := &c.Coordination
	if co.Cycle.D == 0 {
		co.Cycle.D = 15 * time.Minute
	}
	if co.TimeBudget.D == 0 {
		co.TimeBudget.D = 20 * time.Second
	}
	if co.RoundTimeout.D == 0 {
		co.RoundTimeout.D = 5 * time.Second
	}
	if co.MaxRounds == 0 {
		co.MaxRounds = 30
	}
	if co.GapPct == 0 {
		co.GapPct = 0.5
	}
}

type checker struct {
	file string
	errs site.Errors
}

func (v *checker) add(path, value, format string, args ...any) {
	v.errs = append(v.errs, &site.FieldError{File: v.file, Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func (v *checker) limit(path string, kw float64) {
	if math.IsNaN(kw) || math.IsInf(kw, 0) || kw <= 0 || kw > 1e9 {
		v.add(path, fmtF(kw), "must be a number of kW in (0, 1e9]")
	}
}

func parseClock(s string) (int, bool) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, true
		}
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (c *Config) validate() site.Errors {
	v := &checker{file: c.File}
	d := c.District
	if !idRE.MatchString(d.ID) {
		v.add("district.id", d.ID, "want 1-64 letters, digits, '-' or '_', starting with a letter or digit")
	}
	loc, err := time.LoadLocation(d.TimeZone)
	if err != nil {
		v.add("district.time_zone", d.TimeZone, "unknown time zone")
	} else {
		c.Location = loc
	}
	if d.StepMinutes <= 0 || d.StepMinutes > 60 || 60%d.StepMinutes != 0 {
		v.add("district.step_minutes", strconv.Itoa(d.StepMinutes), "must divide 60 (e.g. 5, 15, 30, 60)")
	} else if d.HorizonSteps <= 0 || d.HorizonSteps*d.StepMinutes > 7*24*60 {
		v.add("district.horizon_steps", strconv.Itoa(d.HorizonSteps), "must be positive and cover at most 7 days")
	}
	co := c.Coordination
	if co.Cycle.D < time.Minute || co.Cycle.D > 24*time.Hour {
		v.add("coordination.cycle", co.Cycle.D.String(), "must be between 1m and 24h")
	}
	if co.TimeBudget.D < 100*time.Millisecond || co.TimeBudget.D > co.Cycle.D {
		v.add("coordination.time_budget", co.TimeBudget.D.String(), "must be at least 100ms and at most the cycle (%s)", co.Cycle.D)
	}
	if co.RoundTimeout.D <= 0 || co.RoundTimeout.D > co.TimeBudget.D {
		v.add("coordination.round_timeout", co.RoundTimeout.D.String(), "must be positive and at most the time budget (%s)", co.TimeBudget.D)
	}
	if co.MaxRounds < 1 || co.MaxRounds > 10000 {
		v.add("coordination.max_rounds", strconv.Itoa(co.MaxRounds), "must be in 1..10000")
	}
	if math.IsNaN(co.GapPct) || co.GapPct <= 0 || co.GapPct > 100 {
		v.add("coordination.gap_pct", fmtF(co.GapPct), "must be in (0, 100]")
	}

	if len(c.Sites) == 0 {
		v.add("sites", "", "a district needs at least one site")
	}
	sites := make(map[string]int, len(c.Sites))
	for i, s := range c.Sites {
		p := fmt.Sprintf("sites[%d]", i)
		switch {
		case !idRE.MatchString(s.ID):
			v.add(p+".id", s.ID, "want 1-64 letters, digits, '-' or '_', starting with a letter or digit")
		default:
			if j, dup := sites[s.ID]; dup {
				v.add(p+".id", s.ID, "duplicate site id (also sites[%d])", j)
			} else {
				sites[s.ID] = i
			}
		}
		switch {
		case s.Config == "" && !s.Remote:
			v.add(p+".config", "", "a site needs a site config path, or remote: true for a gridd that joins over NATS")
		case s.Config != "" && s.Remote:
			v.add(p+".remote", "true", "a site is either loaded from config or remote, not both")
		}
		if s.ConsoleURL != "" {
			if msg := checkConsoleURL(s.ConsoleURL); msg != "" {
				v.add(p+".console_url", s.ConsoleURL, "%s", msg)
			}
		}
	}

	nodes := make(map[string]int, len(c.Nodes))
	for i, n := range c.Nodes {
		p := fmt.Sprintf("nodes[%d]", i)
		if !idRE.MatchString(n.ID) {
			v.add(p+".id", n.ID, "want 1-64 letters, digits, '-' or '_', starting with a letter or digit")
			continue
		}
		if j, dup := nodes[n.ID]; dup {
			v.add(p+".id", n.ID, "duplicate node id (also nodes[%d])", j)
			continue
		}
		nodes[n.ID] = i
	}
	siteNode := make(map[string]string)
	for i := range c.Nodes {
		n := &c.Nodes[i]
		p := fmt.Sprintf("nodes[%d]", i)
		v.limit(p+".limit_kw", n.LimitKW)
		if n.Parent != "" {
			if _, ok := nodes[n.Parent]; !ok {
				v.add(p+".parent", n.Parent, "unknown node")
			}
		}
		for k := range n.Windows {
			w := &n.Windows[k]
			wp := fmt.Sprintf("%s.windows[%d]", p, k)
			var okFrom, okTo bool
			if w.from, okFrom = parseClock(w.From); !okFrom || w.from >= 24*60 {
				v.add(wp+".from", w.From, "want a time of day HH:MM")
			}
			if w.to, okTo = parseClock(w.To); !okTo {
				v.add(wp+".to", w.To, "want a time of day HH:MM (or 24:00)")
			}
			if w.From == w.To || (okFrom && okTo && w.from == w.to) {
				v.add(wp+".to", w.To, "equals from: the window is empty")
			}
			v.limit(wp+".limit_kw", w.LimitKW)
		}
		for k, sid := range n.Sites {
			sp := fmt.Sprintf("%s.sites[%d]", p, k)
			if _, ok := sites[sid]; !ok {
				v.add(sp, sid, "unknown site (not in sites)")
				continue
			}
			if other, dup := siteNode[sid]; dup {
				v.add(sp, sid, "site already hangs below node %q: a site hangs directly below one node (nest nodes with parent)", other)
				continue
			}
			siteNode[sid] = n.ID
		}
	}
	// Cycles: follow each node's parents; a chain longer than the node
	// count revisits a node.
	for i, n := range c.Nodes {
		seen := map[string]bool{n.ID: true}
		for p := n.Parent; p != ""; {
			if seen[p] {
				v.add(fmt.Sprintf("nodes[%d].parent", i), n.Parent, "cycle in the district tree (%s)", cyclePath(c, n.ID))
				break
			}
			seen[p] = true
			j, ok := nodes[p]
			if !ok {
				break
			}
			p = c.Nodes[j].Parent
		}
	}
	// A shared node with no site below it limits nothing: a mistake.
	below := make(map[string]int)
	for _, nid := range siteNode {
		seen := map[string]bool{}
		for p := nid; p != "" && !seen[p]; {
			seen[p] = true
			below[p]++
			j, ok := nodes[p]
			if !ok {
				break
			}
			p = c.Nodes[j].Parent
		}
	}
	for i, n := range c.Nodes {
		if _, ok := nodes[n.ID]; ok && below[n.ID] == 0 {
			v.add(fmt.Sprintf("nodes[%d].sites", i), n.ID, "no site hangs below this node (directly or through a child node)")
		}
	}
	return v.errs
}

// checkConsoleURL returns why u cannot be a site's console address ("" when
// it can): it must be an absolute http or https URL with a host, and carry no
// credentials (the district console shows it to everyone who opens it).
func checkConsoleURL(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "not a URL: " + strings.TrimPrefix(err.Error(), "parse "+strconv.Quote(u)+": ")
	case p.Scheme != "http" && p.Scheme != "https":
		return "want an absolute http:// or https:// URL of the site's console"
	case p.Host == "" || p.Hostname() == "":
		return "want an absolute http:// or https:// URL with a host"
	case p.User != nil:
		return "must not carry credentials (the district console shows it to every reader)"
	case p.Fragment != "":
		return "must not carry a fragment (#...)"
	}
	return ""
}

// cyclePath words the parent chain starting at id, e.g. "a → b → a".
func cyclePath(c *Config, id string) string {
	byID := make(map[string]string, len(c.Nodes))
	for _, n := range c.Nodes {
		byID[n.ID] = n.Parent
	}
	path := []string{id}
	seen := map[string]bool{id: true}
	for p := byID[id]; p != "" && len(path) <= len(c.Nodes); p = byID[p] {
		path = append(path, p)
		if seen[p] {
			break
		}
		seen[p] = true
	}
	return strings.Join(path, " → ")
}

// SiteConfigPath returns the path of site i's config, resolved against the
// district file's directory ("" for a remote site).
func (c *Config) SiteConfigPath(i int) string {
	p := c.Sites[i].Config
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(c.File), p)
}

// Step returns the district's step length.
func (c *Config) Step() time.Duration { return time.Duration(c.District.StepMinutes) * time.Minute }

// Limits returns, for the horizon starting at start, every shared node's
// limit per step (the tightest of its limit_kw and the windows covering the
// step's start) and the sites below it (directly or through child nodes), as
// indices into Sites. A step whose window narrows the node at any minute is
// given the window's limit: a window from 17:10 narrows the whole 17:00
// step.
func (c *Config) Limits(start time.Time) []Limit {
	T := c.District.HorizonSteps
	step := c.Step()
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	idx := make(map[string]int, len(c.Sites))
	for i, s := range c.Sites {
		idx[s.ID] = i
	}
	parent := make(map[string]string, len(c.Nodes))
	for _, n := range c.Nodes {
		parent[n.ID] = n.Parent
	}
	out := make([]Limit, len(c.Nodes))
	for k, n := range c.Nodes {
		out[k] = Limit{ID: n.ID, LimitKW: make([]float64, T)}
		for t := 0; t < T; t++ {
			at := start.Add(time.Duration(t) * step).In(loc)
			m0 := at.Hour()*60 + at.Minute()
			m1 := m0 + c.District.StepMinutes
			lim := n.LimitKW
			for _, w := range n.Windows {
				if w.covers(m0, m1) {
					lim = math.Min(lim, w.LimitKW)
				}
			}
			out[k].LimitKW[t] = lim
		}
	}
	// Sites below each node: a site's direct node and all its ancestors.
	byID := make(map[string]int, len(c.Nodes))
	for k, n := range c.Nodes {
		byID[n.ID] = k
	}
	for _, n := range c.Nodes {
		for _, sid := range n.Sites {
			seen := map[string]bool{}
			for p := n.ID; p != "" && !seen[p]; p = parent[p] {
				seen[p] = true
				k := byID[p]
				out[k].Sites = append(out[k].Sites, idx[sid])
			}
		}
	}
	for k := range out {
		sort.Ints(out[k].Sites)
	}
	return out
}

// covers reports whether the window overlaps the minutes [m0, m1) of a day.
func (w Window) covers(m0, m1 int) bool {
	in := func(m int) bool {
		m %= 24 * 60
		if w.from < w.to {
			return m >= w.from && m < w.to
		}
		return m >= w.from || m < w.to
	}
	for m := m0; m < m1; m++ {
		if in(m) {
			return true
		}
	}
	return false
}
