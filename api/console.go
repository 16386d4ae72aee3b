package api

import (
	"net/http"
	"time"
)

// consoleRoutes are the routes the web console needs beyond the rest of the API.
func (s *Server) consoleRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/live", summary: "Server-Sent Events: the values every poll reads, as the real-time layer (and each cycle) reads them (event: values; an operator gets only its chargers)", roles: anyRole, h: s.liveStream, resp: "", contentType: "text/event-stream"},
		{method: "GET", path: "/api/v1/console", summary: "what every console view needs first: site name, time zone and its current UTC offset, currency, the server's time, step, approval deadline", roles: anyRole, h: s.consoleInfo, resp: map[string]any{}},
	}
}

// consoleInfo is readable by every role (operators included, who may not read the
// site's node tree): the console formats every time in the site's zone with it.
func (s *Server) consoleInfo(w http.ResponseWriter, r *http.Request) {
	cfg := s.svc.Config()
	now := s.svc.Clock().Now()
	loc := cfg.Site.Location
	if loc == nil {
		loc = time.UTC
	}
	_, off := now.In(loc).Zone()
	capacity := map[string]float64{} // battery id -> capacity kWh, for SoC in % of capacity
	for _, d := range cfg.Devices {
		if d.BESS != nil {
			capacity[d.ID] = d.BESS.CapacityKWh
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"site": cfg.Site.Name, "timezone": loc.String(), "utc_offset": now.In(loc).Format("-07:00"), "utc_offset_seconds": off,
		"currency": cfg.Tariff.Currency, "now": now, "step_minutes": int(cfg.Site.Step.D / time.Minute),
		"auto_approve": cfg.Approval.Auto, "approval_deadline_seconds": int64(cfg.Approval.Deadline.D / time.Second),
		"batteries": capacity, "kill_switch": s.svc.Envelope().KillSwitch(),
	})
}
