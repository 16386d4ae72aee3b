// Command fieldbusbench measures the poller against a bare simonvetter/modbus client
// loop on loopback. It runs in two processes so that each side's CPU is measured on
// its own:
//
//	fieldbusbench -mode serve -devices 1000 -port 21000   # one listener per device
//	GOMAXPROCS=1 fieldbusbench -mode poll -devices 1000 -port 21000
//
// serve listens on ports port..port+devices-1 of -host, each serving one simulated
// device (unit 1) whose registers hold the -profile's points encoded with known
// values. poll runs a bare loop (one client per device, -workers goroutines issuing
// the profile's planned reads without decoding) and gridd's Poller (same workers,
// decoding every point; every value is then checked against the known one outside
// the timed poll), round by round alternately after one warm-up round, -rounds times
// -repeat rounds each. It prints one JSON object with both rates, the CPU per round
// and the ratios. bench/fieldbus/run.sh wraps both processes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	fbmodbus "github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

func main() {
	mode := flag.String("mode", "", "serve | poll")
	devices := flag.Int("devices", 1000, "number of simulated devices")
	host := flag.String("host", "127.0.0.1", "loopback address to listen on / poll")
	port := flag.Int("port", 21000, "first port; device i listens on port+i")
	profile := flag.String("profile", "bench/fieldbus/device.yaml", "device profile")
	rounds := flag.Int("rounds", 10, "measured rounds of each side (times -repeat)")
	repeat := flag.Int("repeat", 3, "multiplies -rounds")
	workers := flag.Int("workers", fieldbus.DefaultWorkers, "concurrent devices (both phases)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the poll mode to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fieldbusbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*mode, *devices, *host, *port, *profile, *rounds, *repeat, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "fieldbusbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(mode string, n int, host string, port int, profile string, rounds, repeat, workers int) error {
	switch {
	case n < 1:
		return fmt.Errorf("-devices %d: must be at least 1", n)
	case port < 1 || port+n-1 > 65535:
		return fmt.Errorf("-port %d: ports %d..%d must lie in 1..65535", port, port, port+n-1)
	case rounds < 1 || repeat < 1 || workers < 1:
		return fmt.Errorf("-rounds %d, -repeat %d, -workers %d: each must be at least 1", rounds, repeat, workers)
	}
	prof, err := fieldbus.LoadProfile(profile)
	if err != nil {
		return err
	}
	switch mode {
	case "serve":
		return serve(prof, n, host, port)
	case "poll":
		return poll(prof, n, host, port, rounds, repeat, workers)
	}
	return fmt.Errorf("-mode %q: want serve or poll", mode)
}

func endpoint(host string, port, i int) string {
	return net.JoinHostPort(host, strconv.Itoa(port+i))
}

// want is the value device i holds in point k: distinct per device and point, inside
// every point's type and limits.
func want(pt *fieldbus.Point, i, k int) float64 {
	v := float64((i*7+k*13)%100) + 0.5
	q, err := pt.Quantize(v)
	if err != nil {
		return v
	}
	return q
}

// image lays the profile's points out in one register image (holding and input
// points must not share addresses; the benchmark profile keeps them apart).
func image(prof *fieldbus.Profile, i int) ([]uint16, error) {
	size := 0
	for k := range prof.Points {
		size = max(size, int(prof.Points[k].Address)+prof.Points[k].Width())
	}
	regs := make([]uint16, size)
	for k := range prof.Points {
		pt := &prof.Points[k]
		if pt.Register.IsBit() {
			return nil, fmt.Errorf("point %s: the benchmark serves registers only, not %s", pt.Name, pt.Register)
		}
		enc, err := pt.Encode(want(pt, i, k))
		if err != nil {
			return nil, fmt.Errorf("point %s: %w", pt.Name, err)
		}
		copy(regs[pt.Address:], enc)
	}
	return regs, nil
}

func serve(prof *fieldbus.Profile, n int, host string, port int) error {
	log := slog.New(slog.DiscardHandler)
	var srvs []*sim.Registers
	defer func() {
		for _, s := range srvs {
			s.Stop()
		}
	}()
	for i := range n {
		regs, err := image(prof, i)
		if err != nil {
			return err
		}
		s, err := sim.ServeRegisters(endpoint(host, port, i), 1, 0, regs, log)
		if err != nil {
			return err
		}
		srvs = append(srvs, s)
	}
	fmt.Printf("serving %d devices on %s..%s\n", n, endpoint(host, port, 0), endpoint(host, port, n-1))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}

// cpu is the process's user+system CPU time.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// phase is what one side did over all measured rounds.
type phase struct {
	Rounds    int     `json:"rounds"`
	Requests  int64   `json:"requests"`
	Registers int64   `json:"registers"`
	WallS     float64 `json:"wall_s"`
	CPUS      float64 `json:"cpu_s"`
	// MaxRoundS is the slowest round (a whole poll of every device).
	MaxRoundS   float64 `json:"max_round_s"`
	RequestsPS  float64 `json:"requests_per_s"`
	RegistersPS float64 `json:"registers_per_s"`
	// CPUPerRoundS is the CPU time one poll of all devices costs.
	CPUPerRoundS float64 `json:"cpu_per_round_s"`
}

// round runs one round and adds it to the phase; it returns the round's wall time.
func (p *phase) round(reqs, regs int64, fn func() error) (float64, error) {
	c0, t0 := cpu(), time.Now()
	if err := fn(); err != nil {
		return 0, err
	}
	wall := time.Since(t0).Seconds()
	p.CPUS += (cpu() - c0).Seconds()
	p.Rounds++
	p.Requests += reqs
	p.Registers += regs
	p.WallS += wall
	p.MaxRoundS = max(p.MaxRoundS, wall)
	p.RequestsPS = float64(p.Requests) / p.WallS
	p.RegistersPS = float64(p.Registers) / p.WallS
	p.CPUPerRoundS = p.CPUS / float64(p.Rounds)
	return wall, nil
}

// bareClients opens one simonvetter client per device.
func bareClients(n int, host string, port int) ([]*modbus.ModbusClient, error) {
	clients := make([]*modbus.ModbusClient, 0, n)
	for i := range n {
		c, err := modbus.NewClient(&modbus.ClientConfiguration{URL: "tcp://" + endpoint(host, port, i), Timeout: 2 * time.Second})
		if err == nil {
			err = c.Open()
		}
		if err != nil {
			closeAll(clients)
			return nil, fmt.Errorf("bare: open %s: %w", endpoint(host, port, i), err)
		}
		_ = c.SetUnitId(1) // 1 is in range; SetUnitId fails only outside 0..255
		clients = append(clients, c)
	}
	return clients, nil
}

func closeAll(cs []*modbus.ModbusClient) {
	for _, c := range cs {
		c.Close()
	}
}

// bareRound polls every device once: workers goroutines take the next device from a
// shared counter and issue its planned reads, nothing else.
func bareRound(clients []*modbus.ModbusClient, reads []fbmodbus.Read, workers int) error {
	n := len(clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				for _, rd := range reads {
					rt := modbus.INPUT_REGISTER
					if rd.Table == fieldbus.Holding {
						rt = modbus.HOLDING_REGISTER
					}
					if _, err := clients[i].ReadRegisters(rd.Address, rd.Count, rt); err != nil {
						mu.Lock()
						first = errors.Join(first, fmt.Errorf("bare: device %d: %w", i, err))
						mu.Unlock()
					}
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// check compares every decoded value of one poll with the value the server holds.
func check(readings []fieldbus.Reading, prof *fieldbus.Profile) error {
	var errs []error
	for i, r := range readings {
		if r.Stale || r.Err != nil {
			errs = append(errs, fmt.Errorf("device %d: stale %v: %w", i, r.Stale, r.Err))
			continue
		}
		for k := range prof.Points {
			pt := &prof.Points[k]
			v := r.Values[k]
			if w := want(pt, i, k); v.Quality != fieldbus.Good || math.Abs(v.Value-w) > pt.Tolerance(w) {
				errs = append(errs, fmt.Errorf("device %d point %s: got %v (%s), want %v", i, pt.Name, v.Value, v.Quality, w))
			}
		}
	}
	return errors.Join(errs...)
}

func poll(prof *fieldbus.Profile, n int, host string, port int, rounds, repeat, workers int) error {
	reads, err := fbmodbus.PlanReads(prof.Points, fbmodbus.DefaultPlanOptions())
	if err != nil {
		return err
	}
	var regsPerDev int64
	for _, rd := range reads {
		regsPerDev += int64(rd.Count)
	}
	reqs, regs := int64(n*len(reads)), int64(n)*regsPerDev
	clients, err := bareClients(n, host, port)
	if err != nil {
		return err
	}
	defer closeAll(clients)
	devs := make([]fieldbus.Device, n)
	for i := range devs {
		devs[i] = fieldbus.Device{Device: site.Device{
			ID: "dev" + strconv.Itoa(i), Kind: prof.Kind, Endpoint: endpoint(host, port, i), UnitID: 1,
			Timeout: site.Duration{D: 2 * time.Second},
		}, Profile: prof}
	}
	p := fieldbus.NewPoller(devs, clock.Real{}, slog.New(slog.DiscardHandler), fieldbus.WithWorkers(workers))
	defer p.Close()
	bareFn := func() error { return bareRound(clients, reads, workers) }
	// The poll is timed; checking its values (every round) is not.
	var last []fieldbus.Reading
	griddFn := func() error {
		last = p.Poll(context.Background())
		return nil
	}
	// Warm-up: connections open, buffers grow.
	if err := errors.Join(bareFn(), griddFn(), check(last, prof)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	runtime.GC()
	// Rounds alternate (the order flips every round) so that both sides see the same
	// machine load; the ratio is taken per pair and as the median of the pairs.
	var b, g phase
	var ratios []float64
	for r := range rounds * repeat {
		var wb, wg float64
		var err error
		if r%2 == 0 {
			if wb, err = b.round(reqs, regs, bareFn); err == nil {
				wg, err = g.round(reqs, regs, griddFn)
			}
		} else {
			if wg, err = g.round(reqs, regs, griddFn); err == nil {
				wb, err = b.round(reqs, regs, bareFn)
			}
		}
		if err == nil {
			err = check(last, prof)
		}
		if err != nil {
			return err
		}
		ratios = append(ratios, wb/wg)
	}
	sort.Float64s(ratios)
	out := map[string]any{
		"devices":               n,
		"points_per_device":     len(prof.Points),
		"reads_per_device":      len(reads),
		"registers_per_device":  regsPerDev,
		"workers":               workers,
		"gomaxprocs":            runtime.GOMAXPROCS(0),
		"bare":                  b,
		"gridd":                 g,
		"ratio_registers_per_s": g.RegistersPS / b.RegistersPS,
		// Median over the rounds of (bare round time / gridd round time).
		"ratio_median_of_rounds": ratios[len(ratios)/2],
		// Share of one core a 1 s poll interval of all devices takes.
		"core_share_at_1s_interval": g.CPUPerRoundS / 1.0,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
