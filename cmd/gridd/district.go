package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/site"
)

// natsFlags select the NATS server a district process uses.
type natsFlags struct {
	url      string
	replicas int
}

func (n *natsFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&n.url, "nats", "", "NATS server URL(s), comma-separated (default: an embedded server on loopback)")
	fl.IntVar(&n.replicas, "nats-replicas", 1, "JetStream replicas of the district stream and bucket (3 on a three-node cluster)")
}

// connectNATS connects to --nats, or starts an embedded server (JetStream data under
// dataDir/nats) when it is empty; stop closes the connection and the server.
func connectNATS(n natsFlags, dataDir, name string, log *slog.Logger) (url string, ns *server.Server, err error) {
	if n.url != "" {
		return n.url, nil, nil
	}
	ns, url, err = dnats.Embedded(filepath.Join(dataDir, "nats"))
	if err != nil {
		return "", nil, err
	}
	log.Info("embedded NATS server", "url", url, "for", name)
	return url, ns, nil
}

func cmdCoordinate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("coordinate", flag.ContinueOnError)
	cliFlags(fl, stderr)
	var nf natsFlags
	nf.register(fl)
	cfgPath := fl.String("config", "", "district file (district.yaml)")
	dataDir := fl.String("data-dir", "./gridd-district", "directory of the embedded NATS server's JetStream store")
	cycles := fl.Int("cycles", 0, "coordinate N cycles, then exit (0 = every coordination.cycle until interrupted); SIGUSR1 starts the next cycle at once")
	wait := fl.Duration("wait", 10*time.Second, "before the first cycle, wait this long at most for every site to register")
	listen := fl.String("listen", "", "serve the district console at / and its state as JSON at /api/v1/district on this address (no login: loopback or a management network)")
	verbose := fl.Bool("v", false, "debug logging")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usageError{errors.New("--config is required")}
	}
	if *cycles < 0 {
		return usageError{fmt.Errorf("--cycles %d: must not be negative", *cycles)}
	}
	log := newLogger(stderr, *verbose)
	cfg, err := district.Load(*cfgPath)
	if err != nil {
		return err
	}
	if err := checkDistrictSites(cfg); err != nil {
		return err
	}
	url, ns, err := connectNATS(nf, *dataDir, "coordinate", log)
	if err != nil {
		return err
	}
	if ns != nil {
		defer ns.Shutdown()
	}
	nc, err := dnats.Connect(url, "gridd-coordinator-"+cfg.District.ID)
	if err != nil {
		return err
	}
	defer nc.Close()
	bus, err := dnats.Open(ctx, nc, cfg.District.ID, nf.replicas)
	if err != nil {
		return err
	}
	co := &dnats.Coordinator{Bus: bus, Config: cfg, Clock: clock.Real{}, Log: log}
	host, _ := os.Hostname()
	if err := co.Claim(ctx, fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano())); err != nil {
		return err
	}
	if *listen != "" {
		stop, addr, err := serveDistrictAPI(ctx, *listen, co, cfg)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "gridd coordinate: district console at http://%s/ (state as JSON at http://%s/api/v1/district)\n", addr, addr)
	}
	fmt.Fprintf(stdout, "gridd coordinate: district %q, %d sites, %d shared nodes, NATS %s\n", cfg.District.ID, len(cfg.Sites), len(cfg.Nodes), redactURL(url))
	now, stopNow := coordinateNowSignal()
	defer stopNow()
	return coordinateCycles(ctx, co, cfg, *cycles, *wait, cfg.Coordination.Cycle.D, func(int) time.Time { return time.Now() }, now, stdout)
}

// coordinateCycles waits for the sites to register, then coordinates n cycles (0:
// until ctx ends), cycle k for the horizon from at(k), every apart, and prints one
// line per cycle. A value on now (SIGUSR1 for `gridd coordinate`) starts the next
// cycle at once instead of at the end of the wait; one that arrives during a cycle
// starts the next as soon as it ends. now may be nil.
func coordinateCycles(ctx context.Context, co *dnats.Coordinator, cfg *district.Config, n int, wait, every time.Duration, at func(k int) time.Time, now <-chan os.Signal, stdout io.Writer) error {
	deadline := time.Now().Add(wait)
	for {
		regs, err := co.Registered(ctx)
		if err == nil && len(regs) >= len(cfg.Sites) {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			var missing []string
			for _, s := range cfg.Sites {
				if _, ok := regs[s.ID]; !ok {
					missing = append(missing, s.ID)
				}
			}
			fmt.Fprintf(stdout, "gridd coordinate: not registered after %s: %s (they are capped from their last known plan)\n", wait, strings.Join(missing, ", "))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for k := 0; n == 0 || k < n; k++ {
		if ctx.Err() != nil {
			return nil //nolint:nilerr // interrupted (Ctrl-C): a clean stop, not a failure
		}
		res, err := co.RunOnce(ctx, at(k))
		if err != nil {
			return err
		}
		printDistrictCycle(stdout, cfg, res)
		if n > 0 && k == n-1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case sig := <-now:
			fmt.Fprintf(stdout, "gridd coordinate: coordinating now (%s)\n", sig)
		case <-time.After(every):
		}
	}
	return nil
}

func printDistrictCycle(w io.Writer, cfg *district.Config, res *district.Result) {
	limits := cfg.Limits(res.Start)
	worst, where := 0.0, ""
	for _, l := range limits {
		for t, lim := range l.LimitKW {
			s := 0.0
			for _, i := range l.Sites {
				s += res.CapsKW[i][t]
			}
			if lim > 0 && s/lim > worst {
				worst, where = s/lim, l.ID
			}
		}
	}
	gap := "n/a"
	if !math.IsInf(res.GapPct, 0) {
		gap = fmt.Sprintf("%.2f %%", res.GapPct)
	}
	kept := "caps within every shared limit"
	if ex, at := district.Check(res.CapsKW, limits); ex > 1e-9 {
		kept = "CAPS OVER A SHARED LIMIT (" + at + ")"
	}
	fmt.Fprintf(w, "district %s %s: %d/%d sites answered, %d rounds, cost %.2f, lower bound %.2f (gap %s), %s (highest: %.0f %% of %s)",
		cfg.District.ID, res.Start.In(cfg.Location).Format("2006-01-02 15:04 MST"), len(res.Sites)-len(res.Excluded), len(res.Sites), len(res.Rounds),
		res.Cost, res.LowerBound, gap, kept, 100*worst, where)
	if len(res.Excluded) > 0 {
		fmt.Fprintf(w, "; excluded: %s", strings.Join(res.Excluded, ", "))
	}
	fmt.Fprintln(w)
}

// checkDistrictSites loads the site configs the district file names: each must be
// valid and plan on the district's step.
func checkDistrictSites(cfg *district.Config) error {
	var errs []error
	for i := range cfg.Sites {
		p := cfg.SiteConfigPath(i)
		if p == "" {
			continue
		}
		sc, err := site.Load(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: sites[%d].config: %w", cfg.File, i, err))
			continue
		}
		if got := int(sc.Site.Step.D / time.Minute); got != cfg.District.StepMinutes {
			errs = append(errs, fmt.Errorf("%s: sites[%d].config: %q plans in %d-minute steps, the district in %d", cfg.File, i, p, got, cfg.District.StepMinutes))
		}
	}
	return errors.Join(errs...)
}

func redactURL(u string) string { return dnats.Redact(u, u) }

// serveDistrictAPI serves the district console (/) and its state as JSON
// (GET /api/v1/district): the district file's sites and nodes, the live
// registrations and the last cycle's result.
func serveDistrictAPI(ctx context.Context, addr string, co *dnats.Coordinator, cfg *district.Config) (func(), string, error) {
	h := api.NewDistrictServer(cfg, co, api.DistrictOptions{Clock: co.Clock})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("--listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, ln.Addr().String(), nil
}

// districtFlags make `gridd run` take part in a district.
type districtFlags struct {
	natsFlags
	district, site string
}

func (d *districtFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&d.url, "nats", "", "with --district: NATS server URL(s) of the district, comma-separated")
	fl.IntVar(&d.replicas, "nats-replicas", 1, "with --district: JetStream replicas of the district stream and bucket")
	fl.StringVar(&d.district, "district", "", "take part in this district (its id in district.yaml); needs --nats")
	fl.StringVar(&d.site, "district-site", "", "with --district: this site's id in the district (default: the site config's site.name)")
}

func (d *districtFlags) check() error {
	switch {
	case d.district == "" && (d.url != "" || d.site != ""):
		return usageError{errors.New("--nats and --district-site need --district")}
	case d.district != "" && d.url == "":
		return usageError{errors.New("--district needs --nats (the district's NATS server)")}
	}
	return nil
}

// openDistrictBus opens the district's stream and bucket on nc, trying again every
// 2 s (with a warning) until it succeeds or ctx ends.
func openDistrictBus(ctx context.Context, nc *nats.Conn, d districtFlags, log *slog.Logger) (*dnats.Bus, error) {
	for {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		bus, err := dnats.Open(octx, nc, d.district, d.replicas)
		cancel()
		if err == nil {
			return bus, nil
		}
		log.Warn("district: stream and bucket not reachable yet; the site dispatches on its own meanwhile", "district", d.district, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// startParticipant makes the site answer the district's rounds from its latest
// cycle's scenario and apply the caps it is sent as external limits (source
// "district"), each replacing the one before (after a restart, the one restored
// from the audit log); it runs until ctx ends. It never holds up the site's start:
// the district's stream and bucket are opened in the background (openDistrictBus).
func startParticipant(ctx context.Context, svc *dispatch.Service, d districtFlags, log *slog.Logger, stdout io.Writer) (func(), error) {
	cfg := svc.Config()
	id := d.site
	if id == "" {
		id = cfg.Site.Name
	}
	nc, err := dnats.Connect(d.url, "gridd-site-"+id)
	if err != nil {
		return nil, err
	}
	step := cfg.Site.Step.D
	host, _ := os.Hostname()
	var mu sync.Mutex
	// The district limits in force: after a restart, the last caps restored from the
	// audit log (they hold until the coordinator's next caps replace them).
	var current []int64
	for _, l := range svc.Limits(ctx, svc.Clock().Now()) {
		if l.Source == dispatch.LimitSourceDistrict {
			current = append(current, l.ID)
		}
	}
	p := &dnats.Participant{
		Site: id, Instance: fmt.Sprintf("%s/%d/%d", host, os.Getpid(), time.Now().UnixNano()),
		ImportLimitKW: cfg.Grid.ImportLimitKW, StepMinutes: int(step / time.Minute), Log: log,
		Scenario: func(ctx context.Context, start time.Time, steps int) (*optimizer.Scenario, error) {
			scn := svc.DistrictScenario(ctx)
			if scn == nil {
				return nil, errors.New("no cycle has run yet")
			}
			return district.Shift(scn, start, steps)
		},
		Apply: func(ctx context.Context, c dnats.Caps) error {
			if time.Duration(c.StepMinutes)*time.Minute != step {
				return fmt.Errorf("caps in %d-minute steps; this site plans in %s steps", c.StepMinutes, step)
			}
			caps := make([]float64, len(c.CapKW))
			for t, v := range c.CapKW {
				caps[t] = math.Min(v, cfg.Grid.ImportLimitKW) // a cap above the physical limit limits nothing
			}
			l, _, err := svc.SetLimit(ctx, dispatch.ExternalLimit{Source: dispatch.LimitSourceDistrict, ImportStepsKW: caps,
				From: c.Start, Until: c.Start.Add(time.Duration(len(caps)) * step), Actor: "district:" + c.District, Reason: c.Reason})
			if err != nil {
				return err
			}
			mu.Lock()
			prev := current
			current = []int64{l.ID}
			mu.Unlock()
			for _, id := range prev {
				if err := svc.EndLimit(ctx, id, "district:"+c.District, fmt.Sprintf("replaced by cycle %d's caps", c.Cycle)); err != nil {
					log.Debug("end previous district limit", "id", id, "err", err)
				}
			}
			return nil
		},
		OnRefused: func(err error) {
			if err == nil {
				_ = svc.Audit(context.WithoutCancel(ctx), "system", "district.registered", id, fmt.Sprintf("site %s registered in district %s", id, d.district), nil)
				return
			}
			_ = svc.Audit(context.WithoutCancel(ctx), "system", "district.refused", id, err.Error(), nil)
		},
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The site dispatches whatever NATS does: a cluster electing leaders (a node
		// restarting) or out of reach delays the district, not the site's own start.
		bus, err := openDistrictBus(pctx, nc, d, log)
		if err != nil {
			return // stopped
		}
		p.Bus = bus
		if err := p.Run(pctx); err != nil && pctx.Err() == nil {
			log.Error("district participant", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "gridd: taking part in district %q as site %q over NATS %s\n", d.district, id, redactURL(d.url))
	return func() { cancel(); <-done; nc.Close() }, nil
}
