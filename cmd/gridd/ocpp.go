package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/ocpp"
	"github.com/gridd/gridd/fieldbus/ocpp/ocppsim"
	"github.com/gridd/gridd/site"
)

// startCSMS starts the OCPP central system when the config has an ocpp section and
// returns the fieldbus options that make the poller and writer use it (nil without
// one). A busy port is moved to a free one when moveIfBusy (the demo).
func startCSMS(cfg *site.Config, clk clock.Clock, log *slog.Logger, moveIfBusy bool) (*ocpp.CSMS, string, []fieldbus.Option, error) {
	if cfg.OCPP == nil {
		return nil, "", nil, nil
	}
	if moveIfBusy {
		if ln, err := net.Listen("tcp", cfg.OCPP.Listen); err != nil {
			host, _, _ := net.SplitHostPort(cfg.OCPP.Listen)
			log.Warn("ocpp.listen busy: using a free port", "listen", cfg.OCPP.Listen, "err", err)
			cfg.OCPP.Listen = net.JoinHostPort(host, "0")
		} else {
			ln.Close()
		}
	}
	base := "."
	if cfg.File != "" {
		base = filepath.Dir(cfg.File)
	}
	c, err := ocpp.New(ocpp.Options{Config: cfg.OCPP, BaseDir: base, Clock: clk, Log: log})
	if err != nil {
		return nil, "", nil, err
	}
	addr, err := c.Start()
	if err != nil {
		return nil, "", nil, err
	}
	return c, addr, []fieldbus.Option{ocpp.WithCSMS(c)}, nil
}

// ocppURL is the base URL stations connect to (their id appended).
func ocppURL(cfg *site.Config, addr string) string {
	scheme := "ws"
	if cfg.OCPP.TLSCert != "" {
		scheme = "wss"
	}
	return scheme + "://" + addr + strings.TrimSuffix(ocpp.PathPrefix, "/")
}

// demoStationPasswords gives every OCPP station of a demo config a fresh password
// (its hash replaces the configured one) and returns them by station id.
func demoStationPasswords(cfg *site.Config) (map[string]string, error) {
	out := map[string]string{}
	if cfg.OCPP == nil {
		return out, nil
	}
	for i := range cfg.OCPP.Stations {
		s := &cfg.OCPP.Stations[i]
		pw := api.RandomPassword()
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		s.PasswordHash = string(h)
		out[s.ID] = pw
	}
	return out, nil
}

// startStations runs the simulated OCPP stations of cfg against url.
func startStations(ctx context.Context, cfg *site.Config, plant ocppsim.Plant, url string, passwords func(string) string, clk clock.Clock, log *slog.Logger) (*ocppsim.Sim, error) {
	s, err := ocppsim.New(cfg, plant, ocppsim.Options{URL: url, Password: passwords, Clock: clk, Log: log})
	if err != nil {
		return nil, err
	}
	if len(s.Stations()) == 0 {
		return s, nil
	}
	return s, s.Start(ctx)
}

// applyStationFaults applies --ocpp-faults STATION=FAULT,...
func applyStationFaults(s *ocppsim.Sim, spec string) error {
	if spec == "" {
		return nil
	}
	for _, part := range strings.Split(spec, ",") {
		id, name, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return usageError{fmt.Errorf("--ocpp-faults %q: want STATION=FAULT", part)}
		}
		f, err := ocppsim.ParseFault(name)
		if err == nil {
			err = s.SetFault(id, f)
		}
		if err != nil {
			return usageError{fmt.Errorf("--ocpp-faults %q: %w", part, err)}
		}
	}
	return nil
}

// cmdOCPPHashPassword runs "gridd ocpp hash-password": it reads a station password
// from standard input and prints the bcrypt hash for ocpp.stations[].password_hash.
func cmdOCPPHashPassword(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("ocpp hash-password", flag.ContinueOnError)
	cliFlags(fl, stderr)
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fl.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (the password is read from standard input)", fl.Arg(0))}
	}
	return hashPassword(os.Stdin, stdout)
}

// hashPassword reads a password line from r and prints its bcrypt hash.
func hashPassword(r io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if len(pw) < 8 || len(pw) > 72 {
		return usageError{fmt.Errorf("password of %d characters: want 8 to 72", len(pw))}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(h))
	return nil
}
