package site

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem with one field of a config file.
type FieldError struct {
	File  string
	Line  int    // line in File (0: unknown)
	Path  string // e.g. "devices[3].endpoint"
	ID    string // id of the device or node the path is in ("" if none)
	Value string // the bad value as written ("" if missing)
	Msg   string
}

// Error reads e.g. `site.yaml: line 95: devices[4].bess.capacity_kwh (device
// bess-1): "-5": must be greater than 0`.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	b.WriteString(e.where())
	if e.Value != "" {
		fmt.Fprintf(&b, ": %q", e.Value)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// where is "line N: PATH (device ID)", with the parts that are known.
func (e *FieldError) where() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Path)
	if e.ID != "" {
		kind := "device"
		if strings.HasPrefix(e.Path, "nodes[") {
			kind = "node"
		}
		fmt.Fprintf(&b, " (%s %s)", kind, e.ID)
	}
	return b.String()
}

// Errors is a list of field errors; it formats one per line.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// UnmarshalYAML reads "15m", "1h30m" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as \"15m\"", n.Line)
	}
	if v, err := time.ParseDuration(n.Value); err == nil {
		d.D = v
		return nil
	}
	if s, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsNaN(s) && !math.IsInf(s, 0) {
		d.D = time.Duration(s * float64(time.Second))
		return nil
	}
	return fmt.Errorf("line %d: %q is not a duration (want e.g. \"15m\", \"24h\")", n.Line, n.Value)
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return d.D.String(), nil }

// Load reads and validates a site config file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read site config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a site config. file is used in error messages and to
// resolve relative paths.
func Parse(file string, data []byte) (*Config, error) {
	cfg := &Config{}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{File: file, Path: "(yaml)", Msg: cleanYAMLError(err)}}
	}
	if root.Kind == 0 || (len(root.Content) > 0 && root.Content[0].Tag == "!!null") {
		return nil, Errors{{File: file, Path: "(file)", Msg: "empty config"}}
	}
	errs, idx := checkDocument(file, &root, cfg)
	if len(errs) > 0 {
		idx.annotate(errs)
		return nil, errs
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: file, Path: "(file)", Msg: "empty config"}}
		}
		return nil, idx.decodeErrors(file, err)
	}
	cfg.File = file
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		var es Errors
		if errors.As(err, &es) {
			idx.annotate(es)
		}
		return nil, err
	}
	cfg.warnings = cfg.plausibility()
	idx.annotate(cfg.warnings)
	cfg.doc = idx
	return cfg, nil
}

// Where names a field of the config for a message from outside package site:
// "line 91: devices[4].endpoint (device bess-1)" for path "devices[4].endpoint", the
// line when the config was parsed from a file.
func (c *Config) Where(path string) string {
	e := &FieldError{Path: path}
	if c.doc != nil {
		c.doc.annotate(Errors{e})
	}
	c.nameItems(Errors{e})
	return e.where()
}

// Warnings are what Parse found implausible but not invalid (a charge rate
// far above what a battery's capacity allows, watts typed as kW), each naming
// the field, its line and value. `gridd config check` prints them and
// `gridd run`/`demo` log them at start.
func (c *Config) Warnings() Errors { return c.warnings }

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.ReplaceAll(s, "unmarshal errors:\n  ", "")
	s = strings.ReplaceAll(s, "\n  ", "; ")
	s = strings.ReplaceAll(s, " in type site.", " in ")
	return s
}

func (c *Config) applyDefaults() {
	if c.Site.Timezone == "" {
		c.Site.Timezone = "UTC"
	}
	if c.Site.Cycle == "" {
		c.Site.Cycle = "*/15 * * * *"
	}
	if c.Site.Step.D == 0 {
		c.Site.Step.D = 15 * time.Minute
	}
	if c.Site.Horizon.D == 0 {
		c.Site.Horizon.D = 24 * time.Hour
	}
	if c.Tariff.Currency == "" {
		c.Tariff.Currency = "EUR"
	}
	if c.Approval.SafeState == "" {
		c.Approval.SafeState = SafeHold
	}
	if c.Safety.CommsLossAfter == 0 {
		c.Safety.CommsLossAfter = 2
	}
	c.applyControlDefaults()
	c.applyIEC104Defaults()
	c.applyOCPPDefaults()
	if c.EV.DefaultDwell.D == 0 {
		c.EV.DefaultDwell.D = 8 * time.Hour
	}
	if c.EV.DefaultEnergyKWh == 0 {
		c.EV.DefaultEnergyKWh = 20
	}
	if c.EV.UnmetPenaltyPerKWh == 0 {
		c.EV.UnmetPenaltyPerKWh = 1
	}
	if c.EV.WearCostPerKWh == nil {
		w := DefaultV2GWearPerKWh
		c.EV.WearCostPerKWh = &w
	}
	c.EV.ChargeEfficiency, c.EV.DischargeEfficiency = c.EV.Efficiencies()
	if c.Tariff.DemandInterval == nil {
		c.Tariff.DemandInterval = &Duration{D: DefaultDemandInterval}
	}
	if da := c.Tariff.DayAhead; da != nil {
		if da.TimeColumn == "" {
			da.TimeColumn = DefaultDayAheadTimeColumn
		}
		if da.ImportColumn == "" {
			da.ImportColumn = DefaultDayAheadImportColumn
		}
		if da.ExportColumn == "" {
			da.ExportColumn = DefaultDayAheadExportColumn
		}
		if da.Interval == nil {
			da.Interval = &Duration{D: DefaultDayAheadInterval}
		}
		if da.Fallback == "" {
			da.Fallback = FallbackNone
			if len(c.Tariff.Import) > 0 {
				da.Fallback = FallbackTOU
			}
		}
	}
	if c.Tariff.DemandPeriod == "" {
		c.Tariff.DemandPeriod = DemandMonthly
	}
	if c.Tariff.DemandBillingDay == 0 && c.Tariff.DemandPeriod == DemandMonthly {
		c.Tariff.DemandBillingDay = 1
	}
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.UnitID == 0 {
			d.UnitID = 1
		}
		if d.Timeout.D == 0 {
			d.Timeout.D = time.Second
		}
		if b := d.BESS; b != nil {
			if b.MaxSoCPct == 0 {
				b.MaxSoCPct = 100
			}
			if b.ChargeEfficiency == 0 {
				b.ChargeEfficiency = 0.95
			}
			if b.DischargeEfficiency == 0 {
				b.DischargeEfficiency = 0.95
			}
		}
		if s := d.Sim; s != nil && s.Scale == 0 {
			s.Scale = 1
		}
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

type validator struct {
	file string
	errs Errors
}

func (v *validator) add(path, value, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.file, Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

func fmtF(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func (v *validator) finite(path string, f float64) bool {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		v.add(path, fmtF(f), "must be a finite number")
		return false
	}
	return true
}

// MaxPriceMagnitude bounds a price in the config: the optimiser's bound on every
// power, energy and price (optimizer.MaxMagnitude).
const MaxPriceMagnitude = 1e9

func (v *validator) nonNeg(path string, f float64) {
	if v.finite(path, f) && f < 0 {
		v.add(path, fmtF(f), "must not be negative")
	}
}

func (v *validator) positive(path string, f float64) {
	if v.finite(path, f) && f <= 0 {
		v.add(path, fmtF(f), "must be greater than 0")
	}
}

func (v *validator) fraction(path string, f float64) {
	if v.finite(path, f) && (f <= 0 || f > 1) {
		v.add(path, fmtF(f), "must be in (0, 1]")
	}
}

func (v *validator) pct(path string, f float64) {
	if v.finite(path, f) && (f < 0 || f > 100) {
		v.add(path, fmtF(f), "must be a percentage in [0, 100]")
	}
}

// Validate checks the whole config and returns Errors listing every problem.
func (c *Config) Validate() error {
	v := &validator{file: c.File}
	c.validateSite(v)
	c.validateTariff(v)
	v.positive("grid.import_limit_kw", c.Grid.ImportLimitKW)
	v.nonNeg("grid.export_limit_kw", c.Grid.ExportLimitKW)
	nodes := c.validateNodes(v)
	c.validateDevices(v, nodes)
	c.validateApproval(v)
	c.validateControl(v)
	c.validateIEC104(v)
	c.validateOCPP(v)
	v.positive("ev.default_dwell", c.EV.DefaultDwell.D.Hours())
	v.nonNeg("ev.default_energy_kwh", c.EV.DefaultEnergyKWh)
	v.nonNeg("ev.unmet_penalty_per_kwh", c.EV.UnmetPenaltyPerKWh)
	if w := c.EV.WearCostPerKWh; w != nil {
		v.nonNeg("ev.wear_cost_per_kwh", *w)
	}
	for _, e := range []struct {
		path string
		f    float64
	}{{"ev.charge_efficiency", c.EV.ChargeEfficiency}, {"ev.discharge_efficiency", c.EV.DischargeEfficiency}} {
		if e.f != 0 { // 0 = the default
			v.fraction(e.path, e.f)
		}
	}
	v.pct("safety.reserve_soc_pct", c.Safety.ReserveSoCPct)
	if c.Sim.Start != "" {
		if t, err := time.Parse(time.RFC3339, c.Sim.Start); err != nil {
			v.add("sim.start", c.Sim.Start, "want an RFC 3339 time such as 2019-06-03T00:00:00Z")
		} else if y := t.UTC().Year(); y < 1970 || y > 9999 {
			// The simulated clock starts here and every stored record is dated by it.
			v.add("sim.start", c.Sim.Start, "want a time from 1970 to 9999 (UTC)")
		}
	}
	if len(v.errs) > 0 {
		c.nameItems(v.errs)
		return v.errs
	}
	return nil
}

// nameItems sets the ID of errors whose path is in a device or node.
func (c *Config) nameItems(errs Errors) {
	for _, e := range errs {
		if e.ID != "" {
			continue
		}
		var i int
		switch {
		case scanIndex(e.Path, "devices[", &i) && i < len(c.Devices):
			e.ID = c.Devices[i].ID
		case scanIndex(e.Path, "nodes[", &i) && i < len(c.Nodes):
			e.ID = c.Nodes[i].ID
		}
	}
}

func scanIndex(path, prefix string, i *int) bool {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return false
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return false
	}
	*i = n
	return true
}

func (c *Config) validateSite(v *validator) {
	s := &c.Site
	if s.Name == "" {
		v.add("site.name", "", "is required")
	}
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		v.add("site.timezone", s.Timezone, "unknown time zone (want an IANA name such as Europe/Berlin)")
	} else {
		s.Location = loc
	}
	if _, err := ParseCycle(s.Cycle); err != nil {
		v.add("site.cycle", s.Cycle, "not a usable cron spec: %v", err)
	}
	if s.Step.D < time.Minute || s.Step.D > 24*time.Hour || s.Step.D%time.Minute != 0 {
		v.add("site.step", s.Step.D.String(), "must be a whole number of minutes between 1m and 24h")
	} else if (24*time.Hour)%s.Step.D != 0 {
		v.add("site.step", FormatDuration(s.Step.D), "must divide a day evenly")
	}
	switch {
	case (s.LatitudeDeg == nil) != (s.LongitudeDeg == nil):
		v.add("site.latitude", fmtOpt(s.LatitudeDeg), "site.latitude and site.longitude go together (longitude %s)", fmtOpt(s.LongitudeDeg))
	case s.LatitudeDeg != nil && !(*s.LatitudeDeg >= -90 && *s.LatitudeDeg <= 90):
		v.add("site.latitude", fmtOpt(s.LatitudeDeg), "must be in [-90, 90] degrees")
	case s.LongitudeDeg != nil && !(*s.LongitudeDeg >= -180 && *s.LongitudeDeg <= 180):
		v.add("site.longitude", fmtOpt(s.LongitudeDeg), "must be in [-180, 180] degrees")
	}
	if s.Horizon.D < s.Step.D || s.Horizon.D > 7*24*time.Hour {
		v.add("site.horizon", s.Horizon.D.String(), "must be at least one step and at most 168h")
	} else if s.Step.D > 0 && s.Horizon.D%s.Step.D != 0 {
		v.add("site.horizon", s.Horizon.D.String(), "must be a whole number of steps (step %s)", s.Step.D)
	}
}

// fmtOpt formats an optional number for error messages.
func fmtOpt(f *float64) string {
	if f == nil {
		return "unset"
	}
	return strconv.FormatFloat(*f, 'g', -1, 64)
}

func (c *Config) validateTariff(v *validator) {
	t := &c.Tariff
	da := t.DayAhead
	switch {
	case len(t.Import) == 0 && da == nil:
		v.add("tariff.import", "", "at least one time-of-use band is required (or a tariff.day_ahead feed)")
	case len(t.Import) > 0:
		validateBands(v, "tariff.import", t.Import)
	}
	if da != nil {
		validateDayAhead(v, da, len(t.Import) > 0)
	}
	if len(t.Export) > 0 {
		validateBands(v, "tariff.export", t.Export)
	} else {
		v.finite("tariff.export_price_per_kwh", t.ExportFlatPerKWh)
	}
	v.nonNeg("tariff.demand_charge_per_kw", t.DemandChargePerKW)
	if t.DemandChargePerKW > MaxPriceMagnitude {
		v.add("tariff.demand_charge_per_kw", fmtF(t.DemandChargePerKW), "must be at most %g (prices beyond it make the dispatch problem numerically meaningless)", MaxPriceMagnitude)
	}
	if di := t.DemandInterval; di != nil {
		switch d := di.D; {
		case d <= 0:
			v.add("tariff.demand_interval", FormatDuration(d), "must be greater than 0 (e.g. 15m)")
		case d%time.Minute != 0 || d > 24*time.Hour:
			v.add("tariff.demand_interval", d.String(), "must be a whole number of minutes, at most 24h")
		case (24*time.Hour)%d != 0:
			v.add("tariff.demand_interval", FormatDuration(d), "must divide a day evenly, and so every billing period (e.g. 5m, 15m, 30m, 1h)")
		}
	}
	switch t.DemandPeriod {
	case "", DemandDaily, DemandWeekly, DemandMonthly:
	default:
		v.add("tariff.demand_period", t.DemandPeriod, "want %s, %s or %s", DemandMonthly, DemandWeekly, DemandDaily)
	}
	if bd := t.DemandBillingDay; bd != 0 {
		if bd < 1 || bd > 28 {
			v.add("tariff.demand_billing_day", strconv.Itoa(bd), "must be a day of the month in 1..28 (every month has it)")
		} else if t.DemandPeriod != "" && t.DemandPeriod != DemandMonthly {
			v.add("tariff.demand_billing_day", strconv.Itoa(bd), "only applies to a monthly demand_period, not %q", t.DemandPeriod)
		}
	}
	if f := t.PeakMarginFactor; f != nil && v.finite("tariff.peak_margin_factor", *f) && (*f < 0 || *f > 10) {
		v.add("tariff.peak_margin_factor", fmtF(*f), "must be in [0, 10] (0 = no margin)")
	}
	if len(v.errs) == 0 && len(t.Import) > 0 {
		// Export must never pay more than import at the same time (the LP would be unbounded).
		for m := 0; m < 24*60; m++ {
			imp := bandPrice(t.Import, m)
			exp := t.ExportFlatPerKWh
			if len(t.Export) > 0 {
				exp = bandPrice(t.Export, m)
			}
			if exp > imp {
				v.add("tariff", fmt.Sprintf("%02d:%02d", m/60, m%60),
					"export price %s is above import price %s at this time", fmtF(exp), fmtF(imp))
				break
			}
		}
	}
}

func validateDayAhead(v *validator, da *DayAhead, bands bool) {
	if d := da.Interval; d != nil {
		switch {
		case d.D <= 0 || d.D%time.Minute != 0 || d.D > 24*time.Hour:
			v.add("tariff.day_ahead.interval", d.D.String(), "must be a whole number of minutes from 1m to 24h (e.g. 30m)")
		case (24*time.Hour)%d.D != 0:
			v.add("tariff.day_ahead.interval", FormatDuration(d.D), "must divide a day evenly (e.g. 30m, 1h)")
		}
	}
	switch da.Fallback {
	case FallbackNone:
	case FallbackTOU:
		if !bands {
			v.add("tariff.day_ahead.fallback", da.Fallback, "needs tariff.import bands to fall back on")
		}
	default:
		v.add("tariff.day_ahead.fallback", da.Fallback, "want %s or %s", FallbackTOU, FallbackNone)
	}
	for _, c := range []struct{ path, name string }{
		{"tariff.day_ahead.time_column", da.TimeColumn}, {"tariff.day_ahead.import_column", da.ImportColumn}, {"tariff.day_ahead.export_column", da.ExportColumn},
	} {
		if strings.TrimSpace(c.name) != c.name || strings.ContainsAny(c.name, ",\"\n") {
			v.add(c.path, c.name, "must be a CSV column name without spaces around it, commas, quotes or line breaks")
		}
	}
}

func parseClock(s string) (int, bool) {
	if s == "24:00" {
		return 24 * 60, true
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func validateBands(v *validator, path string, bands []TOUBand) {
	type span struct{ from, to, i int }
	var spans []span
	ok := true
	for i, b := range bands {
		p := fmt.Sprintf("%s[%d]", path, i)
		from, okF := parseClock(b.From)
		if !okF || from >= 24*60 {
			v.add(p+".from", b.From, "want a time of day HH:MM")
			ok = false
		}
		to, okT := parseClock(b.To)
		if !okT {
			v.add(p+".to", b.To, "want a time of day HH:MM (24:00 allowed)")
			ok = false
		}
		v.finite(p+".price_per_kwh", b.PricePerKWh)
		if okF && okT {
			if to == 0 {
				to = 24 * 60
			}
			if to <= from {
				v.add(p+".to", b.To, "must be after from %s (split bands that cross midnight)", b.From)
				ok = false
			}
			spans = append(spans, span{from, to, i})
		}
	}
	if !ok || len(spans) == 0 {
		return
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].from < spans[b].from })
	at := 0
	for _, s := range spans {
		if s.from > at {
			v.add(path, fmt.Sprintf("%02d:%02d", at/60, at%60), "no band covers this time of day (bands must cover 00:00-24:00)")
			return
		}
		if s.from < at {
			v.add(fmt.Sprintf("%s[%d].from", path, s.i), bands[s.i].From, "overlaps another band")
			return
		}
		at = s.to
	}
	if at < 24*60 {
		v.add(path, fmt.Sprintf("%02d:%02d", at/60, at%60), "no band covers this time of day (bands must cover 00:00-24:00)")
	}
}

// bandPrice returns the price of the band covering minute-of-day m (bands validated).
func bandPrice(bands []TOUBand, m int) float64 {
	for _, b := range bands {
		from, _ := parseClock(b.From)
		to, _ := parseClock(b.To)
		if to == 0 {
			to = 24 * 60
		}
		if m >= from && m < to {
			return b.PricePerKWh
		}
	}
	return math.NaN()
}

func (c *Config) validateNodes(v *validator) map[string]*Node {
	nodes := map[string]*Node{}
	if len(c.Nodes) == 0 {
		v.add("nodes", "", "at least the substation (root) node is required")
		return nodes
	}
	roots := 0
	for i := range c.Nodes {
		n := &c.Nodes[i]
		p := fmt.Sprintf("nodes[%d]", i)
		if !idPattern.MatchString(n.ID) {
			v.add(p+".id", n.ID, "want 1-64 letters, digits, '_', '.' or '-'")
		} else if _, dup := nodes[n.ID]; dup {
			v.add(p+".id", n.ID, "duplicate node id")
		} else {
			nodes[n.ID] = n
		}
		v.positive(p+".limit_kw", n.LimitKW)
		if n.Parent == "" {
			roots++
		}
	}
	if roots != 1 {
		v.add("nodes", strconv.Itoa(roots), "exactly one root node (parent \"\") is required, found %d", roots)
	}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.Parent == "" {
			continue
		}
		if _, ok := nodes[n.Parent]; !ok {
			v.add(fmt.Sprintf("nodes[%d].parent", i), n.Parent, "unknown node")
			continue
		}
		// Walk up: a cycle never reaches the root.
		seen := map[string]bool{n.ID: true}
		for cur := nodes[n.Parent]; cur != nil && cur.Parent != ""; cur = nodes[cur.Parent] {
			if seen[cur.ID] {
				v.add(fmt.Sprintf("nodes[%d].parent", i), n.Parent, "node tree has a cycle through %q", cur.ID)
				break
			}
			seen[cur.ID] = true
		}
	}
	return nodes
}

func (c *Config) validateDevices(v *validator, nodes map[string]*Node) {
	ids := map[string]bool{}
	type ep struct {
		host string
		unit int
	}
	endpoints := map[ep]string{}
	for i := range c.Devices {
		d := &c.Devices[i]
		p := fmt.Sprintf("devices[%d]", i)
		if !idPattern.MatchString(d.ID) {
			v.add(p+".id", d.ID, "want 1-64 letters, digits, '_', '.' or '-'")
		} else if ids[d.ID] {
			v.add(p+".id", d.ID, "duplicate device id")
		}
		ids[d.ID] = true
		if !validKind(d.Kind) {
			v.add(p+".kind", d.Kind, "unknown kind (want one of %s)", strings.Join(Kinds, ", "))
		}
		if _, ok := nodes[d.Node]; !ok {
			v.add(p+".node", d.Node, "unknown node")
		}
		if err := checkEndpoint(d.Endpoint); err != nil {
			v.add(p+".endpoint", d.Endpoint, "%v", err)
		}
		if d.UnitID < 0 || d.UnitID > 247 {
			v.add(p+".unit_id", strconv.Itoa(d.UnitID), "must be in 1..247")
		}
		k := ep{d.Endpoint, d.UnitID}
		if other, dup := endpoints[k]; dup && d.Endpoint != "" {
			v.add(p+".unit_id", strconv.Itoa(d.UnitID), "device %q already uses unit %d at %s", other, d.UnitID, d.Endpoint)
		}
		endpoints[k] = d.ID
		if d.Profile == "" {
			v.add(p+".profile", "", "is required (\"builtin:NAME\" or a file path)")
		}
		if d.Timeout.D < time.Millisecond || d.Timeout.D > time.Minute {
			v.add(p+".timeout", d.Timeout.D.String(), "must be between 1ms and 1m")
		}
		c.validateParams(v, p, d)
		c.validateDeviceSafety(v, p, d)
	}
}

func (c *Config) validateApproval(v *validator) {
	a := &c.Approval
	v.nonNeg("approval.max_cost_increase", a.MaxCostIncrease)
	v.nonNeg("approval.max_setpoint_change_kw", a.MaxSetpointChangeKW)
	if a.Deadline.D < 0 {
		v.add("approval.deadline", a.Deadline.D.String(), "must not be negative")
	}
	if a.SafeState != SafeHold && a.SafeState != SafeZero {
		v.add("approval.safe_state", a.SafeState, "want %q or %q", SafeHold, SafeZero)
	}
	s := &c.Safety
	if s.CommsLossAfter < 1 || s.CommsLossAfter > 1000 {
		v.add("safety.comms_loss_after", strconv.Itoa(s.CommsLossAfter), "must be in 1..1000")
	}
	kinds := make([]string, 0, len(s.CommsLoss))
	for k := range s.CommsLoss {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if k != KindBESS && k != KindPV && k != KindEVCharger {
			v.add("safety.comms_loss", k, "want a controllable device kind (%s, %s, %s)", KindBESS, KindPV, KindEVCharger)
		}
		if !validCommsLoss(s.CommsLoss[k]) {
			v.add("safety.comms_loss."+k, s.CommsLoss[k], "want %s, %s or %s", SafeHold, SafeLastSafe, SafeZero)
		}
	}
}

func validCommsLoss(a string) bool { return a == SafeHold || a == SafeLastSafe || a == SafeZero }

func (c *Config) validateDeviceSafety(v *validator, p string, d *Device) {
	s := d.Safety
	if s == nil {
		return
	}
	p += ".safety"
	if d.Kind != KindBESS && d.Kind != KindPV && d.Kind != KindEVCharger {
		v.add(p, "", "only allowed on a controllable device (bess, pv, ev_charger), this one is %q", d.Kind)
		return
	}
	lo, hi := d.RatedRangeKW()
	if s.MinKW != nil && v.finite(p+".min_kw", *s.MinKW) && (*s.MinKW < lo || *s.MinKW > hi) {
		v.add(p+".min_kw", fmtF(*s.MinKW), "must be within the device rating [%s, %s]", fmtF(lo), fmtF(hi))
	}
	if s.MaxKW != nil && v.finite(p+".max_kw", *s.MaxKW) && (*s.MaxKW < lo || *s.MaxKW > hi) {
		v.add(p+".max_kw", fmtF(*s.MaxKW), "must be within the device rating [%s, %s]", fmtF(lo), fmtF(hi))
	}
	if s.MinKW != nil && s.MaxKW != nil && *s.MinKW > *s.MaxKW {
		v.add(p+".min_kw", fmtF(*s.MinKW), "is above max_kw %s", fmtF(*s.MaxKW))
	}
	v.nonNeg(p+".ramp_kw_per_min", s.RampKWPerMin)
	v.pct(p+".reserve_soc_pct", s.ReserveSoCPct)
	v.pct(p+".soc_guard_pct", s.SoCGuardPct)
	if (s.ReserveSoCPct != 0 || s.SoCGuardPct != 0) && d.Kind != KindBESS {
		v.add(p, "", "reserve_soc_pct and soc_guard_pct only apply to a bess device")
	}
	if s.CommsLoss != "" && !validCommsLoss(s.CommsLoss) {
		v.add(p+".comms_loss", s.CommsLoss, "want %s, %s or %s", SafeHold, SafeLastSafe, SafeZero)
	}
}

// RatedRangeKW returns the range of the device's setpoint from its ratings: for a
// battery or charger [-max discharge, max charge] (sign convention), for a PV plant the
// generation cap [0, capacity]; 0, 0 for devices without a setpoint.
func (d *Device) RatedRangeKW() (lo, hi float64) {
	switch {
	case d.Kind == KindBESS && d.BESS != nil:
		return -d.BESS.MaxDischargeKW, d.BESS.MaxChargeKW
	case d.Kind == KindEVCharger && d.EV != nil:
		return -d.EV.MaxDischargeKW, d.EV.MaxChargeKW
	case d.Kind == KindPV && d.PV != nil:
		return 0, d.PV.CapacityKW
	}
	return 0, 0
}

func validKind(k string) bool {
	for _, x := range Kinds {
		if k == x {
			return true
		}
	}
	return false
}

func (c *Config) validateParams(v *validator, p string, d *Device) {
	need := func(name string, present bool) {
		if !present {
			v.add(p+"."+name, "", "is required for a %s device", d.Kind)
		}
	}
	switch d.Kind {
	case KindBESS:
		need("bess", d.BESS != nil)
		if b := d.BESS; b != nil {
			v.positive(p+".bess.capacity_kwh", b.CapacityKWh)
			v.pct(p+".bess.min_soc_pct", b.MinSoCPct)
			v.pct(p+".bess.max_soc_pct", b.MaxSoCPct)
			if b.MinSoCPct > b.MaxSoCPct {
				v.add(p+".bess.min_soc_pct", fmtF(b.MinSoCPct), "is above max_soc_pct %s", fmtF(b.MaxSoCPct))
			}
			v.nonNeg(p+".bess.max_charge_kw", b.MaxChargeKW)
			v.nonNeg(p+".bess.max_discharge_kw", b.MaxDischargeKW)
			v.fraction(p+".bess.charge_efficiency", b.ChargeEfficiency)
			v.fraction(p+".bess.discharge_efficiency", b.DischargeEfficiency)
			v.nonNeg(p+".bess.wear_cost_per_kwh", b.WearCostPerKWh)
			if r := c.ReserveSoCPct(d); r > b.MaxSoCPct {
				path := p + ".safety.reserve_soc_pct"
				if d.Safety == nil || d.Safety.ReserveSoCPct < r {
					path = "safety.reserve_soc_pct"
				}
				v.add(path, fmtF(r), "is above %s.bess.max_soc_pct %s: the battery could never be above its reserve", p, fmtF(b.MaxSoCPct))
			}
			if t := b.TerminalSoCPct; t != nil {
				v.pct(p+".bess.terminal_soc_pct", *t)
				if *t > b.MaxSoCPct {
					v.add(p+".bess.terminal_soc_pct", fmtF(*t), "is above max_soc_pct %s", fmtF(b.MaxSoCPct))
				}
			}
		}
	case KindPV:
		need("pv", d.PV != nil)
		if d.PV != nil {
			v.positive(p+".pv.capacity_kw", d.PV.CapacityKW)
			if t := d.PV.TiltDeg; t != nil && !(*t >= 0 && *t <= 90) {
				v.add(p+".pv.tilt_deg", fmtOpt(t), "must be in [0, 90] degrees")
			}
			if a := d.PV.AzimuthDeg; a != nil && !(*a >= 0 && *a <= 360) {
				v.add(p+".pv.azimuth_deg", fmtOpt(a), "must be in [0, 360] degrees")
			}
		}
	case KindEVCharger:
		need("ev_charger", d.EV != nil)
		if e := d.EV; e != nil {
			v.positive(p+".ev_charger.max_charge_kw", e.MaxChargeKW)
			v.nonNeg(p+".ev_charger.max_discharge_kw", e.MaxDischargeKW)
			v.nonNeg(p+".ev_charger.v2g_budget_kwh", e.V2GBudgetKWh)
		}
	}
	extra := func(name string, present bool, kind string) {
		if present && d.Kind != kind {
			v.add(p+"."+name, "", "only allowed on a %s device, this one is %q", kind, d.Kind)
		}
	}
	extra("bess", d.BESS != nil, KindBESS)
	extra("pv", d.PV != nil, KindPV)
	extra("ev_charger", d.EV != nil, KindEVCharger)
	if s := d.Sim; s != nil {
		v.finite(p+".sim.scale", s.Scale)
		v.pct(p+".sim.initial_soc_pct", s.InitialSoCPct)
		if sh := s.Shift.D; sh%time.Hour != 0 || sh > 24*time.Hour || sh < -24*time.Hour {
			v.add(p+".sim.shift", sh.String(), "must be whole hours within 24h either way")
		}
	}
}
