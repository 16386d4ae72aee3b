package prices_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/prices"
	"github.com/gridd/gridd/site"
)

const baseSite = `
site: {name: p, timezone: Europe/London, step: 30m, horizon: 4h}
grid: {import_limit_kw: 100, export_limit_kw: 100}
nodes: [{id: sub, parent: "", limit_kw: 100}]
devices: [{id: m, kind: meter, node: sub, endpoint: "127.0.0.1:1502", profile: "builtin:substation-meter"}]
`

const bands = `
tariff:
  currency: GBP
  import:
    - {from: "00:00", to: "16:00", price_per_kwh: 0.20}
    - {from: "16:00", to: "24:00", price_per_kwh: 0.35}
  export_price_per_kwh: 0.05
`

func parse(t testing.TB, dir, yml string) *site.Config {
	t.Helper()
	path := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := site.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// t0 is 15:00 in London in winter (UTC): the first two steps are in the cheap band.
var t0 = time.Date(2019, 1, 7, 15, 0, 0, 0, time.UTC)

func TestTOUMatchesTariff(t *testing.T) {
	cfg := parse(t, t.TempDir(), baseSite+bands)
	src, err := prices.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := src.(prices.TOU); !ok {
		t.Fatalf("source %T, want TOU", src)
	}
	imp, exp, err := src.Prices(context.Background(), t0, 30*time.Minute, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.20, 0.20, 0.35, 0.35}
	for k := range want {
		if imp[k] != want[k] || exp[k] != 0.05 {
			t.Errorf("step %d: %v/%v, want %v/0.05", k, imp[k], exp[k], want[k])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := src.Prices(ctx, t0, 30*time.Minute, 4); err == nil {
		t.Error("a cancelled context priced steps")
	}
}

func TestFeedFromFile(t *testing.T) {
	const csv = "timestamp_utc,price\n" +
		"2019-01-07T15:00:00Z,0.11\n" +
		"2019-01-07T16:00:00Z,-0.02\n" +
		"2019-01-07T17:00:00Z,0.31\n"
	cases := []struct {
		name     string
		dayAhead string
		wantImp  []float64 // nil: an error containing wantErr
		wantExp  []float64
		wantErr  string
	}{
		{"hourly with tou fallback", "  day_ahead: {file: p.csv, import_column: price, interval: 1h}\n",
			// 15:00 0.11, 15:30 0.11, 16:00 -0.02 (export capped at it), 16:30, 17:00 0.31, 17:30, then bands (0.35) from 18:00
			[]float64{0.11, 0.11, -0.02, -0.02, 0.31, 0.31, 0.35, 0.35}, []float64{0.05, 0.05, -0.02, -0.02, 0.05, 0.05, 0.05, 0.05}, ""},
		{"hourly, no fallback", "  day_ahead: {file: p.csv, import_column: price, interval: 1h, fallback: none}\n",
			nil, nil, "no price for step 6 (2019-01-07T18:00:00Z); it has 3 prices from 2019-01-07T15:00:00Z to 2019-01-07T18:00:00Z"},
		{"half-hourly: the hourly points leave gaps", "  day_ahead: {file: p.csv, import_column: price, fallback: none}\n",
			nil, nil, "no price for step 1 (2019-01-07T15:30:00Z)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "p.csv"), []byte(csv), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := parse(t, dir, baseSite+bands+tc.dayAhead)
			src, err := prices.FromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			imp, exp, err := src.Prices(context.Background(), t0, 30*time.Minute, 8)
			if tc.wantImp == nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k := range tc.wantImp {
				if math.Abs(imp[k]-tc.wantImp[k]) > 1e-12 || math.Abs(exp[k]-tc.wantExp[k]) > 1e-12 {
					t.Errorf("step %d: %v/%v, want %v/%v", k, imp[k], exp[k], tc.wantImp[k], tc.wantExp[k])
				}
			}
		})
	}
}

func TestFeedPut(t *testing.T) {
	cfg := parse(t, t.TempDir(), baseSite+"tariff: {currency: GBP, export_price_per_kwh: 0.04, day_ahead: {}}\n")
	if cfg.Tariff.DayAhead.Fallback != site.FallbackNone {
		t.Fatalf("fallback without bands %q, want none", cfg.Tariff.DayAhead.Fallback)
	}
	src, err := prices.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := src.(*prices.Feed)
	if _, _, err := f.Prices(context.Background(), t0, 30*time.Minute, 1); err == nil || !strings.Contains(err.Error(), "holds no prices") {
		t.Fatalf("empty feed: %v", err)
	}
	x := 0.01
	pts := []prices.Point{{Time: t0, ImportPerKWh: 0.2}, {Time: t0.Add(30 * time.Minute), ImportPerKWh: 0.3, ExportPerKWh: &x}}
	if err := f.Put(pts); err != nil {
		t.Fatal(err)
	}
	imp, exp, err := f.Prices(context.Background(), t0, 15*time.Minute, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{0.2, 0.2, 0.3, 0.3}; !equal(imp, want) {
		t.Errorf("import %v, want %v", imp, want)
	}
	if want := []float64{0.04, 0.04, 0.01, 0.01}; !equal(exp, want) {
		t.Errorf("export %v, want %v", exp, want)
	}
	// A later push replaces; the coverage reports it.
	if err := f.Put([]prices.Point{{Time: t0, ImportPerKWh: 0.25}}); err != nil {
		t.Fatal(err)
	}
	if imp, _, _ := f.Prices(context.Background(), t0, 30*time.Minute, 1); imp[0] != 0.25 {
		t.Errorf("after a second push %v", imp)
	}
	if first, end, n := f.Coverage(); !first.Equal(t0) || !end.Equal(t0.Add(time.Hour)) || n != 2 {
		t.Errorf("coverage %s %s %d", first, end, n)
	}
	f.Prune(t0.Add(45 * time.Minute))
	if _, _, n := f.Coverage(); n != 1 {
		t.Errorf("after prune %d prices", n)
	}
}

func TestFeedRefusesBadPoints(t *testing.T) {
	big, hi := 500.0, 0.5
	cases := []struct {
		pts  []prices.Point
		want string
	}{
		{nil, "points: empty"},
		{[]prices.Point{{ImportPerKWh: 0.1}}, "points[0].time: required"},
		{[]prices.Point{{Time: t0.Add(10 * time.Minute), ImportPerKWh: 0.1}}, "points[0].time: 2019-01-07T15:10:00Z is not on a 30m0s boundary"},
		{[]prices.Point{{Time: t0, ImportPerKWh: math.NaN()}}, "points[0].import_price_per_kwh: NaN"},
		{[]prices.Point{{Time: t0, ImportPerKWh: 0.1}, {Time: t0, ImportPerKWh: 0.2}}, "points[1].time: 2019-01-07T15:00:00Z given twice (also points[0].time)"},
		{[]prices.Point{{Time: t0, ImportPerKWh: 0.1, ExportPerKWh: &big}}, "points[0].export_price_per_kwh: 500"},
		{[]prices.Point{{Time: t0, ImportPerKWh: 0.1, ExportPerKWh: &hi}}, "points[0].export_price_per_kwh: 0.5 is above the import price 0.1"},
	}
	for _, tc := range cases {
		err := prices.Validate(tc.pts, 30*time.Minute)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.pts, err, tc.want)
		}
	}
}

func TestPriceFileErrors(t *testing.T) {
	cases := []struct {
		csv, want string
	}{
		{"", "line 1: empty file"},
		{"time,price\n", `line 1: no column "timestamp_utc"`},
		{"timestamp_utc,other\n", `line 1: no column "import_price_per_kwh"`},
		{"timestamp_utc,import_price_per_kwh\n", "line 2: no prices"},
		{"timestamp_utc,import_price_per_kwh\n2019-01-07 15:00,0.1\n", `line 2: timestamp_utc: "2019-01-07 15:00" is not an RFC 3339 time`},
		{"timestamp_utc,import_price_per_kwh\n2019-01-07T15:00:00Z,cheap\n", `line 2: import_price_per_kwh: "cheap" is not a number`},
		{"timestamp_utc,import_price_per_kwh,export_price_per_kwh\n2019-01-07T15:00:00Z,0.1,x\n", `line 2: export_price_per_kwh: "x" is not a number`},
		{"timestamp_utc,import_price_per_kwh\n2019-01-07T15:00:00Z,0,12\n", "line 2: 3 fields, the header has 2 (a decimal comma?)"},
		// Valid CSV, refused by the feed: named by line and column.
		{"timestamp_utc,import_price_per_kwh\n2019-01-07T15:00:00Z,0.1\n2019-01-07T15:30:00Z,250\n", "line 3: import_price_per_kwh: 250 is not a price per kWh"},
		{"timestamp_utc,import_price_per_kwh\n2019-01-07T15:00:00Z,0.1\n2019-01-07T15:20:00Z,0.2\n", "line 3: timestamp_utc: 2019-01-07T15:20:00Z is not on a 30m0s boundary"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "p.csv"), []byte(tc.csv), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := parse(t, dir, baseSite+bands+"  day_ahead: {file: p.csv}\n")
		_, err := prices.FromConfig(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "tariff.day_ahead.file") {
			t.Errorf("%q: err %v, want %q", tc.csv, err, tc.want)
		}
	}
	cfg := parse(t, t.TempDir(), baseSite+bands+"  day_ahead: {file: missing.csv}\n")
	if _, err := prices.FromConfig(cfg); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("missing file: %v", err)
	}
}

func TestDayAheadConfigErrors(t *testing.T) {
	cases := []struct{ tariff, want string }{
		{"tariff: {currency: GBP}\n", "tariff.import"},
		{"tariff: {currency: GBP, day_ahead: {fallback: tou}}\n", "tariff.day_ahead.fallback"},
		{"tariff: {currency: GBP, day_ahead: {fallback: last}}\n", `"last"`},
		{"tariff: {currency: GBP, day_ahead: {interval: 7m}}\n", "tariff.day_ahead.interval"},
		{"tariff: {currency: GBP, day_ahead: {interval: 0s}}\n", "tariff.day_ahead.interval"},
		{"tariff: {currency: GBP, day_ahead: {import_column: 'a,b'}}\n", "tariff.day_ahead.import_column"},
	}
	for _, tc := range cases {
		_, err := site.Parse("s.yaml", []byte(baseSite+tc.tariff))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.tariff, err, tc.want)
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}

func FuzzParseCSV(f *testing.F) {
	f.Add("timestamp_utc,import_price_per_kwh\n2019-01-07T15:00:00Z,0.1\n")
	f.Add("timestamp_utc,import_price_per_kwh,export_price_per_kwh\n2019-01-07T15:00:00Z,0.1,\n2019-01-07T15:30:00Z,NaN,1e400\n")
	f.Add("\ufefftimestamp_utc,import_price_per_kwh\n\"x\n")
	f.Fuzz(func(t *testing.T, data string) {
		pts, err := prices.ParseCSV(strings.NewReader(data), "timestamp_utc", "import_price_per_kwh", "export_price_per_kwh")
		if err != nil {
			return
		}
		if len(pts) == 0 || len(pts) > prices.MaxPoints {
			t.Fatalf("%d points without an error", len(pts))
		}
		if err := prices.Validate(pts, 30*time.Minute); err != nil {
			return
		}
		for _, p := range pts {
			if math.IsNaN(p.ImportPerKWh) || math.Abs(p.ImportPerKWh) > prices.MaxAbsPricePerKWh {
				t.Fatalf("accepted %v", p)
			}
		}
	})
}
