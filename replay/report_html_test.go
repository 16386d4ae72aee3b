package replay

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReportHTMLEscapes writes report.html for summaries whose text comes from the
// user (site name, --set edits, notes, cycle errors, violations) and checks that each
// appears escaped, in its section, and never as markup.
func TestReportHTMLEscapes(t *testing.T) {
	evil := `<script>alert("x")</script>&`
	esc := `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;`
	at := time.Date(2019, 6, 3, 0, 0, 0, 0, time.UTC)
	sum := Summary{
		Site: "site " + evil, Strategy: "optimize", From: "2019-06-03", To: "2019-06-04",
		StepMinutes: 15, Source: "builtin", Sets: []string{"pv.scale=" + evil}, Currency: "GBP",
		Notes: []string{"note " + evil}, CycleErrors: []string{"err " + evil},
		KPIs: KPIs{TotalCost: 12.5, FirstViolations: []string{"viol " + evil}},
	}
	ser := Series{Name: "optimize " + evil, Steps: []StepRecord{{Time: at, LoadKW: 10}, {Time: at.Add(15 * time.Minute), LoadKW: 12}}}
	path := filepath.Join(t.TempDir(), ReportFile)
	if err := writeHTML(path, []Summary{sum}, []Series{ser}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if strings.Contains(page, "<script>") {
		t.Fatalf("report.html carries unescaped markup:\n%s", page)
	}
	for _, want := range []string{
		"<title>gridd replay: site " + esc + "</title>",
		"<h1>Replay of site " + esc + "</h1>",
		"<th>optimize<br>pv.scale=" + esc + "</th>",
		"<tr><td>total cost</td><td>GBP</td><td>12.50</td></tr>",
		"<p>Note (optimize): note " + esc + "</p>",
		"<p>First failed cycles (optimize): err " + esc + "</p>",
		"<p>First limit violations (optimize): viol " + esc + "</p>",
		"<h2>Cumulative energy cost</h2>\n<svg",
		"<h2>Power per asset: optimize " + esc + "</h2>",
		`text-anchor="end">UTC</text>`, // the day axis says its zone
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if !strings.HasSuffix(page, "</svg>\n</body></html>\n") {
		t.Errorf("report.html does not end with the last plot and </body></html>:\n%s", page[max(0, len(page)-200):])
	}
}

// TestReportTimeAxisInSiteTime: a report's day ticks are the site's days, labelled with
// its zone; a summary without a zone (written before it was recorded) says UTC.
func TestReportTimeAxisInSiteTime(t *testing.T) {
	at := time.Date(2019, 6, 2, 20, 0, 0, 0, time.UTC) // 04:00 on June 3 in Shanghai
	ser := Series{Name: "optimize", Steps: []StepRecord{{Time: at, LoadKW: 10}, {Time: at.Add(30 * time.Hour), LoadKW: 12}}}
	for _, tc := range []struct {
		zone, label, day, notDay string
	}{
		// Midnight of June 3 in Shanghai is before the first step, of June 4 within.
		{"Asia/Shanghai", "site time, Asia/Shanghai", ">Jun 4<", ">Jun 3<"},
		{"", ">UTC<", ">Jun 3<", "site time"},
	} {
		path := filepath.Join(t.TempDir(), ReportFile)
		if err := writeHTML(path, []Summary{{Site: "s", Strategy: "optimize", Currency: "CNY", Timezone: tc.zone}}, []Series{ser}); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if !strings.Contains(string(b), tc.label) || !strings.Contains(string(b), tc.day) || strings.Contains(string(b), tc.notDay) {
			t.Errorf("zone %q: report lacks %q or %q, or has %q", tc.zone, tc.label, tc.day, tc.notDay)
		}
	}
}
