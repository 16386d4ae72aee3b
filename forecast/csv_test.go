package forecast

import (
	"bytes"
	"encoding/csv"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestReadCSV(t *testing.T) {
	ts := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	cases := []struct {
		name  string
		in    string
		want  []Point
		parts []string // error parts; nil means success
	}{
		{"basic", "t,v\n2019-01-01T00:00:00Z,1.5\n2019-01-01T01:00:00Z,-2\n", []Point{
			{ts("2019-01-01T00:00:00Z"), 1.5}, {ts("2019-01-01T01:00:00Z"), -2}}, nil},
		{"other columns, offsets to UTC, blank is a gap", "\ufeffx, t ,v,y\na,2019-03-31T02:30:00+02:00,3,b\na,2019-03-31T01:00:00.5Z, ,b\na,2019-03-31T02:00:00Z,4e1,b\n",
			[]Point{{time.Date(2019, 3, 31, 0, 30, 0, 0, time.UTC), 3}, {time.Date(2019, 3, 31, 2, 0, 0, 0, time.UTC), 40}}, nil},
		{"header only", "t,v\n", nil, nil},
		{"empty input", "", nil, []string{"empty input"}},
		{"missing time column", "a,v\n", nil, []string{`no column "t"`}},
		{"missing value column", "t,a\n", nil, []string{`no column "v"`}},
		{"duplicate column", "t,v,v\n", nil, []string{`column "v" appears more than once`}},
		{"bad timestamp", "t,v\n2019-01-01T00:00:00Z,1\n2019-01-01 01:00,2\n", nil, []string{"line 3", `column "t"`, `"2019-01-01 01:00"`}},
		{"local time without offset", "t,v\n2019-01-01T00:00:00,1\n", nil, []string{"line 2", `column "t"`, "RFC 3339"}},
		{"blank timestamp", "t,v\n,1\n", nil, []string{"line 2", `column "t"`, "blank timestamp"}},
		{"bad value", "t,v\n2019-01-01T00:00:00Z,1\n2019-01-01T01:00:00Z,1,5\n", nil, []string{"line 3"}},
		{"not a number", "t,v\n2019-01-01T00:00:00Z,abc\n", nil, []string{"line 2", `column "v"`, `"abc"`}},
		{"NaN is rejected", "t,v\n2019-01-01T00:00:00Z,1\n2019-01-01T01:00:00Z,NaN\n", nil, []string{"line 3", `column "v"`, "not a finite number"}},
		{"overflow is rejected", "t,v\n2019-01-01T00:00:00Z,1e999\n", nil, []string{"line 2", `column "v"`}},
		{"quoted newline keeps line numbers", "t,v,note\n2019-01-01T00:00:00Z,1,\"a\nb\"\n2019-01-01T01:00:00Z,x,c\n", nil, []string{"line 4", `column "v"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ReadCSV(strings.NewReader(c.in), "t", "v")
			if c.parts != nil {
				wantErrContains(t, err, c.parts...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestReadCSVBundledData(t *testing.T) {
	pts := readData(t, "konstanz_residential4_hourly_2016.csv", "pv_kwh")
	// 8784 hourly rows in 2016, some blank: blanks are dropped, not zero-filled.
	if len(pts) >= 8784 || len(pts) < 8000 {
		t.Fatalf("got %d points, want fewer than the 8784 rows (blank ones dropped) and more than 8000", len(pts))
	}
	for i, p := range pts {
		if p.Time.Location() != time.UTC || p.Time.Year() != 2016 || math.IsNaN(p.Value) {
			t.Fatalf("point %d: %v", i, p)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"t,v\n2019-01-01T00:00:00Z,1.5\n2019-01-01T01:00:00Z,\n",
		"t,v\n2019-01-01T00:00:00+05:30,-1e3\n",
		"v,t\n1,2019-01-01T00:00:00.123456789Z\n",
		"t,v\n\"2019-01-01T00:00:00Z\",\"2\"\n",
		"t,v\n2019-01-01T00:00:00Z,NaN\n",
		"t,v\n,\n",
		"\ufefft,v\n0000-01-01T00:00:00Z,0\n",
		"t\n",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pts, err := ReadCSV(strings.NewReader(in), "t", "v")
		if err != nil {
			return
		}
		for i, p := range pts {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				t.Fatalf("point %d: non-finite value %v", i, p.Value)
			}
			if p.Time.IsZero() || p.Time.Location() != time.UTC {
				t.Fatalf("point %d: time %v", i, p.Time)
			}
		}
		// What was read must survive a write and a second read unchanged.
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write([]string{"t", "v"})
		for _, p := range pts {
			_ = w.Write([]string{p.Time.Format(time.RFC3339Nano), strconv.FormatFloat(p.Value, 'g', -1, 64)})
		}
		w.Flush()
		again, err := ReadCSV(&buf, "t", "v")
		if err != nil {
			t.Fatalf("re-reading written points: %v", err)
		}
		if len(again) != len(pts) {
			t.Fatalf("re-read %d points, wrote %d", len(again), len(pts))
		}
		for i := range pts {
			if !again[i].Time.Equal(pts[i].Time) || again[i].Value != pts[i].Value {
				t.Fatalf("point %d: wrote %v, read %v", i, pts[i], again[i])
			}
		}
	})
}
