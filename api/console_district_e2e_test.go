package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
	"github.com/gridd/gridd/optimizer"
)

// districtRig is a coordinator over an embedded NATS server with generated sites,
// each answering on its own connection, and the district console serving it.
type districtRig struct {
	cfg   *district.Config
	co    *dnats.Coordinator
	start time.Time
	url   string
}

// newDistrictRig generates n sites (two below each transformer, the transformers
// below a feeder) on a 24-step hourly horizon in Asia/Shanghai. The site named
// broken answers every round with an error (as a gridd before its first cycle);
// consoles gives sites' console_url.
func newDistrictRig(t *testing.T, n int, broken string, consoles map[string]string) *districtRig {
	t.Helper()
	ctx := context.Background()
	ns, natsURL, err := dnats.Embedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	g, err := district.Generate(ctx, gridd.Files, district.GenParams{Sites: n, Seed: 9, Steps: 24, StepMinutes: 60, EVs: 4, SitesPerTransformer: 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := g.Config("east")
	if err != nil {
		t.Fatal(err)
	}
	cfg.District.TimeZone = "Asia/Shanghai"
	cfg.Coordination.TimeBudget.D = 30 * time.Second
	cfg.Coordination.RoundTimeout.D = 10 * time.Second
	for i := range cfg.Sites {
		cfg.Sites[i].ConsoleURL = consoles[cfg.Sites[i].ID]
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, id := range g.IDs {
		bus := eastBus(ctx, t, natsURL, id)
		scn := g.Scenarios[i]
		p := &dnats.Participant{Bus: bus, Site: id, Instance: "test/" + id, ImportLimitKW: scn.Grid.ImportLimitKW, StepMinutes: 60,
			Scenario: func(_ context.Context, start time.Time, steps int) (*optimizer.Scenario, error) {
				if id == broken {
					return nil, errors.New("no cycle has run yet")
				}
				c := *scn
				c.Start = start
				return &c, nil
			},
			Apply: func(context.Context, dnats.Caps) error { return nil }}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { _ = p.Run(pctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	bus := eastBus(ctx, t, natsURL, "coordinator")
	co := &dnats.Coordinator{Bus: bus, Config: cfg}
	deadline := time.Now().Add(20 * time.Second)
	for {
		regs, err := co.Registered(ctx)
		if err == nil && len(regs) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sites registered (%v)", len(regs), n, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	hs := httptest.NewServer(api.NewDistrictServer(cfg, co, api.DistrictOptions{}))
	t.Cleanup(hs.Close)
	return &districtRig{cfg: cfg, co: co, start: g.Scenarios[0].Start, url: hs.URL}
}

// cycle coordinates cycle k (the horizon from k steps after the start).
func (d *districtRig) cycle(t *testing.T, k int) *district.Result {
	t.Helper()
	res, err := d.co.RunOnce(context.Background(), d.start.Add(time.Duration(k)*d.cfg.Step()))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// state reads GET /api/v1/district.
func (d *districtRig) state(t *testing.T) api.DistrictState {
	t.Helper()
	resp, err := http.Get(d.url + "/api/v1/district")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.DistrictState
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /api/v1/district: %s, CSP %q", resp.Status, resp.Header.Get("Content-Security-Policy"))
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestDistrictConsoleInChromium: the district console of a real coordinator over an
// embedded NATS server with four generated sites (one of which cannot solve and is
// excluded) in a real Chromium: the sites table with statuses, the reason of the
// exclusion, the cap-vs-plan headline and the drill-down link into a site's own
// console (followed to the site console's login); each shared node's chart read
// back from the SVG against the sums of the coordinator's plans and caps and its
// limit, with the highest loading; the prices per step; the rounds and the final
// gap; times in Asia/Shanghai with +08:00; live refresh to the next cycle; English
// and Simplified Chinese at 1280 and 390 px with nothing wider than the screen, no
// English UI string on the Chinese page and no serious or critical axe-core
// violation; the dark scheme. Screenshots go to artifacts/ (GRIDD_ARTIFACTS).
func TestDistrictConsoleInChromium(t *testing.T) {
	bin := needChromium(t)
	axeJS := axeSource(t)
	english := englishUIStrings(t)
	siteConsole := consoleServer(t, newRig(t), "district-drill-pw")
	d := newDistrictRig(t, 4, "site-0004", map[string]string{"site-0001": siteConsole + "/"})
	res := d.cycle(t, 0)
	if len(res.Excluded) != 1 || res.Excluded[0] != "site-0004" {
		t.Fatalf("excluded %v, want site-0004 alone (events %+v)", res.Excluded, res.Events)
	}
	st := d.state(t)
	checkDistrictState(t, d.cfg, res, st)

	p := openPage(t, bin, "district", d.url+"/?lang=en", desktop)
	p.wait("district drawn", `document.body.dataset.rendered === "district:en:1"`)

	// Sites: one row each, with status, reason, headline and link.
	type row struct{ Site, Status, Seen, Peak, Energy, Link, LinkText string }
	rows := eval[[]row](p, `[...document.querySelectorAll("#d-sites tbody tr")].map(r => ({Site: r.dataset.site,
		Status: r.cells[1].innerText, Seen: r.cells[2].innerText, Peak: r.cells[3].innerText, Energy: r.cells[4].innerText,
		Link: (r.querySelector("a.drill") || {}).href || "", LinkText: r.cells[6].innerText}))`)
	if len(rows) != 4 {
		t.Fatalf("%d site rows, want 4: %+v", len(rows), rows)
	}
	for i, r := range rows {
		s := st.Sites[i]
		if r.Site != s.ID {
			t.Errorf("row %d is %q, want %q", i, r.Site, s.ID)
		}
		if !strings.Contains(r.Seen, "+08:00") {
			t.Errorf("%s: last seen %q not in district time (+08:00)", r.Site, r.Seen)
		}
		switch s.ID {
		case "site-0004":
			if !strings.HasPrefix(r.Status, "excluded") || !strings.Contains(r.Status, "could not solve") || !strings.Contains(r.Status, "no cycle has run yet") {
				t.Errorf("excluded site's status %q: want the status, the kind and the site's reason", r.Status)
			}
		default:
			if r.Status != "answered" {
				t.Errorf("%s: status %q, want answered", s.ID, r.Status)
			}
		}
		if s.PeakPlanKW == nil {
			t.Errorf("%s: no headline in the state", s.ID)
			continue
		}
		want := fmt.Sprintf("%s / %s at %s", enNum(*s.PeakPlanKW, 1), enNum(*s.CapAtPeakKW, 1), s.PeakAt.In(d.cfg.Location).Format("15:04"))
		if r.Peak != want {
			t.Errorf("%s: peak cell %q, want %q", s.ID, r.Peak, want)
		}
		if want := enNum(*s.PlanKWh, 0) + " / " + enNum(*s.CapKWh, 0); r.Energy != want {
			t.Errorf("%s: energy cell %q, want %q", s.ID, r.Energy, want)
		}
		if s.ID == "site-0001" {
			if r.Link != siteConsole+"/" {
				t.Errorf("site-0001 links to %q, want %q", r.Link, siteConsole+"/")
			}
		} else if r.Link != "" || r.LinkText != "no address configured" {
			t.Errorf("%s: link %q (%q) without a console_url", s.ID, r.Link, r.LinkText)
		}
	}

	// Each node's chart: the drawn lines read back through the chart's scale are the
	// sums of the coordinator's plans and caps below the node and its limit.
	for _, n := range st.Nodes {
		checkNodeChart(t, p, d.cfg, res, n)
	}
	// Ticks in district time.
	type tick struct{ Time, Text string }
	for _, tk := range eval[[]tick](p, `[...document.querySelectorAll("svg.loading .tick-x")].map(e => ({Time: e.dataset.time, Text: e.textContent}))`) {
		at, err := time.Parse(time.RFC3339, tk.Time)
		if err != nil {
			t.Fatalf("tick %+v: %v", tk, err)
		}
		if want := at.In(d.cfg.Location).Format("15:04"); tk.Text != want {
			t.Errorf("tick at %s reads %q, want Shanghai time %q", tk.Time, tk.Text, want)
		}
	}
	if axis := eval[string](p, `document.querySelector("svg.loading .axis-x").textContent`); !strings.Contains(axis, "+08:00") {
		t.Errorf("time axis %q names no +08:00", axis)
	}

	// Rounds and gap.
	if n := eval[int](p, `document.querySelectorAll("#d-rounds tbody tr").length`); n != len(res.Rounds) {
		t.Errorf("%d round rows, want %d", n, len(res.Rounds))
	}
	gap := eval[string](p, `document.querySelector("#d-gap").dataset.gap`)
	if g, err := strconv.ParseFloat(gap, 64); err != nil || math.Abs(g-res.GapPct) > 1e-9 {
		t.Errorf("gap shown %q, the coordinator's %v", gap, res.GapPct)
	}
	if txt := eval[string](p, `document.querySelector("#d-gap").textContent`); !strings.Contains(txt, enNum(res.GapPct, 2)+" %") {
		t.Errorf("gap text %q lacks %s %%", txt, enNum(res.GapPct, 2))
	}
	lastRound := eval[[]string](p, `[...document.querySelector("#d-rounds tbody tr:last-child").cells].map(c => c.textContent)`)
	if r := res.Rounds[len(res.Rounds)-1]; lastRound[0] != strconv.Itoa(r.Round) || lastRound[1] != enNum(r.ResidualKW, 2) {
		t.Errorf("last round row %v, want round %d residual %s", lastRound, r.Round, enNum(r.ResidualKW, 2))
	}
	asOf := eval[string](p, `document.querySelector("#asof").textContent`)
	if !strings.Contains(asOf, "+08:00") || !strings.Contains(asOf, "cycle 1") {
		t.Errorf("as of %q: want cycle 1 in district time", asOf)
	}

	// English and Chinese at both widths: fits, translated, accessible.
	for _, c := range []struct {
		lang string
		vp   viewport
	}{{"en", desktop}, {"zh-CN", desktop}, {"zh-CN", phone}, {"en", phone}} {
		tag := fmt.Sprintf("%s-%d", c.lang, c.vp.Width)
		p.do("viewport", chromedp.EmulateViewport(c.vp.Width, c.vp.Height))
		p.setLang(c.lang)
		p.wait("drawn in "+c.lang, fmt.Sprintf(`document.body.dataset.rendered === "district:%s:1"`, c.lang))
		p.fits("district " + tag)
		if w := eval[float64](p, `Math.max(...[...document.querySelectorAll("svg")].map(s => s.getBoundingClientRect().right))`); w > float64(c.vp.Width)+1 {
			t.Errorf("%s: a chart ends at %v px", tag, w)
		}
		if c.lang == "zh-CN" {
			// The coordinator's reasons (small.why) are its own English text, as in the
			// audit log; every UI string must be Chinese.
			text := eval[string](p, `(() => { const w = [...document.querySelectorAll(".why")]; w.forEach(e => e.hidden = true); const s = document.body.innerText; w.forEach(e => e.hidden = false); return s; })()`)
			for _, e := range english {
				if regexp.MustCompile(`\b` + regexp.QuoteMeta(e) + `\b`).MatchString(text) {
					t.Errorf("%s shows the English %q", tag, e)
				}
			}
			if h := eval[string](p, `document.querySelector("header").innerText`); !strings.Contains(h, "片区 east") {
				t.Errorf("%s header %q", tag, h)
			}
		}
		p.axe("district "+tag, axeJS)
		p.screenshot("district-console-" + tag)
	}
	p.do("viewport", chromedp.EmulateViewport(desktop.Width, desktop.Height))
	p.setLang("en")

	// Dark scheme.
	p.do("dark scheme", chromedp.Func(func(ctx contextT, tgt *chromedp.Target) error { return emulateScheme(ctx, tgt, "dark") }))
	if l := eval[float64](p, `(() => { const m = getComputedStyle(document.body).backgroundColor.match(/\d+/g).map(Number); return (0.2126*m[0] + 0.7152*m[1] + 0.0722*m[2]) / 255; })()`); l > 0.2 {
		t.Errorf("dark scheme: background luminance %.2f", l)
	}
	p.axe("district dark", axeJS)
	p.screenshot("district-console-dark")
	p.do("light scheme", chromedp.Func(func(ctx contextT, tgt *chromedp.Target) error { return emulateScheme(ctx, tgt, "light") }))

	// Live: the next cycle shows up without a reload.
	res2 := d.cycle(t, 1)
	p.waitWithin("next cycle shown", `document.body.dataset.rendered === "district:en:2"`, 15*time.Second)
	if asOf2 := eval[string](p, `document.querySelector("#asof").textContent`); !strings.Contains(asOf2, "cycle 2") {
		t.Errorf("as of after the second cycle: %q", asOf2)
	}
	if gap := eval[string](p, `document.querySelector("#d-gap").dataset.gap`); gap != strconv.FormatFloat(res2.GapPct, 'g', -1, 64) && !closeTo(gap, res2.GapPct) {
		t.Errorf("gap after the second cycle %q, want %v", gap, res2.GapPct)
	}

	// Drill-down: the link opens site-0001's own console.
	p.click(`tr[data-site="site-0001"] a.drill`)
	p.do("site console opened", chromedp.WaitVisible("#login #user"))
	if href := eval[string](p, `location.href`); href != siteConsole+"/" {
		t.Errorf("the drill-down link opened %q, want %q", href, siteConsole+"/")
	}
	p.screenshot("district-console-drilldown")
}

func closeTo(s string, v float64) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && math.Abs(f-v) < 1e-9
}

// enNum formats v as the console does in English (grouped thousands, d decimals).
func enNum(v float64, d int) string {
	p := math.Pow(10, float64(d))
	s := strconv.FormatFloat(math.Round(math.Abs(v)*p)/p, 'f', d, 64) // Intl rounds half away from zero
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if frac != "" {
		out += "." + frac
	}
	if v < 0 && strings.Trim(out, "0.,") != "" {
		out = "-" + out
	}
	return out
}

// checkDistrictState checks GET /api/v1/district against the coordinator's result:
// the sums per node, the loading, the prices and the site headlines.
func checkDistrictState(t *testing.T, cfg *district.Config, res *district.Result, st api.DistrictState) {
	t.Helper()
	if st.Cycle != 1 || st.AsOf == nil || st.Last == nil || st.TimeZone != "Asia/Shanghai" || st.UTCOffset != "+08:00" {
		t.Fatalf("state: cycle %d, as of %v, last %v, zone %q %q", st.Cycle, st.AsOf, st.Last != nil, st.TimeZone, st.UTCOffset)
	}
	limits := cfg.Limits(res.Start)
	if len(st.Nodes) != len(limits) || len(st.Nodes) < 3 {
		t.Fatalf("%d nodes, want %d (two transformers and a feeder)", len(st.Nodes), len(limits))
	}
	for k, n := range st.Nodes {
		peak := math.Inf(-1)
		for tt, lim := range limits[k].LimitKW {
			var plan, caps float64
			for _, i := range limits[k].Sites {
				plan += res.PlansKW[i][tt]
				caps += res.CapsKW[i][tt]
			}
			if math.Abs(n.PlanKW[tt]-plan) > 1e-9 || math.Abs(n.CapKW[tt]-caps) > 1e-9 || n.LimitKW[tt] != lim {
				t.Fatalf("node %s step %d: plan %v cap %v limit %v; want %v %v %v", n.ID, tt, n.PlanKW[tt], n.CapKW[tt], n.LimitKW[tt], plan, caps, lim)
			}
			if caps > lim+1e-6 {
				t.Errorf("node %s step %d: caps %v above the limit %v", n.ID, tt, caps, lim)
			}
			peak = math.Max(peak, 100*plan/lim)
			if n.PricePerKWh[tt] != res.Prices[k][tt] {
				t.Errorf("node %s step %d: price %v, want %v", n.ID, tt, n.PricePerKWh[tt], res.Prices[k][tt])
			}
		}
		if n.PeakLoadingPct == nil || math.Abs(*n.PeakLoadingPct-peak) > 1e-9 || *n.CapLoadingPct > 100+1e-6 {
			t.Errorf("node %s: peak loading %v, want %v", n.ID, n.PeakLoadingPct, peak)
		}
	}
	for i, s := range st.Sites {
		var peak float64
		for _, v := range res.PlansKW[i] {
			peak = math.Max(peak, v)
		}
		if s.PeakPlanKW == nil || *s.PeakPlanKW != peak {
			t.Errorf("site %s: peak plan %v, want %v", s.ID, s.PeakPlanKW, peak)
		}
		if s.ID == "site-0004" && (s.Status != api.DistrictSiteExcluded || s.Exclusion == nil || s.Exclusion.Kind != district.EventSiteError) {
			t.Errorf("site-0004: status %q exclusion %+v", s.Status, s.Exclusion)
		}
	}
}

// checkNodeChart reads node n's chart back: every polyline's points through the
// SVG's scale give the node's limit, Σ caps and Σ plans per step, and the heading
// names its highest loading.
func checkNodeChart(t *testing.T, p *page, cfg *district.Config, res *district.Result, n api.DistrictNode) {
	t.Helper()
	type chart struct {
		Lo, Hi, Top, Bottom string
		Lines               map[string]string
		Peak                string
		Priced              string
	}
	c := eval[chart](p, fmt.Sprintf(`(() => { const s = document.querySelector('svg.loading[data-node=%q]'); if (!s) return {}; const lines = {};
		s.querySelectorAll("polyline").forEach(l => lines[l.dataset.series] = l.getAttribute("points"));
		const box = s.closest(".node-box"), pr = box.querySelector("svg.prices");
		return {Lo: s.dataset.lo, Hi: s.dataset.hi, Top: s.dataset.top, Bottom: s.dataset.bottom, Lines: lines,
			Peak: box.querySelector(".node-peak").textContent, Priced: pr ? pr.dataset.priced : ""}; })()`, n.ID))
	f := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
	lo, hi, top, bottom := f(c.Lo), f(c.Hi), f(c.Top), f(c.Bottom)
	if hi <= lo || bottom <= top {
		t.Fatalf("node %s: no chart scale (%+v)", n.ID, c)
	}
	kw := func(y float64) float64 { return hi - (y-top)*(hi-lo)/(bottom-top) }
	tol := (hi-lo)/(bottom-top)*0.02 + 1e-9 // the points are written to 0.01 px
	for series, want := range map[string][]float64{"limit": n.LimitKW, "caps": n.CapKW, "plans": n.PlanKW} {
		pts := strings.Fields(c.Lines[series])
		if len(pts) != 2*len(want) {
			t.Errorf("node %s %s: %d points, want %d", n.ID, series, len(pts), 2*len(want))
			continue
		}
		for k, w := range want {
			for _, pt := range pts[2*k : 2*k+2] {
				_, ys, _ := strings.Cut(pt, ",")
				if got := kw(f(ys)); math.Abs(got-w) > tol {
					t.Errorf("node %s %s step %d: drawn at %.3f kW, the coordinator's sum is %.3f kW", n.ID, series, k, got, w)
				}
			}
		}
	}
	// Σ plans recomputed from the result, independent of the state.
	k := -1
	for j, nd := range cfg.Nodes {
		if nd.ID == n.ID {
			k = j
		}
	}
	peak, at := math.Inf(-1), 0
	for tt, lim := range cfg.Limits(res.Start)[k].LimitKW {
		var s float64
		for _, i := range n.Sites {
			s += res.PlansKW[i][tt]
		}
		if 100*s/lim > peak {
			peak, at = 100*s/lim, tt
		}
	}
	when := res.Start.Add(time.Duration(at) * cfg.Step()).In(cfg.Location).Format("15:04")
	if want := fmt.Sprintf("highest loading %s %% of the limit at %s", enNum(peak, 1), when); !strings.HasPrefix(c.Peak, want) {
		t.Errorf("node %s heading %q, want it to start with %q", n.ID, c.Peak, want)
	}
	priced := 0
	for _, v := range res.Prices[k] {
		if v > 1e-9 {
			priced++
		}
	}
	if c.Priced != strconv.Itoa(priced) {
		t.Errorf("node %s: %s steps priced on the chart, %d in the result", n.ID, c.Priced, priced)
	}
}

// TestDistrictConsoleFiles: the district server serves its page, script, the
// script, styles and strings it shares with the site console, and nothing else of
// the site console; every response carries the console's security headers.
func TestDistrictConsoleFiles(t *testing.T) {
	cfg := &district.Config{File: "d.yaml", District: district.Identity{ID: "d"}, Sites: []district.SiteRef{{ID: "a", Remote: true, ConsoleURL: "https://a.example.org/"}},
		Nodes: []district.SharedNode{{ID: "tx", LimitKW: 100, Sites: []string{"a"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(api.NewDistrictServer(cfg, fakeCoordinator{}, api.DistrictOptions{}))
	defer hs.Close()
	for path, want := range map[string]int{"/": 200, "/common.js": 200, "/district.js": 200, "/console.css": 200, "/district.css": 200, "/i18n.json": 200,
		"/index.html": 404, "/console.js": 404, "/district.html": 404, "/api/v1/site": 404, "/api/v1/district": 200} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: security headers missing: %v", path, resp.Header)
		}
		if path == "/" && !strings.Contains(string(body), "<script src=\"common.js\"></script>\n<script src=\"district.js\">") {
			t.Errorf("GET / is not the district page loading common.js before district.js: %.200s", body)
		}
	}
	// Before the first cycle: the site unregistered, the node's limit, no result.
	resp, err := http.Get(hs.URL + "/api/v1/district")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st api.DistrictState
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Last != nil || st.Cycle != 0 || st.AsOf != nil || len(st.Sites) != 1 || st.Sites[0].Status != api.DistrictSiteUnregistered ||
		st.Sites[0].ConsoleURL != "https://a.example.org/" || len(st.Nodes) != 1 || len(st.Nodes[0].LimitKW) != 96 || st.Nodes[0].PlanKW != nil {
		t.Errorf("state before the first cycle: %+v", st)
	}

	// ?brief=true leaves out every site's caps and plans (the page polls it); a
	// value that is not a boolean is refused naming the parameter.
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	res := &district.Result{Sites: []string{"a"}, Start: start, Steps: 96, CapsKW: [][]float64{make([]float64, 96)}, PlansKW: [][]float64{make([]float64, 96)},
		Prices: [][]float64{make([]float64, 96)}, Rounds: []district.RoundReport{{Round: 0}}}
	for i := range 96 {
		res.CapsKW[0][i], res.PlansKW[0][i] = 80, float64(i%10)*8
	}
	hs2 := httptest.NewServer(api.NewDistrictServer(cfg, fakeCoordinator{res}, api.DistrictOptions{}))
	defer hs2.Close()
	for q, want := range map[string]int{"": 96, "?brief=false": 96, "?brief=true": 0, "?brief=1": 0} {
		resp, err := http.Get(hs2.URL + "/api/v1/district" + q)
		if err != nil {
			t.Fatal(err)
		}
		var st api.DistrictState
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil || st.Last == nil || st.Cycle != 7 || !st.AsOf.Equal(start.Add(time.Minute)) {
			t.Fatalf("%s: %v %+v", q, err, st)
		}
		got := 0
		if len(st.Last.CapsKW) == 1 && len(st.Last.PlansKW) == 1 {
			got = len(st.Last.CapsKW[0])
		}
		if got != want || len(st.Nodes[0].PlanKW) != 96 || st.Nodes[0].PlanKW[9] != 72 || *st.Nodes[0].PeakLoadingPct != 72 || *st.Sites[0].MinHeadroomKW != 8 || st.Sites[0].StepsAtCap != 0 {
			t.Errorf("%s: %d caps per step (want %d), node %+v", q, got, want, st.Nodes[0])
		}
	}
	resp, err = http.Get(hs2.URL + "/api/v1/district?brief=maybe")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `brief=\"maybe\"`) || !strings.Contains(string(body), `"field": "brief"`) {
		t.Errorf("brief=maybe: %s %s", resp.Status, body)
	}
}

// fakeCoordinator has no site registered and res as its last cycle.
type fakeCoordinator struct{ res *district.Result }

func (fakeCoordinator) Registered(context.Context) (map[string]dnats.Registration, error) {
	return map[string]dnats.Registration{}, nil
}
func (fakeCoordinator) Cycles() int64  { return 7 }
func (fakeCoordinator) Published() int { return 0 }
func (f fakeCoordinator) LastCycle() (*district.Result, int64, time.Time) {
	if f.res == nil {
		return nil, 0, time.Time{}
	}
	return f.res, 7, f.res.Start.Add(time.Minute)
}

// eastBus connects as name to the NATS server at natsURL and opens district
// "east"'s bus, both closed when the test ends.
func eastBus(ctx context.Context, t *testing.T, natsURL, name string) *dnats.Bus {
	t.Helper()
	nc, err := dnats.Connect(natsURL, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := dnats.Open(ctx, nc, "east", 1)
	if err != nil {
		t.Fatal(err)
	}
	return bus
}
