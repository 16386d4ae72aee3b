package api

import (
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gridd/gridd/site"
)

var pointName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// MaxHistoryBuckets bounds how many buckets one history request returns.
const MaxHistoryBuckets = 2000

func (s *Server) historyRoutes() []route {
	return []route{
		{method: "GET", path: "/api/v1/history", summary: "a device's or a node's power over a range in buckets (mean, min, max) from the store's bucketed query, with the forecast of a load or PV device (P10, P50, P90) for the same times",
			roles: anyRole, query: []queryParam{qString("device"), qString("node"), qString("point"), qFrom, qTo, qInteger("width_seconds")}, h: s.history, resp: map[string]any{}},
	}
}

type bucketJSON struct {
	Time  time.Time `json:"time"`
	Mean  float64   `json:"mean"`
	Min   float64   `json:"min"`
	Max   float64   `json:"max"`
	Count int64     `json:"count"`
}

type bandJSON struct {
	Time time.Time `json:"time"`
	P10  float64   `json:"p10"`
	P50  float64   `json:"p50"`
	P90  float64   `json:"p90"`
}

// history answers GET /api/v1/history: device (or node: its meter) and a range
// (default the last 24 h); width_seconds defaults to the site step and is raised so
// that at most MaxHistoryBuckets buckets come back. The forecast is the latest one
// issued before each time (ForecastAsOf with the range's end), in the site sign
// convention (a PV plant's generation negative, like its power).
func (s *Server) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cfg := s.svc.Config()
	// The parameters first, each named when bad, then what they select.
	point := q.Get("point")
	if point == "" {
		point = "active_power_kw"
	}
	if !pointName.MatchString(point) {
		fail(w, http.StatusBadRequest, "point", "point %q: want a point name such as active_power_kw", point)
		return
	}
	now := s.svc.Clock().Now()
	fromT, toT, ok := queryRange(w, q, now.Add(-24*time.Hour), now)
	if !ok {
		return
	}
	width := cfg.Site.Step.D
	if v := q.Get("width_seconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 31*24*3600 {
			fail(w, http.StatusBadRequest, "width_seconds", "width_seconds %q: want a whole number of seconds from 1 to 2678400", v)
			return
		}
		width = time.Duration(n) * time.Second
	}
	if span := toT.Sub(fromT); span/width > MaxHistoryBuckets {
		width = (span/MaxHistoryBuckets + time.Second - 1).Truncate(time.Second)
	}
	ids, all := s.chargers(from(r))
	dev, node := q.Get("device"), q.Get("node")
	switch {
	case dev == "" && node == "":
		fail(w, http.StatusBadRequest, "device", "device or node is required")
		return
	case dev != "" && node != "":
		fail(w, http.StatusBadRequest, "node", "give device or node, not both")
		return
	case node != "":
		if !all {
			fail(w, http.StatusBadRequest, "node", "an operator reads its chargers only")
			return
		}
		known := false
		for _, n := range cfg.Nodes {
			known = known || n.ID == node
		}
		if !known {
			fail(w, http.StatusBadRequest, "node", "unknown node %q", node)
			return
		}
		for _, d := range cfg.Devices {
			if d.Kind == site.KindMeter && d.Node == node {
				dev = d.ID
			}
		}
		if dev == "" {
			fail(w, http.StatusBadRequest, "node", "node %q has no meter", node)
			return
		}
	}
	d, ok := cfg.Device(dev)
	if !ok || (!all && !ids[dev]) {
		fail(w, http.StatusBadRequest, "device", "unknown device %q", dev)
		return
	}
	buckets, err := s.svc.Store().TelemetryBuckets(r.Context(), dev, point, fromT, toT, width)
	if err != nil {
		storeError(w, err)
		return
	}
	out := map[string]any{"device": dev, "point": point, "from": fromT, "to": toT, "width_seconds": int(width / time.Second)}
	if node != "" {
		out["node"] = node
	}
	actual := make([]bucketJSON, len(buckets))
	for i, b := range buckets {
		actual[i] = bucketJSON{b.Time, b.Mean, b.Min, b.Max, b.Count}
	}
	out["actual"] = actual
	series, sign := "", 1.0
	switch d.Kind {
	case site.KindLoad:
		series = "load:" + dev
	case site.KindPV:
		series, sign = "pv:"+dev, -1
	}
	if series != "" && point == "active_power_kw" {
		band := map[time.Time]*bandJSON{}
		var order []time.Time
		for _, qq := range []float64{0.1, 0.5, 0.9} {
			pts, err := s.svc.Store().ForecastAsOf(r.Context(), series, qq, toT, fromT, toT)
			if err != nil {
				storeError(w, err)
				return
			}
			for _, p := range pts {
				b := band[p.ValidAt]
				if b == nil {
					b = &bandJSON{Time: p.ValidAt}
					band[p.ValidAt] = b
					order = append(order, p.ValidAt)
				}
				v := sign * p.Value
				switch qq {
				case 0.1:
					b.P10 = v
				case 0.5:
					b.P50 = v
				default:
					b.P90 = v
				}
			}
		}
		fc := make([]bandJSON, 0, len(order))
		for _, t := range order {
			fc = append(fc, *band[t])
		}
		out["forecast"] = map[string]any{"series": series, "points": fc}
	}
	writeJSON(w, http.StatusOK, out)
}
