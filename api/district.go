package api

import (
	"context"
	"encoding/json"
	"io/fs"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
)

// DistrictCoordinator is what the district console reads from a coordinator
// (*dnats.Coordinator): the live registrations and the last cycle.
type DistrictCoordinator interface {
	Registered(ctx context.Context) (map[string]dnats.Registration, error)
	LastCycle() (res *district.Result, cycle int64, issued time.Time)
	// Cycles counts the cycles run since the coordinator started; Published
	// the telemetry messages the district stream acknowledged.
	Cycles() int64
	Published() int
}

// DistrictOptions tune the district console server.
type DistrictOptions struct {
	// Clock gives the server's time ("now" in the state; default the wall clock).
	Clock clock.Clock
}

// Site statuses in the district state.
const (
	DistrictSiteAnswered     = "answered"     // took part in the last cycle
	DistrictSiteRegistered   = "registered"   // registered, no cycle since
	DistrictSiteExcluded     = "excluded"     // excluded from the last cycle (exclusion says why)
	DistrictSiteUnregistered = "unregistered" // no live registration
)

// DistrictState is GET /api/v1/district: the district file's sites and shared
// nodes, the live registrations and the last cycle's result, with what the
// district console draws worked out per site and per node. With ?brief=true
// (the console's poll) Last comes without its per-site caps_kw and plans_kw.
type DistrictState struct {
	District string            `json:"district"`
	Config   district.Identity `json:"config"`
	Sites    []DistrictSite    `json:"sites"`
	// Nodes are the shared nodes' limits per step over the last cycle's
	// horizon (before the first cycle: the horizon starting now), with the
	// sums of the plans and caps below each.
	Nodes []DistrictNode `json:"nodes"`
	// Last is the last cycle's result (null before the first).
	Last *district.Result `json:"last"`

	// TimeZone, StepMinutes and HorizonSteps repeat the district's time grid
	// (config holds them under their Go names); Now is the server's time,
	// UTCOffset the district time zone's offset at Now.
	TimeZone     string    `json:"time_zone"`
	StepMinutes  int       `json:"step_minutes"`
	HorizonSteps int       `json:"horizon_steps"`
	Now          time.Time `json:"now"`
	UTCOffset    string    `json:"utc_offset"`
	// Cycle numbers the last cycle (0 before the first); AsOf is when its caps
	// were issued; CycleSeconds is coordination.cycle, GapTargetPct
	// coordination.gap_pct, MaxRounds coordination.max_rounds.
	Cycle int64 `json:"cycle"`
	// Cycles run since the coordinator started, and the telemetry messages
	// (rounds, events, plans, results) the district stream acknowledged.
	Cycles    int64 `json:"cycles"`
	Published int   `json:"published"`
	// RegistrationsError says why the registrations could not be read (a
	// NATS node down, a leader election): the state is served all the same,
	// with no site shown as registered.
	RegistrationsError string     `json:"registrations_error,omitempty"`
	AsOf               *time.Time `json:"as_of"`
	CycleSeconds       float64    `json:"cycle_seconds"`
	GapTargetPct       float64    `json:"gap_target_pct"`
	MaxRounds          int        `json:"max_rounds"`
}

// DistrictSite is one site's state.
type DistrictSite struct {
	ID         string     `json:"id"`
	Registered bool       `json:"registered"`
	LastSeen   *time.Time `json:"last_seen,omitempty"`
	Excluded   bool       `json:"excluded"`

	// Status is answered, registered, excluded or unregistered.
	Status string `json:"status"`
	// Remote: a gridd elsewhere (remote: true); else a site config of this machine.
	Remote bool `json:"remote"`
	// ConsoleURL is the site's own console (console_url in district.yaml).
	ConsoleURL string `json:"console_url,omitempty"`
	// Instance is the registered process (host/pid/start for gridd run).
	Instance string `json:"instance,omitempty"`
	// Exclusion is the event that excluded the site from the last cycle;
	// Events every event about it in that cycle (exclusion, cap infeasible).
	Exclusion *district.Event  `json:"exclusion,omitempty"`
	Events    []district.Event `json:"events,omitempty"`
	// Headline of its cap against its plan in the last cycle (absent before
	// the first): the peak of its planned import and the cap at that step
	// (PeakAt), the energy planned and allowed over the horizon, the smallest
	// headroom (cap − plan) and the steps where the plan is at its cap
	// (within 0.1 kW).
	PeakPlanKW    *float64   `json:"peak_plan_kw,omitempty"`
	CapAtPeakKW   *float64   `json:"cap_at_peak_kw,omitempty"`
	PeakAt        *time.Time `json:"peak_at,omitempty"`
	PlanKWh       *float64   `json:"plan_kwh,omitempty"`
	CapKWh        *float64   `json:"cap_kwh,omitempty"`
	MinHeadroomKW *float64   `json:"min_headroom_kw,omitempty"`
	StepsAtCap    int        `json:"steps_at_cap"`
}

// DistrictNode is one shared node: its limit per step and the sites below it
// (as indices into sites, and SiteIDs), and in the last cycle the sums of the
// plans and of the caps below it per step, its price per step and its
// highest loading.
type DistrictNode struct {
	district.Limit
	Parent  string   `json:"parent,omitempty"`
	SiteIDs []string `json:"site_ids"`
	// PlanKW and CapKW are Σ plans and Σ caps of the sites below, per step;
	// PricePerKWh the coordination price λ of this node's limit per step.
	PlanKW      []float64 `json:"plan_kw,omitempty"`
	CapKW       []float64 `json:"cap_kw,omitempty"`
	PricePerKWh []float64 `json:"price_per_kwh,omitempty"`
	// PeakLoadingPct is the highest Σ plans / limit in percent, at PeakStep
	// (PeakAt); CapLoadingPct the highest Σ caps / limit (at most 100 by
	// construction).
	PeakLoadingPct *float64   `json:"peak_loading_pct,omitempty"`
	PeakStep       *int       `json:"peak_step,omitempty"`
	PeakAt         *time.Time `json:"peak_at,omitempty"`
	CapLoadingPct  *float64   `json:"cap_loading_pct,omitempty"`
}

// districtFiles are the console files the district server serves: its page and
// script, the script it shares with the site console (common.js), and the site
// console's styles and strings.
var districtFiles = map[string]string{
	"/":             "district.html",
	"/common.js":    "common.js",
	"/district.js":  "district.js",
	"/console.css":  "console.css",
	"/district.css": "district.css",
	"/i18n.json":    "i18n.json",
}

// NewDistrictServer serves the district console of a coordinator: the page at
// / (district.html, sharing the site console's styles and strings) and its
// state as JSON at GET /api/v1/district. It has no login: serve it on
// loopback or a management network, as `gridd coordinate --listen` documents.
func NewDistrictServer(cfg *district.Config, co DistrictCoordinator, o DistrictOptions) http.Handler {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	sub, _ := fs.Sub(consoleFS, "console")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/district", func(w http.ResponseWriter, r *http.Request) {
		brief := false
		if v := r.URL.Query().Get("brief"); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				fail(w, http.StatusBadRequest, "brief", "brief=%q: want true or false", v)
				return
			}
			brief = b
		}
		st := BuildDistrictState(r.Context(), cfg, co, o.Clock.Now())
		if brief && st.Last != nil {
			// The page's poll: every site's caps and plans per step are most of
			// a large district's state, and the page draws their sums per node.
			b := *st.Last
			b.CapsKW, b.PlansKW = nil, nil
			st.Last = &b
		}
		// Compact: the per-step arrays of a large district are most of the poll.
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	for path, file := range districtFiles {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != path { // "/" matches every path
				http.NotFound(w, r)
				return
			}
			http.ServeFileFS(w, r, sub, file)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header(), r, r.TLS != nil)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		mux.ServeHTTP(w, r)
	})
}

// BuildDistrictState assembles GET /api/v1/district at now.
func BuildDistrictState(ctx context.Context, cfg *district.Config, co DistrictCoordinator, now time.Time) *DistrictState {
	// The bucket may be out of reach for a while: the state is served all
	// the same, saying so.
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	regs, regErr := co.Registered(rctx)
	cancel()
	last, cycle, issued := co.LastCycle()
	loc := cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	st := &DistrictState{
		District: cfg.District.ID, Config: cfg.District, Last: last, Now: now, TimeZone: loc.String(),
		StepMinutes: cfg.District.StepMinutes, HorizonSteps: cfg.District.HorizonSteps, UTCOffset: now.In(loc).Format("-07:00"),
		Cycle: cycle, CycleSeconds: cfg.Coordination.Cycle.D.Seconds(), GapTargetPct: cfg.Coordination.GapPct, MaxRounds: cfg.Coordination.MaxRounds,
		Sites: []DistrictSite{}, Nodes: []DistrictNode{}, Cycles: co.Cycles(), Published: co.Published(),
	}
	if regErr != nil {
		st.RegistrationsError = regErr.Error()
	}
	if last != nil {
		st.AsOf = &issued
	}
	step := cfg.Step()
	idx := map[string]int{} // site ID -> row in last
	if last != nil {
		for i, id := range last.Sites {
			idx[id] = i
		}
	}
	for _, s := range cfg.Sites {
		ds := DistrictSite{ID: s.ID, Remote: s.Remote, ConsoleURL: s.ConsoleURL, Status: DistrictSiteUnregistered}
		if reg, ok := regs[s.ID]; ok {
			seen := reg.Seen
			ds.Registered, ds.LastSeen, ds.Instance, ds.Status = true, &seen, reg.Instance, DistrictSiteRegistered
		}
		if last != nil {
			for _, e := range last.Events {
				if e.Site == s.ID {
					ds.Events = append(ds.Events, e)
				}
			}
			for _, x := range last.Excluded {
				ds.Excluded = ds.Excluded || x == s.ID
			}
			for _, e := range ds.Events {
				if ds.Excluded && ds.Exclusion == nil && e.Kind != district.EventSiteCapInfeasible {
					ds.Exclusion = &e
				}
			}
			switch {
			case ds.Excluded:
				ds.Status = DistrictSiteExcluded
			case ds.Registered:
				ds.Status = DistrictSiteAnswered
			}
			if i, ok := idx[s.ID]; ok && i < len(last.CapsKW) && i < len(last.PlansKW) {
				headline(&ds, last.CapsKW[i], last.PlansKW[i], last.Start, step)
			}
		}
		st.Sites = append(st.Sites, ds)
	}

	start := now.Truncate(step)
	if last != nil {
		start = last.Start
	}
	parent := map[string]string{}
	for _, n := range cfg.Nodes {
		parent[n.ID] = n.Parent
	}
	for k, l := range cfg.Limits(start) {
		dn := DistrictNode{Limit: l, Parent: parent[l.ID], SiteIDs: []string{}}
		for _, i := range l.Sites {
			dn.SiteIDs = append(dn.SiteIDs, cfg.Sites[i].ID)
		}
		if last != nil {
			loading(&dn, last, k, start, step)
		}
		st.Nodes = append(st.Nodes, dn)
	}
	return st
}

// headline fills a site's cap-vs-plan figures.
func headline(ds *DistrictSite, caps, plan []float64, start time.Time, step time.Duration) {
	if len(plan) == 0 || len(caps) != len(plan) {
		return
	}
	peak, at := math.Inf(-1), 0
	var planKWh, capKWh float64
	headroom := math.Inf(1)
	h := step.Hours()
	for t, p := range plan {
		if p > peak {
			peak, at = p, t
		}
		planKWh += math.Max(p, 0) * h
		capKWh += caps[t] * h
		headroom = math.Min(headroom, caps[t]-p)
		if caps[t]-p <= 0.1 {
			ds.StepsAtCap++
		}
	}
	when := start.Add(time.Duration(at) * step)
	capAt := caps[at]
	ds.PeakPlanKW, ds.CapAtPeakKW, ds.PeakAt = &peak, &capAt, &when
	ds.PlanKWh, ds.CapKWh, ds.MinHeadroomKW = &planKWh, &capKWh, &headroom
}

// loading fills node k's sums, prices and highest loading from the last cycle.
func loading(dn *DistrictNode, last *district.Result, k int, start time.Time, step time.Duration) {
	T := len(dn.LimitKW)
	dn.PlanKW, dn.CapKW = make([]float64, T), make([]float64, T)
	for _, i := range dn.Sites {
		for t := 0; t < T; t++ {
			if i < len(last.PlansKW) && t < len(last.PlansKW[i]) {
				dn.PlanKW[t] += last.PlansKW[i][t]
			}
			if i < len(last.CapsKW) && t < len(last.CapsKW[i]) {
				dn.CapKW[t] += last.CapsKW[i][t]
			}
		}
	}
	if k < len(last.Prices) && len(last.Prices[k]) == T {
		dn.PricePerKWh = last.Prices[k]
	}
	peak, capPeak, at := math.Inf(-1), math.Inf(-1), 0
	for t, lim := range dn.LimitKW {
		if lim <= 0 {
			continue
		}
		if p := 100 * dn.PlanKW[t] / lim; p > peak {
			peak, at = p, t
		}
		capPeak = math.Max(capPeak, 100*dn.CapKW[t]/lim)
	}
	if math.IsInf(peak, -1) {
		return
	}
	when := start.Add(time.Duration(at) * step)
	dn.PeakLoadingPct, dn.PeakStep, dn.PeakAt, dn.CapLoadingPct = &peak, &at, &when, &capPeak
}
