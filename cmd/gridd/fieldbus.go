package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// addSimFaultFlag registers `gridd sim --faults SPEC` on fl. The returned function
// applies the spec to a started simulator (call it after Start); a bad spec or an
// unknown device is a usage error naming it.
func addSimFaultFlag(fl *flag.FlagSet) func(*sim.Sim) error {
	spec := fl.String("faults", "", "inject device faults: DEVICE=FAULT[,DEVICE=FAULT...] with FAULT one of none, no-answer, slow[:DELAY], exception, garbage, ignore-writes")
	return func(s *sim.Sim) error {
		fs, err := sim.ParseFaults(*spec)
		if err == nil {
			err = s.ApplyFaults(fs)
		}
		if err != nil {
			return usageError{fmt.Errorf("--faults %q: %w", *spec, err)}
		}
		return nil
	}
}

// cmdProfile runs "gridd profile check FILE...": it validates device profiles
// (files, or builtin:NAME) and prints each one's points and planned reads.
func cmdProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return usageError{errors.New("usage: gridd profile check FILE... (a file path or builtin:NAME)")}
	}
	files := args[1:]
	if len(files) == 0 {
		return usageError{errors.New("name at least one profile file (or builtin:NAME)")}
	}
	bad := 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := fieldbus.ResolveProfile(f, ".")
		var reads []modbus.Read
		if err == nil && p.Protocol == fieldbus.ProtocolModbus {
			reads, err = modbus.PlanReads(p.Points, modbus.DefaultPlanOptions())
			if err != nil {
				err = fmt.Errorf("%s: %w", f, err)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			bad++
			continue
		}
		rw := 0
		for i := range p.Points {
			if p.Points[i].Writable() {
				rw++
			}
		}
		if p.Protocol == fieldbus.ProtocolIEC104 {
			fmt.Fprintf(stdout, "%s: ok (profile %q, kind %s, IEC 104, %d points, %d writable by command)\n",
				f, p.Name, p.Kind, len(p.Points), rw)
			continue
		}
		fmt.Fprintf(stdout, "%s: ok (profile %q, kind %s, %d points, %d writable, %d reads per poll)\n",
			f, p.Name, p.Kind, len(p.Points), rw, len(reads))
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d profiles have errors", bad, len(files))
	}
	return nil
}

// cmdProbe runs "gridd probe --addr HOST:PORT --unit N": it looks for a SunSpec map
// and prints the models and decoded values it finds.
func cmdProbe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	cliFlags(fs, stderr)
	addr := fs.String("addr", "", "device endpoint: HOST:PORT for Modbus TCP (IPv6 as [::1]:502), or tls://, rtuovertcp://, rtu://, ascii:// (see docs/PROFILES.md)")
	unit := fs.Int("unit", 1, "Modbus unit id 0..255")
	timeout := fs.Duration("timeout", 2*time.Second, "timeout of each request")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	case *addr == "":
		return usageError{errors.New("--addr HOST:PORT is required")}
	case *unit < 0 || *unit > 255:
		return usageError{fmt.Errorf("--unit %d: must be in 0..255", *unit)}
	case *timeout <= 0:
		return usageError{fmt.Errorf("--timeout %v: must be positive", *timeout)}
	}
	if _, err := modbus.ParseEndpoint(*addr); err != nil {
		return usageError{fmt.Errorf("--addr %q: %w", *addr, err)}
	}
	dev, err := modbus.ProbeSunSpec(ctx, *addr, uint8(*unit), *timeout, newLogger(io.Discard, false))
	if dev != nil {
		printSunSpec(stdout, *addr, *unit, dev)
	}
	return err
}

func printSunSpec(w io.Writer, addr string, unit int, dev *modbus.SunSpecDevice) {
	fmt.Fprintf(w, "%s unit %d: SunSpec map at holding register %d, %d models\n", addr, unit, dev.Base, len(dev.Models))
	for _, m := range dev.Models {
		name := m.Name
		if name == "" {
			name = "not decoded"
		}
		fmt.Fprintf(w, "model %d (%s) at %d, length %d\n", m.ID, name, m.Address, m.Length)
		for _, v := range m.Values {
			switch {
			case !v.Implemented:
				fmt.Fprintf(w, "  %-12s not implemented\n", v.Name)
			case v.Text != "" && v.Units == "" && v.Value == 0:
				fmt.Fprintf(w, "  %-12s %q\n", v.Name, v.Text)
			case v.Text != "":
				fmt.Fprintf(w, "  %-12s %s (%s)\n", v.Name, strconv.FormatFloat(v.Value, 'g', -1, 64), v.Text)
			default:
				fmt.Fprintf(w, "  %-12s %s %s\n", v.Name, strconv.FormatFloat(v.Value, 'g', -1, 64), v.Units)
			}
		}
	}
	sem := dev.Semantic()
	if len(sem) == 0 {
		return
	}
	names := make([]string, 0, len(sem))
	for k := range sem {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "as gridd points (positive power = drawn from the site bus):")
	for _, k := range names {
		unit := ""
		if s, ok := fieldbus.LookupSemantic(k); ok {
			unit = s.Unit
		}
		fmt.Fprintf(w, "  %-20s %s %s\n", k, strconv.FormatFloat(sem[k], 'g', 6, 64), unit)
	}
}
