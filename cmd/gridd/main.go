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

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run executes a command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch {
	case args[0] == "help" && len(args) > 1:
		// gridd help COMMAND is gridd COMMAND -h.
		return run(ctx, append(append([]string(nil), args[1:]...), "-h"), stdout, stderr)
	case isHelp(args[0]):
		usage(stdout)
		return 0
	case args[0] == "--version" || args[0] == "-version" || args[0] == "version":
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		subs := group(args[0])
		switch {
		case len(subs) == 0:
			fmt.Fprintf(stderr, "gridd: unknown command %q\n\n", args[0])
			usage(stderr)
		case len(args) > 1 && isHelp(args[1]):
			fmt.Fprintf(stdout, "gridd %s: subcommands\n", args[0])
			writeUsage(stdout, subs)
			return 0
		default:
			if len(args) > 1 {
				fmt.Fprintf(stderr, "gridd %s: unknown subcommand %q\n", args[0], args[1])
			} else {
				fmt.Fprintf(stderr, "gridd %s: name a subcommand\n", args[0])
			}
			writeUsage(stderr, subs)
		}
		return 2
	}
	err := cmd.run(ctx, rest, stdout, stderr)
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "gridd %s: %v\n", cmd.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "gridd %s: %v\n", cmd.name, err)
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
