package dispatch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/internal/testsite"
)

// TestPriceFileReread: the day-ahead price file is read again before a cycle when it
// changed, so the next cycle plans with the new prices; a version that does not parse
// raises an alarm naming its line and value while the prices held stay in use; a good
// version clears the alarm.
func TestPriceFileReread(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "prices.csv")
	start := time.Date(2019, 6, 3, 8, 0, 0, 0, time.UTC)
	version := 0
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		// A new modification time for each version, however fast the test runs.
		version++
		mt := start.Add(time.Duration(version) * time.Minute)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	flat := func(p float64) string {
		var b strings.Builder
		b.WriteString("timestamp_utc,import_price_per_kwh\n")
		for h := range 30 {
			fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(h)*time.Hour).Format(time.RFC3339), p)
		}
		return b.String()
	}
	write(flat(0.11))
	p1, p2 := testsite.FreePort(t), testsite.FreePort(t)
	yml := strings.NewReplacer("PORT1", strconv.Itoa(p1), "PORT2", strconv.Itoa(p2)).Replace(e2eSite)
	yml = strings.Replace(yml, "  export_price_per_kwh: 0.01\n", "  export_price_per_kwh: 0.01\n  day_ahead: {file: prices.csv, interval: 1h, fallback: none}\n", 1)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s := testsite.Start(t, filepath.Join(dir, "site.yaml"), yml, start, log)

	cycle := func(at time.Time) float64 {
		t.Helper()
		s.Clock.Set(at)
		res, err := s.Service.RunCycle(ctx, at)
		if err != nil || res.Schedule == nil {
			t.Fatalf("cycle at %s: %v", at.Format(time.RFC3339), err)
		}
		var doc struct {
			Scenario struct {
				Grid struct {
					ImportPrice []float64 `json:"import_price"`
				} `json:"grid"`
			} `json:"scenario"`
		}
		if err := json.Unmarshal(res.Schedule.Plan, &doc); err != nil || len(doc.Scenario.Grid.ImportPrice) == 0 {
			t.Fatalf("plan: %v", err)
		}
		return doc.Scenario.Grid.ImportPrice[0]
	}
	alarm := func() *dispatch.Alarm {
		for _, a := range s.Service.Alarms() {
			if a.Key == dispatch.AlarmPriceFile && a.Active {
				return &a
			}
		}
		return nil
	}
	if p := cycle(start); p != 0.11 {
		t.Fatalf("first cycle priced at %v, want the file's 0.11", p)
	}
	write(flat(0.07))
	if p := cycle(start.Add(15 * time.Minute)); p != 0.07 {
		t.Fatalf("after the file changed: %v, want 0.07", p)
	}
	write(strings.Replace(flat(0.05), "2019-06-03T10:00:00Z,0.05", "2019-06-03T10:00:00Z,0.O5", 1))
	if p := cycle(start.Add(30 * time.Minute)); p != 0.07 {
		t.Fatalf("after a bad version: %v, want the prices held (0.07)", p)
	}
	a := alarm()
	if a == nil || !strings.Contains(a.Text, "line 4") || !strings.Contains(a.Text, "prices held stay in use") {
		t.Fatalf("alarm after a bad version: %+v", a)
	}
	write(flat(0.09))
	if p := cycle(start.Add(45 * time.Minute)); p != 0.09 || alarm() != nil {
		t.Fatalf("after a good version: %v, alarm %+v", p, alarm())
	}
}
