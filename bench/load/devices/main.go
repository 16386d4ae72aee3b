// Command devices is the long-running poll load test: it polls every device of a site
// config every second with gridd's fieldbus poller for -duration and reports whether
// memory and goroutines stay flat.
//
//	devices -gen 1000 -port 22000 > big.yaml     # a site of 1,000 devices, one endpoint each
//	gridd sim --config big.yaml &                 # serve them
//	devices -config big.yaml -duration 10m -out DIR
//
// After -warmup it forces a GC and records the live heap, the goroutine count and a
// pprof heap profile (DIR/heap-start.pprof); it does the same at the end
// (DIR/heap-end.pprof) and once a minute in between. It prints one JSON object; the
// exit status is 1 when the live heap grew by more than -max-growth (and 1 MiB) or the
// goroutine count changed by more than 2. Stale device polls (a device that missed its
// timeout) and polls longer than the interval are reported, not judged: on a loaded
// machine they measure the machine.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	_ "github.com/gridd/gridd/fieldbus/modbus" // the Modbus driver, for the simulated devices
	"github.com/gridd/gridd/site"
)

func main() {
	gen := flag.Int("gen", 0, "print a site config of this many devices (one loopback endpoint each) and exit")
	port := flag.Int("port", 22000, "with -gen: first port; device i listens on port+i")
	cfgPath := flag.String("config", "", "site config to poll")
	duration := flag.Duration("duration", 10*time.Minute, "how long to poll")
	warmup := flag.Duration("warmup", 30*time.Second, "polling before the start measurement")
	interval := flag.Duration("interval", time.Second, "poll interval")
	out := flag.String("out", ".", "directory for the heap profiles")
	maxGrowth := flag.Float64("max-growth", 0.10, "largest allowed relative growth of the live heap")
	flag.Parse()
	if *gen > 0 {
		if err := genSite(os.Stdout, *gen, *port); err != nil {
			fmt.Fprintln(os.Stderr, "devices:", err)
			os.Exit(2)
		}
		return
	}
	if *cfgPath == "" {
		fmt.Fprintln(os.Stderr, "devices: -config or -gen is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, *cfgPath, *duration, *warmup, *interval, *out, *maxGrowth)
	if err != nil {
		fmt.Fprintln(os.Stderr, "devices:", err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	if !res.Pass {
		os.Exit(1)
	}
}

// genSite writes a site of n devices: batteries, building meters, PV inverters and EV
// chargers in turn, each on its own loopback endpoint.
func genSite(w io.Writer, n, port int) error {
	if n < 1 || port < 1 || port+n > 65535 {
		return fmt.Errorf("-gen %d -port %d: need 1 or more devices on ports below 65536", n, port)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %d simulated devices for the poll load test (bench/load/devices).\n", n)
	b.WriteString(`site: {name: load-test, timezone: UTC}
tariff:
  import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}]
grid: {import_limit_kw: 1000000, export_limit_kw: 1000000}
nodes:
  - {id: sub, parent: "", limit_kw: 1000000}
approval: {auto: false}
devices:
`)
	for i := range n {
		ep := fmt.Sprintf("127.0.0.1:%d", port+i)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "  - {id: bess-%04d, kind: bess, node: sub, endpoint: %q, unit_id: 1, profile: \"builtin:bess\", bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 95, max_charge_kw: 100, max_discharge_kw: 100, charge_efficiency: 0.95, discharge_efficiency: 0.95}, sim: {initial_soc_pct: 50}}\n", i, ep)
		case 1:
			fmt.Fprintf(&b, "  - {id: load-%04d, kind: load, node: sub, endpoint: %q, unit_id: 1, profile: \"builtin:load-meter\", sim: {series: \"cambridge:b36\"}}\n", i, ep)
		case 2:
			fmt.Fprintf(&b, "  - {id: pv-%04d, kind: pv, node: sub, endpoint: %q, unit_id: 1, profile: \"builtin:pv-inverter\", pv: {capacity_kw: 150}, sim: {series: \"konstanz:pv\"}}\n", i, ep)
		default:
			fmt.Fprintf(&b, "  - {id: ev-%04d, kind: ev_charger, node: sub, endpoint: %q, unit_id: 1, profile: \"builtin:ev-charger\", ev_charger: {max_charge_kw: 11}, sim: {series: trondheim}}\n", i, ep)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// snapshot is the process state after a forced GC.
type snapshot struct {
	AtS          float64 `json:"at_s"`
	HeapInuseKB  uint64  `json:"heap_inuse_kb"`
	HeapAllocKB  uint64  `json:"heap_alloc_kb"`
	HeapObjects  uint64  `json:"heap_objects"`
	Goroutines   int     `json:"goroutines"`
	SysKB        uint64  `json:"sys_kb"`
	Polls        int     `json:"polls"`
	StaleDevices int     `json:"stale_device_polls"`
}

type result struct {
	Devices        int        `json:"devices"`
	Points         int        `json:"points_per_poll"`
	IntervalS      float64    `json:"interval_s"`
	DurationS      float64    `json:"measured_s"`
	Polls          int        `json:"polls"`
	Overruns       int        `json:"polls_longer_than_interval"`
	PollMSMedian   float64    `json:"poll_ms_median"`
	PollMSMax      float64    `json:"poll_ms_max"`
	Start          snapshot   `json:"start"`
	End            snapshot   `json:"end"`
	Minutes        []snapshot `json:"per_minute"`
	HeapGrowthPct  float64    `json:"heap_growth_pct"`
	GoroutineDelta int        `json:"goroutine_delta"`
	Profiles       []string   `json:"heap_profiles"`
	Pass           bool       `json:"pass"`
}

func run(ctx context.Context, cfgPath string, duration, warmup, interval time.Duration, out string, maxGrowth float64) (*result, error) {
	cfg, err := site.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	devs := make([]fieldbus.Device, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID], PollInterval: interval})
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	p := fieldbus.NewPoller(devs, clock.Real{}, log)
	defer p.Close()

	res := &result{Devices: len(devs), IntervalS: interval.Seconds()}
	var pollMS []float64
	polls, stale := 0, 0
	begin := time.Now()
	var measureStart time.Time
	nextMinute := time.Time{}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	snap := func() snapshot {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return snapshot{AtS: time.Since(measureStart).Seconds(), HeapInuseKB: m.HeapInuse >> 10, HeapAllocKB: m.HeapAlloc >> 10, HeapObjects: m.HeapObjects,
			Goroutines: runtime.NumGoroutine(), SysKB: m.Sys >> 10, Polls: polls, StaleDevices: stale}
	}
	writeHeap := func(name string) error {
		path := filepath.Join(out, name)
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return fmt.Errorf("heap profile %s: %w", path, err)
		}
		res.Profiles = append(res.Profiles, path)
		return nil
	}
	for {
		t0 := time.Now()
		readings := p.Poll(ctx)
		d := time.Since(t0)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		points := 0
		for _, r := range readings {
			if r.Stale {
				stale++
			}
			points += len(r.Values)
		}
		res.Points = points
		if !measureStart.IsZero() {
			polls++
			pollMS = append(pollMS, float64(d.Microseconds())/1000)
			if d > interval {
				res.Overruns++
			}
		}
		now := time.Now()
		switch {
		case measureStart.IsZero() && now.Sub(begin) >= warmup:
			measureStart = now
			res.Start = snap()
			if err := writeHeap("heap-start.pprof"); err != nil {
				return nil, err
			}
			nextMinute = now.Add(time.Minute)
			fmt.Fprintf(os.Stderr, "devices: start: heap %d KB, %d goroutines, %d devices, %d points per poll\n", res.Start.HeapInuseKB, res.Start.Goroutines, len(devs), points)
		case !measureStart.IsZero() && now.Sub(measureStart) >= duration:
			res.End = snap()
			if err := writeHeap("heap-end.pprof"); err != nil {
				return nil, err
			}
			res.DurationS = now.Sub(measureStart).Seconds()
			res.Polls = polls
			finish(res, pollMS, maxGrowth)
			return res, nil
		case !measureStart.IsZero() && now.After(nextMinute):
			s := snap()
			res.Minutes = append(res.Minutes, s)
			nextMinute = nextMinute.Add(time.Minute)
			fmt.Fprintf(os.Stderr, "devices: %4.0f s: heap %d KB, %d goroutines, %d polls, %d stale device polls\n", s.AtS, s.HeapInuseKB, s.Goroutines, polls, stale)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

func finish(res *result, pollMS []float64, maxGrowth float64) {
	if len(pollMS) > 0 {
		s := append([]float64(nil), pollMS...)
		slices.Sort(s)
		res.PollMSMedian, res.PollMSMax = s[len(s)/2], s[len(s)-1]
	}
	// The live heap after a forced GC (HeapAlloc) is the leak measure; HeapInuse moves
	// with span reuse.
	start, end := float64(res.Start.HeapAllocKB), float64(res.End.HeapAllocKB)
	if start > 0 {
		res.HeapGrowthPct = math.Round((end-start)/start*1e4) / 100
	}
	res.GoroutineDelta = res.End.Goroutines - res.Start.Goroutines
	grewTooMuch := end-start > 1024 && (end-start)/start > maxGrowth
	res.Pass = !grewTooMuch && res.GoroutineDelta >= -2 && res.GoroutineDelta <= 2
}
