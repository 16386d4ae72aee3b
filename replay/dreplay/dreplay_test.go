package dreplay

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd"
)

// TestDistrictReplay replays three generated sites below one transformer for
// half a day, through each site's replay loop, under each strategy: the
// coordinated caps keep the shared limit every cycle and so do the metered
// imports; the static share costs more and breaks the limit on the meters;
// the centralised optimum costs no more than the coordination (0.5 %).
func TestDistrictReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a district for half a day")
	}
	path := writeDistrict(t, GenParams{Sites: 3, Seed: 1, Horizon: 6 * time.Hour, Tightness: 1})
	from := time.Date(2019, 1, 8, 12, 0, 0, 0, time.UTC)
	to := from.Add(12 * time.Hour)
	dc, sites, err := Load(path, "builtin", gridd.Files, from, to)
	if err != nil {
		t.Fatal(err)
	}
	res := map[string]*Result{}
	var all []*Result
	for _, s := range Strategies {
		r, err := Run(t.Context(), Options{District: dc, Sites: sites, From: from, To: to, Strategy: s, SkipForecastBand: true})
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		res[s] = r
		all = append(all, r)
		k := r.KPIs
		t.Logf("%s: cost %.2f, loading %.1f %%, over %d steps %.1f kWh, caps excess %.3g, rounds %.1f", s, k.TotalCost, k.HighestLoadingPct, k.OverLimitSteps, k.OverLimitKWh, k.CapsExcessKW, k.RoundsMean)
		// KPIs per site and for the district.
		if len(k.Sites) != 3 || len(r.Sites) != 3 || k.Steps != 48 || len(k.Nodes) != 1 || k.Nodes[0].ID != "tx-01" {
			t.Fatalf("%s: KPIs for %d sites, %d steps, nodes %+v", s, len(k.Sites), k.Steps, k.Nodes)
		}
		sum := 0.0
		for i, sk := range k.Sites {
			if sk.Site != dc.Sites[i].ID || sk.TotalCost <= 0 || sk.PeakImportKW <= 0 || len(r.Sites[i].Steps) != 48 {
				t.Errorf("%s: site KPIs %+v", s, sk)
			}
			sum += r.Sites[i].KPIs.TotalCost
		}
		if d := k.TotalCost - sum; d > 0.01 || d < -0.01 {
			t.Errorf("%s: district cost %.4f is not the sites' sum %.4f", s, k.TotalCost, sum)
		}
		if k.CapsExcessKW > 1e-6 {
			t.Errorf("%s: caps above the shared limit by %g kW", s, k.CapsExcessKW)
		}
	}
	co, in, ce := res[Coordinated].KPIs, res[Independent].KPIs, res[Centralised].KPIs
	if co.RoundsMean < 1 || co.RoundsMax < 2 {
		t.Errorf("coordinated: %.1f rounds a cycle (max %d): the limit never bound", co.RoundsMean, co.RoundsMax)
	}
	if co.HighestLoadingPct < 99 {
		t.Errorf("coordinated: highest loading %.1f %%: the limit does not bind, the test shows nothing", co.HighestLoadingPct)
	}
	if co.HighestLoadingPct > 100.5 || co.OverLimitKWh > 0.1 {
		t.Errorf("coordinated: metered loading %.2f %% of the limit, %.2f kWh over it", co.HighestLoadingPct, co.OverLimitKWh)
	}
	if in.HighestLoadingPct <= 100.5 || in.OverLimitKWh <= 0 {
		t.Errorf("independent: loading %.2f %%, %.2f kWh over: want the static share to break the limit on this day", in.HighestLoadingPct, in.OverLimitKWh)
	}
	if co.TotalCost > in.TotalCost {
		t.Errorf("coordinated %.2f costs more than independent %.2f", co.TotalCost, in.TotalCost)
	}
	if ce.TotalCost > co.TotalCost*1.005 {
		t.Errorf("centralised %.2f costs more than coordinated %.2f (+0.5 %%)", ce.TotalCost, co.TotalCost)
	}
	// The report: the comparison table, JSON and HTML, and every site's own report.
	dir := t.TempDir()
	if err := WriteReport(dir, all); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Reports []Summary `json:"reports"`
	}
	b, err := os.ReadFile(filepath.Join(dir, KPIFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Reports) != 3 || doc.Reports[0].KPIs.TotalCost != co.TotalCost {
		t.Fatalf("district.json: %v, %+v", err, doc.Reports)
	}
	txt, _ := os.ReadFile(filepath.Join(dir, TextFile))
	for _, want := range []string{"coordinated", "independent", "centralised", "tx-01", "site-03"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("district.txt lacks %q:\n%s", want, txt)
		}
	}
	for _, f := range []string{ReportFile, "coordinated/site-01/report.html", "centralised/site-03/kpis.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	path := writeDistrict(t, GenParams{Sites: 2, Seed: 3, Horizon: 2 * time.Hour})
	from := time.Date(2019, 3, 4, 0, 0, 0, 0, time.UTC)
	dc, sites, err := Load(path, "builtin", gridd.Files, from, from.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(o *Options)
		want string
	}{
		{"strategy", func(o *Options) { o.Strategy = "greedy" }, `--strategy "greedy"`},
		{"sites", func(o *Options) { o.Sites = o.Sites[:1] }, "1 sites given for the 2 sites"},
		{"step", func(o *Options) { o.From = o.From.Add(5 * time.Minute) }, "step boundary"},
		{"order", func(o *Options) { o.To = o.From }, "must be after --from"},
		{"horizon", func(o *Options) { d := *o.District; d.District.HorizonSteps = 96; o.District = &d }, "shorter than the district's horizon_steps 96"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{District: dc, Sites: sites, From: from, To: from.Add(time.Hour), Strategy: Coordinated}
			tc.edit(&o)
			err := o.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	a, err := Generate(gridd.Files, GenParams{Sites: 12, Seed: 5, SitesPerTransformer: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(gridd.Files, GenParams{Sites: 12, Seed: 5, SitesPerTransformer: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 13 || string(a["district.yaml"]) != string(b["district.yaml"]) || string(a["sites/site-07.yaml"]) != string(b["sites/site-07.yaml"]) {
		t.Fatalf("%d files; not reproducible", len(a))
	}
	// Three transformers below one feeder; no EV user is replayed at two sites.
	d := string(a["district.yaml"])
	for _, want := range []string{"id: tx-03", "parent: feeder-01", "id: feeder-01"} {
		if !strings.Contains(d, want) {
			t.Errorf("district.yaml lacks %q:\n%s", want, d)
		}
	}
	seen := map[string]string{}
	for name, f := range a {
		for _, line := range strings.Split(string(f), "\n") {
			if i := strings.Index(line, `user: "`); i >= 0 {
				u := line[i:]
				if prev, ok := seen[u]; ok {
					t.Errorf("%s in %s and %s", u, prev, name)
				}
				seen[u] = name
			}
		}
	}
	for _, p := range []GenParams{{Sites: 0}, {Sites: 2, Horizon: 7 * time.Minute}, {Sites: 2, Tightness: -1}} {
		if _, err := Generate(gridd.Files, p); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}
