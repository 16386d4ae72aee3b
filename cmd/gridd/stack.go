package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/ocpp"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/spool"
	"github.com/gridd/gridd/storage/sqlite"
	"github.com/gridd/gridd/storage/timescale"
)

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

type serviceFlags struct {
	dataDir, listen, db string
	metricsListen       string
	verbose             bool
	moveBusy            bool // the demo: move a busy ocpp.listen port to a free one
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
	// csms is the OCPP central system (nil without an ocpp section); ocppAddr its
	// bound address.
	csms     *ocpp.CSMS
	ocppAddr string
}

func (s *stack) Close() {
	if s.poller != nil {
		s.poller.Close()
	}
	if s.writer != nil {
		s.writer.Close()
	}
	if s.csms != nil {
		s.csms.Close()
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
	var fbOpts []fieldbus.Option
	if s.csms, s.ocppAddr, fbOpts, err = startCSMS(cfg, clk, log, f.moveBusy); err != nil {
		s.Close()
		return nil, "", err
	}
	s.poller = fieldbus.NewPoller(devs, clk, log, fbOpts...)
	s.writer = fieldbus.NewWriter(devs, clk, log, fbOpts...)
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
	if s.csms != nil {
		svc := s.svc
		s.csms.SetAudit(func(action, subject, text string) {
			if err := svc.Audit(context.WithoutCancel(ctx), "ocpp", action, subject, text, nil); err != nil {
				log.Error("audit", "action", action, "err", err)
			}
		})
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
