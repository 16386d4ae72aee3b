package dispatch

import (
	"math"
	"sort"
	"sync"
	"time"

	"github.com/gridd/gridd/fieldbus"
)

// LiveValue is one point of one device as a poll read it.
type LiveValue struct {
	DeviceID string    `json:"device_id"`
	Point    string    `json:"point"`
	Value    float64   `json:"value"`
	Quality  string    `json:"quality"`
	Time     time.Time `json:"time"`
}

// LiveUpdate is what one poll of the field read: by the real-time layer's tick
// ("tick") or a cycle ("cycle"). Stale lists the devices that did not answer.
type LiveUpdate struct {
	At     time.Time   `json:"at"`
	Source string      `json:"source"`
	Values []LiveValue `json:"values"`
	Stale  []string    `json:"stale,omitempty"`
}

// liveHub fans poll results out to subscribers (the console's live stream).
type liveHub struct {
	mu   sync.Mutex
	subs map[int]chan LiveUpdate
	next int
}

// SubscribeLive returns a channel receiving every poll's values as the real-time
// layer (every control.interval) and each cycle read them, and a function to end the
// subscription. A subscriber that does not keep up loses updates; buf sizes its buffer.
func (s *Service) SubscribeLive(buf int) (<-chan LiveUpdate, func()) {
	if buf < 1 {
		buf = 16
	}
	ch := make(chan LiveUpdate, buf)
	h := &s.live
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[int]chan LiveUpdate{}
	}
	id := h.next
	h.next++
	h.subs[id] = ch
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		if c, ok := h.subs[id]; ok {
			delete(h.subs, id)
			close(c)
		}
		h.mu.Unlock()
	}
}

// LiveSnapshot returns every device's values as the last poll read them.
func (s *Service) LiveSnapshot() LiveUpdate {
	s.mu.Lock()
	rs := make([]fieldbus.Reading, 0, len(s.latest))
	for _, r := range s.latest {
		rs = append(rs, r)
	}
	s.mu.Unlock()
	sort.Slice(rs, func(i, j int) bool { return rs[i].DeviceID < rs[j].DeviceID })
	u := liveUpdate(time.Time{}, "snapshot", rs)
	for _, r := range rs {
		if r.Time.After(u.At) {
			u.At = r.Time
		}
	}
	return u
}

func liveUpdate(at time.Time, source string, readings []fieldbus.Reading) LiveUpdate {
	u := LiveUpdate{At: at, Source: source, Values: make([]LiveValue, 0, len(readings)*4)}
	for _, r := range readings {
		if r.Stale {
			u.Stale = append(u.Stale, r.DeviceID)
		}
		for _, v := range r.Values {
			if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) || v.Text != "" {
				continue
			}
			u.Values = append(u.Values, LiveValue{DeviceID: r.DeviceID, Point: v.Point, Value: v.Value, Quality: string(v.Quality), Time: r.Time})
		}
	}
	return u
}

// publishLive sends one poll's readings to the live subscribers.
func (s *Service) publishLive(at time.Time, source string, readings []fieldbus.Reading) {
	h := &s.live
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return
	}
	u := liveUpdate(at, source, readings)
	for _, ch := range h.subs {
		select {
		case ch <- u:
		default:
		}
	}
}
