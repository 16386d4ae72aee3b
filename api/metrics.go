package api

import (
	"net/http"
	"sort"
)

// metrics serves the registry's metrics in the Prometheus text format (the
// dispatch service's, the poller's, writer's and spool's where gridd registered them,
// the API's request durations and the Go runtime's).
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	s.metricsHandler.ServeHTTP(w, r)
}

// MetricsHandler serves the same metrics without authentication, for a separate
// --metrics-listen address.
func (s *Server) MetricsHandler() http.Handler { return s.metricsHandler }

func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
