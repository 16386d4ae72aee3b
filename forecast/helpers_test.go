package forecast

import (
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// t0 is a Monday, 00:00 UTC.
var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// series returns points every step over [from, to) with value f(t).
func series(from, to time.Time, step time.Duration, f func(time.Time) float64) []Point {
	var out []Point
	for t := from; t.Before(to); t = t.Add(step) {
		out = append(out, Point{Time: t, Value: f(t)})
	}
	return out
}

// hourOfWeek is a value that differs for every hour of the week and every week.
func hourOfWeek(t time.Time) float64 {
	h := t.Sub(t0).Hours()
	week := math.Floor(h / 168)
	return 1000*week + float64(int(h)%168)
}

// without drops points with Time in [from, to).
func without(pts []Point, from, to time.Time) []Point {
	var out []Point
	for _, p := range pts {
		if p.Time.Before(from) || !p.Time.Before(to) {
			out = append(out, p)
		}
	}
	return out
}

// sortedQuantile is an independent type-7 quantile for checks.
func sortedQuantile(xs []float64, q float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo]*(1-(pos-float64(lo))) + s[lo+1]*(pos-float64(lo))
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func readData(t testing.TB, file, col string) []Point {
	t.Helper()
	f, err := os.Open("../data/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pts, err := ReadCSV(f, "timestamp_utc", col)
	if err != nil {
		t.Fatal(err)
	}
	return pts
}
