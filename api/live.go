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
	st := s.startSSE(w, fl)
	send := func(u dispatch.LiveUpdate) { st.event("values", "", visible(u)) }
	send(s.svc.LiveSnapshot())
	streamSSE(r, s.closing, st, ch, send)
}

// sseStream writes Server-Sent Events to one client. The stream outlives the server's
// WriteTimeout: each write gets its own deadline (StreamWriteTimeout) instead, so a
// client that stops reading is dropped.
type sseStream struct {
	w  http.ResponseWriter
	fl http.Flusher
	rc *http.ResponseController
}

// startSSE sends the event-stream headers.
func (s *Server) startSSE(w http.ResponseWriter, fl http.Flusher) *sseStream {
	st := &sseStream{w: w, fl: fl, rc: http.NewResponseController(w)}
	st.deadline()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return st
}

func (st *sseStream) deadline() { _ = st.rc.SetWriteDeadline(time.Now().Add(StreamWriteTimeout)) }

// event writes one event of the given name (and id, if not empty) with v as JSON data.
func (st *sseStream) event(name, id string, v any) {
	st.deadline()
	data, _ := json.Marshal(v)
	if id != "" {
		fmt.Fprintf(st.w, "id: %s\n", id)
	}
	fmt.Fprintf(st.w, "event: %s\ndata: %s\n\n", name, data)
	st.fl.Flush()
}

// comment writes an SSE comment line (ignored by clients; keeps the connection alive).
func (st *sseStream) comment(text string) {
	st.deadline()
	fmt.Fprintf(st.w, ": %s\n\n", text)
	st.fl.Flush()
}

// streamSSE forwards ch to send until the client goes, the server closes or ch
// closes, with a keep-alive comment every 15 s.
func streamSSE[T any](r *http.Request, closing <-chan struct{}, st *sseStream, ch <-chan T, send func(T)) {
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-closing:
			return
		case <-heartbeat.C:
			st.comment("keep-alive")
		case x, ok := <-ch:
			if !ok {
				return
			}
			send(x)
		}
	}
}
