package sim

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/plant"
)

// Bundled is one of the hourly series shipped in the module's data/: its file, its
// column, and whether it is normalised per unit (to the year's maximum, then times
// pv.capacity_kw). The simulator serves them and replay reads them (replay's
// history), both from this one catalogue.
type Bundled struct {
	File, Column string
	PerUnit      bool
}

// bundledSeries is the catalogue, by sim.series name.
var bundledSeries = map[string]Bundled{
	"cambridge:b9":  {"cambridge_buildings_load_hourly_2019.csv", "building_b9_kwh", false},
	"cambridge:b57": {"cambridge_buildings_load_hourly_2019.csv", "building_b57_kwh", false},
	"cambridge:b36": {"cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh", false},
	"cambridge:b40": {"cambridge_buildings_load_hourly_2019.csv", "building_b40_kwh", false},
	"konstanz:pv":   {"konstanz_residential4_hourly_2016.csv", "pv_kwh", true},
	"konstanz:load": {"konstanz_residential4_hourly_2016.csv", "site_load_kwh", false},
}

// BundledSeries returns the bundled hourly series of that name (e.g. "cambridge:b36").
func BundledSeries(name string) (Bundled, bool) {
	b, ok := bundledSeries[name]
	return b, ok
}

// SeriesTrondheim names the bundled EV session data.
const SeriesTrondheim = "trondheim"

// TrondheimFile is the bundled EV session file.
const TrondheimFile = "trondheim_ev_sessions_2019.csv"

// DataDir is where the bundled files sit in an embed.FS of the module root.
const DataDir = "data"

// ReadData reads a bundled data file from fsys: at its root, or under DataDir (an
// embed.FS of the module root holds them there).
func ReadData(fsys fs.FS, file string) ([]byte, error) {
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		if d, err2 := fs.ReadFile(fsys, path.Join(DataDir, file)); err2 == nil {
			return d, nil
		}
	}
	return data, err
}

// SeriesNames lists the bundled series names (plus "file:PATH").
func SeriesNames() []string {
	out := []string{SeriesTrondheim}
	for k := range bundledSeries {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// series is one year of hourly values indexed by hour of the year (UTC), with blanks
// filled by linear interpolation. A value labels the start of its hour; between labels
// the series is linear; after the last hour it wraps to the first.
type series struct {
	name string
	year int
	v    []float64
}

// at maps t to the same day of year and time of day (UTC) in the series' year and
// interpolates linearly.
func (s *series) at(t time.Time) float64 {
	h, f := hourOfYear(t, len(s.v))
	return s.v[h]*(1-f) + s.v[(h+1)%len(s.v)]*f
}

// hourOfYear returns the whole hour index (mod n) and the fraction into it.
func hourOfYear(t time.Time, n int) (int, float64) {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	into := t.Sub(midnight)
	h := (t.YearDay()-1)*24 + int(into/time.Hour)
	f := float64(into%time.Hour) / float64(time.Hour)
	return h % n, f
}

func hoursInYear(y int) int {
	return int(time.Date(y+1, 1, 1, 0, 0, 0, 0, time.UTC).Sub(time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)) / time.Hour)
}

// CSVTable is a parsed CSV file with a header row; Lines holds each row's line number
// for error messages. The replay's history reader uses it too.
type CSVTable struct {
	Name   string
	Header []string
	Rows   [][]string
	Lines  []int
}

// ReadCSV parses a CSV file whose first row is the header.
func ReadCSV(name string, data []byte) (*CSVTable, error) {
	r := csv.NewReader(bytes.NewReader(data))
	t := &CSVTable{Name: name}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := r.FieldPos(0)
		if t.Header == nil {
			t.Header = rec
			continue
		}
		t.Rows = append(t.Rows, rec)
		t.Lines = append(t.Lines, line)
	}
	if t.Header == nil {
		return nil, fmt.Errorf("%s: empty file", name)
	}
	return t, nil
}

// Col returns the index of a column, or an error naming the file and its columns.
func (t *CSVTable) Col(name string) (int, error) {
	for i, h := range t.Header {
		if strings.TrimSpace(h) == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s: no column %q (have %s)", t.Name, name, strings.Join(t.Header, ", "))
}

// parseSeries reads column from an hourly CSV whose first column (or the column
// named timestamp_utc) holds RFC 3339 times of one year.
func parseSeries(name string, data []byte, column string) (*series, error) {
	t, err := ReadCSV(name, data)
	if err != nil {
		return nil, err
	}
	tc := 0
	if i, err := t.Col("timestamp_utc"); err == nil {
		tc = i
	}
	vc, err := t.Col(column)
	if err != nil {
		return nil, err
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: no data rows", name)
	}
	s := &series{name: name + ":" + column}
	seen := map[int]bool{}
	for k, rec := range t.Rows {
		where := fmt.Sprintf("%s:%d", name, t.Lines[k])
		if tc >= len(rec) || vc >= len(rec) {
			return nil, fmt.Errorf("%s: short row", where)
		}
		ts, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[tc]))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %q: want an RFC 3339 time", where, t.Header[tc], rec[tc])
		}
		ts = ts.UTC()
		if s.v == nil {
			s.year = ts.Year()
			s.v = make([]float64, hoursInYear(s.year))
			for i := range s.v {
				s.v[i] = math.NaN()
			}
		}
		if ts.Year() != s.year {
			continue // a trailing row of the next year
		}
		off := ts.Sub(time.Date(s.year, 1, 1, 0, 0, 0, 0, time.UTC))
		if off%time.Hour != 0 {
			return nil, fmt.Errorf("%s: %s: %q: not on the hour (series must be hourly)", where, t.Header[tc], rec[tc])
		}
		h := int(off / time.Hour)
		if seen[h] {
			return nil, fmt.Errorf("%s: %s: %q: duplicate hour", where, t.Header[tc], rec[tc])
		}
		seen[h] = true
		f := strings.TrimSpace(rec[vc])
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: %s: %q: not a finite number", where, column, rec[vc])
		}
		s.v[h] = v
	}
	if err := FillBlanks(s.v); err != nil {
		return nil, fmt.Errorf("%s: column %s: %w", name, column, err)
	}
	return s, nil
}

// FillBlanks replaces NaNs in a year of hourly values by linear interpolation between
// the nearest values on either side, wrapping around the year. It fails only when
// every value is NaN. The replay's history reader uses it too.
func FillBlanks(v []float64) error {
	n := len(v)
	first := -1
	for i, x := range v {
		if !math.IsNaN(x) {
			first = i
			break
		}
	}
	if first < 0 {
		return errors.New("no values")
	}
	prev := first
	for k := 1; k <= n; k++ {
		i := (first + k) % n
		if math.IsNaN(v[i]) {
			continue
		}
		gap := (i - prev + n) % n
		if gap == 0 {
			gap = n
		}
		for j := 1; j < gap; j++ {
			f := float64(j) / float64(gap)
			v[(prev+j)%n] = v[prev]*(1-f) + v[i]*f
		}
		prev = i
	}
	return nil
}

// evSession is one plug-in period in the data's own time.
type evSession struct {
	start, end time.Time
	energyKWh  float64
}

// evData holds the sessions of every user.
type evData struct {
	byUser map[string][]evSession
}

func parseSessions(name string, data []byte) (*evData, error) {
	t, err := ReadCSV(name, data)
	if err != nil {
		return nil, err
	}
	byUser, err := t.SessionsBy("user_id")
	if err != nil {
		return nil, err
	}
	d := &evData{byUser: make(map[string][]evSession, len(byUser))}
	for u, src := range byUser {
		s := make([]evSession, len(src))
		for i, x := range src {
			s[i] = evSession{start: x.PlugIn, end: x.PlugOut, energyKWh: x.EnergyKWh}
		}
		sort.Slice(s, func(a, b int) bool { return s[a].start.Before(s[b].start) })
		d.byUser[u] = s
	}
	return d, nil
}

// Session is one recorded plug-in period of an EV (UTC).
type Session struct {
	PlugIn, PlugOut time.Time
	// EnergyKWh is the energy the vehicle took (or asked for).
	EnergyKWh float64
}

// SessionsBy reads plug-in sessions (columns plugin_utc, plugout_utc, energy_kwh)
// grouped by the key column, in file order; zero-length sessions are left out. The
// replay's history reader uses it too.
func (t *CSVTable) SessionsBy(key string) (map[string][]Session, error) {
	return t.sessionsBy(key, false)
}

// SessionsByStrict is SessionsBy for a file a user wrote: a session whose
// plug-out is not after its plug-in is an error naming the line, not skipped.
func (t *CSVTable) SessionsByStrict(key string) (map[string][]Session, error) {
	return t.sessionsBy(key, true)
}

func (t *CSVTable) sessionsBy(key string, strict bool) (map[string][]Session, error) {
	cols := map[string]int{}
	for _, c := range []string{key, "plugin_utc", "plugout_utc", "energy_kwh"} {
		i, err := t.Col(c)
		if err != nil {
			return nil, err
		}
		cols[c] = i
	}
	out := map[string][]Session{}
	for k, rec := range t.Rows {
		where := fmt.Sprintf("%s:%d", t.Name, t.Lines[k])
		get := func(c string) string {
			if cols[c] < len(rec) {
				return strings.TrimSpace(rec[cols[c]])
			}
			return ""
		}
		in, err := time.Parse(time.RFC3339, get("plugin_utc"))
		if err != nil {
			return nil, fmt.Errorf("%s: plugin_utc: %q: want an RFC 3339 time", where, get("plugin_utc"))
		}
		outT, err := time.Parse(time.RFC3339, get("plugout_utc"))
		if err != nil {
			return nil, fmt.Errorf("%s: plugout_utc: %q: want an RFC 3339 time", where, get("plugout_utc"))
		}
		e, err := strconv.ParseFloat(get("energy_kwh"), 64)
		if err != nil || e < 0 || math.IsInf(e, 0) || math.IsNaN(e) {
			return nil, fmt.Errorf("%s: energy_kwh: %q: want a non-negative number", where, get("energy_kwh"))
		}
		if !outT.After(in) {
			if strict {
				return nil, fmt.Errorf("%s: plugout_utc %s is not after plugin_utc %s", where, get("plugout_utc"), get("plugin_utc"))
			}
			continue // zero-length session: nothing to replay
		}
		u := get(key)
		out[u] = append(out[u], Session{PlugIn: in.UTC(), PlugOut: outT.UTC(), EnergyKWh: e})
	}
	return out, nil
}

// usersByActivity lists users by number of sessions, most first (ties by name).
func (d *evData) usersByActivity() []string {
	users := make([]string, 0, len(d.byUser))
	for u := range d.byUser {
		users = append(users, u)
	}
	sort.Slice(users, func(a, b int) bool {
		na, nb := len(d.byUser[users[a]]), len(d.byUser[users[b]])
		if na != nb {
			return na > nb
		}
		return users[a] < users[b]
	})
	return users
}

// MapToYear moves t to the same day of year and time of day in year y (UTC); ok is
// false when that day does not exist in y (day 366). The replay's history reader uses
// it too.
func MapToYear(t time.Time, y int) (time.Time, bool) {
	t = t.UTC()
	if t.YearDay() > hoursInYear(y)/24 {
		return time.Time{}, false
	}
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, t.YearDay()-1).Add(t.Sub(midnight)), true
}

// sessionTimeline replays one user's sessions in simulated time: every session moves
// to the same day of year and time of day in each simulated year, keeping its length;
// a session that would start before the previous one ended is dropped.
type sessionTimeline struct {
	src   []evSession
	cache map[int][]evSession // by simulated year: sessions of years y-1..y+1
}

func (tl *sessionTimeline) around(t time.Time) []evSession {
	y := t.UTC().Year()
	if s, ok := tl.cache[y]; ok {
		return s
	}
	var all []evSession
	for yy := y - 1; yy <= y+1; yy++ {
		for _, s := range tl.src {
			if st, ok := MapToYear(s.start, yy); ok {
				all = append(all, evSession{start: st, end: st.Add(s.end.Sub(s.start)), energyKWh: s.energyKWh})
			}
		}
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].start.Before(all[b].start) })
	var out []evSession
	for _, m := range all {
		if n := len(out); n > 0 && m.start.Before(out[n-1].end) {
			continue
		}
		out = append(out, m)
	}
	if len(tl.cache) > 8 {
		tl.cache = map[int][]evSession{}
	}
	tl.cache[y] = out
	return out
}

// active returns the session plugged in at t.
func (tl *sessionTimeline) active(t time.Time) (evSession, bool) {
	ss := tl.around(t)
	i := sort.Search(len(ss), func(i int) bool { return ss[i].end.After(t) })
	if i < len(ss) && !ss[i].start.After(t) {
		return ss[i], true
	}
	return evSession{}, false
}

// next returns the start of the first session starting after t (zero if none nearby).
func (tl *sessionTimeline) next(t time.Time) time.Time {
	ss := tl.around(t)
	i := sort.Search(len(ss), func(i int) bool { return ss[i].start.After(t) })
	if i < len(ss) {
		return ss[i].start
	}
	return time.Time{}
}

// Active implements plant.Sessions.
func (tl *sessionTimeline) Active(t time.Time) (plant.Session, bool) {
	s, ok := tl.active(t)
	return plant.Session{PlugIn: s.start, PlugOut: s.end, EnergyKWh: s.energyKWh}, ok
}

// NextPlugIn implements plant.Sessions.
func (tl *sessionTimeline) NextPlugIn(t time.Time) time.Time { return tl.next(t) }

// dataLoader reads and caches series files.
type dataLoader struct {
	data    fs.FS
	baseDir string
	series  map[string]*series
	ev      *evData
}

func (l *dataLoader) read(file string) ([]byte, error) {
	if l.data == nil {
		return nil, fmt.Errorf("no data files given (need %s)", file)
	}
	return ReadData(l.data, file)
}

func (l *dataLoader) bundled(name string) (*series, error) {
	b, ok := bundledSeries[name]
	if !ok {
		return nil, fmt.Errorf("unknown series (want one of %s, or file:PATH)", strings.Join(SeriesNames(), ", "))
	}
	key := "bundled:" + name
	if s, ok := l.series[key]; ok {
		return s, nil
	}
	data, err := l.read(b.File)
	if err != nil {
		return nil, err
	}
	s, err := parseSeries(b.File, data, b.Column)
	if err != nil {
		return nil, err
	}
	if b.PerUnit {
		peak := 0.0
		for _, x := range s.v {
			peak = math.Max(peak, x)
		}
		if peak <= 0 {
			return nil, fmt.Errorf("%s: column %s has no positive value to normalise by", b.File, b.Column)
		}
		for i := range s.v {
			s.v[i] /= peak
		}
	}
	l.series[key] = s
	return s, nil
}

func (l *dataLoader) file(path, column string) (*series, error) {
	if column == "" {
		return nil, errors.New("file: series need sim.column")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.baseDir, path)
	}
	key := "file:" + path + "#" + column
	if s, ok := l.series[key]; ok {
		return s, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parseSeries(path, data, column)
	if err != nil {
		return nil, err
	}
	l.series[key] = s
	return s, nil
}

func (l *dataLoader) sessions() (*evData, error) {
	if l.ev != nil {
		return l.ev, nil
	}
	data, err := l.read(TrondheimFile)
	if err != nil {
		return nil, err
	}
	d, err := parseSessions(TrondheimFile, data)
	if err != nil {
		return nil, err
	}
	l.ev = d
	return d, nil
}
