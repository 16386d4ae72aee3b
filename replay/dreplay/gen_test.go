package dreplay

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd"
)

// writeDistrict generates a district into a temporary directory and returns
// the district file's path.
func writeDistrict(t testing.TB, p GenParams) string {
	t.Helper()
	files, err := Generate(gridd.Files, p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range files {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "district.yaml")
}

func TestQuick(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("N"))
	if n == 0 {
		t.Skip("N not set")
	}
	hz, _ := time.ParseDuration(os.Getenv("HZ"))
	days, _ := strconv.Atoi(os.Getenv("DAYS"))
	tight, _ := strconv.ParseFloat(os.Getenv("TIGHT"), 64)
	path := writeDistrict(t, GenParams{Sites: n, Seed: 1, Horizon: hz, Tightness: tight})
	from, _ := time.Parse("2006-01-02", os.Getenv("FROM"))
	to := from.Add(time.Duration(days) * 24 * time.Hour)
	dc, sites, err := Load(path, "builtin", gridd.Files, from, to)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	t.Logf("%s", b)
	var sums []Summary
	for _, s := range strings.Split(os.Getenv("STRAT"), ",") {
		t0 := time.Now()
		r, err := Run(t.Context(), Options{District: dc, Sites: sites, From: from, To: to, Strategy: s, SkipForecastBand: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %s", s, time.Since(t0))
		sums = append(sums, r.Summary())
	}
	WriteText(os.Stdout, sums)
}
