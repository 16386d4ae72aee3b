package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

//go:generate env GRIDD_UPDATE_CLI_DOC=1 go test -run ^TestCLIDoc$ .

// version is the release version, set at link time:
//
//	go build -ldflags "-X main.version=v1.2.0" ./cmd/gridd
//
// Without it, gridd --version reports the module version from the build information
// ("(devel)" for a build from a work tree, vX.Y.Z after go install ...@vX.Y.Z).
var version string

// command is one command or subcommand of the gridd binary.
type command struct {
	name    string // the words that select it: "demo", "config check"
	args    string // synopsis of what follows the name
	summary string // one line
	// run executes the command with the arguments after its name.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands lists every command and subcommand. run dispatches through it, and the
// top-level usage and docs/CLI.md are generated from it (with each command's flags
// from its own flag set, as -h prints them). It is filled in init because the commands'
// usage refers back to it.
var commands []command

func init() {
	commands = []command{
		{"demo", "[--cycles N] [--data-dir DIR] [--listen ADDR] [flags]", "simulated demo site, embedded store, web console", cmdDemo},
		{"run", "--config FILE [--db DSN] [--data-dir DIR] [--listen ADDR] [flags]", "dispatch a real site", cmdRun},
		{"sim", "--config FILE [--faults DEV=FAULT,...]", "serve a site's devices from the simulator", cmdSim},
		{"coordinate", "--config district.yaml [--nats URL] [--cycles N] [--listen ADDR]", "coordinate a district of sites under shared transformer and feeder limits", cmdCoordinate},
		{"config check", "FILE...", "validate site configs and their profiles", positional("config check", func(_ context.Context, files []string, stdout, stderr io.Writer) error {
			return cmdConfigCheck(files, stdout, stderr)
		})},
		{"plan", "--scenario FILE [--json] [--soft] [--export-lp F] [--export-mps F] [--no-solve]", "solve (or export) one optimisation scenario", cmdPlan},
		{"scenario gen", "--seed S --evs N --batteries B --feeders F --steps T [--out FILE]", "reproducible scenario from the bundled real data", sub("gen", cmdScenario)},
		{"migrate", "--db DSN", "apply database migrations", cmdMigrate},
		{"user add", "--name NAME --role ROLE [--operator OWNER] [--chargers ID,ID] [--password PW | --no-password] [--token] [--data-dir DIR]", "add or update an account for the API and console", sub("add", userCmd)},
		{"user token", "--name NAME [--data-dir DIR]", "create an API token for an account", sub("token", userCmd)},
		{"user list", "[--data-dir DIR]", "list the accounts", sub("list", userCmd)},
		{"user revoke", "--name NAME (--token-id ID | --all) [--data-dir DIR]", "revoke one API token of an account, or all of them", sub("revoke", userCmd)},
		{"user delete", "--name NAME [--data-dir DIR]", "delete an account (its tokens and console sessions end)", sub("delete", userCmd)},
		{"audit verify", "[--db DSN] [--data-dir DIR] [--json]", "check the audit hash chain", sub("verify", cmdAudit)},
		{"replay", "(--config FILE | --district FILE) (--history DIR|builtin | --db DSN) --from T1 --to T2 --strategy S --report DIR [--set K=V...]", "replay history through the dispatch path (strategies: optimize, baseline, rule, hindsight); --district FILE replays a district (coordinated, independent, centralised)", cmdReplay},
		{"district generate", "--sites N [--seed S] [--horizon D] [--tightness F] --out DIR", "write a district of demo-like sites from the bundled data (district.yaml and site configs) to replay", cmdDistrictGenerate},
		{"replay compare", "[--report DIR] [--json] DIR...", "put replay reports side by side", func(_ context.Context, args []string, stdout, stderr io.Writer) error {
			return cmdReplayCompare(args, stdout, stderr)
		}},
		{"backup", "--data-dir DIR --out FILE", "consistent copy of the embedded store (safe while running)", cmdBackup},
		{"restore", "--data-dir DIR --from FILE [--force]", "put a backup in place", cmdRestore},
		{"profile check", "FILE|builtin:NAME...", "validate device profiles", positional("profile check", func(ctx context.Context, files []string, stdout, stderr io.Writer) error {
			return cmdProfile(ctx, append([]string{"check"}, files...), stdout, stderr)
		})},
		{"probe", "--addr HOST:PORT --unit N", "discover a SunSpec device and print its models", cmdProbe},
		{"ocpp hash-password", "< PASSWORD", "bcrypt hash of a charging station's password for ocpp.stations", sub("hash-password", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			return cmdOCPPHashPassword(ctx, args[1:], stdout, stderr)
		})},
		{"forecast backtest", "--data FILE.csv --value-column V --from DATE [flags]", "backtest forecasting methods on a CSV series", sub("backtest", cmdForecast)},
	}
}

// sub adapts a command function that takes its subcommand's name as its first argument.
func sub(name string, f func(context.Context, []string, io.Writer, io.Writer) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return f(ctx, append([]string{name}, args...), stdout, stderr)
	}
}

func userCmd(_ context.Context, args []string, stdout, stderr io.Writer) error {
	return cmdUser(args, stdout, stderr)
}

// positional adapts a command that takes only file arguments: it parses them with an
// empty flag set first, so -h prints the usage and an unknown flag is a usage error
// instead of a file name.
func positional(name string, f func(context.Context, []string, io.Writer, io.Writer) error) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fl := flag.NewFlagSet(name, flag.ContinueOnError)
		cliFlags(fl, stderr)
		if err := fl.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return usageError{err}
		}
		return f(ctx, fl.Args(), stdout, stderr)
	}
}

// cliFlags sends a command's flag errors and -h output to w, with a usage line and
// summary from the commands table above the flags.
func cliFlags(fl *flag.FlagSet, w io.Writer) {
	fl.SetOutput(w)
	fl.Usage = func() {
		if c := findCommand(fl.Name()); c != nil {
			fmt.Fprintf(w, "usage: gridd %s %s\n\n%s\n", c.name, c.args, c.summary)
		} else {
			fmt.Fprintf(w, "usage: gridd %s [flags]\n", fl.Name())
		}
		n := 0
		fl.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(w, "\nflags:\n")
			fl.PrintDefaults()
		}
	}
}

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// lookup finds the command that args start with (a subcommand before a command of the
// same first word) and returns it with the arguments after its name.
func lookup(args []string) (*command, []string) {
	if len(args) >= 2 {
		if c := findCommand(args[0] + " " + args[1]); c != nil {
			return c, args[2:]
		}
	}
	if len(args) >= 1 {
		if c := findCommand(args[0]); c != nil {
			return c, args[1:]
		}
	}
	return nil, nil
}

// group returns the subcommands under the first word name ("user": add, token, list).
func group(name string) []command {
	var out []command
	for _, c := range commands {
		if strings.HasPrefix(c.name, name+" ") {
			out = append(out, c)
		}
	}
	return out
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

func writeUsage(w io.Writer, cmds []command) {
	for _, c := range cmds {
		fmt.Fprintf(w, "  gridd %s %s\n        %s\n", c.name, c.args, c.summary)
	}
}

// usage is the top-level help.
func usage(w io.Writer) {
	fmt.Fprint(w, "gridd: microgrid dispatch and optimisation\n\nUsage:\n")
	writeUsage(w, commands)
	fmt.Fprint(w, "  gridd --version\n        print the version\n\n")
	fmt.Fprint(w, "Run \"gridd COMMAND -h\" or \"gridd help COMMAND\" for the flags of a command.\n")
}

// versionString is what gridd --version prints: the version, the VCS revision the
// binary was built from where the build recorded it, the Go version and the platform.
func versionString() string {
	v := version
	var rev, at string
	dirty := false
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(unknown)"
	}
	out := "gridd " + v
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		out += " (" + rev
		if dirty {
			out += ", modified"
		}
		if at != "" {
			out += ", " + at
		}
		out += ")"
	}
	return out + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
