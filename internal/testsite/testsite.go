package testsite

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage/sqlite"
)

// Site is one in-process gridd on a simulated site.
type Site struct {
	Config   *site.Config
	Profiles map[string]*fieldbus.Profile
	Clock    *clock.Sim
	Sim      *sim.Sim
	Store    *sqlite.Store
	Poller   *fieldbus.Poller
	Writer   *fieldbus.Writer
	Service  *dispatch.Service
}

// Start parses yml (named name in errors), starts the simulator for it, opens the
// embedded store in a temporary directory and builds a dispatch.Service with the real
// poller and writer on a simulated clock set to start. The endpoints in yml must be
// free loopback addresses (see FreePort). It fails the test on any error.
func Start(t testing.TB, name, yml string, start time.Time, log *slog.Logger) *Site {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := site.Parse(name, []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewSim(start)
	sm := StartSim(t, ctx, cfg, profiles, clk, log)
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	devs := Devices(cfg, profiles)
	poller := fieldbus.NewPoller(devs, clk, log)
	t.Cleanup(func() { poller.Close() })
	writer := fieldbus.NewWriter(devs, clk, log)
	t.Cleanup(func() { writer.Close() })
	svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: st, Poller: poller, Writer: writer, Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return &Site{Config: cfg, Profiles: profiles, Clock: clk, Sim: sm, Store: st, Poller: poller, Writer: writer, Service: svc}
}

// StartSim starts the simulator for cfg on clk, serving the series in the
// repository's data directory. It stops when ctx ends or the test ends.
func StartSim(t testing.TB, ctx context.Context, cfg *site.Config, profiles map[string]*fieldbus.Profile, clk clock.Clock, log *slog.Logger) *sim.Sim {
	t.Helper()
	sm, err := sim.New(cfg, profiles, clk, Data(t), log)
	if err != nil {
		t.Fatal(err)
	}
	if err := sm.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Stop() })
	return sm
}

// Devices pairs every device of cfg with its profile, in config order.
func Devices(cfg *site.Config, profiles map[string]*fieldbus.Profile) []fieldbus.Device {
	devs := make([]fieldbus.Device, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	return devs
}

// Data returns the repository's bundled data directory (data/), found from the working
// directory upwards (the directory holding go.mod).
func Data(t testing.TB) fs.FS {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return os.DirFS(filepath.Join(dir, "data"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testsite: no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WatchdogProfile writes a copy of the bundled profile NAME (e.g. "bess") with a
// command watchdog of the given duration (e.g. "6s") to a temporary directory and
// returns its path, for a device's profile: field.
func WatchdogProfile(t testing.TB, name, watchdog string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	var src []byte
	for {
		if src, err = os.ReadFile(filepath.Join(dir, "fieldbus", "profiles", name+".yaml")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("testsite: no bundled profile %q above the working directory", name)
		}
		dir = parent
	}
	path := filepath.Join(t.TempDir(), name+"-watchdog.yaml")
	if err := os.WriteFile(path, append(src, []byte("\nwatchdog: "+watchdog+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Read polls every device with p (an independent client of the simulator) and returns
// one point of one device, failing the test unless it was read with good quality.
func Read(t testing.TB, p *fieldbus.Poller, device, point string) float64 {
	t.Helper()
	for _, r := range p.Poll(context.Background()) {
		if r.DeviceID != device {
			continue
		}
		if v, ok := r.Value(point); ok && v.Quality == fieldbus.Good {
			return v.Value
		}
		t.Fatalf("%s.%s not read good (%v)", device, point, r.Err)
	}
	t.Fatalf("no reading of %s", device)
	return 0
}
