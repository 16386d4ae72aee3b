package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("demo", flag.ContinueOnError)
	cliFlags(fl, stderr)
	var f serviceFlags
	f.register(fl)
	cycles := fl.Int("cycles", 0, "run N cycles in accelerated simulated time, then exit (0 = run in real time until interrupted)")
	startFlag := fl.String("start", "", "with --cycles: simulated start time, RFC 3339 (default: the config's sim.start, else now)")
	cfgPath := fl.String("config", "", "site config (default: the bundled demo site)")
	tlsCert := fl.String("tls-cert", "", "TLS certificate (PEM) for the API and console")
	tlsKey := fl.String("tls-key", "", "TLS private key (PEM)")
	insecure := fl.Bool(insecureListenFlag, false, "allow plain HTTP on a non-loopback --listen address (credentials in clear text)")
	sites := fl.Int("sites", 0, "run a district of N generated sites under shared transformer limits instead, with the coordinator and an embedded NATS server (district state as JSON at /api/v1/district on --listen)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *cycles < 0 {
		return usageError{fmt.Errorf("--cycles %d: must not be negative", *cycles)}
	}
	if *sites < 0 || *sites > 10000 {
		return usageError{fmt.Errorf("--sites %d: must be in 0..10000", *sites)}
	}
	if *sites > 0 {
		log := newLogger(stderr, f.verbose)
		if !f.verbose {
			log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
		}
		if err := checkListen(f.listen, false, *insecure, log); err != nil {
			return err
		}
		return runDistrictDemo(ctx, *sites, *cycles, f.dataDir, f.listen, stdout, log)
	}
	log := newLogger(stderr, f.verbose)
	if *cycles == 0 {
		if err := checkListen(f.listen, *tlsCert != "", *insecure, log); err != nil {
			return err
		}
	}
	if *cycles > 0 && !f.verbose {
		// The accelerated run prints one line per cycle; keep the log to warnings.
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	var cfg *site.Config
	var profiles map[string]*fieldbus.Profile
	var err error
	var cfgData []byte
	if *cfgPath != "" {
		if cfgData, err = os.ReadFile(*cfgPath); err != nil {
			return fmt.Errorf("read config: %w", err)
		}
		cfg, profiles, err = loadSite(*cfgPath, cfgData)
	} else {
		if cfgData, err = gridd.Files.ReadFile(gridd.DemoConfigPath); err != nil {
			return err
		}
		cfg, profiles, err = loadSite(gridd.DemoConfigPath, cfgData)
	}
	if err != nil {
		return err
	}
	cfgSHA256 := sha256Hex(cfgData)
	if err := freePorts(cfg); err != nil {
		return err
	}
	start := time.Now().Truncate(cfg.Site.Step.D)
	if cfg.Sim.Start != "" {
		start, _ = time.Parse(time.RFC3339, cfg.Sim.Start)
	}
	if *startFlag != "" {
		if *cycles == 0 {
			return usageError{errors.New("--start needs --cycles (a real-time demo runs on the wall clock)")}
		}
		t, err := time.Parse(time.RFC3339, *startFlag)
		if err != nil || t.UTC().Year() < 1970 || t.UTC().Year() > 9999 {
			return usageError{fmt.Errorf("--start %q: want an RFC 3339 time from 1970 to 9999 such as 2019-06-03T06:00:00Z", *startFlag)}
		}
		start = t.Truncate(cfg.Site.Step.D)
	}
	var clk clock.Clock = clock.Real{}
	var simClock *clock.Sim
	if *cycles > 0 {
		simClock = clock.NewSim(start)
		clk = simClock
	}
	s, err := startSim(ctx, cfg, profiles, clk, log)
	if err != nil {
		return err
	}
	defer s.Stop()
	st, where, err := buildStack(ctx, cfg, profiles, cfgSHA256, clk, &f, log)
	if err != nil {
		return err
	}
	defer st.Close()

	if *cycles > 0 {
		fmt.Fprintf(stdout, "gridd demo: site %q, %d simulated devices, store %s\n", cfg.Site.Name, len(cfg.Devices), where)
		fmt.Fprintf(stdout, "gridd demo: running %d cycles in simulated time from %s\n", *cycles, start.Format(time.RFC3339))
		err := st.svc.RunSimulated(ctx, simClock, start, *cycles, func(r *dispatch.CycleResult) {
			printCycle(stdout, r, cfg.Site.Location)
		})
		if err != nil {
			return err
		}
		return summary(ctx, stdout, st.store)
	}

	// The demo's accounts live in the data directory; the dispatcher gets a fresh
	// password at every start.
	users, err := api.OpenUsers(filepath.Join(f.dataDir, api.UsersFile))
	if err != nil {
		return err
	}
	password := api.RandomPassword()
	if err := users.Put(api.User{Name: "dispatcher", Role: api.RoleDispatcher}, password, time.Now()); err != nil {
		return err
	}
	url, stop, err := serve(ctx, st, users, &f, *tlsCert, *tlsKey, "gridd demo", true, log, stdout)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "gridd demo: site %q, %d simulated devices on loopback Modbus TCP, store %s\n", cfg.Site.Name, len(cfg.Devices), where)
	fmt.Fprintf(stdout, "gridd demo: console at %s/   API at %s/api/v1/schedules\n", url, url)
	fmt.Fprintf(stdout, "gridd demo: log in as dispatcher with password %s (new at every start)\n", password)
	fmt.Fprintf(stdout, "gridd demo: first cycle now, then on %q\n", cfg.Site.Cycle)
	return runCycles(ctx, stdout, "gridd demo", st.svc, log)
}

func summary(ctx context.Context, w io.Writer, st storage.Store) error {
	n, err := st.CountTelemetry(ctx, "")
	if err != nil {
		return err
	}
	scheds, err := st.ListSchedules(ctx, storage.Epoch, storage.End, "")
	if err != nil {
		return err
	}
	writes, err := st.ListSetpointWrites(ctx, 0)
	if err != nil {
		return err
	}
	byStatus := map[storage.WriteStatus]int{}
	for _, x := range writes {
		byStatus[x.Status]++
	}
	keys := make([]string, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, fmt.Sprintf("%d %s", byStatus[k], k))
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "gridd demo: stored %d telemetry samples, %d schedules, %d setpoint writes %v\n", n, len(scheds), len(writes), keys)
	return nil
}
