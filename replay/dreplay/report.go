package dreplay

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"
)

// Report files, in the report directory.
const (
	KPIFile    = "district.json"
	TextFile   = "district.txt"
	ReportFile = "report.html"
)

// Summary is one strategy's district replay as the report files hold it.
type Summary struct {
	District string   `json:"district"`
	Strategy string   `json:"strategy"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Currency string   `json:"currency"`
	KPIs     KPIs     `json:"kpis"`
	Notes    []string `json:"notes"`
}

// Summary returns the result's summary.
func (r *Result) Summary() Summary {
	cur := ""
	if len(r.Sites) > 0 {
		cur = r.Sites[0].Currency
	}
	return Summary{District: r.District, Strategy: r.Strategy, From: r.From.Format(time.RFC3339), To: r.To.Format(time.RFC3339),
		Currency: cur, KPIs: r.KPIs, Notes: append([]string{}, r.notes...)}
}

// WriteReport writes the district report of one or more strategies' results
// into dir: district.json (every strategy's KPIs, per site and for the
// district), district.txt (the comparison table), report.html (the same
// tables), and each site's own replay report (report.html, kpis.json,
// steps.csv) under STRATEGY/SITE/.
func WriteReport(dir string, results []*Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	sums := make([]Summary, len(results))
	for i, r := range results {
		sums[i] = r.Summary()
		for _, s := range r.Sites {
			if err := s.WriteReport(filepath.Join(dir, r.Strategy, s.Site)); err != nil {
				return err
			}
		}
	}
	b, err := json.MarshalIndent(struct {
		Reports []Summary `json:"reports"`
	}{sums}, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KPIFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var txt strings.Builder
	if err := WriteText(&txt, sums); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, TextFile), []byte(txt.String()), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, ReportFile))
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := htmlReport.Execute(f, sums); err != nil {
		f.Close()
		return fmt.Errorf("report: %w", err)
	}
	return f.Close()
}

// WriteText writes the comparison table (one row per strategy) and each
// strategy's sites.
func WriteText(w io.Writer, sums []Summary) error {
	if len(sums) == 0 {
		return nil
	}
	s0 := sums[0]
	fmt.Fprintf(w, "district %s, %s to %s (%d steps)\n\n", s0.District, s0.From, s0.To, s0.KPIs.Steps)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "strategy\ttotal cost %s\tvs first\tdemand charge\tEV unmet kWh\thighest shared loading\tover-limit steps\tover-limit kWh\tcaps over a limit kW\trounds (mean/max)\tgap mean/max %%\tsite cap-infeasible\twall s\t\n", s0.Currency)
	base := s0.KPIs.TotalCost
	for _, s := range sums {
		k := s.KPIs
		rel := "—"
		if base != 0 {
			rel = fmt.Sprintf("%+.2f %%", 100*(k.TotalCost-base)/base)
		}
		rounds, gap := "—", "—"
		if k.RoundsMax > 0 {
			rounds = fmt.Sprintf("%.1f/%d", k.RoundsMean, k.RoundsMax)
			gap = fmt.Sprintf("%.2f/%.2f", k.GapMeanPct, k.GapMaxPct)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%s\t%.2f\t%.1f\t%.1f %%\t%d\t%.1f\t%.3f\t%s\t%s\t%d\t%.0f\t\n", s.Strategy, k.TotalCost, rel, k.DemandCharge,
			k.EVUnmetKWh, k.HighestLoadingPct, k.OverLimitSteps, k.OverLimitKWh, k.CapsExcessKW, rounds, gap, k.CapInfeasibleSites, k.WallSeconds)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range sums {
		fmt.Fprintf(w, "\n%s: shared nodes\n", s.Strategy)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "node\tpeak kW\thighest loading\tlimit there kW\tover-limit steps\tover-limit kWh\t\n")
		for _, n := range s.KPIs.Nodes {
			fmt.Fprintf(tw, "%s\t%.1f\t%.1f %%\t%.0f\t%d\t%.1f\t\n", n.ID, n.PeakKW, n.HighestLoadingPct, n.LimitAtPeakKW, n.OverLimitSteps, n.OverLimitKWh)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: sites\n", s.Strategy)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "site\ttotal cost\tdemand charge\tpeak kW\tEV unmet kWh\tbelow reserve steps\tviolation steps\trelaxed cycles\t\n")
		for _, x := range s.KPIs.Sites {
			fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.1f\t%.1f\t%d\t%d\t%d\t\n", x.Site, x.TotalCost, x.DemandCharge, x.PeakImportKW, x.EVUnmetKWh, x.BelowReserveSteps, x.LimitViolationSteps, x.RelaxedCycles)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if s.KPIs.CentralisedFallbacks > 0 {
			fmt.Fprintf(w, "%d cycles without a centralised solution (the district could not keep its limits): the last caps stood in\n", s.KPIs.CentralisedFallbacks)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	return nil
}

var htmlReport = template.Must(template.New("district").Funcs(template.FuncMap{
	"f2": func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f1": func(v float64) string { return fmt.Sprintf("%.1f", v) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>gridd district replay</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}th:first-child,td:first-child{text-align:left}</style>
</head><body>
{{with index . 0}}<h1>District {{.District}}: {{.From}} to {{.To}}</h1>{{end}}
<table><tr><th>strategy</th><th>total cost</th><th>demand charge</th><th>EV unmet kWh</th><th>highest shared loading %</th><th>over-limit steps</th><th>over-limit kWh</th><th>caps over a limit kW</th><th>rounds mean</th><th>gap mean %</th><th>wall s</th></tr>
{{range .}}<tr><td>{{.Strategy}}</td><td>{{f2 .KPIs.TotalCost}} {{.Currency}}</td><td>{{f2 .KPIs.DemandCharge}}</td><td>{{f1 .KPIs.EVUnmetKWh}}</td><td>{{f1 .KPIs.HighestLoadingPct}}</td><td>{{.KPIs.OverLimitSteps}}</td><td>{{f1 .KPIs.OverLimitKWh}}</td><td>{{f2 .KPIs.CapsExcessKW}}</td><td>{{f1 .KPIs.RoundsMean}}</td><td>{{f2 .KPIs.GapMeanPct}}</td><td>{{f1 .KPIs.WallSeconds}}</td></tr>
{{end}}</table>
{{range .}}{{$s := .Strategy}}<h2>{{.Strategy}}</h2>
<table><tr><th>shared node</th><th>peak kW</th><th>highest loading %</th><th>limit there kW</th><th>over-limit steps</th><th>over-limit kWh</th></tr>
{{range .KPIs.Nodes}}<tr><td>{{.ID}}</td><td>{{f1 .PeakKW}}</td><td>{{f1 .HighestLoadingPct}}</td><td>{{f1 .LimitAtPeakKW}}</td><td>{{.OverLimitSteps}}</td><td>{{f1 .OverLimitKWh}}</td></tr>
{{end}}</table>
<table><tr><th>site</th><th>total cost</th><th>demand charge</th><th>peak kW</th><th>EV unmet kWh</th><th>below reserve steps</th><th>violation steps</th><th>report</th></tr>
{{range .KPIs.Sites}}<tr><td>{{.Site}}</td><td>{{f2 .TotalCost}}</td><td>{{f2 .DemandCharge}}</td><td>{{f1 .PeakImportKW}}</td><td>{{f1 .EVUnmetKWh}}</td><td>{{.BelowReserveSteps}}</td><td>{{.LimitViolationSteps}}</td><td><a href="{{$s}}/{{.Site}}/report.html">report</a></td></tr>
{{end}}</table>
{{range .Notes}}<p>{{.}}</p>{{end}}
{{end}}</body></html>
`))
