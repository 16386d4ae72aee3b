package api

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/storage"
)

//go:embed console
var consoleFS embed.FS

// Server serves the API and the console.
type Server struct {
	svc *dispatch.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns a Server for a dispatch service.
func New(svc *dispatch.Service, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{svc: svc, log: log, mux: http.NewServeMux()}
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /healthz", s.healthz)
	m.HandleFunc("GET /api/v1/site", s.getSite)
	m.HandleFunc("GET /api/v1/devices", s.listDevices)
	m.HandleFunc("GET /api/v1/telemetry/latest", s.latestTelemetry)
	m.HandleFunc("GET /api/v1/schedules", s.listSchedules)
	m.HandleFunc("GET /api/v1/schedules/{id}", s.getSchedule)
	m.HandleFunc("POST /api/v1/schedules/{id}/approve", s.decide(true))
	m.HandleFunc("POST /api/v1/schedules/{id}/reject", s.decide(false))
	m.HandleFunc("GET /api/v1/setpoints", s.listWrites)
	m.HandleFunc("GET /api/v1/cycles", s.listCycles)
	m.HandleFunc("GET /api/v1/audit", s.listAudit)
	sub, _ := fs.Sub(consoleFS, "console")
	m.Handle("GET /", http.FileServerFS(sub))
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
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) {
	cfg := s.svc.Config()
	writeJSON(w, http.StatusOK, map[string]any{
		"name": cfg.Site.Name, "timezone": cfg.Site.Timezone, "cycle": cfg.Site.Cycle,
		"step_minutes": int(cfg.Site.Step.D / time.Minute), "steps": cfg.Site.Steps(),
		"currency": cfg.Tariff.Currency, "grid": cfg.Grid, "nodes": cfg.Nodes,
		"auto_approve": cfg.Approval.Auto, "now": s.svc.Clock().Now(),
	})
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
	out := make([]deviceJSON, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		out = append(out, deviceJSON{d.ID, d.Kind, d.Node, d.Endpoint, d.UnitID, d.Profile, d.Owner})
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
	if dev != "" {
		if _, ok := s.svc.Config().Device(dev); !ok {
			fail(w, http.StatusBadRequest, "device", "unknown device %q", dev)
			return
		}
	}
	list, err := s.svc.Store().LatestTelemetry(r.Context(), dev)
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	out := make([]sampleJSON, 0, len(list))
	for _, x := range list {
		out = append(out, sampleJSON{x.Time, x.DeviceID, x.Point, x.Value, string(x.Quality)})
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
	from, to := storage.Epoch, s.svc.Clock().Now().Add(24*time.Hour)
	var err error
	if v := q.Get("from"); v != "" {
		if from, err = time.Parse(time.RFC3339, v); err != nil {
			fail(w, http.StatusBadRequest, "from", "want an RFC 3339 time, got %q", v)
			return
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = time.Parse(time.RFC3339, v); err != nil {
			fail(w, http.StatusBadRequest, "to", "want an RFC 3339 time, got %q", v)
			return
		}
	}
	list, err := s.svc.Store().ListSchedules(r.Context(), from, to, status)
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	out := make([]scheduleJSON, 0, len(list))
	for i := range list {
		out = append(out, toJSON(&list[i], false))
	}
	writeJSON(w, http.StatusOK, out)
}

func scheduleID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		fail(w, http.StatusBadRequest, "id", "schedule id must be a positive integer, got %q", raw)
		return 0, false
	}
	return id, true
}

func (s *Server) getSchedule(w http.ResponseWriter, r *http.Request) {
	id, ok := scheduleID(w, r)
	if !ok {
		return
	}
	sc, err := s.svc.Store().GetSchedule(r.Context(), id)
	if errors.Is(err, storage.ErrNotFound) {
		fail(w, http.StatusNotFound, "id", "no schedule %d", id)
		return
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(sc, true))
}

type decisionRequest struct {
	User   string `json:"user"`
	Reason string `json:"reason"`
}

func (s *Server) decide(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := scheduleID(w, r)
		if !ok {
			return
		}
		var req decisionRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
			fail(w, http.StatusBadRequest, jsonField(err), "invalid JSON body: %v", err)
			return
		}
		req.Reason = strings.TrimSpace(req.Reason)
		if req.Reason == "" {
			fail(w, http.StatusBadRequest, "reason", "a reason is required")
			return
		}
		if len(req.Reason) > 1000 {
			fail(w, http.StatusBadRequest, "reason", "reason is longer than 1000 characters")
			return
		}
		actor := "user:" + req.User
		if req.User == "" {
			actor = "api"
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
		case errors.Is(err, dispatch.ErrNotProposed):
			fail(w, http.StatusConflict, "id", "%v", err)
			return
		case err != nil && writes == nil:
			fail(w, http.StatusInternalServerError, "", "%v", err)
			return
		}
		resp := map[string]any{"id": id, "status": "rejected"}
		if approve {
			resp["status"] = "approved"
			resp["writes"] = writesJSON(writes)
			if err != nil {
				resp["write_error"] = err.Error()
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
		return strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
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
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, writesJSON(list))
}

func (s *Server) listCycles(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Store().ListCycles(r.Context(), 50)
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	type row struct {
		ID           int64     `json:"id"`
		Started      time.Time `json:"started"`
		TotalMS      float64   `json:"total_ms"`
		PollMS       float64   `json:"poll_ms"`
		SolveMS      float64   `json:"solve_ms"`
		Devices      int       `json:"devices"`
		StaleDevices int       `json:"stale_devices"`
		SolverStatus string    `json:"solver_status"`
		ScheduleID   int64     `json:"schedule_id"`
		Error        string    `json:"error,omitempty"`
	}
	out := make([]row, 0, len(list))
	for _, c := range list {
		out = append(out, row{c.ID, c.Started, c.TotalMS, c.PollMS, c.SolveMS, c.Devices, c.StaleDevices, c.SolverStatus, c.ScheduleID, c.Error})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Store().ListAudit(r.Context(), storage.Epoch, s.svc.Clock().Now().Add(time.Hour), 0)
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	type row struct {
		ID      int64     `json:"id"`
		Time    time.Time `json:"time"`
		Actor   string    `json:"actor"`
		Action  string    `json:"action"`
		Subject string    `json:"subject"`
		Detail  string    `json:"detail"`
	}
	out := make([]row, 0, len(list))
	for _, e := range list {
		out = append(out, row{e.ID, e.Time, e.Actor, e.Action, e.Subject, e.Detail})
	}
	writeJSON(w, http.StatusOK, out)
}
