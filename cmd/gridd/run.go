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
	"strings"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/storage"
)

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
	var df districtFlags
	df.register(fl)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return usageError{errors.New("--config is required")}
	}
	if err := df.check(); err != nil {
		return err
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
	for _, w := range cfg.Warnings() {
		log.Warn("config", "warning", w.Error())
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
	url, stop, err := serve(ctx, st, users, &f, *tlsCert, *tlsKey, "gridd", false, log, stdout)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "gridd: site %q, %d devices, store %s, cycle %q\ngridd: console and API at %s/\n", cfg.Site.Name, len(cfg.Devices), where, cfg.Site.Cycle, url)
	if df.district != "" {
		stopDistrict, err := startParticipant(ctx, st.svc, df, log, stdout)
		if err != nil {
			return err
		}
		defer stopDistrict()
	}
	// A first cycle at once: it shows whether every device answers, and puts a plan in
	// force without waiting for the first tick of the cron spec.
	return runCycles(ctx, stdout, "gridd", st.svc, log)
}

// serve starts what a running site offers besides its cycles: the API and console
// (with TLS when cert and key are set), the unauthenticated metrics address
// (--metrics-listen) and the IEC 104 station when the config has one. It returns the
// console's base URL and a func that stops them all.
func serve(ctx context.Context, st *stack, users *api.Users, f *serviceFlags, tlsCert, tlsKey, prefix string, demo bool, log *slog.Logger, stdout io.Writer) (string, func(), error) {
	jobs := newReplayJobs(ctx, st.svc.Config(), st.store, filepath.Join(f.dataDir, "replays"), log)
	srv, err := api.NewServer(st.svc, api.Options{Logger: log, Users: users, SecureCookies: tlsCert != "", Registry: st.reg, Replays: jobs})
	if err != nil {
		return "", nil, err
	}
	addr, shutdown, err := serveHTTP(f.listen, srv, log, tlsCert, tlsKey)
	if err != nil {
		return "", nil, err
	}
	stopMetrics, err := serveMetrics(f.metricsListen, srv, log, stdout)
	if err != nil {
		shutdown()
		return "", nil, err
	}
	if err := startIEC104(ctx, st.svc.Config(), st.svc, log, stdout, prefix, demo); err != nil {
		stopMetrics()
		shutdown()
		return "", nil, err
	}
	if st.csms != nil {
		cfg := st.svc.Config()
		fmt.Fprintf(stdout, "%s: OCPP CSMS (ocpp2.0.1, ocpp1.6) at %s/STATION-ID for %d stations\n", prefix, ocppURL(cfg, st.ocppAddr), len(cfg.OCPP.Stations))
	}
	scheme := "http"
	if tlsCert != "" {
		scheme = "https"
	}
	return scheme + "://" + addr, func() { stopMetrics(); shutdown() }, nil
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
	fmt.Fprintf(stdout, "%s: next cycle at %s; the real-time layer corrects every %s between cycles; Ctrl-C to stop\n", prefix, siteStamp(next, loc), svc.Config().Control.Interval.D)
	return svc.RunEach(ctx, func(r *dispatch.CycleResult, next time.Time) {
		printCycle(stdout, r, loc)
		fmt.Fprintf(stdout, "%s: next cycle at %s\n", prefix, siteStamp(next, loc))
	})
}

// siteStamp writes t in the site's time zone with its UTC offset
// ("2026-12-07 17:58 +08:00"); zone abbreviations such as CST are ambiguous.
func siteStamp(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 -07:00")
}

// printCycle prints one line for a cycle, its time in the site's time zone.
func printCycle(w io.Writer, r *dispatch.CycleResult, loc *time.Location) {
	line := fmt.Sprintf("cycle %s: %d devices (%d stale)", siteStamp(r.At, loc), r.Run.Devices, r.Run.StaleDevices)
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
