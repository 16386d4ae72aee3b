package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd"
	"github.com/gridd/gridd/optimizer/scengen"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

// agileExtract returns the bundled Agile import prices from..to as a CSV and by hour.
func agileExtract(t *testing.T, from, to time.Time) ([]byte, map[time.Time]float64) {
	t.Helper()
	data, err := gridd.Files.ReadFile(scengen.PriceFile)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	byHour := map[time.Time]float64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for first := true; sc.Scan(); first = false {
		line := sc.Text()
		if first {
			out.WriteString(line + "\n")
			continue
		}
		ts, v, _ := strings.Cut(line, ",")
		at, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			t.Fatal(err)
		}
		if at.Before(from) || !at.Before(to) {
			continue
		}
		p, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatal(err)
		}
		byHour[at] = p
		out.WriteString(line + "\n")
	}
	return out.Bytes(), byHour
}

// demoWithDayAhead writes the demo site config with a day-ahead section (after the
// export price) into dir.
func demoWithDayAhead(t *testing.T, dir, dayAhead string) string {
	t.Helper()
	demo, err := gridd.Files.ReadFile(gridd.DemoConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	const anchor = "  export_price_per_kwh: 0.05\n"
	if !bytes.Contains(demo, []byte(anchor)) {
		t.Fatalf("demo config has no %q", anchor)
	}
	cfg := bytes.Replace(demo, []byte(anchor), []byte(anchor+dayAhead), 1)
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestDemoDayAheadPrices runs gridd demo on a site config whose tariff selects a
// day-ahead feed (the bundled Agile prices, hourly) and checks that every schedule
// was priced from the file, not from the time-of-use bands; and that a file that does
// not cover the horizon fails the cycles with an error naming the step.
func TestDemoDayAheadPrices(t *testing.T) {
	start := time.Date(2019, 6, 3, 6, 0, 0, 0, time.UTC)
	csv, byHour := agileExtract(t, start.Add(-time.Hour), start.Add(36*time.Hour))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "agile.csv"), csv, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := demoWithDayAhead(t, dir, "  day_ahead: {file: agile.csv, import_column: import_price_gbp_per_kwh, interval: 1h, fallback: none}\n")
	data := filepath.Join(dir, "data")
	code, out, errOut := runCLI(t, "demo", "--config", cfgPath, "--cycles", "2", "--start", start.Format(time.RFC3339), "--data-dir", data)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	scheds, err := st.ListSchedules(ctx, storage.Epoch, start.Add(48*time.Hour), "")
	if err != nil || len(scheds) != 2 {
		t.Fatalf("schedules %d, %v", len(scheds), err)
	}
	for _, s := range scheds {
		full, err := st.GetSchedule(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Scenario struct {
				Grid struct {
					ImportPrice []float64 `json:"import_price"`
					ExportPrice []float64 `json:"export_price"`
				} `json:"grid"`
			} `json:"scenario"`
		}
		if err := json.Unmarshal(full.Plan, &doc); err != nil {
			t.Fatal(err)
		}
		g := doc.Scenario.Grid
		if len(g.ImportPrice) != 96 {
			t.Fatalf("schedule %d: %d prices", s.ID, len(g.ImportPrice))
		}
		for k, p := range g.ImportPrice {
			at := full.Start.Add(time.Duration(k) * 15 * time.Minute)
			want, ok := byHour[at.Truncate(time.Hour)]
			if !ok || p != want {
				t.Fatalf("schedule %d step %d (%s): import price %v, want the file's %v", s.ID, k, at.Format(time.RFC3339), p, want)
			}
			if e := g.ExportPrice[k]; e != math.Min(0.05, want) {
				t.Fatalf("schedule %d step %d: export price %v, want min(0.05, %v)", s.ID, k, e, want)
			}
		}
	}

	// A file that ends inside the horizon, without a fallback: every cycle fails and
	// says which step has no price.
	short, _ := agileExtract(t, start, start.Add(12*time.Hour))
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, "agile.csv"), short, 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath = demoWithDayAhead(t, dir2, "  day_ahead: {file: agile.csv, import_column: import_price_gbp_per_kwh, interval: 1h, fallback: none}\n")
	code, out, errOut = runCLI(t, "demo", "--config", cfgPath, "--cycles", "1", "--start", start.Format(time.RFC3339), "--data-dir", filepath.Join(dir2, "data"))
	if want := "no price for step 48 (2019-06-03T18:00:00Z)"; !strings.Contains(out+errOut, want) {
		t.Errorf("exit %d; output does not name the uncovered step (%q):\n%s\n%s", code, want, out, errOut)
	}
}

// TestConfigCheckPriceFile: gridd config check reads the day-ahead price file the
// tariff names and reports a bad line by line, column and value.
func TestConfigCheckPriceFile(t *testing.T) {
	dir := t.TempDir()
	cfgPath := demoWithDayAhead(t, dir, "  day_ahead: {file: agile.csv}\n")
	bad := "timestamp_utc,import_price_per_kwh\n2019-06-03T06:00:00Z,0.12\n2019-06-03T06:30:00Z,12O\n"
	if err := os.WriteFile(filepath.Join(dir, "agile.csv"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "config", "check", cfgPath)
	if want := `line 3: import_price_per_kwh: "12O" is not a number`; code == 0 || !strings.Contains(out+errOut, want) {
		t.Fatalf("exit %d, want an error containing %q:\n%s%s", code, want, out, errOut)
	}
	good := "timestamp_utc,import_price_per_kwh\n2019-06-03T06:00:00Z,0.12\n"
	if err := os.WriteFile(filepath.Join(dir, "agile.csv"), []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "config", "check", cfgPath); code != 0 {
		t.Fatalf("good file: exit %d\n%s%s", code, out, errOut)
	}
}
