// Command ocppbench measures gridd's OCPP central system with many stations on one
// gridd, against Modbus chargers driven through the same Poller and Writer in the
// same run (docs/BENCHMARKS.md, "OCPP stations"). It runs in two processes so that
// gridd's side is measured on its own:
//
//	ocppbench -mode stations -n 1000 -url ws://127.0.0.1:9100/ocpp -modbus-port 22000
//	ocppbench -mode csms -n 1000 -listen 127.0.0.1:9100 -modbus-port 22000
//
// stations runs N simulated OCPP 2.0.1 stations (fieldbus/ocpp/ocppsim on a trivial
// plant: a vehicle always plugged, drawing what the profile allows up to 11 kW) that
// connect to the CSMS, and serves N Modbus reference chargers
// (bench/ocpp/modbus-charger.yaml) on ports modbus-port.. . csms starts gridd's CSMS,
// waits until every station is connected and has its safe limit, records the
// memory the connections hold, then runs rounds, alternating OCPP and Modbus: a
// write round writes every charger's setpoint_kw in turn through fieldbus.Writer, as
// dispatch applies a plan (OCPP: SetChargingProfile + GetCompositeSchedule each;
// every read-back must equal the written value), a poll round polls every charger
// with fieldbus.Poller (OCPP: TriggerMessage + MeterValues each). It prints one JSON
// object: wall and CPU per round, the slowest write round, memory per connection and
// the ratios OCPP/Modbus. bench/ocpp/run.sh wraps both processes.
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
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	_ "github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/ocpp"
	"github.com/gridd/gridd/fieldbus/ocpp/ocppsim"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

func main() {
	mode := flag.String("mode", "", "stations | csms")
	n := flag.Int("n", 1000, "number of stations (and of Modbus reference chargers)")
	url := flag.String("url", "ws://127.0.0.1:9100/ocpp", "stations: the CSMS base URL")
	listen := flag.String("listen", "127.0.0.1:9100", "csms: the CSMS address")
	mport := flag.Int("modbus-port", 22000, "first port of the Modbus reference chargers")
	rounds := flag.Int("rounds", 5, "csms: measured rounds of each kind and protocol")
	profile := flag.String("profile", "bench/ocpp/modbus-charger.yaml", "Modbus reference profile")
	flag.Parse()
	var err error
	switch *mode {
	case "stations":
		err = stations(*n, *url, *mport, *profile)
	case "csms":
		err = csms(*n, *listen, *mport, *rounds, *profile)
	default:
		err = fmt.Errorf("-mode %q: want stations or csms", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocppbench:", err)
		os.Exit(1)
	}
}

func stationID(i int) string    { return fmt.Sprintf("BENCH-%04d", i) }
func password(id string) string { return "bench-password-" + id }

// benchConfig is a site with n OCPP chargers, one per station, and n Modbus ones.
func benchConfig(n int, listen string, mport int, hash bool) (*site.Config, error) {
	cfg := &site.Config{OCPP: &site.OCPP{Listen: listen, SafeLimitKW: 1.4, MaxFrameBytes: site.DefaultOCPPMaxFrameBytes,
		CallsPerSecond: site.DefaultOCPPCallsPerSecond, CallTimeout: site.Duration{D: 10 * time.Second}}}
	for i := range n {
		id := stationID(i)
		st := site.OCPPStation{ID: id, ChargingRateUnit: "W", VoltageV: 230, Phases: 3}
		if hash {
			h, err := bcrypt.GenerateFromPassword([]byte(password(id)), bcrypt.MinCost)
			if err != nil {
				return nil, err
			}
			st.PasswordHash = string(h)
		}
		cfg.OCPP.Stations = append(cfg.OCPP.Stations, st)
		cfg.Devices = append(cfg.Devices,
			site.Device{ID: "ocpp-" + id, Kind: site.KindEVCharger, Node: "root", Endpoint: "ocpp://" + id, EV: &site.EVParams{MaxChargeKW: 11}},
			site.Device{ID: "modbus-" + strconv.Itoa(i), Kind: site.KindEVCharger, Node: "root", Endpoint: net.JoinHostPort("127.0.0.1", strconv.Itoa(mport+i)), UnitID: 1, EV: &site.EVParams{MaxChargeKW: 11}})
	}
	return cfg, nil
}

// plant is the stations' trivial physics: a vehicle always plugged, drawing the
// profile's limit up to 11 kW.
type plant struct {
	mu sync.Mutex
	sp map[string]float64
	t0 time.Time
}

func (p *plant) State(id string) (sim.DeviceState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kw := math.Min(p.sp[id], 11)
	return sim.DeviceState{ID: id, Kind: site.KindEVCharger, PowerKW: kw, SetpointKW: p.sp[id], Connected: true,
		ImportKWh: 100, SessionRequestKWh: 20, Departure: p.t0.Add(8 * time.Hour)}, true
}

func (p *plant) SetSetpoint(id string, kw float64) error {
	p.mu.Lock()
	p.sp[id] = kw
	p.mu.Unlock()
	return nil
}

func stations(n int, url string, mport int, profile string) error {
	cfg, err := benchConfig(n, "127.0.0.1:0", mport, false)
	if err != nil {
		return err
	}
	prof, err := fieldbus.LoadProfile(profile)
	if err != nil {
		return err
	}
	log := slog.New(slog.DiscardHandler)
	var srvs []*sim.Registers
	defer func() {
		for _, s := range srvs {
			s.Stop()
		}
	}()
	for i := range n {
		regs := make([]uint16, 11)
		for k := range prof.Points {
			pt := &prof.Points[k]
			v := 0.0
			if pt.Name == "connected" {
				v = 1
			}
			enc, err := pt.Encode(v)
			if err != nil {
				return err
			}
			copy(regs[pt.Address:], enc)
		}
		s, err := sim.ServeRegisters(net.JoinHostPort("127.0.0.1", strconv.Itoa(mport+i)), 1, 0, regs, log)
		if err != nil {
			return err
		}
		srvs = append(srvs, s)
	}
	p := &plant{sp: map[string]float64{}, t0: time.Now()}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	warn := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := ocppsim.New(cfg, p, ocppsim.Options{URL: url, Password: password, Log: warn})
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	defer s.Stop()
	fmt.Printf("stations %d connecting to %s; modbus on %d..%d\n", n, url, mport, mport+n-1)
	<-ctx.Done()
	return nil
}

func cpu() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memBytes is the heap and goroutine stacks in use after a GC.
func memBytes() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

type phase struct {
	Rounds    int     `json:"rounds"`
	WallS     float64 `json:"wall_s"`
	CPUS      float64 `json:"cpu_s"`
	MaxRoundS float64 `json:"max_round_s"`
	// CPUPerRoundS is the CPU one round over every charger costs gridd.
	CPUPerRoundS  float64 `json:"cpu_per_round_s"`
	WallPerRoundS float64 `json:"wall_per_round_s"`
}

func (p *phase) round(fn func() error) error {
	c0, t0 := cpu(), time.Now()
	if err := fn(); err != nil {
		return err
	}
	wall := time.Since(t0).Seconds()
	p.CPUS += (cpu() - c0).Seconds()
	p.Rounds++
	p.WallS += wall
	p.MaxRoundS = max(p.MaxRoundS, wall)
	p.CPUPerRoundS = p.CPUS / float64(p.Rounds)
	p.WallPerRoundS = p.WallS / float64(p.Rounds)
	return nil
}

func csms(n int, listen string, mport, rounds int, profile string) error {
	cfg, err := benchConfig(n, listen, mport, true)
	if err != nil {
		return err
	}
	ocppProf, err := fieldbus.BuiltinProfile("ocpp-ev-charger")
	if err != nil {
		return err
	}
	mbProf, err := fieldbus.LoadProfile(profile)
	if err != nil {
		return err
	}
	var ocppDevs, mbDevs []fieldbus.Device
	for _, d := range cfg.Devices {
		if strings.HasPrefix(d.Endpoint, "ocpp://") {
			ocppDevs = append(ocppDevs, fieldbus.Device{Device: d, Profile: ocppProf})
		} else {
			d.Timeout.D = 2 * time.Second
			mbDevs = append(mbDevs, fieldbus.Device{Device: d, Profile: mbProf})
		}
	}
	for i := range ocppDevs {
		ocppDevs[i].Timeout.D = 5 * time.Second
	}
	log := slog.New(slog.DiscardHandler)
	mem0, rss0 := memBytes(), rssBytes()
	c, err := ocpp.New(ocpp.Options{Config: cfg.OCPP, Clock: clock.Real{}, Log: log})
	if err != nil {
		return err
	}
	var safeMu sync.Mutex
	safe, connects := 0, 0
	c.SetAudit(func(action, subject, text string) {
		if action == "ocpp.connect" {
			safeMu.Lock()
			connects++
			safeMu.Unlock()
		}
		if action != "ocpp.safe_limit" {
			return
		}
		if strings.Contains(text, "NOT") {
			fmt.Fprintln(os.Stderr, "ocppbench:", subject, text)
			return
		}
		safeMu.Lock()
		safe++
		safeMu.Unlock()
	})
	addr, err := c.Start()
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Fprintf(os.Stderr, "ocppbench: CSMS at %s, waiting for %d stations\n", addr, n)
	t0 := time.Now()
	for {
		safeMu.Lock()
		s := safe
		safeMu.Unlock()
		if s >= n {
			break
		}
		if time.Since(t0) > 5*time.Minute {
			safeMu.Lock()
			defer safeMu.Unlock()
			return fmt.Errorf("only %d of %d stations connected with their safe limit after 5 min (%d connects)", s, n, connects)
		}
		time.Sleep(100 * time.Millisecond)
	}
	connectS := time.Since(t0).Seconds()
	time.Sleep(2 * time.Second) // let the boot-time traffic settle
	mem1, rss1 := memBytes(), rssBytes()
	ctx := context.Background()
	op := fieldbus.NewPoller(ocppDevs, clock.Real{}, log, ocpp.WithCSMS(c))
	ow := fieldbus.NewWriter(ocppDevs, clock.Real{}, log, ocpp.WithCSMS(c))
	mp := fieldbus.NewPoller(mbDevs, clock.Real{}, log)
	mw := fieldbus.NewWriter(mbDevs, clock.Real{}, log)
	defer op.Close()
	defer ow.Close()
	defer mp.Close()
	defer mw.Close()
	writeAll := func(w *fieldbus.Writer, devs []fieldbus.Device, r int) func() error {
		return func() error {
			for i, d := range devs {
				v := float64((i+r)%100) / 10 // 0.0 .. 9.9 kW
				res, err := w.Write(ctx, d.ID, "setpoint_kw", v)
				if err != nil {
					return fmt.Errorf("write %s: %w", d.ID, err)
				}
				if res.Mismatch || res.ReadBack != res.Written {
					return fmt.Errorf("write %s: read back %v, wrote %v", d.ID, res.ReadBack, res.Written)
				}
			}
			return nil
		}
	}
	pollAll := func(p *fieldbus.Poller) func() error {
		return func() error {
			for _, rd := range p.Poll(ctx) {
				if rd.Stale {
					return fmt.Errorf("poll %s: %w", rd.DeviceID, rd.Err)
				}
			}
			return nil
		}
	}
	var ow1, mw1, op1, mp1 phase
	// One warm-up round of each, then measured rounds alternating.
	for r := 0; r <= rounds; r++ {
		for _, step := range []struct {
			ph *phase
			fn func() error
		}{
			{&ow1, writeAll(ow, ocppDevs, r)}, {&mw1, writeAll(mw, mbDevs, r)},
			{&op1, pollAll(op)}, {&mp1, pollAll(mp)},
		} {
			if r == 0 {
				if err := step.fn(); err != nil {
					return err
				}
				continue
			}
			if err := step.ph.round(step.fn); err != nil {
				return err
			}
		}
	}
	out := map[string]any{
		"stations": n, "rounds": rounds, "connect_all_s": connectS,
		"ocpp_write": ow1, "modbus_write": mw1, "ocpp_poll": op1, "modbus_poll": mp1,
		"mem_per_connection_bytes":     float64(mem1-mem0) / float64(n),
		"rss_per_connection_bytes":     float64(int64(rss1)-int64(rss0)) / float64(n),
		"ratio_write_wall_ocpp_modbus": ow1.WallS / mw1.WallS,
		"ratio_write_cpu_ocpp_modbus":  ow1.CPUS / mw1.CPUS,
		"ratio_poll_wall_ocpp_modbus":  op1.WallS / mp1.WallS,
		"ratio_poll_cpu_ocpp_modbus":   op1.CPUS / mp1.CPUS,
		"gomaxprocs":                   runtime.GOMAXPROCS(0),
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		out["loadavg"] = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(b))
	if ow1.MaxRoundS > 10 {
		return errors.New("a write round over every station took more than 10 s")
	}
	return nil
}
