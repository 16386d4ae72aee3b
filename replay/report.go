package replay

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report file names inside a report directory.
const (
	KPIFile    = "kpis.json"
	StepsFile  = "steps.csv"
	ReportFile = "report.html"
)

// Summary is the content of kpis.json.
type Summary struct {
	Site        string   `json:"site"`
	Strategy    string   `json:"strategy"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	StepMinutes int      `json:"step_minutes"`
	Source      string   `json:"history"`
	Sets        []string `json:"sets"`
	Currency    string   `json:"currency"`
	// Timezone is the site's; the report's time axes are in it.
	Timezone    string   `json:"timezone,omitempty"`
	KPIs        KPIs     `json:"kpis"`
	CycleErrors []string `json:"cycle_errors"`
	Notes       []string `json:"notes"`
}

// Summary returns the replay's kpis.json content. Every float is rounded to 6
// significant decimals so the file is stable across platforms.
func (r *Result) Summary() Summary {
	sets := append([]string{}, r.Sets...)
	errs := append([]string{}, r.CycleErrors...)
	notes := append([]string{}, r.Notes...)
	k := r.KPIs
	if k.FirstViolations == nil {
		k.FirstViolations = []string{}
	}
	roundKPIs(&k)
	return Summary{Site: r.Site, Strategy: r.Strategy, From: r.From.Format(time.RFC3339), To: r.To.Format(time.RFC3339),
		StepMinutes: r.StepMinutes, Source: r.Source, Sets: sets, Currency: r.Currency, Timezone: r.Timezone, KPIs: k, CycleErrors: errs, Notes: notes}
}

func round6(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	r := math.Round(v*1e6) / 1e6
	if r == 0 {
		return 0
	}
	return r
}

func roundKPIs(k *KPIs) {
	for _, p := range []*float64{&k.ImportKWh, &k.ExportKWh, &k.EnergyCost, &k.DemandCharge, &k.BatteryWearCost, &k.EVUnmetPenalty, &k.TotalCost,
		&k.PeakImportKW, &k.LoadKWh, &k.PVKWh, &k.PVCurtailedKWh, &k.SelfConsumptionPct, &k.SelfSufficiencyPct,
		&k.EVRequestedKWh, &k.EVDeliveredKWh, &k.EVUnmetKWh, &k.EVEnergyKWh, &k.BatteryThroughputKWh, &k.BatteryEquivalentCycles,
		&k.ForecastLoadMAEKW, &k.ForecastLoadNMAEPct, &k.ForecastLoadMAE1KW, &k.ForecastPVMAEKW, &k.ForecastPVNMAEPct, &k.ForecastPVMAE1KW} {
		*p = round6(*p)
	}
}

var stepsHeader = []string{"time", "import_price_per_kwh", "export_price_per_kwh", "load_kw", "pv_kw", "pv_available_kw",
	"bess_kw", "ev_kw", "grid_kw", "soc_kwh", "cost", "cumulative_cost", "violations"}

// WriteReport writes kpis.json, steps.csv and report.html into dir (created if
// needed). The same Result always gives byte-identical files.
func (r *Result) WriteReport(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	sum := r.Summary()
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KPIFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := r.writeSteps(filepath.Join(dir, StepsFile)); err != nil {
		return err
	}
	series := []Series{{Name: r.Strategy, Steps: r.Steps}}
	return writeHTML(filepath.Join(dir, ReportFile), []Summary{sum}, series)
}

func f3(v float64) string {
	s := strconv.FormatFloat(round6(v), 'f', 3, 64)
	if s == "-0.000" {
		return "0.000"
	}
	return s
}

func (r *Result) writeSteps(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	w := csv.NewWriter(bufio.NewWriter(f))
	_ = w.Write(stepsHeader)
	dt := float64(r.StepMinutes) / 60
	cum := 0.0
	for _, s := range r.Steps {
		c := stepCost(s, dt)
		cum += c
		_ = w.Write([]string{s.Time.UTC().Format(time.RFC3339), f3(s.ImportPrice), f3(s.ExportPrice), f3(s.LoadKW), f3(s.PVKW), f3(s.PVAvailKW),
			f3(s.BESSKW), f3(s.EVKW), f3(s.GridKW), f3(s.SoCKWh), strconv.FormatFloat(round6(c), 'f', 4, 64), strconv.FormatFloat(round6(cum), 'f', 4, 64),
			strconv.Itoa(len(s.Violations))})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("report: %w", err)
	}
	return f.Close()
}

func stepCost(s StepRecord, dt float64) float64 {
	return (math.Max(s.GridKW, 0)*s.ImportPrice - math.Max(-s.GridKW, 0)*s.ExportPrice) * dt
}

// Series is one report's per-step records, for plotting.
type Series struct {
	Name  string
	Steps []StepRecord
}

// readReport reads kpis.json and steps.csv back from a report directory.
func readReport(dir string) (Summary, Series, error) {
	var sum Summary
	b, err := os.ReadFile(filepath.Join(dir, KPIFile))
	if err != nil {
		return sum, Series{}, fmt.Errorf("compare: %s is not a replay report: %w", dir, err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		return sum, Series{}, fmt.Errorf("compare: %s: %w", filepath.Join(dir, KPIFile), err)
	}
	f, err := os.Open(filepath.Join(dir, StepsFile))
	if err != nil {
		return sum, Series{}, fmt.Errorf("compare: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return sum, Series{}, fmt.Errorf("compare: %s: %w", filepath.Join(dir, StepsFile), err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != strings.Join(stepsHeader, ",") {
		return sum, Series{}, fmt.Errorf("compare: %s: unexpected header", filepath.Join(dir, StepsFile))
	}
	ser := Series{Name: label(sum, dir)}
	for i, row := range rows[1:] {
		var s StepRecord
		t, err := time.Parse(time.RFC3339, row[0])
		if err != nil {
			return sum, Series{}, fmt.Errorf("compare: %s line %d: time %q: %w", StepsFile, i+2, row[0], err)
		}
		s.Time = t
		vals := make([]float64, 9)
		for j := range vals {
			v, err := strconv.ParseFloat(row[j+1], 64)
			if err != nil {
				return sum, Series{}, fmt.Errorf("compare: %s line %d: %s %q: not a number", StepsFile, i+2, stepsHeader[j+1], row[j+1])
			}
			vals[j] = v
		}
		s.ImportPrice, s.ExportPrice, s.LoadKW, s.PVKW, s.PVAvailKW, s.BESSKW, s.EVKW, s.GridKW, s.SoCKWh =
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8]
		ser.Steps = append(ser.Steps, s)
	}
	return sum, ser, nil
}

func label(sum Summary, dir string) string {
	l := sum.Strategy
	if len(sum.Sets) > 0 {
		l += " " + strings.Join(sum.Sets, " ")
	}
	return l + " (" + filepath.Base(dir) + ")"
}

// Comparison is several reports side by side.
type Comparison struct {
	Dirs      []string
	Summaries []Summary
	Series    []Series
}

// Compare reads the reports in dirs (written by WriteReport).
func Compare(dirs []string) (*Comparison, error) {
	if len(dirs) < 2 {
		return nil, errors.New("compare: name at least two report directories")
	}
	c := &Comparison{Dirs: dirs}
	for _, d := range dirs {
		sum, ser, err := readReport(d)
		if err != nil {
			return nil, err
		}
		c.Summaries = append(c.Summaries, sum)
		c.Series = append(c.Series, ser)
	}
	// Name each report by its strategy and the edits the others do not share.
	common := map[string]int{}
	for _, s := range c.Summaries {
		for _, x := range s.Sets {
			common[x]++
		}
	}
	for i, s := range c.Summaries {
		l := s.Strategy
		for _, x := range s.Sets {
			if common[x] < len(c.Summaries) {
				l += " " + x
			}
		}
		c.Series[i].Name = l + " (" + filepath.Base(dirs[i]) + ")"
	}
	return c, nil
}

// CostOfForecastError returns, when the comparison holds an optimize and a hindsight
// report over the same period and site edits, optimize's total cost minus hindsight's.
func (c *Comparison) CostOfForecastError() (float64, bool) {
	a, b, ok := c.pair(Optimize, "", Hindsight)
	if !ok {
		return 0, false
	}
	return a.KPIs.TotalCost - b.KPIs.TotalCost, true
}

// controlOff is the --set edit that replays without the real-time layer.
const controlOff = "control.disabled=true"

// ForecastErrorSplit splits the cost of forecast error when the comparison also holds
// an optimize report replayed without the real-time layer (--set control.disabled=true,
// otherwise the same edits): plans is what planning on forecasts cost against
// hindsight without the layer, recovered what the layer won back of it, and left what
// remains with it (plans = recovered + left).
func (c *Comparison) ForecastErrorSplit() (plans, recovered, left float64, ok bool) {
	opt, hind, ok1 := c.pair(Optimize, "", Hindsight)
	off, _, ok2 := c.pair(Optimize, controlOff, Hindsight)
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	plans = off.KPIs.TotalCost - hind.KPIs.TotalCost
	recovered = off.KPIs.TotalCost - opt.KPIs.TotalCost
	left = opt.KPIs.TotalCost - hind.KPIs.TotalCost
	return plans, recovered, left, true
}

// pair finds a report of strategy sa whose edits are those of a report of strategy sb
// plus extra ("" for none), over the same period.
func (c *Comparison) pair(sa, extra, sb string) (Summary, Summary, bool) {
	for _, a := range c.Summaries {
		if a.Strategy != sa {
			continue
		}
		var sets []string
		has := extra == ""
		for _, x := range a.Sets {
			if x == extra {
				has = true
				continue
			}
			sets = append(sets, x)
		}
		if !has {
			continue
		}
		if extra == "" && slices.Contains(a.Sets, controlOff) {
			continue
		}
		for _, b := range c.Summaries {
			if b.Strategy == sb && a.From == b.From && a.To == b.To && strings.Join(sets, " ") == strings.Join(b.Sets, " ") {
				return a, b, true
			}
		}
	}
	return Summary{}, Summary{}, false
}

// kpiRows are the rows of the KPI tables: label, unit and value.
func kpiRows(s Summary) [][3]string {
	k := s.KPIs
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	cur := s.Currency
	return [][3]string{
		{"total cost", cur, f(k.TotalCost, 2)},
		{"energy cost", cur, f(k.EnergyCost, 2)},
		{"demand charge", cur, f(k.DemandCharge, 2)},
		{"battery wear", cur, f(k.BatteryWearCost, 2)},
		{"EV unmet energy penalty", cur, f(k.EVUnmetPenalty, 2)},
		{"peak import", "kW", f(k.PeakImportKW, 1)},
		{"grid import", "kWh", f(k.ImportKWh, 0)},
		{"grid export", "kWh", f(k.ExportKWh, 0)},
		{"self-consumption", "%", f(k.SelfConsumptionPct, 1)},
		{"self-sufficiency", "%", f(k.SelfSufficiencyPct, 1)},
		{"PV curtailed", "kWh", f(k.PVCurtailedKWh, 0)},
		{"EV sessions", "", strconv.Itoa(k.EVSessions)},
		{"EV energy requested", "kWh", f(k.EVRequestedKWh, 0)},
		{"EV energy delivered", "kWh", f(k.EVDeliveredKWh, 0)},
		{"EV unmet sessions", "", strconv.Itoa(k.EVUnmetSessions)},
		{"EV unmet energy", "kWh", f(k.EVUnmetKWh, 1)},
		{"battery throughput", "kWh", f(k.BatteryThroughputKWh, 0)},
		{"battery equivalent cycles", "", f(k.BatteryEquivalentCycles, 1)},
		{"limit violations", "steps", strconv.Itoa(k.LimitViolationSteps)},
		{"plan peak target (highest)", "kW", f(k.PlanPeakTargetKW, 1)},
		{"steps below a battery reserve", "steps", strconv.Itoa(k.BelowReserveSteps)},
		{"real-time corrections", "setpoints", strconv.Itoa(k.ControlCorrections)},
		{"load forecast MAE (NMAE)", "kW", f(k.ForecastLoadMAEKW, 2) + " (" + f(k.ForecastLoadNMAEPct, 1) + " %)"},
		{"PV forecast MAE (NMAE)", "kW", f(k.ForecastPVMAEKW, 2) + " (" + f(k.ForecastPVNMAEPct, 1) + " %)"},
		{"failed cycles", "", strconv.Itoa(k.FailedCycles)},
		{"relaxed plans (infeasible scenario)", "cycles", strconv.Itoa(k.RelaxedCycles)},
		{"proposals held for a dispatcher", "cycles", strconv.Itoa(k.HeldCycles)},
	}
}

// WriteText prints the comparison as an aligned text table.
func (c *Comparison) WriteText(w io.Writer) error {
	rows := make([][]string, 0, 24)
	head := []string{"KPI", "unit"}
	for i := range c.Summaries {
		head = append(head, c.Series[i].Name)
	}
	rows = append(rows, head)
	for i := range kpiRows(c.Summaries[0]) {
		r := kpiRows(c.Summaries[0])[i]
		row := []string{r[0], r[1]}
		for _, s := range c.Summaries {
			row = append(row, kpiRows(s)[i][2])
		}
		rows = append(rows, row)
	}
	if v, ok := c.CostOfForecastError(); ok {
		row := []string{"cost of forecast error", c.Summaries[0].Currency, strconv.FormatFloat(v, 'f', 2, 64)}
		rows = append(rows, row)
		if _, h, _ := c.pair(Optimize, "", Hindsight); h.KPIs.TotalCost > 0 {
			rows = append(rows, []string{"  share of hindsight's cost", "%", strconv.FormatFloat(100*v/h.KPIs.TotalCost, 'f', 2, 64)})
		}
	}
	if plans, rec, left, ok := c.ForecastErrorSplit(); ok {
		cur := c.Summaries[0].Currency
		rows = append(rows,
			[]string{"  of the plans (without the real-time layer)", cur, strconv.FormatFloat(plans, 'f', 2, 64)},
			[]string{"  recovered by the real-time layer", cur, strconv.FormatFloat(rec, 'f', 2, 64)},
			[]string{"  left with the real-time layer", cur, strconv.FormatFloat(left, 'f', 2, 64)})
	}
	width := make([]int, len(head))
	for _, r := range rows {
		for j, x := range r {
			width[j] = max(width[j], len(x))
		}
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		for j, x := range r {
			if j > 0 {
				bw.WriteString("  ")
			}
			if j >= 2 {
				bw.WriteString(strings.Repeat(" ", width[j]-len(x)) + x)
			} else {
				bw.WriteString(x + strings.Repeat(" ", width[j]-len(x)))
			}
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
}

// WriteHTML writes the comparison as report.html into dir.
func (c *Comparison) WriteHTML(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	return writeHTML(filepath.Join(dir, ReportFile), c.Summaries, c.Series)
}

// reportPage is the page of report.html; the plots are SVG that svgPlot builds with
// every text escaped.
var reportPage = template.Must(template.New(ReportFile).Funcs(template.FuncMap{"join": strings.Join}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gridd replay: {{.First.Site}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{display:block;margin:1em 0}</style></head><body>
<h1>Replay of {{.First.Site}}</h1>
<p>{{.First.From}} to {{.First.To}}, {{.First.StepMinutes}}-minute steps; history: {{.First.Source}}.</p>
<h2>KPIs</h2>
<table><tr><th>KPI</th><th>unit</th>{{range .Sums}}<th>{{.Strategy}}{{if .Sets}}<br>{{join .Sets " "}}{{end}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{range .Sums}}{{$s := .Strategy}}{{range .Notes}}<p>Note ({{$s}}): {{.}}</p>
{{end}}{{if .CycleErrors}}<p>First failed cycles ({{$s}}): {{join .CycleErrors "; "}}</p>
{{end}}{{if .KPIs.FirstViolations}}<p>First limit violations ({{$s}}): {{join .KPIs.FirstViolations "; "}}</p>
{{end}}{{end}}{{range .Figures}}<h2>{{.Title}}</h2>
{{.SVG}}{{end}}</body></html>
`))

type reportFigure struct {
	Title string
	SVG   template.HTML
}

func writeHTML(path string, sums []Summary, series []Series) error {
	first := sums[0]
	loc := time.UTC // reports written before the site's zone was recorded: UTC, as labelled
	if l, err := time.LoadLocation(first.Timezone); err == nil && first.Timezone != "" {
		loc = l
	}
	page := struct {
		First   Summary
		Sums    []Summary
		Rows    [][]string // KPI, unit, then one value per summary
		Figures []reportFigure
	}{First: first, Sums: sums}
	for i, r := range kpiRows(first) {
		row := []string{r[0], r[1]}
		for _, s := range sums {
			row = append(row, kpiRows(s)[i][2])
		}
		page.Rows = append(page.Rows, row)
	}
	dir := filepath.Dir(path)
	var perr error
	// plot adds a figure to the page and writes it as NAME.svg next to it.
	plot := func(name, title, svg string) {
		page.Figures = append(page.Figures, reportFigure{Title: title, SVG: template.HTML(svg)}) // svgPlot escapes every text it draws
		if err := os.WriteFile(filepath.Join(dir, name+".svg"), []byte(svg), 0o644); err != nil && perr == nil {
			perr = fmt.Errorf("report: %w", err)
		}
	}
	dt := float64(first.StepMinutes) / 60
	// Cumulative cost per strategy.
	var cum []line
	for i, ser := range series {
		l := line{name: ser.Name, color: palette[i%len(palette)]}
		c := 0.0
		for _, s := range ser.Steps {
			c += stepCost(s, dt)
			l.t = append(l.t, s.Time)
			l.v = append(l.v, c)
		}
		cum = append(cum, l)
	}
	plot("cumulative-cost", "Cumulative energy cost", svgPlot(cum, first.Currency, loc))
	if len(cum) > 1 {
		// Differences are easier to read than totals that run close together.
		var diff []line
		for _, l := range cum[1:] {
			d := line{name: l.name + " − " + cum[0].name, color: l.color}
			for j := range l.v {
				if j < len(cum[0].v) {
					d.t = append(d.t, l.t[j])
					d.v = append(d.v, l.v[j]-cum[0].v[j])
				}
			}
			diff = append(diff, d)
		}
		plot("cumulative-cost-difference", "Cumulative energy cost against "+cum[0].name, svgPlot(diff, first.Currency, loc))
	}
	for i, ser := range series {
		name := ser.Name
		get := func(f func(StepRecord) float64, n, col string) line {
			l := line{name: n, color: col}
			for _, s := range ser.Steps {
				l.t = append(l.t, s.Time)
				l.v = append(l.v, f(s))
			}
			return l
		}
		plot(fmt.Sprintf("power-%d", i+1), "Power per asset: "+name, svgPlot([]line{
			get(func(s StepRecord) float64 { return s.GridKW }, "grid (+ import)", "#000000"),
			get(func(s StepRecord) float64 { return s.LoadKW }, "load", "#1f77b4"),
			get(func(s StepRecord) float64 { return -s.PVKW }, "PV (− generation)", "#ff7f0e"),
			get(func(s StepRecord) float64 { return s.BESSKW }, "battery (+ charge)", "#2ca02c"),
			get(func(s StepRecord) float64 { return s.EVKW }, "EV charging", "#d62728"),
		}, "kW", loc))
		plot(fmt.Sprintf("battery-%d", i+1), "Battery energy: "+name, svgPlot([]line{get(func(s StepRecord) float64 { return s.SoCKWh }, "stored energy", "#2ca02c")}, "kWh", loc))
	}
	if len(series) > 0 {
		ser := series[0]
		l1 := line{name: "import price", color: "#9467bd"}
		l2 := line{name: "export price", color: "#8c564b"}
		for _, s := range ser.Steps {
			l1.t, l1.v = append(l1.t, s.Time), append(l1.v, s.ImportPrice)
			l2.t, l2.v = append(l2.t, s.Time), append(l2.v, s.ExportPrice)
		}
		plot("prices", "Prices", svgPlot([]line{l1, l2}, first.Currency+"/kWh", loc))
	}
	if perr != nil {
		return perr
	}
	var b bytes.Buffer
	if err := reportPage.Execute(&b, page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

type line struct {
	name, color string
	t           []time.Time
	v           []float64
}

// maxPoints bounds the points drawn per line: longer lines are averaged in buckets.
const maxPoints = 1200

func (l line) downsample() ([]time.Time, []float64) {
	if len(l.v) <= maxPoints {
		return l.t, l.v
	}
	per := (len(l.v) + maxPoints - 1) / maxPoints
	var t []time.Time
	var v []float64
	for i := 0; i < len(l.v); i += per {
		j := min(i+per, len(l.v))
		s := 0.0
		for _, x := range l.v[i:j] {
			s += x
		}
		t = append(t, l.t[i])
		v = append(v, s/float64(j-i))
	}
	return t, v
}

// svgPlot draws lines against time as an inline SVG, with axes, ticks and a legend.
func svgPlot(lines []line, unit string, loc *time.Location) string {
	const W, H, left, right, top, bottom = 1000.0, 300.0, 70.0, 20.0, 10.0, 60.0
	var tmin, tmax time.Time
	lo, hi := math.Inf(1), math.Inf(-1)
	type pts struct {
		t []time.Time
		v []float64
	}
	ds := make([]pts, len(lines))
	for i, l := range lines {
		t, v := l.downsample()
		ds[i] = pts{t, v}
		for j := range v {
			if tmin.IsZero() || t[j].Before(tmin) {
				tmin = t[j]
			}
			if t[j].After(tmax) {
				tmax = t[j]
			}
			lo, hi = math.Min(lo, v[j]), math.Max(hi, v[j])
		}
	}
	if math.IsInf(lo, 0) {
		return "<p>(no data)</p>\n"
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-1, hi+1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	span := tmax.Sub(tmin).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 { return left + (W-left-right)*t.Sub(tmin).Seconds()/span }
	y := func(v float64) float64 { return top + (H-top-bottom)*(hi-v)/(hi-lo) }
	var b strings.Builder
	fmt.Fprintf(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-size=\"11\">\n", W, H, W, H)
	fmt.Fprintf(&b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#888\"/>\n", left, top, W-left-right, H-top-bottom)
	for _, v := range ticks(lo, hi, 6) {
		fmt.Fprintf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
			left, W-right, y(v), y(v), left-4, y(v)+4, strconv.FormatFloat(v, 'f', -1, 64))
	}
	if lo < 0 && hi > 0 {
		fmt.Fprintf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", left, W-right, y(0), y(0))
	}
	fmt.Fprintf(&b, "<text x=\"12\" y=\"%.1f\" transform=\"rotate(-90 12 %.1f)\" text-anchor=\"middle\">%s</text>\n", (H-bottom)/2, (H-bottom)/2, html.EscapeString(unit))
	// Time ticks: the site's days (or months for long periods), as the axis says.
	zone := "UTC"
	if loc != time.UTC {
		zone = "site time, " + loc.String()
	}
	fmt.Fprintf(&b, "<text class=\"axis-x\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", W-right, H-bottom+28, html.EscapeString(zone))
	days := tmax.Sub(tmin).Hours() / 24
	lmin := tmin.In(loc)
	for t := time.Date(lmin.Year(), lmin.Month(), lmin.Day(), 0, 0, 0, 0, loc); !t.After(tmax); {
		if !t.Before(tmin) {
			lbl := t.Format("Jan 2")
			fmt.Fprintf(&b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
				x(t), x(t), top, H-bottom, x(t), H-bottom+14, lbl)
		}
		switch {
		case days > 60:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case days > 14:
			t = t.AddDate(0, 0, 7)
		default:
			t = t.AddDate(0, 0, 1)
		}
	}
	for i, l := range lines {
		var p strings.Builder
		for j := range ds[i].v {
			if j > 0 {
				p.WriteByte(' ')
			}
			fmt.Fprintf(&p, "%.1f,%.1f", x(ds[i].t[j]), y(ds[i].v[j]))
		}
		fmt.Fprintf(&b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1\" points=\"%s\"/>\n", l.color, p.String())
	}
	// Legend: entries left to right, wrapping at the plot's width.
	lx, ly := left, H-24
	for _, l := range lines {
		w := 16 + 6.2*float64(len(l.name)) + 18
		if lx+w > W-right && lx > left {
			lx, ly = left, ly+14
		}
		fmt.Fprintf(&b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"3\" fill=\"%s\"/><text x=\"%.0f\" y=\"%.0f\">%s</text>\n", lx, ly-4, l.color, lx+16, ly, html.EscapeString(l.name))
		lx += w
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// ticks returns about n round values between lo and hi.
func ticks(lo, hi float64, n int) []float64 {
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []float64
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		r := math.Round(v/step) * step
		if r == 0 {
			r = 0 // no "-0" label
		}
		out = append(out, r)
	}
	sort.Float64s(out)
	return out
}
