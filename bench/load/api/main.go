// Command api drives a running gridd's HTTP API at a constant request rate and reports
// latency percentiles and errors as JSON. It logs in with -user/-password (or sends
// -token as a bearer token) and requests the GET endpoints in -paths round-robin.
//
// Latency is measured from the moment a request was due, not from when it was sent,
// so requests that wait for a free connection count their wait (no coordinated
// omission). The exit status is 1 when any request failed or the p99 is above -p99.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

type result struct {
	Requests   int                `json:"requests"`
	Errors     int                `json:"errors"`
	ErrorKinds map[string]int     `json:"error_kinds,omitempty"`
	RateTarget float64            `json:"rate_target_per_s"`
	RateActual float64            `json:"rate_actual_per_s"`
	DurationS  float64            `json:"duration_s"`
	LatencyMS  map[string]float64 `json:"latency_ms"`
	// SendLagMS is how late requests left the generator (a starved generator, not the
	// server); it is part of LatencyMS.
	SendLagMS   map[string]float64 `json:"send_lag_ms"`
	PerPathP99  map[string]float64 `json:"p99_ms_by_path"`
	P99LimitMS  float64            `json:"p99_limit_ms"`
	Pass        bool               `json:"pass"`
	Paths       []string           `json:"paths"`
	Concurrency int                `json:"max_in_flight"`
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "gridd base URL")
	user := flag.String("user", "", "account to log in as (POST /api/v1/login)")
	password := flag.String("password", "", "its password")
	token := flag.String("token", "", "API token (Authorization: Bearer) instead of a login")
	rate := flag.Float64("rate", 500, "requests per second")
	duration := flag.Duration("duration", 60*time.Second, "how long to send")
	paths := flag.String("paths", "/healthz,/api/v1/site,/api/v1/devices,/api/v1/telemetry/latest,/api/v1/schedules,/api/v1/cycles,/api/v1/setpoints,/api/v1/safety", "comma-separated GET paths, requested round-robin")
	p99 := flag.Duration("p99", 50*time.Millisecond, "pass only if the 99th percentile latency is at most this")
	maxInFlight := flag.Int("max-in-flight", 256, "most requests outstanding at once (more wait and count their wait)")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	flag.Parse()
	res, err := run(*base, *user, *password, *token, *rate, *duration, strings.Split(*paths, ","), *p99, *maxInFlight, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api load:", err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	if !res.Pass {
		os.Exit(1)
	}
}

type sample struct {
	path     int
	lat, lag time.Duration
	err      string
}

func run(base, user, password, token string, rate float64, duration time.Duration, paths []string, p99 time.Duration, maxInFlight int, timeout time.Duration) (*result, error) {
	if rate <= 0 || math.IsNaN(rate) {
		return nil, fmt.Errorf("-rate %g: must be positive", rate)
	}
	if duration <= 0 {
		return nil, fmt.Errorf("-duration %s: must be positive", duration)
	}
	if maxInFlight < 1 {
		return nil, fmt.Errorf("-max-in-flight %d: must be at least 1", maxInFlight)
	}
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConns: maxInFlight, MaxIdleConnsPerHost: maxInFlight, IdleConnTimeout: time.Minute}
	client := &http.Client{Jar: jar, Transport: tr, Timeout: timeout}
	base = strings.TrimRight(base, "/")
	if user != "" {
		body, _ := json.Marshal(map[string]string{"user": user, "password": password})
		resp, err := client.Post(base+"/api/v1/login", "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("login as %s: HTTP %d: %s", user, resp.StatusCode, b)
		}
	}
	// Every path must answer 200 before the run starts: a misconfigured path is not load.
	for _, p := range paths {
		if err := get(client, base+p, token); err != nil {
			return nil, fmt.Errorf("path %s before the run: %w", p, err)
		}
	}

	interval := time.Duration(float64(time.Second) / rate)
	n := int(duration / interval)
	samples := make([]sample, n)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	var mu sync.Mutex
	inFlight, peak := 0, 0
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		go func(i int, due time.Time) {
			defer wg.Done()
			pi := i % len(paths)
			lag := time.Since(due)
			err := get(client, base+paths[pi], token)
			s := sample{path: pi, lat: time.Since(due), lag: lag}
			if err != nil {
				s.err = err.Error()
			}
			samples[i] = s
			mu.Lock()
			inFlight--
			mu.Unlock()
			<-sem
		}(i, due)
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := &result{Requests: n, RateTarget: rate, RateActual: float64(n) / elapsed.Seconds(), DurationS: elapsed.Seconds(),
		ErrorKinds: map[string]int{}, PerPathP99: map[string]float64{}, P99LimitMS: ms(p99), Paths: paths, Concurrency: peak}
	all := make([]time.Duration, 0, n)
	lags := make([]time.Duration, 0, n)
	byPath := make([][]time.Duration, len(paths))
	for _, s := range samples {
		if s.err != "" {
			res.Errors++
			res.ErrorKinds[s.err]++
		}
		all = append(all, s.lat)
		lags = append(lags, s.lag)
		byPath[s.path] = append(byPath[s.path], s.lat)
	}
	slices.Sort(all)
	res.LatencyMS = map[string]float64{"p50": ms(pct(all, 50)), "p90": ms(pct(all, 90)), "p99": ms(pct(all, 99)), "p999": ms(pct(all, 99.9)), "max": ms(all[len(all)-1])}
	slices.Sort(lags)
	res.SendLagMS = map[string]float64{"p50": ms(pct(lags, 50)), "p99": ms(pct(lags, 99)), "max": ms(lags[len(lags)-1])}
	for i, l := range byPath {
		slices.Sort(l)
		res.PerPathP99[paths[i]] = ms(pct(l, 99))
	}
	res.Pass = res.Errors == 0 && pct(all, 99) <= p99
	return res, nil
}

func get(c *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return errors.New("timeout")
		}
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return nil
}

// pct returns the p-th percentile of sorted (nearest rank).
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	k := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }
