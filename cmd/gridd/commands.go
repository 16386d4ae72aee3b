package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/spool"
	"github.com/gridd/gridd/storage/sqlite"
	"github.com/gridd/gridd/storage/timescale"
)

// loadSite reads a config and resolves its device profiles.
func loadSite(path string, data []byte) (*site.Config, map[string]*fieldbus.Profile, error) {
	var cfg *site.Config
	var err error
	if data != nil {
		cfg, err = site.Parse(path, data)
	} else {
		cfg, err = site.Load(path)
	}
	if err != nil {
		return nil, nil, err
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, profiles, nil
}

func cmdConfigCheck(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{errors.New("name at least one config file")}
	}
	bad := 0
	for _, f := range args {
		cfg, _, err := loadSite(f, nil)
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad++
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (site %q, %d nodes, %d devices, %d steps of %s)\n", f, cfg.Site.Name, len(cfg.Nodes), len(cfg.Devices), cfg.Site.Steps(), cfg.Site.Step.D)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d config files have errors", bad, len(args))
	}
	return nil
}

// openStore opens PostgreSQL/TimescaleDB when dsn is set, else the embedded store in dataDir.
func openStore(ctx context.Context, dsn, dataDir string, log *slog.Logger) (storage.Store, string, error) {
	return openStoreWith(ctx, dsn, dataDir, 0, 0, log)
}

// openStoreWith is openStore with a retention period for PostgreSQL/TimescaleDB
// (TimescaleDB's retention policy where its license allows, gridd's own job otherwise)
// and the outage spool's size in bytes (0 = spool.DefaultMaxBytes).
func openStoreWith(ctx context.Context, dsn, dataDir string, retention time.Duration, spoolBytes int64, log *slog.Logger) (storage.Store, string, error) {
	if retention != 0 && dsn == "" {
		return nil, "", usageError{errors.New("--retention needs --db (the embedded store keeps everything; use gridd backup)")}
	}
	if spoolBytes != 0 && dsn == "" {
		return nil, "", usageError{errors.New("--spool-size needs --db (the embedded store has no outage spool)")}
	}
	if dsn != "" {
		db, err := timescale.OpenWith(ctx, dsn, log, timescale.Options{Retention: retention})
		if err != nil {
			return nil, "", fmt.Errorf("open database: %w", err)
		}
		// While the database is unreachable, telemetry and audit events wait in a
		// bounded on-disk spool under the data dir and are flushed in order afterwards.
		sp, err := spool.New(db, filepath.Join(dataDir, "spool"), spool.Options{Log: log, MaxBytes: spoolBytes})
		if err != nil {
			db.Close()
			return nil, "", err
		}
		go sp.Run(ctx)
		return sp, "postgres (spool in " + filepath.Join(dataDir, "spool") + ")", nil
	}
	st, err := sqlite.Open(ctx, dataDir)
	if err != nil {
		return nil, "", fmt.Errorf("open embedded store in %s: %w", dataDir, err)
	}
	return st, "embedded (" + dataDir + ")", nil
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("migrate", flag.ContinueOnError)
	cliFlags(fl, stderr)
	dsn := fl.String("db", "", "PostgreSQL/TimescaleDB DSN (postgres://...)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *dsn == "" {
		return usageError{errors.New("--db is required")}
	}
	st, err := timescale.Open(ctx, *dsn, newLogger(stderr, false))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "migrations applied")
	return st.Close()
}

type serviceFlags struct {
	dataDir, listen, db string
	metricsListen       string
	verbose             bool
	retention           time.Duration
	spoolSize           spoolSizeFlag
}

// spoolSizeFlag is --spool-size: bytes, parsed and bounded by spool.ParseSize.
type spoolSizeFlag int64

func (f *spoolSizeFlag) String() string { return strconv.FormatInt(int64(*f), 10) }

func (f *spoolSizeFlag) Set(s string) error {
	n, err := spool.ParseSize(s)
	if err != nil {
		return err
	}
	*f = spoolSizeFlag(n)
	return nil
}

func (f *serviceFlags) register(fl *flag.FlagSet) {
	fl.StringVar(&f.dataDir, "data-dir", "./gridd-data", "directory of the embedded store")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "HTTP API and console address")
	fl.StringVar(&f.db, "db", "", "PostgreSQL/TimescaleDB DSN; default: the embedded store")
	fl.BoolVar(&f.verbose, "v", false, "debug logging")
	fl.DurationVar(&f.retention, "retention", 0, "with --db: keep telemetry, forecasts and cycle runs this long, e.g. 8760h (0 = forever)")
	fl.Var(&f.spoolSize, "spool-size", "with --db: the most the outage spool in DATA-DIR/spool may hold, 1MiB to 1TiB (default 256MiB)")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "also serve /metrics without authentication on this address (for a Prometheus server; keep it on loopback or a management network)")
}

// stack is everything a running site needs.
type stack struct {
	lock   *storage.DirLock
	reg    *prometheus.Registry // the metrics of the poller, writer, spool (and, through api, dispatch)
	store  storage.Store
	poller *fieldbus.Poller
	writer *fieldbus.Writer
	svc    *dispatch.Service
}

func (s *stack) Close() {
	if s.poller != nil {
		s.poller.Close()
	}
	if s.writer != nil {
		s.writer.Close()
	}
	if s.store != nil {
		s.store.Close()
	}
	_ = s.lock.Unlock() // released by the process exit at the latest
}

// buildStack opens the store and builds the poller, writer and dispatch service;
// cfgSHA256 is the SHA-256 of the config file's bytes, recorded with every schedule.
func buildStack(ctx context.Context, cfg *site.Config, profiles map[string]*fieldbus.Profile, cfgSHA256 string, clk clock.Clock, f *serviceFlags, log *slog.Logger) (*stack, string, error) {
	if loose, err := storage.SecureDir(f.dataDir); err != nil {
		return nil, "", fmt.Errorf("--data-dir: %w", err)
	} else if loose {
		log.Warn("the data directory lets its group or others in; its files are kept 0600, but consider chmod 700", "dir", f.dataDir)
	}
	// One gridd per data directory; gridd restore waits for it to stop.
	lock, err := storage.LockDir(f.dataDir)
	if err != nil {
		return nil, "", fmt.Errorf("--data-dir: %w (is another gridd running on it?)", err)
	}
	st, where, err := openStoreWith(ctx, f.db, f.dataDir, f.retention, int64(f.spoolSize), log)
	if err != nil {
		_ = lock.Unlock()
		return nil, "", err
	}
	s := &stack{lock: lock, store: st}
	devs := make([]fieldbus.Device, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	// Each device is read and written by the driver registered for its endpoint
	// scheme (drivers.go).
	s.poller = fieldbus.NewPoller(devs, clk, log)
	s.writer = fieldbus.NewWriter(devs, clk, log)
	s.reg = prometheus.NewRegistry()
	for _, r := range []interface {
		RegisterMetrics(prometheus.Registerer) error
	}{s.poller, s.writer} {
		if err := r.RegisterMetrics(s.reg); err != nil {
			s.Close()
			return nil, "", fmt.Errorf("metrics: %w", err)
		}
	}
	if sp, ok := st.(*spool.Store); ok {
		if err := sp.RegisterMetrics(s.reg); err != nil {
			s.Close()
			return nil, "", fmt.Errorf("metrics: %w", err)
		}
	}
	s.svc, err = dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: s.poller, Writer: s.writer, Clock: clk, Logger: log,
		Profiles: profiles, ConfigFileSHA256: cfgSHA256})
	if err != nil {
		s.Close()
		return nil, "", err
	}
	if err := s.svc.RegisterAssets(ctx); err != nil {
		s.Close()
		return nil, "", fmt.Errorf("register assets: %w", err)
	}
	// The kill switch, override leases, pins and reported sessions survive a restart.
	sum, err := s.svc.RestoreState(ctx)
	if err != nil {
		s.Close()
		return nil, "", err
	}
	log.Info("dispatch state", "restored", sum)
	return s, where, nil
}

// serveHTTP starts the API (with TLS when certFile and keyFile are set); it returns the
// bound address and a shutdown func.
func serveHTTP(addr string, h http.Handler, log *slog.Logger, certFile, keyFile string) (string, func(), error) {
	if (certFile == "") != (keyFile == "") {
		return "", nil, usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	var cert tls.Certificate
	if certFile != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(certFile, keyFile); err != nil {
			return "", nil, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", certFile, keyFile, err)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("--listen %s: %w", addr, err)
	}
	// Timeouts bound slow or idle clients; the operator event stream sets its own
	// per-write deadline (api.StreamWriteTimeout) instead of WriteTimeout.
	srv := &http.Server{
		Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c, ok := h.(interface{ Close() }); ok {
		srv.RegisterOnShutdown(c.Close) // ends long-lived event streams
	}
	if certFile != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("run", flag.ContinueOnError)
	cliFlags(fl, stderr)
	var f serviceFlags
	f.register(fl)
	cfgPath := fl.String("config", "", "site config file")
	tlsCert := fl.String("tls-cert", "", "TLS certificate (PEM) for the API and console")
	tlsKey := fl.String("tls-key", "", "TLS private key (PEM)")
	usersFile := fl.String("users", "", "accounts file (default DATA-DIR/"+api.UsersFile+"; manage with gridd user)")
	insecure := fl.Bool(insecureListenFlag, false, "allow plain HTTP on a non-loopback --listen address (credentials in clear text)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usageError{errors.New("--config is required")}
	}
	log := newLogger(stderr, f.verbose)
	if err := checkListen(f.listen, *tlsCert != "", *insecure, log); err != nil {
		return err
	}
	// The config is read once; the hash of exactly these bytes is recorded with
	// every schedule.
	cfgData, err := os.ReadFile(*cfgPath)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	cfg, profiles, err := loadSite(*cfgPath, cfgData)
	if err != nil {
		return err
	}
	cfgSHA256 := sha256Hex(cfgData)
	if *usersFile == "" {
		*usersFile = filepath.Join(f.dataDir, api.UsersFile)
	}
	users, err := api.OpenUsers(*usersFile)
	if err != nil {
		return err
	}
	if users.Len() == 0 {
		log.Warn("no users: the API and console refuse every request; add one with gridd user add", "file", *usersFile)
	}
	st, where, err := buildStack(ctx, cfg, profiles, cfgSHA256, clock.Real{}, &f, log)
	if err != nil {
		return err
	}
	defer st.Close()
	srv, err := api.NewServer(st.svc, api.Options{Logger: log, Users: users, SecureCookies: *tlsCert != "", Registry: st.reg})
	if err != nil {
		return err
	}
	addr, shutdown, err := serveHTTP(f.listen, srv, log, *tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	defer shutdown()
	stopMetrics, err := serveMetrics(f.metricsListen, srv, log, stdout)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if err := startIEC104(ctx, cfg, st.svc, log, stdout, "gridd", false); err != nil {
		return err
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "gridd: site %q, %d devices, store %s, cycle %q\ngridd: console and API at %s://%s/\n", cfg.Site.Name, len(cfg.Devices), where, cfg.Site.Cycle, scheme, addr)
	// A first cycle at once: it shows whether every device answers, and puts a plan in
	// force without waiting for the first tick of the cron spec.
	return runCycles(ctx, stdout, "gridd", st.svc, log)
}

// serveMetrics serves /metrics without authentication on addr (--metrics-listen),
// as Prometheus exporters do; "" serves nothing.
func serveMetrics(addr string, srv *api.Server, log *slog.Logger, stdout io.Writer) (func(), error) {
	if addr == "" {
		return func() {}, nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", srv.MetricsHandler())
	bound, shutdown, err := serveHTTP(addr, mux, log, "", "")
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	fmt.Fprintf(stdout, "gridd: Prometheus metrics at http://%s/metrics (no authentication)\n", bound)
	return shutdown, nil
}

// runCycles runs a cycle now, says which devices did not answer and when the next
// cycle runs, then runs the service, printing one line per cycle.
func runCycles(ctx context.Context, stdout io.Writer, prefix string, svc *dispatch.Service, log *slog.Logger) error {
	now := svc.Clock().Now()
	if r, err := svc.RunCycle(ctx, now); err != nil {
		log.Error("first cycle", "err", err)
	} else {
		printCycle(stdout, r, svc.Config().Site.Location)
		if len(r.StaleDevices) > 0 {
			fmt.Fprintf(stdout, "%s: %d of %d devices did not answer: %s\n", prefix, len(r.StaleDevices), r.Run.Devices, strings.Join(r.StaleDevices, ", "))
		} else {
			fmt.Fprintf(stdout, "%s: all %d devices answered\n", prefix, r.Run.Devices)
		}
	}
	next, err := svc.NextCycle(svc.Clock().Now())
	if err != nil {
		return err
	}
	loc := svc.Config().Site.Location
	fmt.Fprintf(stdout, "%s: next cycle at %s; the real-time layer corrects every %s between cycles; Ctrl-C to stop\n", prefix, next.In(loc).Format("2006-01-02 15:04 MST"), svc.Config().Control.Interval.D)
	return svc.RunEach(ctx, func(r *dispatch.CycleResult, next time.Time) {
		printCycle(stdout, r, loc)
		fmt.Fprintf(stdout, "%s: next cycle at %s\n", prefix, next.In(loc).Format("2006-01-02 15:04 MST"))
	})
}

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("sim", flag.ContinueOnError)
	cliFlags(fl, stderr)
	cfgPath := fl.String("config", "", "site config file")
	verbose := fl.Bool("v", false, "debug logging")
	applyFaults := addSimFaultFlag(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usageError{errors.New("--config is required")}
	}
	log := newLogger(stderr, *verbose)
	cfg, profiles, err := loadSite(*cfgPath, nil)
	if err != nil {
		return err
	}
	s, err := startSim(ctx, cfg, profiles, clock.Real{}, log)
	if err != nil {
		return err
	}
	defer s.Stop()
	if err := applyFaults(s); err != nil {
		return err
	}
	for _, d := range cfg.Devices {
		fmt.Fprintf(stdout, "sim: %-12s %-10s modbus tcp %s unit %d\n", d.ID, d.Kind, d.Endpoint, d.UnitID)
	}
	<-ctx.Done()
	return nil
}

func startSim(ctx context.Context, cfg *site.Config, profiles map[string]*fieldbus.Profile, clk clock.Clock, log *slog.Logger) (*sim.Sim, error) {
	data, err := fs.Sub(gridd.Files, "testdata")
	if err != nil {
		return nil, err
	}
	s, err := sim.New(cfg, profiles, clk, data, log)
	if err != nil {
		return nil, err
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// freePorts moves every endpoint of cfg to a free loopback port, keeping devices that
// shared an endpoint together.
func freePorts(cfg *site.Config) error {
	moved := map[string]string{}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if to, ok := moved[d.Endpoint]; ok {
			d.Endpoint = to
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("find a free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		to := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		moved[d.Endpoint] = to
		d.Endpoint = to
	}
	return nil
}

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
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *cycles < 0 {
		return usageError{fmt.Errorf("--cycles %d: must not be negative", *cycles)}
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
	srv, err := api.NewServer(st.svc, api.Options{Logger: log, Users: users, SecureCookies: *tlsCert != "", Registry: st.reg})
	if err != nil {
		return err
	}
	addr, shutdown, err := serveHTTP(f.listen, srv, log, *tlsCert, *tlsKey)
	if err != nil {
		return err
	}
	defer shutdown()
	stopMetrics, err := serveMetrics(f.metricsListen, srv, log, stdout)
	if err != nil {
		return err
	}
	defer stopMetrics()
	if err := startIEC104(ctx, cfg, st.svc, log, stdout, "gridd demo", true); err != nil {
		return err
	}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "gridd demo: site %q, %d simulated devices on loopback Modbus TCP, store %s\n", cfg.Site.Name, len(cfg.Devices), where)
	fmt.Fprintf(stdout, "gridd demo: console at %s://%s/   API at %s://%s/api/v1/schedules\n", scheme, addr, scheme, addr)
	fmt.Fprintf(stdout, "gridd demo: log in as dispatcher with password %s (new at every start)\n", password)
	fmt.Fprintf(stdout, "gridd demo: first cycle now, then on %q\n", cfg.Site.Cycle)
	return runCycles(ctx, stdout, "gridd demo", st.svc, log)
}

// printCycle prints one line for a cycle, its time in the site's time zone.
func printCycle(w io.Writer, r *dispatch.CycleResult, loc *time.Location) {
	line := fmt.Sprintf("cycle %s: %d devices (%d stale)", r.At.In(loc).Format("2006-01-02 15:04 MST"), r.Run.Devices, r.Run.StaleDevices)
	if r.Schedule != nil {
		line += fmt.Sprintf(", schedule %d %s, cost %.2f, solve %.0f ms", r.Schedule.ID, r.Schedule.Status, r.Schedule.Objective, r.Run.SolveMS)
	}
	ok := 0
	for _, wr := range r.Writes {
		if wr.Status == storage.WriteOK {
			ok++
		}
	}
	line += fmt.Sprintf(", %d/%d setpoints written and read back", ok, len(r.Writes))
	if r.Run.Error != "" {
		line += ", error: " + r.Run.Error
	}
	fmt.Fprintln(w, line)
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
