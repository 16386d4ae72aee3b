package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gridd/gridd/dispatch"
)

// liveStream sends the values every poll reads (the real-time layer's ticks and the
// cycles) as Server-Sent Events: first the last values read (event: values, source
// "snapshot"), then one event per poll. An operator gets only its chargers' values.
func (s *Server) liveStream(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		fail(w, http.StatusInternalServerError, "", "streaming unsupported")
		return
	}
	p := from(r)
	ids, all := s.chargers(p)
	visible := func(u dispatch.LiveUpdate) dispatch.LiveUpdate {
		if all {
			return u
		}
		out := dispatch.LiveUpdate{At: u.At, Source: u.Source, Values: make([]dispatch.LiveValue, 0)}
		for _, v := range u.Values {
			if ids[v.DeviceID] {
				out.Values = append(out.Values, v)
			}
		}
		for _, d := range u.Stale {
			if ids[d] {
				out.Stale = append(out.Stale, d)
			}
		}
		return out
	}
	ch, cancel := s.svc.SubscribeLive(16)
	defer cancel()
	rc := http.NewResponseController(w)
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout)) }
	deadline()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	send := func(u dispatch.LiveUpdate) {
		deadline()
		data, _ := json.Marshal(visible(u))
		fmt.Fprintf(w, "event: values\ndata: %s\n\n", data)
		fl.Flush()
	}
	send(s.svc.LiveSnapshot())
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-heartbeat.C:
			deadline()
			fmt.Fprint(w, ": keep-alive\n\n")
			fl.Flush()
		case u, ok := <-ch:
			if !ok {
				return
			}
			send(u)
		}
	}
}
