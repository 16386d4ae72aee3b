package api

import (
	"net/http"
	"time"

	"github.com/gridd/gridd/dispatch"
)

// listAlarms returns the alarms: active ones first, then inactive ones not yet
// acknowledged.
func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request) {
	list := s.svc.Alarms()
	if list == nil {
		list = []dispatch.Alarm{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": list})
}

// ackAlarm acknowledges one alarm with a reason (audited).
func (s *Server) ackAlarm(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.AckAlarm(r.Context(), key, from(r).actor(), req.Reason); err != nil {
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alarms": s.svc.Alarms()})
}

// controlStatus reports the real-time layer: its settings, the peak target in force
// and its counters.
func (s *Server) controlStatus(w http.ResponseWriter, r *http.Request) {
	cfg := s.svc.Config()
	at := s.svc.Clock().Now()
	target, sched, err := s.svc.PeakTarget(r.Context(), at)
	if err != nil {
		storeError(w, err)
		return
	}
	m := s.svc.Metrics()
	out := map[string]any{
		"enabled":              !cfg.Control.Disabled,
		"interval_seconds":     cfg.Control.Interval.D.Seconds(),
		"deadband_kw":          cfg.Control.DeadbandKW,
		"at":                   at.UTC().Format(time.RFC3339),
		"peak_target_kw":       target,
		"ticks":                m.ControlTicks,
		"last_latency_seconds": m.LastControlSeconds,
		"corrections":          m.ControlCorrections,
		"keep_alives":          m.KeepAlives,
	}
	if sched != nil {
		out["schedule_id"] = sched.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// listLimits returns the external limits not yet over.
func (s *Server) listLimits(w http.ResponseWriter, r *http.Request) {
	list := s.svc.Limits(r.Context(), s.svc.Clock().Now())
	if list == nil {
		list = []dispatch.ExternalLimit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"limits": list})
}

// putLimit puts an external limit on the site's import and/or export in force; the
// real-time layer applies it at once.
func (s *Server) putLimit(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ImportKW      *float64  `json:"import_kw"`
		ExportKW      *float64  `json:"export_kw"`
		ImportStepsKW []float64 `json:"import_steps_kw"`
		ExportStepsKW []float64 `json:"export_steps_kw"`
		From          *apiTime  `json:"from"`
		Until         *apiTime  `json:"until"`
		Reason        string    `json:"reason"`
	}
	if !decodeBody(w, r, &req, false) {
		return
	}
	if req.Until == nil {
		fail(w, http.StatusBadRequest, "until", "until is required (RFC 3339)")
		return
	}
	if !requireReason(w, &req.Reason) {
		return
	}
	l := dispatch.ExternalLimit{Source: dispatch.LimitSourceAPI, ImportKW: req.ImportKW, ExportKW: req.ExportKW,
		ImportStepsKW: req.ImportStepsKW, ExportStepsKW: req.ExportStepsKW, Until: tp(req.Until), Actor: from(r).actor(), Reason: req.Reason}
	if req.From != nil {
		l.From = tp(req.From)
	}
	l, tick, err := s.svc.SetLimit(r.Context(), l)
	if err != nil && l.ID == 0 {
		failInvalid(w, err)
		return
	}
	resp := map[string]any{"limit": l}
	if tick != nil {
		resp["writes"] = writesJSON(tick.Writes)
	}
	if err != nil {
		resp["write_error"] = err.Error()
	}
	writeJSON(w, http.StatusOK, resp)
}

// endLimit ends an external limit early (reason in the body).
func (s *Server) endLimit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "limit")
	if !ok {
		return
	}
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.EndLimit(r.Context(), id, from(r).actor(), req.Reason); err != nil {
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"limits": s.svc.Limits(r.Context(), s.svc.Clock().Now())})
}
