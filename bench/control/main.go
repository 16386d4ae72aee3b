// Command controlbench measures the real-time layer's latency, from the start of a
// tick's poll to the last corrective setpoint read back (dispatch.TickResult.Latency),
// on a simulated site served over loopback Modbus TCP. It runs in two processes so
// that gridd's side can be held to one core:
//
//	controlbench -mode serve -config configs/demo-site.yaml -port 22000
//	GOMAXPROCS=1 controlbench -mode tick -config configs/demo-site.yaml -port 22000
//
// With -devices N instead of -config, both sides generate the same site of N devices
// (genSite: a substation meter and feeders of 50 devices each — a meter, loads,
// batteries, EV chargers, PV — behind Modbus gateways of 10 unit ids, with a demand
// charge so that the plan has a peak target). Endpoints are
// moved to -port, -port+1, ... in config order (devices that shared an endpoint keep
// sharing it); the serving side listens for the tick side's commands on -port minus 1.
//
// serve runs fieldbus/sim on a simulated clock that the tick side sets before every
// tick (the first setting starts the simulator), together with the load steps
// (sim.Sim.SetLoadScale), so the simulator's physics are exact for the simulated time
// whatever the wall time. One serving process serves one tick run.
//
// tick builds what `gridd run` builds (the embedded store in a temporary directory,
// fieldbus.Poller and fieldbus.Writer, dispatch.Service), runs one cycle at -start so
// an approved plan is in force, and then every control interval of simulated time:
// steps a share (-step-share) of the loads up by -step (even ticks) or back to 1 (odd
// ticks), so that each tick has a deviation to correct; polls every device once with
// a second fieldbus.Poller of the same devices (the reference: the least a tick can
// cost); and runs Service.ControlTick. The reference poll and the tick run in
// alternating order. A cycle runs (untimed) whenever simulated time reaches a step
// boundary. With -pace (the default) each interval starts on a real-time cadence of
// control.interval; without it ticks run back to back. It prints one JSON object:
// latency percentiles of the ticks that wrote (all of them, unless the step corrected
// nothing, which fails the run), of the reference poll, their ratios, CPU per tick and
// the corrections by the limit they held. -cpuprofile profiles the measured ticks;
// -store-dir puts the embedded store elsewhere. bench/control/run.sh wraps both sides.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	_ "github.com/gridd/gridd/fieldbus/ocpp" // the demo site's ocpp:// chargers pass validation
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

type options struct {
	mode       string
	config     string
	devices    int
	port       int
	start      string
	ticks      int
	pace       bool
	step       float64
	stepShare  float64
	cpuprofile string
	storeDir   string
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "", "serve | tick")
	flag.StringVar(&o.config, "config", "", "site config (with -devices 0)")
	flag.IntVar(&o.devices, "devices", 0, "generate a site of this many devices instead of -config")
	flag.IntVar(&o.port, "port", 22000, "first endpoint port; the serving side's command port is -port minus 1")
	flag.StringVar(&o.start, "start", "2019-06-03T16:00:00Z", "simulated start (RFC 3339, on a step boundary)")
	flag.IntVar(&o.ticks, "ticks", 90, "measured ticks")
	flag.BoolVar(&o.pace, "pace", true, "start each tick on a real-time cadence of control.interval (false: back to back)")
	flag.Float64Var(&o.step, "step", 1.3, "load step factor applied on even ticks")
	flag.Float64Var(&o.stepShare, "step-share", 1, "share of the loads stepped (0-1], spread over the site")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "tick mode: write a CPU profile of the measured ticks to this file")
	flag.StringVar(&o.storeDir, "store-dir", "", "tick mode: parent directory of the embedded store (default: the system's temporary directory)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch o.mode {
	case "serve":
		err = serve(ctx, o, func(addr string) { fmt.Printf("serving on %s\n", addr) })
	case "tick":
		var rep *report
		rep, err = tick(ctx, o)
		if rep != nil {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			err = errors.Join(err, enc.Encode(rep))
		}
	default:
		err = fmt.Errorf("-mode %q: want serve or tick", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "controlbench:", err)
		os.Exit(1)
	}
}

// load returns the site (generated or read), its endpoints moved to port, port+1, ...
func load(o options) (*site.Config, map[string]*fieldbus.Profile, error) {
	var name string
	var data []byte
	switch {
	case o.devices < 0:
		return nil, nil, fmt.Errorf("-devices %d: must not be negative", o.devices)
	case o.devices > 0 && o.config != "":
		return nil, nil, errors.New("-devices and -config: give one")
	case o.devices > 0:
		name, data = "generated.yaml", []byte(genSite(o.devices))
	case o.config != "":
		var err error
		if data, err = os.ReadFile(o.config); err != nil {
			return nil, nil, err
		}
		name = o.config
	default:
		return nil, nil, errors.New("want -config or -devices")
	}
	cfg, err := site.Parse(name, data)
	if err != nil {
		return nil, nil, err
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		return nil, nil, err
	}
	moved := map[string]string{}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		to, ok := moved[d.Endpoint]
		if !ok {
			p := o.port + len(moved)
			if o.port < 2 || p > 65535 {
				return nil, nil, fmt.Errorf("-port %d: endpoint %d would be on port %d, outside 2..65535", o.port, len(moved), p)
			}
			to = net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
			if strings.HasPrefix(d.Endpoint, "iec104://") {
				to = "iec104://" + to // an RTU stays an RTU
			}
			moved[d.Endpoint] = to
		}
		d.Endpoint = to
	}
	return cfg, profiles, nil
}

func ctlAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port-1)) }

func startTime(o options, cfg *site.Config) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, o.start)
	if err != nil {
		return t, fmt.Errorf("-start %q: want RFC 3339", o.start)
	}
	if !t.Truncate(cfg.Site.Step.D).Equal(t) {
		return t, fmt.Errorf("-start %s: not on a step (%s) boundary", o.start, cfg.Site.Step.D)
	}
	return t, nil
}

func bundledData() (fs.FS, error) { return fs.Sub(gridd.Files, sim.DataDir) }

// serve runs the simulator until ctx ends; ready gets the command address. The
// simulator starts, on a simulated clock, at the time of the first step.
func serve(ctx context.Context, o options, ready func(string)) error {
	cfg, profiles, err := load(o)
	if err != nil {
		return err
	}
	data, err := bundledData()
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	var mu sync.Mutex
	var clk *clock.Sim
	var sm *sim.Sim
	defer func() {
		if sm != nil {
			sm.Stop()
		}
	}()
	// POST /step?at=UNIXNANO&scale=ID:F,ID:F sets the clock, then the load scales.
	mux := http.NewServeMux()
	mux.HandleFunc("POST /step", func(w http.ResponseWriter, r *http.Request) {
		ns, err := strconv.ParseInt(r.URL.Query().Get("at"), 10, 64)
		if err != nil {
			http.Error(w, "at: "+err.Error(), http.StatusBadRequest)
			return
		}
		at := time.Unix(0, ns).UTC()
		mu.Lock()
		defer mu.Unlock()
		if sm == nil {
			clk = clock.NewSim(at)
			if sm, err = sim.New(cfg, profiles, clk, data, log); err == nil {
				if err = sm.Start(ctx); err != nil {
					sm = nil
				}
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		if at.Before(clk.Now()) {
			http.Error(w, fmt.Sprintf("at %s is before the simulator's %s", at, clk.Now()), http.StatusBadRequest)
			return
		}
		clk.Set(at)
		if s := r.URL.Query().Get("scale"); s != "" {
			for _, kv := range strings.Split(s, ",") {
				id, f, _ := strings.Cut(kv, ":")
				v, err := strconv.ParseFloat(f, 64)
				if err == nil {
					err = sm.SetLoadScale(id, v)
				}
				if err != nil {
					http.Error(w, "scale "+kv+": "+err.Error(), http.StatusBadRequest)
					return
				}
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	ln, err := net.Listen("tcp", ctlAddr(o.port))
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	ready(ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// stepper tells the serving side the time and the load scales.
type stepper struct {
	addr string
	hc   *http.Client
}

func (s stepper) step(ctx context.Context, at time.Time, scales map[string]float64) error {
	q := url.Values{"at": {strconv.FormatInt(at.UnixNano(), 10)}}
	if len(scales) > 0 {
		var kv []string
		for id, f := range scales {
			kv = append(kv, id+":"+strconv.FormatFloat(f, 'g', -1, 64))
		}
		sort.Strings(kv)
		q.Set("scale", strings.Join(kv, ","))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.addr+"/step?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		var b [512]byte
		n, _ := resp.Body.Read(b[:])
		return fmt.Errorf("simulator: %s: %s", resp.Status, b[:n])
	}
	return nil
}

// stats are percentiles of a set of durations, in milliseconds.
type stats struct {
	N     int     `json:"n"`
	P50MS float64 `json:"p50_ms"`
	P90MS float64 `json:"p90_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}

// pct is the nearest-rank percentile q (0-1] of sorted values.
func pct(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(k, len(sorted)-1))]
}

func summarize(d []time.Duration) stats {
	ms := make([]float64, len(d))
	for i, x := range d {
		ms[i] = float64(x) / float64(time.Millisecond)
	}
	sort.Float64s(ms)
	return stats{N: len(ms), P50MS: pct(ms, .5), P90MS: pct(ms, .9), P99MS: pct(ms, .99), MaxMS: pct(ms, 1)}
}

type report struct {
	Site         string  `json:"site"`
	Devices      int     `json:"devices"`
	Controllable int     `json:"controllable"`
	Endpoints    int     `json:"endpoints"`
	GOMAXPROCS   int     `json:"gomaxprocs"`
	IntervalS    float64 `json:"interval_s"`
	Paced        bool    `json:"paced"`
	Ticks        int     `json:"ticks"`
	// TicksWrote counts ticks that wrote at least one corrective setpoint; only they
	// are in Latency.
	TicksWrote    int     `json:"ticks_wrote"`
	Writes        int     `json:"writes"`
	WritesFailed  int     `json:"writes_failed"`
	WritesPerTick float64 `json:"writes_per_tick_p50"`
	Latency       stats   `json:"latency"`
	// LatencyAll covers every tick, those that wrote nothing too.
	LatencyAll stats `json:"latency_all_ticks"`
	// Poll is the reference: one bare Poller.Poll of the same devices per interval.
	Poll stats `json:"reference_poll"`
	// Ratios of the tick's latency to the reference poll, and p99 to the interval.
	RatioP50        float64 `json:"ratio_p50_tick_to_poll"`
	RatioP99        float64 `json:"ratio_p99_tick_to_poll"`
	P99OverInterval float64 `json:"p99_over_interval"`
	// CPUPerIntervalMS is the process CPU of an interval (reference poll, tick and
	// the simulator command); CPUPerTickMS that of the ticks alone.
	CPUPerIntervalMS float64 `json:"cpu_per_interval_ms"`
	CPUPerTickMS     float64 `json:"cpu_per_tick_ms"`
	CyclesRun        int     `json:"cycles"`
	FirstCycleS      float64 `json:"first_cycle_s"`
	WallS            float64 `json:"wall_s"`
	LateIntervals    int     `json:"late_intervals"`
	// TicksUnresolved counts ticks that left a limit exceeded (no flexibility left).
	TicksUnresolved int `json:"ticks_unresolved"`
	// Reasons counts the corrected setpoints of all ticks by node, direction and limit.
	Reasons          map[string]int `json:"correction_reasons"`
	TickErrors       int            `json:"tick_errors"`
	FirstTickErrText string         `json:"first_tick_error,omitempty"`
}

// reasonRE keeps the node, direction and limit of a correction's reason.
var reasonRE = regexp.MustCompile(`^(\S+ (?:import|export)) .*\((.*)\)`)

// cpu is the process's user+system CPU time.
func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// steppedLoads picks share of the loads, spread evenly over the config order.
func steppedLoads(cfg *site.Config, share float64) []string {
	var loads []string
	for _, d := range cfg.Devices {
		if d.Kind == site.KindLoad {
			loads = append(loads, d.ID)
		}
	}
	n := int(math.Ceil(share * float64(len(loads))))
	out := make([]string, 0, n)
	for k := range n {
		out = append(out, loads[k*len(loads)/n])
	}
	return out
}

func tick(ctx context.Context, o options) (*report, error) {
	if o.ticks < 1 {
		return nil, fmt.Errorf("-ticks %d: must be at least 1", o.ticks)
	}
	if !(o.step > 0 && o.step <= 100) || o.step == 1 {
		return nil, fmt.Errorf("-step %v: want a factor in (0, 100] other than 1", o.step)
	}
	if !(o.stepShare > 0 && o.stepShare <= 1) {
		return nil, fmt.Errorf("-step-share %v: want (0, 1]", o.stepShare)
	}
	cfg, profiles, err := load(o)
	if err != nil {
		return nil, err
	}
	start, err := startTime(o, cfg)
	if err != nil {
		return nil, err
	}
	stepped := steppedLoads(cfg, o.stepShare)
	if len(stepped) == 0 {
		return nil, errors.New("the site has no load to step")
	}
	dir, err := os.MkdirTemp(o.storeDir, "controlbench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	clk := clock.NewSim(start)
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	devs := make([]fieldbus.Device, 0, len(cfg.Devices))
	eps := map[string]bool{}
	controllable := 0
	for _, d := range cfg.Devices {
		devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
		eps[d.Endpoint] = true
		if d.Kind == site.KindBESS || d.Kind == site.KindEVCharger || d.Kind == site.KindPV {
			controllable++
		}
	}
	poller := fieldbus.NewPoller(devs, clk, log)
	defer poller.Close()
	writer := fieldbus.NewWriter(devs, clk, log)
	defer writer.Close()
	ref := fieldbus.NewPoller(devs, clk, log)
	defer ref.Close()
	svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: poller, Writer: writer, Clock: clk, Logger: log, Profiles: profiles})
	if err != nil {
		return nil, err
	}
	if err := svc.RegisterAssets(ctx); err != nil {
		return nil, err
	}
	sp := stepper{addr: ctlAddr(o.port), hc: &http.Client{Timeout: 10 * time.Second}}
	if err := sp.step(ctx, start, nil); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if _, err := svc.RunCycle(ctx, start); err != nil {
		return nil, fmt.Errorf("first cycle: %w", err)
	}
	rep := &report{Site: cfg.Site.Name, Devices: len(cfg.Devices), Controllable: controllable, Endpoints: len(eps),
		GOMAXPROCS: runtime.GOMAXPROCS(0), Paced: o.pace, Ticks: o.ticks, CyclesRun: 1, FirstCycleS: time.Since(t0).Seconds(),
		Reasons: map[string]int{}}
	iv := cfg.Control.Interval.D
	rep.IntervalS = iv.Seconds()
	// Warm-up: one reference poll and one tick without a step (connections open).
	at := start.Add(iv)
	clk.Set(at)
	if err := sp.step(ctx, at, nil); err != nil {
		return nil, err
	}
	ref.Poll(ctx)
	if _, err := svc.ControlTick(ctx, at, iv); err != nil {
		log.Warn("warm-up tick", "err", err)
	}
	runtime.GC()
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			return nil, fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var lat, latAll, polls []time.Duration
	var perTick []float64
	var tickCPU time.Duration
	wall0, cpu0 := time.Now(), cpu()
	for k := range o.ticks {
		if o.pace {
			due := wall0.Add(time.Duration(k) * iv)
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(d):
				}
			} else if d < -iv/10 {
				rep.LateIntervals++
			}
		}
		at = at.Add(iv)
		clk.Set(at)
		if at.Truncate(cfg.Site.Step.D).Equal(at) {
			// A new step: the cycle plans it (untimed); the tick follows at the same time.
			if err := sp.step(ctx, at, nil); err != nil {
				return nil, err
			}
			if _, err := svc.RunCycle(ctx, at); err != nil {
				return nil, fmt.Errorf("cycle at %s: %w", at, err)
			}
			rep.CyclesRun++
		}
		f := o.step
		if k%2 == 1 {
			f = 1
		}
		scales := make(map[string]float64, len(stepped))
		for _, id := range stepped {
			scales[id] = f
		}
		if err := sp.step(ctx, at, scales); err != nil {
			return nil, err
		}
		var res *dispatch.TickResult
		var terr error
		tickFn := func() {
			c := cpu()
			res, terr = svc.ControlTick(ctx, at, iv)
			tickCPU += cpu() - c
		}
		pollRef := func() {
			p0 := time.Now()
			ref.Poll(ctx)
			polls = append(polls, time.Since(p0))
		}
		if k%4 < 2 {
			pollRef()
			tickFn()
		} else {
			tickFn()
			pollRef()
		}
		if terr != nil {
			rep.TickErrors++
			if rep.FirstTickErrText == "" {
				rep.FirstTickErrText = terr.Error()
			}
		}
		if res == nil {
			continue
		}
		latAll = append(latAll, res.Latency)
		if res.Corrections != nil {
			if len(res.Corrections.Unresolved) > 0 {
				rep.TicksUnresolved++
			}
			for _, sp := range res.Corrections.Setpoints {
				if sp.Corrected {
					for _, r := range sp.Reasons {
						if m := reasonRE.FindStringSubmatch(r); m != nil {
							r = m[1] + " (" + m[2] + ")"
						}
						rep.Reasons[r]++
					}
				}
			}
		}
		if len(res.Writes) > 0 {
			rep.TicksWrote++
			lat = append(lat, res.Latency)
			perTick = append(perTick, float64(len(res.Writes)))
		}
		for _, w := range res.Writes {
			rep.Writes++
			if w.Status != storage.WriteOK {
				rep.WritesFailed++
			}
		}
	}
	rep.WallS = time.Since(wall0).Seconds()
	rep.CPUPerIntervalMS = float64(cpu()-cpu0) / float64(time.Millisecond) / float64(o.ticks)
	rep.CPUPerTickMS = float64(tickCPU) / float64(time.Millisecond) / float64(o.ticks)
	rep.Latency, rep.LatencyAll, rep.Poll = summarize(lat), summarize(latAll), summarize(polls)
	sort.Float64s(perTick)
	rep.WritesPerTick = pct(perTick, .5)
	rep.RatioP50 = rep.Latency.P50MS / rep.Poll.P50MS
	rep.RatioP99 = rep.Latency.P99MS / rep.Poll.P99MS
	rep.P99OverInterval = rep.Latency.P99MS / (iv.Seconds() * 1000)
	if rep.TicksWrote == 0 {
		return rep, errors.New("no tick wrote a corrective setpoint: the load step corrected nothing")
	}
	return rep, nil
}
