package api

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/storage"
)

// operatorRoutes are the charging operator's routes beyond setpoints and the stream.
func (s *Server) operatorRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/operator/sessions", summary: "the sessions reported for the operator's chargers, each with what the next cycle does with it", roles: operatorRoles, h: s.listSessions, resp: []sessionJSON{}},
		{method: "DELETE", path: "/api/v1/operator/sessions/{device}", summary: "cancel a reported session (reason in the body)", roles: operatorRoles, body: decisionRequest{}, h: s.cancelSession, resp: statusJSON{}},
		{method: "GET", path: "/api/v1/operator/plan", summary: "the schedule ahead for each of the operator's chargers: planned kW per step from the schedule in force (else the newest)", roles: operatorRoles, h: s.operatorPlan, resp: map[string]any{}},
	}
}

type sessionJSON struct {
	Session dispatch.Session `json:"session"`
	dispatch.SessionPlan
}

// sessionReply answers a reported session with what the next cycle does with it,
// and the session as stored (with the time it was reported).
func (s *Server) sessionReply(w http.ResponseWriter, ss dispatch.Session) {
	if stored, ok := s.svc.SessionOf(ss.DeviceID); ok {
		ss = stored
	}
	writeJSON(w, http.StatusAccepted, sessionJSON{Session: ss, SessionPlan: s.svc.SessionStatus(ss)})
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	ids, all := s.chargers(from(r))
	out := []sessionJSON{}
	for _, ss := range s.svc.Sessions() {
		if all || ids[ss.DeviceID] {
			out = append(out, sessionJSON{Session: ss, SessionPlan: s.svc.SessionStatus(ss)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Session.DeviceID < out[j].Session.DeviceID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) cancelSession(w http.ResponseWriter, r *http.Request) {
	dev := r.PathValue("device")
	ids, all := s.chargers(from(r))
	if !s.visibleCharger(dev, ids, all) {
		fail(w, http.StatusNotFound, "device", "no session of yours on %q", dev)
		return
	}
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireReason(w, &req.Reason) {
		return
	}
	err := s.svc.CancelSession(r.Context(), dev, from(r).actor(), req.Reason)
	if errors.Is(err, storage.ErrNotFound) {
		fail(w, http.StatusNotFound, "device", "no session reported on %q", dev)
		return
	}
	if err != nil {
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "cancelled"})
}

// operatorPlan returns the planned power of each visible charger per step.
func (s *Server) operatorPlan(w http.ResponseWriter, r *http.Request) {
	ids, all := s.chargers(from(r))
	ctx := r.Context()
	now := s.svc.Clock().Now()
	sc, err := s.svc.InForce(ctx, now)
	if err != nil {
		storeError(w, err)
		return
	}
	if sc == nil {
		list, err := s.svc.Store().ListSchedules(ctx, storage.Epoch, storage.End, "")
		if err != nil {
			storeError(w, err)
			return
		}
		if len(list) > 0 {
			if sc, err = s.svc.Store().GetSchedule(ctx, list[0].ID); err != nil {
				storeError(w, err)
				return
			}
		}
	}
	out := map[string]any{"chargers": map[string][]float64{}}
	if sc == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	plan := map[string][]float64{}
	for _, d := range s.svc.Config().Devices {
		if s.visibleCharger(d.ID, ids, all) {
			plan[d.ID] = make([]float64, sc.Steps)
		}
	}
	for _, sp := range sc.Setpoints {
		if v, ok := plan[sp.DeviceID]; ok && sp.Step < len(v) {
			v[sp.Step] = sp.PowerKW
		}
	}
	out["schedule_id"], out["status"], out["start"], out["step_minutes"], out["steps"], out["chargers"] = sc.ID, sc.Status, sc.Start.UTC().Format(time.RFC3339), sc.StepMinutes, sc.Steps, plan
	writeJSON(w, http.StatusOK, out)
}
