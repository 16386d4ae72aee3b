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
	cfgPath := fl.String("config", "", "site config (default: the bundled demo site chosen with --site)")
	siteName := fl.String("site", "campus", "bundled demo site: campus (Europe/London, GBP, schedules approved by policy) or jiangsu (Asia/Shanghai, CNY, peak-flat-valley tariff, schedules wait for a dispatcher)")
	tlsCert := fl.String("tls-cert", "", "TLS certificate (PEM) for the API and console")
	tlsKey := fl.String("tls-key", "", "TLS private key (PEM)")
	noHistory := fl.Bool("no-history", false, "start with an empty store (the first forecasts are flat lines from the first readings) instead of the simulated devices' recorded history")
	insecure := fl.Bool(insecureListenFlag, false, "allow plain HTTP on a non-loopback --listen address (credentials in clear text)")
	sites := fl.Int("sites", 0, "run a district of N generated sites under shared transformer limits instead, with the coordinator and an embedded NATS server (the district console at / and its state as JSON at /api/v1/district on --listen)")
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
		path, ok := gridd.DemoSites[*siteName]
		if !ok {
			return usageError{fmt.Errorf("--site %q: want campus or jiangsu", *siteName)}
		}
		if cfgData, err = gridd.Files.ReadFile(path); err != nil {
			return err
		}
		cfg, profiles, err = loadSite(path, cfgData)
	}
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		log.Warn("config", "warning", w.Error())
	}
	cfgSHA256 := sha256Hex(cfgData)
	if err := freePorts(cfg); err != nil {
		return err
	}
	// The demo's OCPP stations get fresh passwords at every start, like the dispatcher.
	stationPasswords, err := demoStationPasswords(cfg)
	if err != nil {
		return err
	}
	f.moveBusy = true
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
	if !*noHistory {
		days, err := seedHistory(ctx, cfg, st.store, start)
		switch {
		case err != nil:
			// The demo still runs: its forecasts start from the first readings.
			log.Warn("demo: no recorded history written; the first forecasts start from the first readings", "err", err)
		case days > 0:
			fmt.Fprintf(stdout, "gridd demo: %d days of the simulated devices' recorded history written before %s, so the first cycle forecasts with fitted models\n",
				days, start.In(cfg.Site.Location).Format("2006-01-02 15:04 -07:00"))
		}
	}
	if st.csms != nil {
		stations, err := startStations(ctx, cfg, s, ocppURL(cfg, st.ocppAddr), func(id string) string { return stationPasswords[id] }, clk, log)
		if err != nil {
			return err
		}
		// The CSMS stops first, so that the stations' going away is logged, not
		// audited into a store that is closing.
		defer func() { st.csms.Close(); stations.Stop() }()
	}

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
	// A planner and the chargers' operator, with the same password, to try each role.
	owner := ""
	for _, d := range cfg.Devices {
		if d.Kind == site.KindEVCharger && d.Owner != "" {
			owner = d.Owner
			break
		}
	}
	if err := users.Put(api.User{Name: "planner", Role: api.RolePlanner}, password, time.Now()); err != nil {
		return err
	}
	if owner != "" {
		if err := users.Put(api.User{Name: "operator", Role: api.RoleOperator, Operator: owner}, password, time.Now()); err != nil {
			return err
		}
	}
	url, stop, err := serve(ctx, st, users, &f, *tlsCert, *tlsKey, "gridd demo", true, log, stdout)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "gridd demo: site %q, %d simulated devices on loopback Modbus TCP, store %s\n", cfg.Site.Name, len(cfg.Devices), where)
	fmt.Fprintf(stdout, "gridd demo: console at %s/   API at %s/api/v1/schedules\n", url, url)
	fmt.Fprintf(stdout, "gridd demo: log in as dispatcher with password %s (new at every start)\n", password)
	if owner != "" {
		fmt.Fprintf(stdout, "gridd demo: planner and operator (%s's chargers) have the same password\n", owner)
	}
	if !cfg.Approval.Auto {
		fmt.Fprintf(stdout, "gridd demo: schedules wait for your approval in the console (approval.auto: false, deadline %s)\n", cfg.Approval.Deadline.D)
	}
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
