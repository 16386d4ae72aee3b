package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"
)

// cmdAudit verifies the hash chain of the audit log: gridd audit verify [--db DSN] [--data-dir DIR].
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, "usage: gridd audit verify [--db DSN] [--data-dir DIR] [--json]\n")
		return usageError{errors.New("the only audit subcommand is verify")}
	}
	fl := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	cliFlags(fl, stderr)
	dataDir := fl.String("data-dir", "./gridd-data", "directory of the embedded store")
	dsn := fl.String("db", "", "PostgreSQL/TimescaleDB DSN; default: the embedded store")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	// Verification only reads: with --db it reads the database directly, without the
	// write spool openStore puts in front of it (which belongs to the running gridd).
	var st storage.Store
	where := "embedded (" + *dataDir + ")"
	var err error
	if *dsn != "" {
		st, err = timescale.Open(ctx, *dsn, newLogger(stderr, false))
		where = "postgres"
	} else {
		st, _, err = openStore(ctx, "", *dataDir, newLogger(stderr, false))
	}
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := audit.Verify(ctx, st)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "audit log in %s: %d events (%d chained, %d from before the chain), head %s\n", where, rep.Events, rep.Chained, rep.Legacy, rep.Head)
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "event %d: %s\n", p.ID, p.Msg)
		}
	}
	if !rep.OK() {
		return fmt.Errorf("audit chain broken: %d problems", len(rep.Problems))
	}
	fmt.Fprintln(stdout, "audit chain intact")
	return nil
}
