// Command gridd is the microgrid dispatch service: one binary with subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `gridd: microgrid dispatch and optimisation

Usage:
  gridd demo [--cycles N] [--data-dir DIR] [--listen ADDR]   simulated demo site, embedded store, web console
  gridd run --config FILE [--db DSN] [--data-dir DIR] [--listen ADDR]   dispatch a real site
  gridd sim --config FILE [--faults DEV=FAULT,...]          serve a site's devices from the simulator
  gridd config check FILE...                                 validate site configs and their profiles
  gridd plan --scenario FILE [--json] [--soft] [--export-lp F] [--export-mps F] [--no-solve]
                                                             solve (or export) one optimisation scenario
  gridd scenario gen --seed S --evs N --batteries B --feeders F --steps T [--out FILE]
                                                             reproducible scenario from the bundled real data
  gridd migrate --db DSN                                     apply database migrations
  gridd user add|token|list|revoke|delete ...               accounts for the API and console
  gridd audit verify [--db DSN] [--data-dir DIR]             check the audit hash chain
  gridd replay --config FILE (--history DIR|builtin | --db DSN) --from T1 --to T2 --strategy S --report DIR [--set K=V...]
                                                             replay history through the dispatch path (strategies: optimize, baseline, rule, hindsight)
  gridd replay compare DIR...                                put replay reports side by side
  gridd backup --data-dir DIR --out FILE                     consistent copy of the embedded store (safe while running)
  gridd restore --data-dir DIR --from FILE [--force]         put a backup in place
  gridd profile check FILE|builtin:NAME...                   validate device profiles
  gridd probe --addr HOST:PORT --unit N                      discover a SunSpec device and print its models
  gridd forecast backtest --data FILE.csv ...                backtest forecasting methods on a CSV series

Run "gridd COMMAND -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "run":
		err = cmdRun(ctx, args[1:], stdout, stderr)
	case "sim":
		err = cmdSim(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			fmt.Fprint(stderr, "usage: gridd config check FILE...\n")
			return 2
		}
		err = cmdConfigCheck(args[2:], stdout, stderr)
	case "plan":
		err = cmdPlan(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr)
	case "profile":
		err = cmdProfile(ctx, args[1:], stdout, stderr)
	case "probe":
		err = cmdProbe(ctx, args[1:], stdout, stderr)
	case "user":
		err = cmdUser(args[1:], stdout, stderr)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr)
	case "replay":
		err = cmdReplay(ctx, args[1:], stdout, stderr)
	case "scenario":
		err = cmdScenario(ctx, args[1:], stdout, stderr)
	case "backup":
		err = cmdBackup(ctx, args[1:], stdout, stderr)
	case "restore":
		err = cmdRestore(ctx, args[1:], stdout, stderr)
	case "forecast":
		err = cmdForecast(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gridd: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gridd %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "gridd %s: %v\n", args[0], err)
		return 1
	}
}

type usageError struct{ error }

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
