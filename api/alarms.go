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
	writeJSON(w, http.StatusOK, alarmsJSON{Alarms: list})
}

// ackAlarm acknowledges one alarm with a reason (audited).
func (s *Server) ackAlarm(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.AckAlarm(r.Context(), key, from(r).actor(), req.Reason); err != nil {
		failInvalid(w, err)
		return
	}
	list := s.svc.Alarms()
	if list == nil {
		list = []dispatch.Alarm{}
	}
	writeJSON(w, http.StatusOK, alarmsJSON{Alarms: list})
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
	out := controlJSON{
		Enabled: !cfg.Control.Disabled, IntervalSeconds: cfg.Control.Interval.D.Seconds(), DeadbandKW: cfg.Control.DeadbandKW,
		At: at.UTC().Format(time.RFC3339), PeakTargetKW: target, Ticks: m.ControlTicks, LastLatencySeconds: m.LastControlSeconds,
		Corrections: m.ControlCorrections, KeepAlives: m.KeepAlives,
	}
	if sched != nil {
		out.ScheduleID = sched.ID
	}
	writeJSON(w, http.StatusOK, out)
}

// listLimits returns the external limits not yet over.
func (s *Server) listLimits(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.limitsJSON(r))
}

func (s *Server) limitsJSON(r *http.Request) limitsJSON {
	list := s.svc.Limits(r.Context(), s.svc.Clock().Now())
	if list == nil {
		list = []dispatch.ExternalLimit{}
	}
	return limitsJSON{Limits: list}
}

// putLimit puts an external limit on the site's import and/or export in force; the
// real-time layer applies it at once.
func (s *Server) putLimit(w http.ResponseWriter, r *http.Request) {
	var req limitRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
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
	resp := limitJSON{Limit: l}
	if tick != nil {
		resp.Writes = writesJSON(tick.Writes)
	}
	if err != nil {
		resp.WriteError = err.Error()
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
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.EndLimit(r.Context(), id, from(r).actor(), req.Reason); err != nil {
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.limitsJSON(r))
}
