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
