package api

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/storage"
)

//go:embed console
var consoleFS embed.FS

// Server serves the API and the console.
type Server struct {
	svc     Dispatcher
	replays Replays

	requests       *prometheus.HistogramVec
	metricsHandler http.Handler
	log            *slog.Logger
	mux            *http.ServeMux
	users          *Users
	now            func() time.Time
	sessions       *sessions
	limiter        *limiter
	// accountFailures is the limit of failed logins per account name per window,
	// across addresses that never logged in to it.
	accountFailures int
	secure          bool
	routes          []route
	acks            *acks
	closing         chan struct{}
	once            sync.Once
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	// Users is the account store (required).
	Users *Users
	// Now is the wall clock for sessions and login rate limiting (default time.Now).
	Now func() time.Time
	// SessionTTL is how long a console login lasts (default 12h).
	SessionTTL time.Duration
	// LoginFailures login attempts per LoginWindow from one client address that do not
	// succeed block further attempts from it until the window passes (default 5 per
	// 5m). AccountFailures (default 4 × LoginFailures) does the same per account name,
	// counted over every address that has not logged in to that account before (an
	// address the owner used within 30 days is not blocked by it).
	LoginFailures   int
	AccountFailures int
	LoginWindow     time.Duration
	// SecureCookies marks the session cookie Secure (set when serving TLS).
	SecureCookies bool
	// Registry is the Prometheus registry /metrics serves; the server registers the
	// dispatch service's metrics, its own request durations and the Go runtime's in it.
	// Nil means a new registry.
	Registry *prometheus.Registry
	// Replays runs planners' replays and what-ifs as jobs (GET/POST /api/v1/replays);
	// nil answers those routes with 503.
	Replays Replays
}

// NewServer returns a Server acting on svc (a *dispatch.Service in production).
func NewServer(svc Dispatcher, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Users == nil {
		return nil, errors.New("api: Users is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.LoginFailures <= 0 {
		o.LoginFailures = 5
	}
	if o.AccountFailures <= 0 {
		o.AccountFailures = 4 * o.LoginFailures
	}
	if o.LoginWindow <= 0 {
		o.LoginWindow = 5 * time.Minute
	}
	s := &Server{
		svc: svc, log: o.Logger, mux: http.NewServeMux(), users: o.Users, now: o.Now,
		sessions:        &sessions{ttl: o.SessionTTL, m: map[string]session{}},
		limiter:         &limiter{max: o.LoginFailures, window: o.LoginWindow, fails: map[string][]time.Time{}},
		accountFailures: o.AccountFailures,
		secure:          o.SecureCookies, acks: &acks{m: map[int64]ack{}}, closing: make(chan struct{}),
		replays: o.Replays,
	}
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "gridd_http_request_duration_seconds", Help: "API requests by route, method and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method", "code"})
	for _, c := range []prometheus.Collector{s.requests, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: metrics: %w", err)
		}
	}
	if err := svc.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("api: metrics: %w", err)
	}
	s.metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn)})
	s.register()
	return s, nil
}

// Close ends the open event streams (call it when the HTTP server shuts down).
func (s *Server) Close() { s.once.Do(func() { close(s.closing) }) }

// MaxBodyBytes is the largest request body the server reads; a larger one gets 413.
const MaxBodyBytes = 64 << 10

// contentSecurityPolicy admits only the console's own script, styles and API: no
// inline script, no framing, no third-party origin. Inline style attributes stay
// allowed for the chart legend.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ServeHTTP implements http.Handler. Every response carries the security headers;
// every request body is capped at MaxBodyBytes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header(), r, s.secure)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	}
	s.mux.ServeHTTP(w, r)
}

// securityHeaders sets the headers every response of the site and the district
// consoles carries; secure adds HSTS (served over TLS).
func securityHeaders(h http.Header, r *http.Request, secure bool) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
	if secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.Set("Cache-Control", "no-store")
	}
}

var (
	readRoles     = []Role{RoleAdmin, RoleDispatcher, RolePlanner, RoleViewer}
	decideRoles   = []Role{RoleAdmin, RoleDispatcher}
	pinRoles      = []Role{RoleAdmin, RoleDispatcher, RolePlanner}
	operatorRoles = []Role{RoleAdmin, RoleOperator}
	anyRole       = []Role{RoleAdmin, RoleDispatcher, RoleOperator, RolePlanner, RoleViewer}
)

// route is one API route; nil roles means public. body is a value of the request
// type the handler decodes (nil: no body) and resp one of the type it answers with
// (code, default 200; contentType, default application/json): the OpenAPI document
// derives both schemas from them.
type route struct {
	method, path, summary string
	roles                 []Role
	body                  any
	query                 []queryParam
	h                     http.HandlerFunc
	resp                  any
	code                  int
	contentType           string
	optionalBody          bool // the body may be left out
}

// queryParam is a query parameter and its JSON schema type ("string", "integer") and
// format ("date-time").
type queryParam struct{ name, typ, format string }

var (
	qFrom     = queryParam{"from", "string", "date-time"}
	qTo       = queryParam{"to", "string", "date-time"}
	qString   = func(name string) queryParam { return queryParam{name, "string", ""} }
	qInteger  = func(name string) queryParam { return queryParam{name, "integer", ""} }
	textPlain = "text/plain"
)

func (s *Server) register() {
	reason := decisionRequest{}
	s.routes = []route{
		{method: "GET", path: "/healthz", summary: "liveness and store health", h: s.healthz, resp: statusJSON{}},
		{method: "GET", path: "/api/v1/openapi.json", summary: "this OpenAPI 3 document", h: s.openapi, resp: map[string]any{}},
		{method: "POST", path: "/api/v1/login", summary: "console login with user name and password; sets the session cookie", body: loginRequest{}, h: s.login, resp: meResponse{}},
		{method: "POST", path: "/api/v1/logout", summary: "end the console session", roles: anyRole, h: s.logout, resp: statusJSON{}},
		{method: "GET", path: "/api/v1/me", summary: "the authenticated user", roles: anyRole, h: s.me, resp: meResponse{}},
		{method: "GET", path: "/metrics", summary: "Prometheus metrics (text exposition format)", roles: readRoles, h: s.metrics, resp: "", contentType: textPlain},
		{method: "GET", path: "/api/v1/sites", summary: "the sites this server dispatches (one per gridd process)", roles: readRoles, h: s.listSites, resp: []siteResponse{}},
		{method: "GET", path: "/api/v1/site", summary: "site, tariff summary, node tree", roles: readRoles, h: s.getSite, resp: siteResponse{}},
		{method: "GET", path: "/api/v1/devices", summary: "devices (an operator sees only its chargers)", roles: anyRole, h: s.listDevices, resp: []deviceJSON{}},
		{method: "GET", path: "/api/v1/telemetry/latest", summary: "latest value of every point (an operator sees only its chargers)", roles: anyRole, query: []queryParam{qString("device")}, h: s.latestTelemetry, resp: []sampleJSON{}},
		{method: "GET", path: "/api/v1/forecasts", summary: "latest P10/P50/P90 forecasts of each load and PV series", roles: readRoles, query: []queryParam{qString("series")}, h: s.forecasts, resp: []forecastJSON{}},
		{method: "GET", path: "/api/v1/schedules", summary: "schedules, newest first", roles: readRoles, query: []queryParam{qString("status"), qFrom, qTo}, h: s.listSchedules, resp: []scheduleJSON{}},
		{method: "GET", path: "/api/v1/schedules/{id}", summary: "one schedule with setpoints and plan", roles: readRoles, h: s.getSchedule, resp: scheduleJSON{}},
		{method: "GET", path: "/api/v1/schedules/{id}/explain", summary: "cost against the previous schedule, prices and binding constraints per step, reasons per asset", roles: readRoles, h: s.explain, resp: dispatch.Explanation{}},
		{method: "POST", path: "/api/v1/schedules/{id}/approve", summary: "approve a proposed schedule (reason required)", roles: decideRoles, body: reason, h: s.decide(true), resp: decisionResponse{}},
		{method: "POST", path: "/api/v1/schedules/{id}/reject", summary: "reject a proposed schedule (reason required)", roles: decideRoles, body: reason, h: s.decide(false), resp: decisionResponse{}},
		{method: "GET", path: "/api/v1/pins", summary: "pins in force", roles: readRoles, h: s.listPins, resp: []dispatch.Pin{}},
		{method: "POST", path: "/api/v1/pins", summary: "pin a battery or charger at a power until a time; re-solves and returns the new proposal", roles: pinRoles, body: pinRequest{}, h: s.pin, resp: scheduleJSON{}},
		{method: "DELETE", path: "/api/v1/pins/{device}", summary: "remove a pin (reason in the body)", roles: pinRoles, body: reason, h: s.unpin, resp: statusJSON{}},
		{method: "GET", path: "/api/v1/setpoints", summary: "setpoint writes with requested, written and read-back values", roles: readRoles, query: []queryParam{qInteger("schedule")}, h: s.listWrites, resp: []writeJSONRow{}},
		{method: "GET", path: "/api/v1/cycles", summary: "recent dispatch cycles", roles: readRoles, h: s.listCycles, resp: []cycleJSON{}},
		{method: "GET", path: "/api/v1/audit", summary: "the audit log", roles: readRoles, query: []queryParam{qInteger("limit")}, h: s.listAudit, resp: []auditJSON{}},
		{method: "GET", path: "/api/v1/audit/verify", summary: "verify the audit hash chain", roles: []Role{RoleAdmin, RoleDispatcher}, h: s.verifyAudit, resp: verifyJSON{}},
		{method: "GET", path: "/api/v1/safety", summary: "kill switch, overrides and each device's envelope and comms state", roles: readRoles, h: s.safetyStatus, resp: safetyJSON{}},
		{method: "GET", path: "/api/v1/alarms", summary: "alarms: devices lost for control, limits the real-time layer could not keep, writes a device ignored", roles: readRoles, h: s.listAlarms, resp: alarmsJSON{}},
		{method: "POST", path: "/api/v1/alarms/{key}/ack", summary: "acknowledge an alarm (reason required)", roles: decideRoles, body: reason, h: s.ackAlarm, resp: alarmsJSON{}},
		{method: "GET", path: "/api/v1/limits", summary: "external limits on the site's grid import and export not yet over", roles: readRoles, h: s.listLimits, resp: limitsJSON{}},
		{method: "PUT", path: "/api/v1/limits", summary: "put an external limit on the site's import and/or export in force (constant or per step); applied at once", roles: decideRoles, body: limitRequest{}, h: s.putLimit, resp: limitJSON{}},
		{method: "DELETE", path: "/api/v1/limits/{id}", summary: "end an external limit early (reason in the body)", roles: decideRoles, body: reason, h: s.endLimit, resp: limitsJSON{}},
		{method: "GET", path: "/api/v1/control", summary: "the real-time layer: interval, deadband, peak target in force, ticks, latency, corrections, keep-alives", roles: readRoles, h: s.controlStatus, resp: controlJSON{}},
		{method: "PUT", path: "/api/v1/weather", summary: "feed an hourly weather forecast (temperature, GHI) to the load and PV forecasts; must cover the horizon", roles: decideRoles, body: weatherRequest{}, h: s.putWeather, resp: acceptedJSON{}},
		{method: "PUT", path: "/api/v1/prices", summary: "feed day-ahead prices (tariff.day_ahead): one price per interval from its time on, import and optionally export per kWh", roles: decideRoles, body: pricesRequest{}, h: s.putPrices, resp: acceptedJSON{}},
		{method: "POST", path: "/api/v1/safety/pause", summary: "engage the site kill switch (pauses automation)", roles: decideRoles, body: reason, h: s.pause, resp: safety.KillSwitch{}},
		{method: "POST", path: "/api/v1/safety/resume", summary: "release the kill switch", roles: decideRoles, body: reason, h: s.resume, resp: resumeJSON{}},
		{method: "POST", path: "/api/v1/overrides", summary: "manual setpoint lease for a device until a time", roles: decideRoles, body: overrideRequest{}, h: s.addOverride, resp: overrideJSON{}},
		{method: "DELETE", path: "/api/v1/overrides/{id}", summary: "end an override early (reason in the body)", roles: decideRoles, body: reason, h: s.cancelOverride, resp: statusJSON{}},
		{method: "GET", path: "/api/v1/operator/setpoints", summary: "current setpoint of each of the operator's chargers", roles: operatorRoles, h: s.operatorSetpoints, resp: []operatorSetpoint{}},
		{method: "GET", path: "/api/v1/operator/stream", summary: "Server-Sent Events: every new setpoint of the operator's chargers (event: setpoint)", roles: operatorRoles, h: s.operatorStream, resp: "", contentType: "text/event-stream"},
		{method: "POST", path: "/api/v1/operator/setpoints/{id}/ack", summary: "acknowledge a setpoint write", roles: operatorRoles, body: ackRequest{}, optionalBody: true, h: s.ack, resp: operatorSetpoint{}},
		{method: "POST", path: "/api/v1/operator/sessions", summary: "report a charging session; feeds the next cycle", roles: operatorRoles, body: sessionRequest{}, h: s.session, resp: sessionJSON{}, code: http.StatusAccepted},
	}
	s.routes = append(s.routes, s.consoleRoutes()...)
	s.routes = append(s.routes, s.operatorRoutes()...)
	s.routes = append(s.routes, s.historyRoutes()...)
	s.routes = append(s.routes, s.replayRoutes()...)
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.guard(rt))
	}
	sub, _ := fs.Sub(consoleFS, "console")
	s.mux.Handle("GET /", http.FileServerFS(sub))
}

type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fail(w http.ResponseWriter, code int, field, format string, args ...any) {
	writeJSON(w, code, apiError{Error: fmt.Sprintf(format, args...), Field: field})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.svc.Store().ListCycles(ctx, 1); err != nil {
		fail(w, http.StatusServiceUnavailable, "", "store: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, statusJSON{Status: "ok"})
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.siteJSON())
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []siteResponse{s.siteJSON()})
}

func (s *Server) siteJSON() siteResponse {
	cfg := s.svc.Config()
	src := "tou"
	if cfg.Tariff.DayAhead != nil {
		src = "day_ahead"
	}
	return siteResponse{
		Name: cfg.Site.Name, Timezone: cfg.Site.Timezone, Cycle: cfg.Site.Cycle,
		StepMinutes: int(cfg.Site.Step.D / time.Minute), Steps: cfg.Site.Steps(),
		Currency: cfg.Tariff.Currency, PriceSource: src, Grid: cfg.Grid, Nodes: cfg.Nodes,
		AutoApprove: cfg.Approval.Auto, Now: s.svc.Clock().Now(),
		ApprovalDeadline: cfg.Approval.Deadline.D.String(), SafeState: cfg.Approval.SafeState,
	}
}

type deviceJSON struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Node     string `json:"node"`
	Endpoint string `json:"endpoint"`
	UnitID   int    `json:"unit_id"`
	Profile  string `json:"profile"`
	Owner    string `json:"owner,omitempty"`
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request) {
	cfg := s.svc.Config()
	ids, all := s.chargers(from(r))
	out := make([]deviceJSON, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		if all || ids[d.ID] {
			out = append(out, deviceJSON{d.ID, d.Kind, d.Node, d.Endpoint, d.UnitID, d.Profile, d.Owner})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type sampleJSON struct {
	Time     time.Time `json:"time"`
	DeviceID string    `json:"device_id"`
	Point    string    `json:"point"`
	Value    float64   `json:"value"`
	Quality  string    `json:"quality"`
}

func (s *Server) latestTelemetry(w http.ResponseWriter, r *http.Request) {
	dev := r.URL.Query().Get("device")
	ids, all := s.chargers(from(r))
	if dev != "" {
		if _, ok := s.svc.Config().Device(dev); !ok || (!all && !ids[dev]) {
			fail(w, http.StatusBadRequest, "device", "unknown device %q", dev)
			return
		}
	}
	list, err := s.svc.Store().LatestTelemetry(r.Context(), dev)
	if err != nil {
		storeError(w, err)
		return
	}
	out := make([]sampleJSON, 0, len(list))
	for _, x := range list {
		if all || ids[x.DeviceID] {
			out = append(out, sampleJSON{x.Time, x.DeviceID, x.Point, x.Value, string(x.Quality)})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

type scheduleJSON struct {
	ID            int64                `json:"id"`
	CreatedAt     time.Time            `json:"created_at"`
	Start         time.Time            `json:"start"`
	StepMinutes   int                  `json:"step_minutes"`
	Steps         int                  `json:"steps"`
	Status        string               `json:"status"`
	InputHash     string               `json:"input_hash"`
	Objective     float64              `json:"objective"`
	CostBreakdown map[string]float64   `json:"cost_breakdown"`
	SolverStatus  string               `json:"solver_status"`
	Approver      string               `json:"approver,omitempty"`
	DecidedAt     *time.Time           `json:"decided_at,omitempty"`
	Reason        string               `json:"reason,omitempty"`
	Setpoints     map[string][]float64 `json:"setpoints_kw,omitempty"`
	Plan          json.RawMessage      `json:"plan,omitempty"`
	// Config is the hash of the site config and of each device profile the schedule
	// was made with (also inside plan.config).
	Config *dispatch.ConfigHashes `json:"config,omitempty"`
}

func toJSON(sc *storage.Schedule, full bool) scheduleJSON {
	out := scheduleJSON{
		ID: sc.ID, CreatedAt: sc.CreatedAt, Start: sc.Start, StepMinutes: sc.StepMinutes, Steps: sc.Steps,
		Status: string(sc.Status), InputHash: sc.InputHash, Objective: sc.Objective, CostBreakdown: sc.CostBreakdown,
		SolverStatus: sc.SolverStatus, Approver: sc.Approver, Reason: sc.Reason,
	}
	if !sc.DecidedAt.IsZero() {
		t := sc.DecidedAt
		out.DecidedAt = &t
	}
	if full {
		out.Setpoints = map[string][]float64{}
		for _, sp := range sc.Setpoints {
			v := out.Setpoints[sp.DeviceID]
			for len(v) <= sp.Step {
				v = append(v, 0)
			}
			v[sp.Step] = sp.PowerKW
			out.Setpoints[sp.DeviceID] = v
		}
		if json.Valid(sc.Plan) {
			out.Plan = sc.Plan
			var doc struct {
				Config *dispatch.ConfigHashes `json:"config"`
			}
			if json.Unmarshal(sc.Plan, &doc) == nil {
				out.Config = doc.Config
			}
		}
	}
	return out
}

func (s *Server) listSchedules(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := storage.ScheduleStatus(q.Get("status"))
	switch status {
	case "", storage.StatusProposed, storage.StatusApproved, storage.StatusRejected, storage.StatusExpired, storage.StatusSuperseded:
	default:
		fail(w, http.StatusBadRequest, "status", "unknown status %q", status)
		return
	}
	from, to, ok := queryRange(w, q, storage.Epoch, s.svc.Clock().Now().Add(24*time.Hour))
	if !ok {
		return
	}
	list, err := s.svc.Store().ListSchedules(r.Context(), from, to, status)
	if err != nil {
		storeError(w, err)
		return
	}
	out := make([]scheduleJSON, 0, len(list))
	for i := range list {
		out = append(out, toJSON(&list[i], false))
	}
	writeJSON(w, http.StatusOK, out)
}

// queryRange reads the optional query parameters from and to (RFC 3339) of a [from, to)
// range, with defaults. A time outside years 1 to 9999, or from after to, is answered
// with 400 naming the parameter; ok is false then.
func queryRange(w http.ResponseWriter, q url.Values, defFrom, defTo time.Time) (from, to time.Time, ok bool) {
	from, to = defFrom, defTo
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			fail(w, http.StatusBadRequest, p.name, "%s: want an RFC 3339 time, got %q", p.name, v)
			return from, to, false
		}
		if y := t.UTC().Year(); t.IsZero() || y < 1 || y > 9999 {
			fail(w, http.StatusBadRequest, p.name, "%s: %q is outside the times gridd stores (after 0001-01-01T00:00:00Z, before year 10000)", p.name, v)
			return from, to, false
		}
		*p.t = t
	}
	if from.After(to) {
		fail(w, http.StatusBadRequest, "from", "from %s is after to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
		return from, to, false
	}
	return from, to, true
}

// storeError answers a store error: 400 for input the store refused (naming what it
// said), 500 otherwise.
func storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, storage.ErrInvalid) {
		fail(w, http.StatusBadRequest, "", "%v", err)
		return
	}
	if errors.Is(err, storage.ErrNotFound) {
		fail(w, http.StatusNotFound, "", "%v", err)
		return
	}
	fail(w, http.StatusInternalServerError, "", "%v", err)
}

// scheduleError answers err of reading schedule id, if any: 404 naming the id for a
// missing schedule, storeError otherwise. It reports whether it answered.
func scheduleError(w http.ResponseWriter, id int64, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, storage.ErrNotFound):
		fail(w, http.StatusNotFound, "id", "no schedule %d", id)
	default:
		storeError(w, err)
	}
	return true
}

// pathID reads the positive integer path value id; on failure it answers 400 naming
// what the id is of (e.g. "schedule").
func pathID(w http.ResponseWriter, r *http.Request, what string) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		fail(w, http.StatusBadRequest, "id", "%s id must be a positive integer, got %q", what, raw)
		return 0, false
	}
	return id, true
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "schedule")
	if !ok {
		return
	}
	sc, err := s.svc.Store().GetSchedule(r.Context(), id)
	if scheduleError(w, id, err) {
		return
	}
	writeJSON(w, http.StatusOK, toJSON(sc, true))
}

func (s *Server) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(w, r, "schedule")
		if !ok {
			return
		}
		var req decisionRequest
		if !decodeBody(w, r, &req, true) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
			return
		}
		p := from(r)
		actor := p.actor()
		if req.User != "" && req.User != p.Name {
			fail(w, http.StatusBadRequest, "user", "user %q is not the authenticated user %q (leave it out)", req.User, p.Name)
			return
		}
		var err error
		var writes []storage.SetpointWrite
		if approve {
			writes, err = s.svc.Approve(r.Context(), id, actor, req.Reason)
		} else {
			err = s.svc.Reject(r.Context(), id, actor, req.Reason)
		}
		switch {
		case errors.Is(err, storage.ErrNotFound):
			fail(w, http.StatusNotFound, "id", "no schedule %d", id)
			return
		case errors.Is(err, dispatch.ErrNotProposed), errors.Is(err, dispatch.ErrExpired):
			fail(w, http.StatusConflict, "id", "%v", err)
			return
		case err != nil && writes == nil:
			storeError(w, err)
			return
		}
		resp := decisionResponse{ID: id, Status: "rejected"}
		if approve {
			resp.Status = "approved"
			resp.Writes = writesJSON(writes)
			if err != nil {
				resp.WriteError = err.Error()
			}
		}
		writeJSON(w, http.StatusOK, resp)
	}
}

func jsonField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	if msg := err.Error(); strings.HasPrefix(msg, "json: unknown field ") {
		q := strings.TrimPrefix(msg, "json: unknown field ")
		if name, err := strconv.Unquote(q); err == nil {
			return name
		}
		return strings.Trim(q, `"`)
	}
	return ""
}

type writeJSONRow struct {
	ID          int64     `json:"id"`
	Time        time.Time `json:"time"`
	ScheduleID  int64     `json:"schedule_id"`
	DeviceID    string    `json:"device_id"`
	Point       string    `json:"point"`
	RequestedKW float64   `json:"requested_kw"`
	WrittenKW   float64   `json:"written_kw"`
	ReadBackKW  float64   `json:"read_back_kw"`
	Status      string    `json:"status"`
	Error       string    `json:"error,omitempty"`
}

func writesJSON(ws []storage.SetpointWrite) []writeJSONRow {
	out := make([]writeJSONRow, 0, len(ws))
	for _, x := range ws {
		out = append(out, writeJSONRow{x.ID, x.Time, x.ScheduleID, x.DeviceID, x.Point, x.RequestedKW, x.WrittenKW, x.ReadBackKW, string(x.Status), x.Error})
	}
	return out
}

func (s *Server) listWrites(w http.ResponseWriter, r *http.Request) {
	var id int64
	if v := r.URL.Query().Get("schedule"); v != "" {
		var err error
		if id, err = strconv.ParseInt(v, 10, 64); err != nil || id < 0 {
			fail(w, http.StatusBadRequest, "schedule", "want a schedule id, got %q", v)
			return
		}
	}
	list, err := s.svc.Store().ListSetpointWrites(r.Context(), id)
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, writesJSON(list))
}

func (s *Server) listCycles(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Store().ListCycles(r.Context(), 50)
	if err != nil {
		storeError(w, err)
		return
	}
	out := make([]cycleJSON, 0, len(list))
	for _, c := range list {
		out = append(out, cycleJSON{c.ID, c.Started, c.TotalMS, c.PollMS, c.SolveMS, c.Devices, c.StaleDevices, c.SolverStatus, c.ScheduleID, c.Error})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Store().ListAudit(r.Context(), storage.Epoch, s.svc.Clock().Now().Add(time.Hour), 0)
	if err != nil {
		storeError(w, err)
		return
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			fail(w, http.StatusBadRequest, "limit", "want a number in 1..100000, got %q", v)
			return
		}
		limit = n
	}
	if limit > 0 && len(list) > limit {
		list = list[len(list)-limit:] // the newest
	}
	out := make([]auditJSON, 0, len(list))
	for _, e := range list {
		x := auditJSON{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: e.Detail}
		if en, ok := audit.Parse(e.Detail); ok {
			x.Detail, x.Data, x.Hash = en.Text, en.Data, en.Hash
		}
		out = append(out, x)
	}
	writeJSON(w, http.StatusOK, out)
}
