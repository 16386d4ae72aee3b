package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/prices"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

func (s *Server) forecasts(w http.ResponseWriter, r *http.Request) {
	cfg := s.svc.Config()
	var series []string
	for _, d := range cfg.Devices {
		switch d.Kind {
		case site.KindLoad:
			series = append(series, "load:"+d.ID)
		case site.KindPV:
			series = append(series, "pv:"+d.ID)
		}
	}
	if q := r.URL.Query().Get("series"); q != "" {
		found := false
		for _, x := range series {
			found = found || x == q
		}
		if !found {
			fail(w, http.StatusBadRequest, "series", "unknown series %q (want one of %s)", q, strings.Join(series, ", "))
			return
		}
		series = []string{q}
	}
	now := s.svc.Clock().Now()
	from := now.Truncate(cfg.Site.Step.D)
	to := from.Add(cfg.Site.Horizon.D)
	out := []forecastJSON{}
	for _, name := range series {
		f := forecastJSON{Series: name, Points: []forecastPointJSON{}}
		byT := map[time.Time]*forecastPointJSON{}
		var order []time.Time
		for _, q := range []float64{0.1, 0.5, 0.9} {
			pts, err := s.svc.Store().ForecastAsOf(r.Context(), name, q, now, from, to)
			if err != nil {
				storeError(w, err)
				return
			}
			for _, p := range pts {
				x := byT[p.ValidAt]
				if x == nil {
					x = &forecastPointJSON{Time: p.ValidAt}
					byT[p.ValidAt] = x
					order = append(order, p.ValidAt)
				}
				switch q {
				case 0.1:
					x.P10 = p.Value
				case 0.5:
					x.P50 = p.Value
					f.Method, f.IssuedAt = p.Method, p.IssuedAt
				case 0.9:
					x.P90 = p.Value
				}
			}
		}
		sort.Slice(order, func(i, j int) bool { return order[i].Before(order[j]) })
		for _, t := range order {
			f.Points = append(f.Points, *byT[t])
		}
		out = append(out, f)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "schedule")
	if !ok {
		return
	}
	ex, err := s.svc.Explain(r.Context(), id)
	if scheduleError(w, id, err) {
		return
	}
	writeJSON(w, http.StatusOK, ex)
}

func (s *Server) listPins(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.svc.Pins())
}

func (s *Server) pin(w http.ResponseWriter, r *http.Request) {
	var req pinRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
		return
	}
	if !requireReason(w, &req.Reason) {
		return
	}
	// A pin by someone who may not approve (a planner) only proposes: the auto-approve
	// policy never approves what it shapes.
	mayDecide := false
	for _, role := range decideRoles {
		mayDecide = mayDecide || from(r).Role == role
	}
	p := dispatch.Pin{DeviceID: req.DeviceID, PowerKW: *req.PowerKW, From: tp(req.From), Until: tp(req.Until), Actor: from(r).actor(), Reason: req.Reason, ProposeOnly: !mayDecide}
	sc, err := s.svc.Pin(r.Context(), p)
	if err != nil {
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(sc, false))
}

func (s *Server) unpin(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.Unpin(r.Context(), r.PathValue("device"), from(r).actor(), req.Reason); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			fail(w, http.StatusNotFound, "device", "%v", err)
			return
		}
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, statusJSON{Status: "unpinned"})
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) {
	rep, err := audit.Verify(r.Context(), s.svc.Store())
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, verifyJSON{OK: rep.OK(), Report: rep})
}

func (s *Server) safetyStatus(w http.ResponseWriter, r *http.Request) {
	env := s.svc.Envelope()
	writeJSON(w, http.StatusOK, safetyJSON{KillSwitch: env.KillSwitch(), Overrides: env.Overrides(), Devices: env.Status(s.svc.Clock().Now())})
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.Pause(r.Context(), from(r).actor(), req.Reason); err != nil {
		failInvalid(w, err)
		return
	}
	writeJSON(w, http.StatusOK, s.svc.Envelope().KillSwitch())
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
		return
	}
	writes, err := s.svc.Resume(r.Context(), from(r).actor(), req.Reason)
	resp := resumeJSON{KillSwitch: s.svc.Envelope().KillSwitch(), Writes: writesJSON(writes)}
	if err != nil {
		resp.WriteError = err.Error()
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) addOverride(w http.ResponseWriter, r *http.Request) {
	var req overrideRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
		return
	}
	if !requireReason(w, &req.Reason) {
		return
	}
	o, writes, err := s.svc.AddOverride(r.Context(), safety.Override{DeviceID: req.DeviceID, ValueKW: *req.ValueKW, Until: tp(req.Until), Actor: from(r).actor(), Reason: req.Reason})
	if err != nil && o.ID == 0 {
		failInvalid(w, err)
		return
	}
	resp := overrideJSON{Override: o, Writes: writesJSON(writes)}
	if err != nil {
		resp.WriteError = err.Error()
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) cancelOverride(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "override")
	if !ok {
		return
	}
	var req decisionRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) || !requireReason(w, &req.Reason) {
		return
	}
	if err := s.svc.CancelOverride(r.Context(), id, from(r).actor(), req.Reason); err != nil {
		fail(w, http.StatusNotFound, "id", "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, statusJSON{Status: "cancelled"})
}

// acks remembers which setpoint writes an operator acknowledged (the audit log keeps them).
type acks struct {
	mu sync.Mutex
	m  map[int64]ack
}

type ack struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

type operatorSetpoint struct {
	writeJSONRow
	Acked *ack `json:"acked,omitempty"`
}

// latestWrites returns the newest write per visible charger.
func (s *Server) latestWrites(ctx context.Context, p principal) ([]operatorSetpoint, error) {
	ids, all := s.chargers(p)
	list, err := s.svc.Store().ListSetpointWrites(ctx, 0)
	if err != nil {
		return nil, err
	}
	last := map[string]storage.SetpointWrite{}
	for _, x := range list {
		if !s.visibleCharger(x.DeviceID, ids, all) {
			continue
		}
		last[x.DeviceID] = x
	}
	keys := sortedMapKeys(last)
	out := make([]operatorSetpoint, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.opSetpoint(last[k]))
	}
	return out, nil
}

// visibleCharger reports whether id is an EV charger the caller may see (ids and all
// as Server.chargers returns them).
func (s *Server) visibleCharger(id string, ids map[string]bool, all bool) bool {
	d, ok := s.svc.Config().Device(id)
	return ok && d.Kind == site.KindEVCharger && (all || ids[id])
}

func (s *Server) opSetpoint(x storage.SetpointWrite) operatorSetpoint {
	o := operatorSetpoint{writeJSONRow: writesJSON([]storage.SetpointWrite{x})[0]}
	s.acks.mu.Lock()
	if a, ok := s.acks.m[x.ID]; ok {
		o.Acked = &a
	}
	s.acks.mu.Unlock()
	return o
}

func (s *Server) operatorSetpoints(w http.ResponseWriter, r *http.Request) {
	out, err := s.latestWrites(r.Context(), from(r))
	if err != nil {
		storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// operatorStream sends the current setpoints, then every new one, as SSE events.
// StreamWriteTimeout bounds each write of the operator event stream; the stream itself
// has no overall deadline (the HTTP server's WriteTimeout does not apply to it).
const StreamWriteTimeout = 30 * time.Second

func (s *Server) operatorStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		fail(w, http.StatusInternalServerError, "", "streaming unsupported")
		return
	}
	p := from(r)
	ids, all := s.chargers(p)
	ch, cancel := s.svc.Subscribe(256)
	defer cancel()
	cur, err := s.latestWrites(r.Context(), p)
	if err != nil {
		storeError(w, err)
		return
	}
	st := s.startSSE(w, fl)
	send := func(x operatorSetpoint) { st.event("setpoint", strconv.FormatInt(x.ID, 10), x) }
	for _, x := range cur {
		send(x)
	}
	st.comment("live")
	streamSSE(r, s.closing, st, ch, func(x storage.SetpointWrite) {
		if s.visibleCharger(x.DeviceID, ids, all) {
			send(s.opSetpoint(x))
		}
	})
}

func (s *Server) ack(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "setpoint write")
	if !ok {
		return
	}
	var req ackRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	if len(req.Note) > 1000 {
		fail(w, http.StatusBadRequest, "note", "note is longer than 1000 characters")
		return
	}
	p := from(r)
	ids, all := s.chargers(p)
	list, err := s.svc.Store().ListSetpointWrites(r.Context(), 0)
	if err != nil {
		storeError(w, err)
		return
	}
	var found *storage.SetpointWrite
	for i := range list {
		if list[i].ID == id {
			found = &list[i]
		}
	}
	if found == nil || (!all && !ids[found.DeviceID]) {
		// Another operator's write is as invisible as a missing one.
		fail(w, http.StatusNotFound, "id", "no setpoint write %d for your chargers", id)
		return
	}
	a := ack{By: p.actor(), At: s.svc.Clock().Now()}
	s.acks.mu.Lock()
	s.acks.m[id] = a
	s.acks.mu.Unlock()
	_ = s.svc.Audit(r.Context(), p.actor(), "setpoint.ack", "device:"+found.DeviceID, fmt.Sprintf("acknowledged setpoint write %d (%.2f kW) %s", id, found.WrittenKW, req.Note), map[string]any{"write_id": id})
	writeJSON(w, http.StatusOK, s.opSetpoint(*found))
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	var req sessionRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
		return
	}
	p := from(r)
	if ids, all := s.chargers(p); !all && !ids[req.DeviceID] {
		fail(w, http.StatusBadRequest, "device_id", "%q is not one of your chargers", req.DeviceID)
		return
	}
	ss := dispatch.Session{DeviceID: req.DeviceID, Arrival: tp(req.Arrival), Departure: tp(req.Departure), EnergyKWh: *req.EnergyKWh, Actor: p.actor()}
	if err := s.svc.ReportSession(r.Context(), ss); err != nil {
		failInvalid(w, err)
		return
	}
	s.sessionReply(w, ss)
}

// putWeather merges an hourly weather forecast into what the next cycles'
// load and PV forecasts use.
func (s *Server) putWeather(w http.ResponseWriter, r *http.Request) {
	var req weatherRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
		return
	}
	pts := make([]dispatch.WeatherPoint, len(req.Points))
	for i, p := range req.Points {
		pts[i] = dispatch.WeatherPoint{Time: p.Time.UTC(), TemperatureC: p.TemperatureC, GHIWm2: p.GHIWm2}
	}
	if err := s.svc.SetWeather(r.Context(), pts, from(r).actor()); err != nil {
		failFeed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, acceptedJSON{Status: "accepted; feeds the next cycle", Points: len(pts)})
}

// putPrices merges day-ahead prices into the feed the next cycles are priced from
// (tariff.day_ahead).
func (s *Server) putPrices(w http.ResponseWriter, r *http.Request) {
	var req pricesRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
		return
	}
	pts := make([]prices.Point, len(req.Points))
	for i, p := range req.Points {
		pts[i] = prices.Point{Time: p.Time.UTC(), ImportPerKWh: *p.ImportPerKWh, ExportPerKWh: p.ExportPerKWh}
	}
	if err := s.svc.SetPrices(r.Context(), pts, from(r).actor()); err != nil {
		failFeed(w, err)
		return
	}
	writeJSON(w, http.StatusOK, acceptedJSON{Status: "accepted; prices the next cycle", Points: len(pts)})
}

// failFeed answers the error of a feed of points (weather, prices): a refusal
// (dispatch.ErrInvalid) is a 400 with field "points" whose text names the point,
// field and value (points[3].ghi_wm2: ...) or what the feed misses; a site whose
// config takes no such feed ("tariff: ...") is a 409.
func failFeed(w http.ResponseWriter, err error) {
	if !errors.Is(err, dispatch.ErrInvalid) {
		failInvalid(w, err)
		return
	}
	msg := strings.TrimPrefix(err.Error(), dispatch.ErrInvalid.Error()+": ")
	if strings.HasPrefix(msg, "tariff:") {
		fail(w, http.StatusConflict, "", "%s", msg)
		return
	}
	fail(w, http.StatusBadRequest, "points", "%s", msg)
}
