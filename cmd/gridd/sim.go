package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

func cmdSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("sim", flag.ContinueOnError)
	cliFlags(fl, stderr)
	cfgPath := fl.String("config", "", "site config file")
	verbose := fl.Bool("v", false, "debug logging")
	applyFaults := addSimFaultFlag(fl)
	ocppURLFlag := fl.String("ocpp-url", "", "CSMS the config's OCPP stations connect to, e.g. ws://127.0.0.1:9000/ocpp (default: ocpp.listen on loopback); passwords from $GRIDD_OCPP_PASSWORD")
	ocppFaults := fl.String("ocpp-faults", "", "inject OCPP station faults: STATION=FAULT[,...] with FAULT one of none, disconnect, reject-profile, ignore-profile, slow")
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
	if cfg.OCPP != nil {
		url := *ocppURLFlag
		if url == "" {
			_, port, _ := net.SplitHostPort(cfg.OCPP.Listen)
			url = ocppURL(cfg, net.JoinHostPort("127.0.0.1", port))
		}
		pw := os.Getenv("GRIDD_OCPP_PASSWORD")
		stations, err := startStations(ctx, cfg, s, url, func(string) string { return pw }, clock.Real{}, log)
		if err != nil {
			return err
		}
		defer stations.Stop()
		if err := applyStationFaults(stations, *ocppFaults); err != nil {
			return err
		}
	} else if *ocppFaults != "" {
		return usageError{errors.New("--ocpp-faults: the config has no ocpp section")}
	}
	for _, d := range cfg.Devices {
		if strings.HasPrefix(d.Endpoint, "iec104") {
			fmt.Fprintf(stdout, "sim: %-12s %-10s iec104 rtu %s common address %d\n", d.ID, d.Kind, d.Endpoint, d.UnitID)
			continue
		}
		if strings.HasPrefix(d.Endpoint, site.OCPPScheme) {
			fmt.Fprintf(stdout, "sim: %-12s %-10s ocpp station %s\n", d.ID, d.Kind, d.Endpoint)
			continue
		}
		fmt.Fprintf(stdout, "sim: %-12s %-10s modbus tcp %s unit %d\n", d.ID, d.Kind, d.Endpoint, d.UnitID)
	}
	<-ctx.Done()
	return nil
}

func startSim(ctx context.Context, cfg *site.Config, profiles map[string]*fieldbus.Profile, clk clock.Clock, log *slog.Logger) (*sim.Sim, error) {
	data, err := fs.Sub(gridd.Files, sim.DataDir)
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
// shared an endpoint together (and the iec104:// scheme of an RTU). The ports are held
// until all are chosen, so two endpoints never get the same one.
func freePorts(cfg *site.Config) error {
	moved := map[string]string{}
	// Every listener stays open until all endpoints have a port, so no two endpoints
	// are given the same one.
	var held []net.Listener
	defer func() {
		for _, ln := range held {
			ln.Close()
		}
	}()
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if strings.HasPrefix(d.Endpoint, site.OCPPScheme) {
			continue // ocpp:// stations connect to gridd: nothing to serve
		}
		if to, ok := moved[d.Endpoint]; ok {
			d.Endpoint = to
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("find a free port: %w", err)
		}
		held = append(held, ln)
		port := ln.Addr().(*net.TCPAddr).Port
		to := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if scheme, _, ok := strings.Cut(d.Endpoint, "://"); ok && scheme == "iec104" {
			to = scheme + "://" + to
		}
		moved[d.Endpoint] = to
		d.Endpoint = to
	}
	return nil
}
