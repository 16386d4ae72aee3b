package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestPct(t *testing.T) {
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := pct(sorted, c.p); got != c.want {
			t.Errorf("pct(1..100 ms, %g) = %s, want %s", c.p, got, c.want)
		}
	}
	if got := pct(nil, 99); got != 0 {
		t.Errorf("pct(empty) = %s, want 0", got)
	}
}

// TestRun drives a real HTTP server: requests to a path that starts failing after the
// pre-check are counted as errors and fail the run; a healthy run passes.
func TestRun(t *testing.T) {
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls[r.URL.Path]++                                  // -max-in-flight 1 below: requests arrive one at a time
		if r.URL.Path == "/flaky" && calls[r.URL.Path] > 1 { // the pre-check passes, the run fails
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name       string
		paths      []string
		wantErrors bool
	}{
		{"healthy", []string{"/a", "/b"}, false},
		{"failing path", []string{"/a", "/flaky"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := run(srv.URL, "", "", "", 200, 500*time.Millisecond, c.paths, time.Second, 1, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.Requests != 100 {
				t.Errorf("%d requests, want 100 (200/s for 0.5 s)", res.Requests)
			}
			if (res.Errors > 0) != c.wantErrors || res.Pass == c.wantErrors {
				t.Errorf("errors %d (%v), pass %v; want errors %v", res.Errors, res.ErrorKinds, res.Pass, c.wantErrors)
			}
		})
	}
	if _, err := run(srv.URL, "", "", "", 0, time.Second, []string{"/a"}, time.Second, 1, time.Second); err == nil {
		t.Error("rate 0 accepted")
	}
}
