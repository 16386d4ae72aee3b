package replay

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/plant"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// Session is one recorded EV charging session on a charger: plug-in, plug-out and
// the energy the vehicle took (or asked for), at the charger's meter.
type Session = plant.Session

// History holds the recorded actuals that drive a replay: per load and PV device a
// power trace, per EV charger its sessions.
type History struct {
	// Source describes where the actuals came from (for the report).
	Source string
	// traces hold load power (positive kW) and PV available generation
	// (non-negative kW) per device.
	traces   map[string]*trace
	sessions map[string][]Session
}

// Sessions returns the sessions of a charger, by plug-in time.
func (h *History) Sessions(deviceID string) []Session { return h.sessions[deviceID] }

// MeanKW returns the mean power of a load or the mean available generation of a PV
// plant over [from, to).
func (h *History) MeanKW(deviceID string, from, to time.Time) (float64, error) {
	tr, ok := h.traces[deviceID]
	if !ok {
		return 0, fmt.Errorf("no history for device %s", deviceID)
	}
	return tr.mean(from, to)
}

// trace is a piecewise-linear power trace through its knots.
type trace struct {
	name string
	t    []int64 // unix seconds, strictly increasing
	v    []float64
}

func (tr *trace) covers(from, to time.Time) error {
	if len(tr.t) == 0 {
		return fmt.Errorf("%s: no data", tr.name)
	}
	first, last := time.Unix(tr.t[0], 0).UTC(), time.Unix(tr.t[len(tr.t)-1], 0).UTC()
	if first.After(from) || last.Before(to) {
		return fmt.Errorf("%s: data from %s to %s does not cover %s to %s", tr.name,
			first.Format(time.RFC3339), last.Format(time.RFC3339), from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

// PowerKW implements plant.Trace.
func (tr *trace) PowerKW(t time.Time) float64 { return tr.at(float64(t.UnixNano()) / 1e9) }

// NextKnot implements plant.Trace: the first sample after t.
func (tr *trace) NextKnot(t time.Time) time.Time {
	s := t.Unix()
	i := sort.Search(len(tr.t), func(i int) bool { return tr.t[i] > s })
	if i < len(tr.t) {
		return time.Unix(tr.t[i], 0).UTC()
	}
	return time.Time{}
}

// maxGap is the longest gap between two samples a trace may interpolate over.
const maxGap = 3 * time.Hour

func (tr *trace) gaps(from, to time.Time) error {
	a, b := from.Unix(), to.Unix()
	for i := 1; i < len(tr.t); i++ {
		if tr.t[i] <= a || tr.t[i-1] >= b {
			continue
		}
		if g := time.Duration(tr.t[i]-tr.t[i-1]) * time.Second; g > maxGap {
			return fmt.Errorf("%s: gap of %s from %s (longer than %s)", tr.name, g, time.Unix(tr.t[i-1], 0).UTC().Format(time.RFC3339), maxGap)
		}
	}
	return nil
}

func (tr *trace) at(s float64) float64 {
	i := sort.Search(len(tr.t), func(i int) bool { return float64(tr.t[i]) > s })
	switch {
	case i == 0:
		return tr.v[0]
	case i == len(tr.t):
		return tr.v[len(tr.v)-1]
	}
	t0, t1 := float64(tr.t[i-1]), float64(tr.t[i])
	f := (s - t0) / (t1 - t0)
	return tr.v[i-1]*(1-f) + tr.v[i]*f
}

// mean integrates the trace exactly over [from, to) (it is linear between knots).
func (tr *trace) mean(from, to time.Time) (float64, error) {
	if len(tr.t) == 0 {
		return 0, fmt.Errorf("%s: no data", tr.name)
	}
	a, b := float64(from.UnixNano())/1e9, float64(to.UnixNano())/1e9
	if b <= a {
		return tr.at(a), nil
	}
	sum := 0.0
	x := a
	i := sort.Search(len(tr.t), func(i int) bool { return float64(tr.t[i]) > a })
	for x < b {
		next := b
		if i < len(tr.t) && float64(tr.t[i]) < b {
			next = float64(tr.t[i])
			i++
		}
		sum += (tr.at(x) + tr.at(next)) / 2 * (next - x)
		x = next
	}
	return sum / (b - a), nil
}

// HistoryFiles is the file layout LoadHistory reads from a directory.
//
//   - DEVICE_ID.csv (optional, per load or PV device): columns timestamp_utc (RFC 3339)
//     and active_power_kw in the site sign convention (a PV plant's is negative); any
//     regular interval up to an hour. Used as recorded, without any time shift.
//   - ev_sessions.csv (optional): columns device_id, plugin_utc, plugout_utc,
//     energy_kwh, one row a session. Used as recorded; a device_id that is not a
//     charger of the site, a plug-out not after its plug-in and overlapping sessions
//     of one charger are errors.
//   - otherwise a device's sim.series names a bundled data file in the directory (see
//     fieldbus/sim), mapped by day of year and time of day onto the replayed period.
const HistoryFiles = "DEVICE_ID.csv, ev_sessions.csv, or the bundled series files"

// LoadHistory reads the actuals of every load, PV and EV charger device of cfg from
// dir and checks that they cover [from, to). data, if not nil, is consulted for bundled
// series files that dir does not hold (pass gridd.Files to use the files built into
// the binary).
func LoadHistory(cfg *site.Config, dir string, data fs.FS, from, to time.Time) (*History, error) {
	h := &History{Source: "directory " + dir, traces: map[string]*trace{}, sessions: map[string][]Session{}}
	ld := &dataLoader{dir: dir, data: data, tables: map[string]*csvTable{}}
	// Warm-up history before from (for forecasts) is used where it exists; the
	// period itself must be covered.
	var chargers []*site.Device
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		switch d.Kind {
		case site.KindLoad, site.KindPV:
			tr, err := ld.deviceTrace(cfg, d, from, to)
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			if err := tr.covers(from, to); err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			if err := tr.gaps(from, to); err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			h.traces[d.ID] = tr
		case site.KindEVCharger:
			chargers = append(chargers, d)
		}
	}
	if len(chargers) > 0 {
		if err := ld.sessions(cfg, chargers, h, from, to); err != nil {
			return nil, err
		}
	}
	return h, nil
}

type dataLoader struct {
	dir    string
	data   fs.FS
	tables map[string]*csvTable
}

func (l *dataLoader) open(name string) (*csvTable, bool, error) {
	if t, ok := l.tables[name]; ok {
		return t, true, nil
	}
	path := filepath.Join(l.dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && l.data != nil {
		b, err = sim.ReadData(l.data, name)
		path = name
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	t, err := readCSV(path, b)
	if err != nil {
		return nil, false, err
	}
	l.tables[name] = t
	return t, true, nil
}

func (l *dataLoader) deviceTrace(cfg *site.Config, d *site.Device, from, to time.Time) (*trace, error) {
	name, column, scale := "", "", 1.0
	var shift time.Duration
	if d.Sim != nil {
		name, column, shift = d.Sim.Series, d.Sim.Column, d.Sim.Shift.D
		if d.Sim.Scale != 0 {
			scale = d.Sim.Scale
		}
	}
	if t, ok, err := l.open(d.ID + ".csv"); err != nil {
		return nil, err
	} else if ok {
		tr, err := t.trace("timestamp_utc", "active_power_kw")
		if err != nil {
			return nil, err
		}
		for i := range tr.v {
			if d.Kind == site.KindPV {
				tr.v[i] = math.Max(0, -tr.v[i])
			}
			tr.v[i] *= scale
		}
		return tr, nil
	}
	if name == "" {
		name = "konstanz:load"
		if d.Kind == site.KindPV {
			name = "konstanz:pv"
		}
	}
	var file string
	perUnit := false
	switch {
	case strings.HasPrefix(name, "file:"):
		file = strings.TrimPrefix(name, "file:")
		if column == "" {
			return nil, fmt.Errorf("sim.series %q needs sim.column", name)
		}
	default:
		b, ok := sim.BundledSeries(name)
		if !ok {
			return nil, fmt.Errorf("sim.series %q: unknown series and no %s.csv in the history directory", name, d.ID)
		}
		file, column, perUnit = b.File, b.Column, b.PerUnit
	}
	t, ok, err := l.open(file)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("neither %s.csv nor %s (for sim.series %q) is in %s", d.ID, file, name, l.dir)
	}
	src, err := t.trace("timestamp_utc", column)
	if err != nil {
		return nil, err
	}
	if perUnit {
		peak := 0.0
		for _, v := range src.v {
			peak = math.Max(peak, v)
		}
		if peak <= 0 {
			return nil, fmt.Errorf("%s: column %s has no positive value to normalise by", file, column)
		}
		capKW := 1.0
		if d.PV != nil {
			capKW = d.PV.CapacityKW
		}
		for i := range src.v {
			src.v[i] = src.v[i] / peak * capKW
		}
	}
	tr, err := mapByDayOfYear(src, from.Add(-warmup-2*time.Hour), to.Add(2*time.Hour), shift)
	if err != nil {
		return nil, err
	}
	for i := range tr.v {
		tr.v[i] *= scale
		if d.Kind == site.KindPV && tr.v[i] < 0 {
			tr.v[i] = 0
		}
	}
	return tr, nil
}

// mapByDayOfYear rebuilds an hourly one-year trace on [from, to): the value at each
// hour is the source's value at the same day of year and time of day (UTC) in the
// source's year, wrapping at the year's end (as fieldbus/sim does), read shift later
// (sim.shift).
func mapByDayOfYear(src *trace, from, to time.Time, shift time.Duration) (*trace, error) {
	if len(src.t) == 0 {
		return nil, fmt.Errorf("%s: no data", src.name)
	}
	year := time.Unix(src.t[0], 0).UTC().Year()
	y0 := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	n := int(time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC).Sub(y0) / time.Hour)
	hourly := make([]float64, n)
	for i := range hourly {
		hourly[i] = math.NaN()
	}
	for i, s := range src.t {
		off := time.Unix(s, 0).UTC().Sub(y0)
		if off < 0 || off%time.Hour != 0 || int(off/time.Hour) >= n {
			continue
		}
		hourly[off/time.Hour] = src.v[i]
	}
	if err := sim.FillBlanks(hourly); err != nil {
		return nil, fmt.Errorf("%s: %w", src.name, err)
	}
	out := &trace{name: src.name + " (by day of year)"}
	for t := from.UTC().Truncate(time.Hour); !t.After(to); t = t.Add(time.Hour) {
		st := t.Add(shift)
		midnight := time.Date(st.Year(), st.Month(), st.Day(), 0, 0, 0, 0, time.UTC)
		h := ((st.YearDay()-1)*24 + int(st.Sub(midnight)/time.Hour)) % n
		out.t = append(out.t, t.Unix())
		out.v = append(out.v, hourly[h])
	}
	return out, nil
}

func (l *dataLoader) sessions(cfg *site.Config, chargers []*site.Device, h *History, from, to time.Time) error {
	if t, ok, err := l.open("ev_sessions.csv"); err != nil {
		return err
	} else if ok {
		byDev, err := t.strictSessionsBy("device_id")
		if err != nil {
			return err
		}
		known := map[string]bool{}
		ids := make([]string, 0, len(chargers))
		for _, d := range chargers {
			known[d.ID] = true
			ids = append(ids, d.ID)
		}
		for id := range byDev {
			if !known[id] {
				return fmt.Errorf("%s: device_id %q is not an EV charger of the site (have %s)", t.Name, id, strings.Join(ids, ", "))
			}
		}
		for _, d := range chargers {
			ss := append([]Session(nil), byDev[d.ID]...)
			sort.SliceStable(ss, func(a, b int) bool { return ss[a].PlugIn.Before(ss[b].PlugIn) })
			for k := 1; k < len(ss); k++ {
				if ss[k].PlugIn.Before(ss[k-1].PlugOut) {
					return fmt.Errorf("%s: charger %s has overlapping sessions: one plugged in at %s until %s, the next at %s",
						t.Name, d.ID, ss[k-1].PlugIn.Format(time.RFC3339), ss[k-1].PlugOut.Format(time.RFC3339), ss[k].PlugIn.Format(time.RFC3339))
				}
			}
			h.sessions[d.ID] = ss
		}
		return nil
	}
	t, ok, err := l.open(sim.TrondheimFile)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("EV chargers: neither ev_sessions.csv nor %s is in %s", sim.TrondheimFile, l.dir)
	}
	byUser, err := t.sessionsBy("user_id")
	if err != nil {
		return err
	}
	// Users as the simulator assigns them: sim.user, else the k-th most active user
	// that no charger names.
	taken := map[string]bool{}
	for _, d := range chargers {
		if d.Sim != nil && d.Sim.User != "" {
			if _, ok := byUser[d.Sim.User]; !ok {
				return fmt.Errorf("history of %s: sim.user %q has no sessions in %s", d.ID, d.Sim.User, sim.TrondheimFile)
			}
			taken[d.Sim.User] = true
		}
	}
	var free []string
	for u := range byUser {
		if !taken[u] {
			free = append(free, u)
		}
	}
	sort.Slice(free, func(a, b int) bool {
		na, nb := len(byUser[free[a]]), len(byUser[free[b]])
		if na != nb {
			return na > nb
		}
		return free[a] < free[b]
	})
	k := 0
	for _, d := range chargers {
		u := ""
		if d.Sim != nil {
			u = d.Sim.User
		}
		if u == "" {
			if len(free) == 0 {
				return fmt.Errorf("history of %s: no EV users left in %s to assign", d.ID, sim.TrondheimFile)
			}
			u = free[k%len(free)]
			k++
		}
		h.sessions[d.ID] = mapSessions(byUser[u], from.Add(-warmup), to.Add(48*time.Hour))
	}
	return nil
}

// mapSessions moves sessions to the same day of year and time of day in every year
// that [from, to) touches, keeping their length, and drops overlaps.
func mapSessions(src []Session, from, to time.Time) []Session {
	var all []Session
	for y := from.UTC().Year() - 1; y <= to.UTC().Year(); y++ {
		for _, s := range src {
			st, ok := sim.MapToYear(s.PlugIn, y)
			if !ok {
				continue
			}
			m := Session{PlugIn: st, PlugOut: st.Add(s.PlugOut.Sub(s.PlugIn)), EnergyKWh: s.EnergyKWh}
			if m.PlugOut.After(from) && m.PlugIn.Before(to) {
				all = append(all, m)
			}
		}
	}
	return dropOverlaps(all)
}

// dropOverlaps sorts sessions by plug-in and drops any that starts before the
// previous one ended.
func dropOverlaps(in []Session) []Session {
	s := append([]Session(nil), in...)
	sort.SliceStable(s, func(a, b int) bool { return s[a].PlugIn.Before(s[b].PlugIn) })
	var out []Session
	for _, x := range s {
		if n := len(out); n > 0 && x.PlugIn.Before(out[n-1].PlugOut) {
			continue
		}
		out = append(out, x)
	}
	return out
}

// csvTable is a parsed CSV with a header (the simulator's reader), with the replay's
// own decoders as methods.
type csvTable struct{ *sim.CSVTable }

func readCSV(name string, data []byte) (*csvTable, error) {
	t, err := sim.ReadCSV(name, data)
	if err != nil {
		return nil, err
	}
	return &csvTable{t}, nil
}

// trace reads a time column and a value column; blank values are skipped.
func (t *csvTable) trace(tcol, vcol string) (*trace, error) {
	tc, err := t.Col(tcol)
	if err != nil {
		return nil, err
	}
	vc, err := t.Col(vcol)
	if err != nil {
		return nil, err
	}
	tr := &trace{name: t.Name + ":" + vcol}
	for k, rec := range t.Rows {
		where := fmt.Sprintf("%s:%d", t.Name, t.Lines[k])
		if tc >= len(rec) || vc >= len(rec) {
			return nil, fmt.Errorf("%s: short row", where)
		}
		ts, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[tc]))
		if err != nil {
			return nil, fmt.Errorf("%s: %s %q: want an RFC 3339 time", where, tcol, rec[tc])
		}
		f := strings.TrimSpace(rec[vc])
		if f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s: %s %q: not a finite number", where, vcol, rec[vc])
		}
		s := ts.Unix()
		if n := len(tr.t); n > 0 && s <= tr.t[n-1] {
			return nil, fmt.Errorf("%s: %s %q: times must increase", where, tcol, rec[tc])
		}
		tr.t = append(tr.t, s)
		tr.v = append(tr.v, v)
	}
	return tr, nil
}

// sessionsBy reads plug-in sessions grouped by the key column (the simulator's reader).
func (t *csvTable) sessionsBy(key string) (map[string][]Session, error) {
	src, err := t.SessionsBy(key)
	return convertSessions(src, err)
}

// strictSessionsBy is sessionsBy for a file a user wrote (sim.CSVTable.SessionsByStrict).
func (t *csvTable) strictSessionsBy(key string) (map[string][]Session, error) {
	return convertSessions(t.SessionsByStrict(key))
}

func convertSessions(src map[string][]sim.Session, err error) (map[string][]Session, error) {
	if err != nil {
		return nil, err
	}
	out := make(map[string][]Session, len(src))
	for k, ss := range src {
		s := make([]Session, len(ss))
		for i, x := range ss {
			s[i] = Session(x)
		}
		out[k] = s
	}
	return out, nil
}

// HistoryFromStore reads the actuals from a store that recorded the site: every load's
// and PV plant's active_power_kw, and every charger's sessions from its connected,
// session_energy_request_kwh, session_energy_kwh and session_departure_unix points.
// The period [from, to) must be covered.
func HistoryFromStore(ctx context.Context, st storage.Store, cfg *site.Config, from, to time.Time) (*History, error) {
	h := &History{Source: "store", traces: map[string]*trace{}, sessions: map[string][]Session{}}
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		switch d.Kind {
		case site.KindLoad, site.KindPV:
			smp, err := st.TelemetryRange(ctx, d.ID, "active_power_kw", from.Add(-warmup), to.Add(time.Hour))
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			tr := &trace{name: d.ID + " active_power_kw in the store"}
			for _, x := range smp {
				if x.Quality != storage.QualityGood {
					continue
				}
				v := x.Value
				if d.Kind == site.KindPV {
					v = math.Max(0, -v)
				}
				if n := len(tr.t); n > 0 && x.Time.Unix() <= tr.t[n-1] {
					continue
				}
				tr.t = append(tr.t, x.Time.Unix())
				tr.v = append(tr.v, v)
			}
			if err := tr.covers(from, to.Add(-time.Minute)); err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			if err := tr.gaps(from, to); err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			h.traces[d.ID] = tr
		case site.KindEVCharger:
			ss, err := sessionsFromStore(ctx, st, d.ID, from.Add(-warmup), to.Add(48*time.Hour))
			if err != nil {
				return nil, fmt.Errorf("history of %s: %w", d.ID, err)
			}
			h.sessions[d.ID] = ss
		}
	}
	return h, nil
}

func sessionsFromStore(ctx context.Context, st storage.Store, dev string, from, to time.Time) ([]Session, error) {
	read := func(point string) (map[int64]float64, error) {
		smp, err := st.TelemetryRange(ctx, dev, point, from, to)
		if err != nil {
			return nil, err
		}
		m := map[int64]float64{}
		for _, x := range smp {
			if x.Quality == storage.QualityGood {
				m[x.Time.Unix()] = x.Value
			}
		}
		return m, nil
	}
	conn, err := st.TelemetryRange(ctx, dev, "connected", from, to)
	if err != nil {
		return nil, err
	}
	req, err := read("session_energy_request_kwh")
	if err != nil {
		return nil, err
	}
	got, err := read("session_energy_kwh")
	if err != nil {
		return nil, err
	}
	dep, err := read("session_departure_unix")
	if err != nil {
		return nil, err
	}
	var out []Session
	var cur *Session
	closeAt := func(t time.Time) {
		if cur != nil {
			cur.PlugOut = t // the disconnection, whatever departure was announced
			if cur.PlugOut.After(cur.PlugIn) {
				out = append(out, *cur)
			}
			cur = nil
		}
	}
	for _, x := range conn {
		if x.Quality != storage.QualityGood {
			continue
		}
		s := x.Time.Unix()
		if x.Value >= 0.5 {
			if cur == nil {
				cur = &Session{PlugIn: x.Time}
			}
			if v, ok := req[s]; ok && v > cur.EnergyKWh {
				cur.EnergyKWh = v
			}
			if v, ok := got[s]; ok && v > cur.EnergyKWh {
				cur.EnergyKWh = v
			}
			if v, ok := dep[s]; ok && v > 0 {
				cur.PlugOut = time.Unix(int64(v), 0).UTC()
			}
			continue
		}
		closeAt(x.Time)
	}
	if cur != nil {
		// Still plugged in at the end of the data: the announced departure, else the end.
		end := to
		if !cur.PlugOut.IsZero() && cur.PlugOut.Before(to) {
			end = cur.PlugOut
		}
		closeAt(end)
	}
	return dropOverlaps(out), nil
}
