package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ReplayRequest is a replay or what-if a planner starts from the console.
type ReplayRequest struct {
	Strategy string    `json:"strategy"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// Sets are what-if edits of the site ("bess-1.capacity_kwh=400"), as `gridd replay --set`.
	Sets  []string `json:"sets,omitempty"`
	Actor string   `json:"actor"`
}

// ReplayJob is a replay job's state.
type ReplayJob struct {
	ID ReplayID `json:"id"`
	ReplayRequest
	Status   string     `json:"status"` // running, done, failed
	Done     int        `json:"done"`   // cycles replayed
	Total    int        `json:"total"`
	Error    string     `json:"error,omitempty"`
	Started  time.Time  `json:"started"`
	Finished *time.Time `json:"finished,omitempty"`
	// KPIs are the result's headline figures once done.
	KPIs map[string]float64 `json:"kpis,omitempty"`
	// Currency is the site's currency for the cost KPIs.
	Currency string `json:"currency,omitempty"`
}

// ReplayID identifies a replay job.
type ReplayID = int64

// Replay job states.
const (
	ReplayRunning = "running"
	ReplayDone    = "done"
	ReplayFailed  = "failed"
)

// ErrReplayInvalid marks a replay request that cannot run (the message names the field).
var ErrReplayInvalid = errors.New("invalid replay request")

// Replays runs replays as jobs; cmd/gridd backs it with package replay over the
// store's history, so the console's planners use the same code path as `gridd replay`.
type Replays interface {
	Start(req ReplayRequest) (ReplayJob, error)
	Jobs() []ReplayJob
	Job(id ReplayID) (ReplayJob, bool)
	// Report returns a finished job's report.html.
	Report(id ReplayID) ([]byte, error)
	// Compare returns a side-by-side report.html of finished jobs.
	Compare(ids []ReplayID) ([]byte, error)
}

func (s *Server) replayRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/replays", summary: "replay and what-if jobs, newest first, with progress", roles: pinRoles, h: s.listReplays, resp: []ReplayJob{}},
		{method: "POST", path: "/api/v1/replays", summary: "start a replay or what-if over the stored history as a job (strategy, from, to, sets)", roles: pinRoles, body: replayRequest{}, h: s.startReplay, resp: ReplayJob{}, code: http.StatusAccepted},
		{method: "GET", path: "/api/v1/replays/{id}", summary: "one replay job with progress and, once done, its KPIs", roles: pinRoles, h: s.getReplay, resp: ReplayJob{}},
		{method: "GET", path: "/api/v1/replays/{id}/report", summary: "a finished job's report (HTML)", roles: pinRoles, h: s.replayReport, resp: "", contentType: "text/html"},
		{method: "GET", path: "/api/v1/replays/compare", summary: "finished jobs side by side (HTML); ids=1,2", roles: pinRoles, query: []queryParam{qString("ids")}, h: s.compareReplays, resp: "", contentType: "text/html"},
	}
}

func (s *Server) replaysReady(w http.ResponseWriter) bool {
	if s.replays == nil {
		fail(w, http.StatusServiceUnavailable, "", "replays are not available on this server")
		return false
	}
	return true
}

func (s *Server) listReplays(w http.ResponseWriter, r *http.Request) {
	if !s.replaysReady(w) {
		return
	}
	writeJSON(w, http.StatusOK, s.replays.Jobs())
}

// replayRequest is the body of POST /api/v1/replays.
type replayRequest struct {
	Strategy string   `json:"strategy" api:"required"`
	From     *apiTime `json:"from" api:"required"`
	To       *apiTime `json:"to" api:"required"`
	Sets     []string `json:"sets" maxItems:"20" doc:"what-if edits, as gridd replay --set"`
}

func (s *Server) startReplay(w http.ResponseWriter, r *http.Request) {
	if !s.replaysReady(w) {
		return
	}
	var req replayRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	switch {
	case req.Strategy == "":
		fail(w, http.StatusBadRequest, "strategy", "strategy is required")
		return
	case req.From == nil:
		fail(w, http.StatusBadRequest, "from", "from is required (RFC 3339)")
		return
	case req.To == nil:
		fail(w, http.StatusBadRequest, "to", "to is required (RFC 3339)")
		return
	}
	job, err := s.replays.Start(ReplayRequest{Strategy: req.Strategy, From: tp(req.From), To: tp(req.To), Sets: req.Sets, Actor: from(r).actor()})
	if errors.Is(err, ErrReplayInvalid) {
		field := "replay"
		for _, f := range []string{"strategy", "from", "to", "sets"} {
			if strings.Contains(err.Error(), f) {
				field = f
				break
			}
		}
		fail(w, http.StatusBadRequest, field, "%v", err)
		return
	}
	if err != nil {
		fail(w, http.StatusConflict, "", "%v", err)
		return
	}
	_ = s.svc.Audit(r.Context(), from(r).actor(), "replay.start", "replay:"+strconv.FormatInt(job.ID, 10),
		job.Strategy+" "+job.From.UTC().Format(time.RFC3339)+" to "+job.To.UTC().Format(time.RFC3339)+" "+strings.Join(job.Sets, " "), job.ReplayRequest)
	writeJSON(w, http.StatusAccepted, job)
}

func (s *Server) replayID(w http.ResponseWriter, r *http.Request) (ReplayJob, bool) {
	id, ok := pathID(w, r, "replay")
	if !ok {
		return ReplayJob{}, false
	}
	job, found := s.replays.Job(id)
	if !found {
		fail(w, http.StatusNotFound, "id", "no replay %d", id)
		return ReplayJob{}, false
	}
	return job, true
}

func (s *Server) getReplay(w http.ResponseWriter, r *http.Request) {
	if !s.replaysReady(w) {
		return
	}
	if job, ok := s.replayID(w, r); ok {
		writeJSON(w, http.StatusOK, job)
	}
}

func writeHTML(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) replayReport(w http.ResponseWriter, r *http.Request) {
	if !s.replaysReady(w) {
		return
	}
	job, ok := s.replayID(w, r)
	if !ok {
		return
	}
	if job.Status != ReplayDone {
		fail(w, http.StatusConflict, "id", "replay %d is %s", job.ID, job.Status)
		return
	}
	b, err := s.replays.Report(job.ID)
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	writeHTML(w, b)
}

func (s *Server) compareReplays(w http.ResponseWriter, r *http.Request) {
	var ids []ReplayID
	for _, f := range strings.Split(r.URL.Query().Get("ids"), ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || id <= 0 {
			fail(w, http.StatusBadRequest, "ids", "ids %q: want two or more job ids separated by commas", r.URL.Query().Get("ids"))
			return
		}
		ids = append(ids, id)
	}
	if len(ids) < 2 {
		fail(w, http.StatusBadRequest, "ids", "name at least two finished jobs")
		return
	}
	if !s.replaysReady(w) {
		return
	}
	for _, id := range ids {
		if job, ok := s.replays.Job(id); !ok || job.Status != ReplayDone {
			fail(w, http.StatusBadRequest, "ids", "replay %d is not a finished job", id)
			return
		}
	}
	b, err := s.replays.Compare(ids)
	if err != nil {
		fail(w, http.StatusInternalServerError, "", "%v", err)
		return
	}
	writeHTML(w, b)
}
