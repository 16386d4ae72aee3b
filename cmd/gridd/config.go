package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
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
		for _, w := range cfg.Warnings {
			fmt.Fprintln(stderr, w)
		}
		fmt.Fprintf(stdout, "%s: ok (site %q, %d nodes, %d devices, %d steps of %s)\n", f, cfg.Site.Name, len(cfg.Nodes), len(cfg.Devices), cfg.Site.Steps(), cfg.Site.Step.D)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d config files have errors", bad, len(args))
	}
	return nil
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
