package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/forecast"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestDemoCycles runs the demo as a user would and checks what it stored.
func TestDemoCycles(t *testing.T) {
	dir := t.TempDir()
	// A fixed simulated start keeps the test independent of the day it runs on.
	code, out, errOut := runCLI(t, "demo", "--cycles", "4", "--start", "2019-06-03T06:00:00Z", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("demo --cycles 4 exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if n := strings.Count(out, "cycle "); n < 4 {
		t.Errorf("want 4 cycle lines, got %d:\n%s", n, out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	assets, err := st.ListAssets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(assets) < 17 {
		t.Fatalf("asset registry has %d devices, want the whole demo site", len(assets))
	}
	for _, a := range assets {
		n, err := st.CountTelemetry(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("no telemetry stored for device %s", a.ID)
		}
		latest, err := st.LatestTelemetry(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range latest {
			if s.Quality != storage.QualityGood {
				t.Errorf("device %s point %s has quality %s in the demo", a.ID, s.Point, s.Quality)
			}
		}
	}
	scheds, err := st.ListSchedules(ctx, storage.Epoch, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(scheds) != 4 {
		t.Errorf("want 4 schedules, got %d", len(scheds))
	}
	approved := 0
	for _, s := range scheds {
		if s.Status == storage.StatusApproved {
			approved++
		}
	}
	if approved != 1 {
		t.Errorf("want exactly one schedule in force (approved), got %d", approved)
	}
	writes, err := st.ListSetpointWrites(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	ok := 0
	for _, w := range writes {
		if w.Status == storage.WriteOK {
			ok++
			if d := w.ReadBackKW - w.WrittenKW; d > 0.05 || d < -0.05 {
				t.Errorf("write %d: ok but read back %v != written %v", w.ID, w.ReadBackKW, w.WrittenKW)
			}
		} else {
			t.Errorf("setpoint write %+v not ok", w)
		}
	}
	if ok < 4 {
		t.Errorf("want setpoints written and read back in every cycle, got %d ok writes", ok)
	}
	if _, err := os.Stat(filepath.Join(dir, "gridd.db")); err != nil {
		t.Errorf("embedded store file: %v", err)
	}
}

func TestConfigCheck(t *testing.T) {
	good, err := os.ReadFile("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badProfile := write("bad-profile.yaml", `name: broken
kind: bess
points:
  - {name: soc_pct, register: input, address: 0, type: u17, unit: "%", access: r}
`)
	cases := []struct {
		name     string
		content  string
		wantCode int
		want     []string
	}{
		{"demo config is valid", string(good), 0, []string{"ok"}},
		{"bad timezone", strings.Replace(string(good), "Europe/London", "Europe/Atlantis", 1), 1, []string{"site.timezone", "Europe/Atlantis"}},
		{"unknown profile", strings.Replace(string(good), "builtin:bess", "builtin:no-such-bess", 1), 1, []string{"devices[4].profile", "builtin:no-such-bess"}},
		{"profile file with bad type", strings.Replace(string(good), "builtin:bess", badProfile, 1), 1, []string{"u17"}},
		{"wrong kind of profile", strings.Replace(string(good), "builtin:bess", "builtin:pv-inverter", 1), 1, []string{"devices[4].profile"}},
		{"feeder limit negative", strings.Replace(string(good), "limit_kw: 450", "limit_kw: -450", 1), 1, []string{"nodes[1].limit_kw", "(node feeder-a)", "-450"}},
		{"not yaml", "site: [", 1, []string{"(yaml)"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := write("site"+string(rune('a'+i))+".yaml", tc.content)
			code, out, errOut := runCLI(t, "config", "check", p)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			all := out + errOut
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output does not mention %q:\n%s", w, all)
				}
			}
			if tc.wantCode != 0 && !strings.Contains(errOut, p) {
				t.Errorf("error does not name the file %s:\n%s", p, errOut)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"run"}, {"demo", "--cycles", "-1"}, {"config"}} {
		code, _, _ := runCLI(t, args...)
		if code != 2 {
			t.Errorf("gridd %v: exit %d, want 2", args, code)
		}
	}
}

// TestDemoStartsWithHistory: the demo writes its simulated devices' recorded history
// before the start, so the first cycle's load and PV forecasts are fitted models; with
// --no-history they start from the first readings.
func TestDemoStartsWithHistory(t *testing.T) {
	start := time.Date(2019, 6, 3, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		extra     []string
		wantSeed  bool
		wantFlat  bool
		wantLines string
	}{
		{"history", nil, true, false, "days of the simulated devices' recorded history written"},
		{"no history", []string{"--no-history"}, false, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"demo", "--cycles", "1", "--start", start.Format(time.RFC3339), "--data-dir", dir}, tc.extra...)
			code, out, errOut := runCLI(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			if tc.wantLines != "" && !strings.Contains(out, tc.wantLines) {
				t.Errorf("stdout lacks %q:\n%s", tc.wantLines, out)
			}
			ctx := context.Background()
			st, err := sqlite.Open(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			before, err := st.TelemetryRange(ctx, "building-1", "active_power_kw", start.Add(-30*24*time.Hour), start)
			if err != nil {
				t.Fatal(err)
			}
			if seeded := len(before) > 0; seeded != tc.wantSeed {
				t.Fatalf("%d samples of the building before the start, want history %v", len(before), tc.wantSeed)
			}
			for _, series := range []string{"load:building-1", "pv:pv-1"} {
				pts, err := st.ForecastAsOf(ctx, series, 0.5, start, start, start.Add(24*time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				if len(pts) == 0 {
					t.Fatalf("no %s forecast stored", series)
				}
				flat := pts[0].Method == "current_reading"
				if series == "load:building-1" && flat != tc.wantFlat {
					t.Errorf("%s forecast by %q, want flat %v", series, pts[0].Method, tc.wantFlat)
				}
				if tc.wantSeed && (pts[0].Method == "current_reading" || pts[0].Method == forecast.MethodPVPrior) {
					t.Errorf("%s forecast by %q with 36 days of history", series, pts[0].Method)
				}
			}
		})
	}
}
