package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	// The one registration line of CONTRIBUTING.md's driver recipe ("A new protocol
	// driver", step 2): importing the package registers toy://. It sits in this test
	// rather than in drivers.go so that the toy driver stays out of the gridd binary.
	"github.com/gridd/gridd/internal/toydriver"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestToyDriverRecipe follows the driver recipe for internal/toydriver (toy://NAME
// devices in memory): with only that package and the line above, a toy device passes
// `gridd config check`, bad toy endpoints are reported by field and value, and the
// device is polled and written through the ordinary fieldbus.Poller and Writer, with
// the core's quality, read-back and circuit breaker.
func TestToyDriverRecipe(t *testing.T) {
	demo, err := os.ReadFile("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const modbusBESS = "endpoint: 127.0.0.1:15022" // devices[4], bess-1
	if !strings.Contains(string(demo), modbusBESS) {
		t.Fatalf("demo config no longer has %q", modbusBESS)
	}
	withEndpoint := func(ep string) string {
		return strings.Replace(string(demo), modbusBESS, "endpoint: "+ep, 1)
	}
	dir := t.TempDir()
	ep := "toy://bess-recipe"
	for i, tc := range []struct {
		name, endpoint string
		wantCode       int
		want           []string
	}{
		{"toy device", ep, 0, []string{"ok"}},
		{"empty toy name", "toy://", 1, []string{"devices[4].endpoint", `"toy://"`, "device name is empty"}},
		{"bad toy name", "toy://a b", 1, []string{"devices[4].endpoint", `"toy://a b"`, "letters, digits"}},
		// The list of schemes comes from the registry: the toy scheme is offered
		// next to Modbus's.
		{"unknown scheme", "tyo://bess", 1, []string{"devices[4].endpoint", `unknown scheme "tyo"`, "toy://", "rtu://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "site"+string(rune('a'+i))+".yaml")
			if err := os.WriteFile(p, []byte(withEndpoint(tc.endpoint)), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "config", "check", p)
			if code != tc.wantCode {
				t.Fatalf("config check: exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(out+errOut, w) {
					t.Errorf("config check output does not mention %q:\n%s%s", w, out, errOut)
				}
			}
		})
	}

	// Poll and write through the production Poller and Writer.
	cfg, profiles, err := loadSite(filepath.Join(dir, "site.yaml"), []byte(withEndpoint(ep)))
	if err != nil {
		t.Fatal(err)
	}
	var devs []fieldbus.Device
	for _, d := range cfg.Devices {
		if d.Endpoint == ep {
			devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
		}
	}
	if len(devs) != 1 {
		t.Fatalf("%d devices at %s, want 1", len(devs), ep)
	}
	clk := clock.NewSim(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	p := fieldbus.NewPoller(devs, clk, quietLog(), fieldbus.WithRetry(fieldbus.Retry{}),
		fieldbus.WithBreaker(fieldbus.Breaker{Threshold: 2, Backoff: time.Minute, MaxBackoff: time.Minute}))
	defer p.Close()
	w := fieldbus.NewWriter(devs, clk, quietLog())
	defer w.Close()
	ctx := context.Background()

	toydriver.Set(ep, "soc_pct", 62.5)
	toydriver.Set(ep, "temperature_c", 150) // outside the profile's plausibility range
	r := p.Poll(ctx)[0]
	if r.Stale {
		t.Fatalf("toy device stale: %v", r.Err)
	}
	for _, tc := range []struct {
		point string
		value float64
		q     fieldbus.Quality
	}{
		{"soc_pct", 62.5, fieldbus.Good},
		{"temperature_c", 0, fieldbus.Bad},
		{"setpoint_kw", 0, fieldbus.Good},
	} {
		v, ok := r.Value(tc.point)
		if !ok || v.Value != tc.value || v.Quality != tc.q {
			t.Errorf("%s = %+v (found %v), want %v %s", tc.point, v, ok, tc.value, tc.q)
		}
	}

	res, err := w.Write(ctx, devs[0].ID, "setpoint_kw", -120)
	if err != nil || res.Written != -120 || res.ReadBack != -120 || res.Mismatch {
		t.Fatalf("write: %+v, %v", res, err)
	}
	if got := toydriver.Get(ep, "setpoint_kw"); got != -120 {
		t.Fatalf("toy device holds setpoint %v, want -120", got)
	}
	if _, err := w.Write(ctx, devs[0].ID, "setpoint_kw", 900); !errors.Is(err, fieldbus.ErrOutOfLimits) {
		t.Fatalf("write outside the limits: %v, want ErrOutOfLimits", err)
	}
	if got := toydriver.Get(ep, "setpoint_kw"); got != -120 {
		t.Fatalf("refused write reached the device: %v", got)
	}
	if v, _ := p.Poll(ctx)[0].Value("setpoint_kw"); v.Value != -120 {
		t.Fatalf("polled setpoint %+v, want -120", v)
	}

	// A silent device goes stale with its last good values, then the breaker opens
	// and stops asking it.
	toydriver.SetSilent(ep, true)
	for i := 0; i < 2; i++ {
		r := p.Poll(ctx)[0]
		if v, _ := r.Value("soc_pct"); !r.Stale || v.Quality != fieldbus.Stale || v.Value != 62.5 || !errors.Is(r.Err, toydriver.ErrNoAnswer) {
			t.Fatalf("silent poll %d: stale %v soc %+v err %v", i, r.Stale, v, r.Err)
		}
	}
	before := toydriver.Reads(ep)
	if r := p.Poll(ctx)[0]; !errors.Is(r.Err, fieldbus.ErrCircuitOpen) || toydriver.Reads(ep) != before {
		t.Fatalf("breaker: err %v, reads %d -> %d", r.Err, before, toydriver.Reads(ep))
	}
	toydriver.SetSilent(ep, false)
	clk.Advance(time.Minute)
	if r := p.Poll(ctx)[0]; r.Stale {
		t.Fatalf("device answers again but reads stale: %v", r.Err)
	}
}

// TestToyDriverTouchesNothingElse checks the other half of the recipe: apart from its
// own package and the registration line in this file, nothing in the repository's Go
// code names the toy driver or its scheme (the core, site and gridd learn of it only
// through the registry).
func TestToyDriverTouchesNothingElse(t *testing.T) {
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "internal/toydriver" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || rel == "cmd/gridd/toydriver_test.go" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		src := string(data)
		if strings.Contains(src, "internal/toydriver\"") {
			t.Errorf("%s imports the toy driver: the recipe allows one registration line", rel)
		}
		if !strings.HasSuffix(path, "_test.go") && (strings.Contains(src, `"toy"`) || strings.Contains(src, "toy://")) {
			t.Errorf("%s names the toy scheme: adding a driver must need no edit outside its package", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
