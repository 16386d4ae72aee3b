package sim

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseSeriesInterpolation(t *testing.T) {
	csv := "timestamp_utc,kw,other\n" +
		"2019-01-01T00:00:00Z,10,x\n" +
		"2019-01-01T01:00:00Z,,x\n" +
		"2019-01-01T02:00:00Z,,x\n" +
		"2019-01-01T03:00:00Z,40,x\n" +
		"2019-12-31T23:00:00Z,20,x\n"
	s, err := parseSeries("t.csv", []byte(csv), "kw")
	if err != nil {
		t.Fatal(err)
	}
	if s.year != 2019 || len(s.v) != 8760 {
		t.Fatalf("year %d, %d hours", s.year, len(s.v))
	}
	at := func(ts string) float64 {
		tm, err := time.Parse(time.RFC3339, ts)
		if err != nil {
			t.Fatal(err)
		}
		return s.at(tm)
	}
	cases := []struct {
		ts   string
		want float64
	}{
		{"2019-01-01T00:00:00Z", 10},
		{"2019-01-01T01:00:00Z", 20}, // blank: between 10 and 40
		{"2019-01-01T02:30:00Z", 35},
		{"2019-01-01T03:00:00Z", 40},
		{"2019-06-01T00:00:00Z", 40 - (40-20)*float64(3624-3)/float64(8759-3)}, // long blank run
		{"2019-12-31T23:00:00Z", 20},
		{"2019-12-31T23:30:00Z", 15},                         // wraps to the year's first value
		{"2023-01-01T02:30:00Z", 35},                         // another year: same day and time
		{"2020-12-31T12:00:00Z", at("2019-01-01T12:00:00Z")}, // day 366 wraps
	}
	for _, c := range cases {
		if got := at(c.ts); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("at(%s) = %v, want %v", c.ts, got, c.want)
		}
	}
}

func TestParseSeriesErrors(t *testing.T) {
	cases := []struct {
		csv, col, want string
	}{
		{"timestamp_utc,kw\n2019-01-01T00:00:00Z,1\n", "kwh", `no column "kwh"`},
		{"timestamp_utc,kw\nyesterday,1\n", "kw", `t.csv:2: timestamp_utc: "yesterday": want an RFC 3339 time`},
		{"timestamp_utc,kw\n2019-01-01T00:30:00Z,1\n", "kw", "not on the hour"},
		{"timestamp_utc,kw\n2019-01-01T00:00:00Z,1\n2019-01-01T00:00:00Z,2\n", "kw", "duplicate hour"},
		{"timestamp_utc,kw\n2019-01-01T00:00:00Z,abc\n", "kw", `t.csv:2: kw: "abc": not a finite number`},
		{"timestamp_utc,kw\n2019-01-01T00:00:00Z,\n", "kw", "no values"},
		{"timestamp_utc,kw\n", "kw", "no data rows"},
		{"", "kw", "empty file"},
	}
	for _, c := range cases {
		_, err := parseSeries("t.csv", []byte(c.csv), c.col)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseSeries(%q) error = %v, want %q", c.csv, err, c.want)
		}
	}
}

func TestBundledSeries(t *testing.T) {
	ld := &dataLoader{data: os.DirFS("../../data"), series: map[string]*series{}}
	for _, name := range SeriesNames() {
		if name == SeriesTrondheim {
			continue
		}
		s, err := ld.bundled(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, v := range s.v {
			if math.IsNaN(v) {
				t.Fatalf("%s: hour %d blank after filling", name, i)
			}
		}
	}
	b9, _ := ld.bundled("cambridge:b9")
	// First rows: 2.5 at 00:00, 4.8 at 01:00.
	if got := b9.at(time.Date(2021, 1, 1, 0, 30, 0, 0, time.UTC)); math.Abs(got-3.65) > 1e-9 {
		t.Errorf("cambridge:b9 at 00:30 = %v, want 3.65", got)
	}
	pv, _ := ld.bundled("konstanz:pv")
	peak := 0.0
	for _, v := range pv.v {
		peak = math.Max(peak, v)
	}
	if peak != 1 {
		t.Errorf("konstanz:pv peak %v, want 1 (per unit)", peak)
	}
	if v := pv.at(time.Date(2019, 6, 21, 0, 0, 0, 0, time.UTC)); v != 0 {
		t.Errorf("konstanz:pv at midnight = %v", v)
	}
	if v := pv.at(time.Date(2019, 6, 21, 11, 0, 0, 0, time.UTC)); v < 0.2 {
		t.Errorf("konstanz:pv at midsummer noon = %v", v)
	}
	if _, err := ld.bundled("cambridge:b99"); err == nil || !strings.Contains(err.Error(), "unknown series") {
		t.Errorf("unknown series error = %v", err)
	}
	ev, err := ld.sessions()
	if err != nil {
		t.Fatal(err)
	}
	users := ev.usersByActivity()
	if len(users) < 2 || users[0] != "Bl2-5" || len(ev.byUser[users[0]]) < len(ev.byUser[users[1]]) {
		t.Fatalf("users by activity: %v", users[:min(3, len(users))])
	}
}

func TestSessionTimeline(t *testing.T) {
	d := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tl := &sessionTimeline{cache: map[int][]evSession{}, src: []evSession{
		{d("2019-03-01T08:00:00Z"), d("2019-03-01T17:00:00Z"), 10},
		{d("2019-03-01T16:00:00Z"), d("2019-03-01T18:00:00Z"), 5},  // overlaps: dropped
		{d("2019-12-31T20:00:00Z"), d("2020-01-01T07:00:00Z"), 20}, // crosses the year
	}}
	cases := []struct {
		at     string
		active bool
		energy float64
		next   string
	}{
		{"2022-03-01T07:00:00Z", false, 0, "2022-03-01T08:00:00Z"},
		{"2022-03-01T08:00:00Z", true, 10, "2022-12-31T20:00:00Z"},
		{"2022-03-01T17:00:00Z", false, 0, "2022-12-31T20:00:00Z"},
		{"2023-01-01T06:00:00Z", true, 20, "2023-03-01T08:00:00Z"},
		{"2023-01-01T07:00:00Z", false, 0, "2023-03-01T08:00:00Z"},
	}
	for _, c := range cases {
		s, ok := tl.active(d(c.at))
		if ok != c.active || (ok && s.energyKWh != c.energy) {
			t.Errorf("active(%s) = %+v %v, want %v with %v kWh", c.at, s, ok, c.active, c.energy)
		}
		if n := tl.next(d(c.at)); !n.Equal(d(c.next)) {
			t.Errorf("next(%s) = %v, want %s", c.at, n, c.next)
		}
	}
}

func TestDataUnderDataDir(t *testing.T) {
	// An embed.FS of the module root holds the files under data/.
	ld := &dataLoader{data: os.DirFS("../.."), series: map[string]*series{}}
	if _, err := ld.bundled("cambridge:b40"); err != nil {
		t.Fatal(err)
	}
	if _, err := ld.sessions(); err != nil {
		t.Fatal(err)
	}
	ld = &dataLoader{data: os.DirFS(t.TempDir()), series: map[string]*series{}}
	if _, err := ld.bundled("cambridge:b40"); err == nil || !strings.Contains(err.Error(), "cambridge_buildings_load_hourly_2019.csv") {
		t.Fatalf("missing data file error = %v", err)
	}
}

// TestSeriesShift: sim.shift reads the series that much later, so the Konstanz PV
// series on a UTC+8 site (shift 7h) generates around local noon, not at night.
func TestSeriesShift(t *testing.T) {
	ld := &dataLoader{data: os.DirFS("../../data"), series: map[string]*series{}}
	pv, err := ld.bundled("konstanz:pv")
	if err != nil {
		t.Fatal(err)
	}
	plain, shifted := seriesTrace{s: pv, scale: 100}, seriesTrace{s: pv, scale: 100, shift: 7 * time.Hour}
	noonShanghai := time.Date(2021, 6, 21, 4, 0, 0, 0, time.UTC)      // 12:00 +08:00
	midnightShanghai := time.Date(2021, 6, 20, 16, 0, 0, 0, time.UTC) // 00:00 +08:00
	for _, tc := range []struct {
		name string
		tr   seriesTrace
		at   time.Time
		lo   float64
		hi   float64
	}{
		{"shifted, local noon", shifted, noonShanghai, 20, 100},
		{"shifted, local midnight", shifted, midnightShanghai, 0, 0},
		{"unshifted at 04:00 UTC is early morning in Konstanz", plain, noonShanghai, 0, 15},
	} {
		if got := tc.tr.PowerKW(tc.at); got < tc.lo || got > tc.hi {
			t.Errorf("%s: %.1f kW, want [%g, %g]", tc.name, got, tc.lo, tc.hi)
		}
	}
	if got, want := shifted.PowerKW(noonShanghai), plain.PowerKW(noonShanghai.Add(7*time.Hour)); got != want {
		t.Errorf("shifted %v != unshifted 7 h later %v", got, want)
	}
}
