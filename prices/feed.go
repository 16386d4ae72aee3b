package prices

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/site"
)

// Limits on feed input.
const (
	// MaxAbsPricePerKWh bounds a price's magnitude (per kWh): far above any retail or
	// wholesale price, low enough to catch a price given per MWh.
	MaxAbsPricePerKWh = 100
	// MaxPoints bounds one file or one API call (a year of half-hours and some).
	MaxPoints = 24 * 2 * 400
)

// Point is one price from Time on, for the feed's interval. A nil ExportPerKWh takes
// the tariff's export price.
type Point struct {
	Time         time.Time `json:"time"`
	ImportPerKWh float64   `json:"import_price_per_kwh"`
	ExportPerKWh *float64  `json:"export_price_per_kwh,omitempty"`
}

// Feed is a day-ahead price series. It is safe for concurrent use.
type Feed struct {
	interval time.Duration
	fallback *TOU // nil: an uncovered step is an error
	export   TOU  // the tariff's export side

	mu  sync.RWMutex
	pts map[int64]Point // by Unix second of the interval start

	file *priceFile // tariff.day_ahead.file, if any
}

// priceFile is the feed's file and the version of it last read.
type priceFile struct {
	path                          string
	timeCol, importCol, exportCol string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	read    bool
}

// Reload reads the feed's file (tariff.day_ahead.file) when it changed since it was
// last read, by modification time and size, and merges its prices as a push does: a
// file that a job rewrites each afternoon with the next day's prices feeds the next
// cycles without a restart. It reports whether it read the file. A file that cannot
// be read or does not parse is refused whole with an error naming it and the line,
// column and value; the prices held stay, and the same version is not read again.
func (f *Feed) Reload() (bool, error) {
	pf := f.file
	if pf == nil {
		return false, nil
	}
	pf.mu.Lock()
	defer pf.mu.Unlock()
	st, err := os.Stat(pf.path)
	if err != nil {
		return false, fmt.Errorf("tariff.day_ahead.file: %w", err)
	}
	if pf.read && st.ModTime().Equal(pf.modTime) && st.Size() == pf.size {
		return false, nil
	}
	pf.read, pf.modTime, pf.size = true, st.ModTime(), st.Size()
	fh, err := os.Open(pf.path)
	if err != nil {
		return false, fmt.Errorf("tariff.day_ahead.file: %w", err)
	}
	defer fh.Close()
	pts, err := ParseCSV(fh, pf.timeCol, pf.importCol, pf.exportCol)
	if err != nil {
		return false, fmt.Errorf("tariff.day_ahead.file %s: %w", pf.path, err)
	}
	col := map[string]string{"time": pf.timeCol, "import_price_per_kwh": pf.importCol, "export_price_per_kwh": pf.exportCol}
	if err := f.put(pts, func(i int, field string) string { return fmt.Sprintf("line %d: %s", i+2, col[field]) }); err != nil {
		return false, fmt.Errorf("tariff.day_ahead.file %s: %w", pf.path, err)
	}
	return true, nil
}

// NewFeed returns an empty feed with the site's tariff.day_ahead settings.
func NewFeed(cfg *site.Config) (*Feed, error) {
	da := cfg.Tariff.DayAhead
	if da == nil {
		return nil, errors.New("prices: the site config has no tariff.day_ahead")
	}
	f := &Feed{interval: DefaultInterval(da), export: TOU{Tariff: cfg.Tariff, Location: cfg.Site.Location}, pts: map[int64]Point{}}
	if da.Fallback == site.FallbackTOU {
		f.fallback = &TOU{Tariff: cfg.Tariff, Location: cfg.Site.Location}
	}
	return f, nil
}

// DefaultInterval is the interval a day-ahead section sets, or its default.
func DefaultInterval(da *site.DayAhead) time.Duration {
	if da.Interval == nil || da.Interval.D <= 0 {
		return site.DefaultDayAheadInterval
	}
	return da.Interval.D
}

// Interval is how long each price holds.
func (f *Feed) Interval() time.Duration { return f.interval }

// Validate checks points for a feed with the given interval, naming the point, the
// field and the value: times on an interval boundary and given once, prices finite
// and within ±MaxAbsPricePerKWh, export not above import.
func Validate(pts []Point, interval time.Duration) error {
	return validate(pts, interval, apiField)
}

// apiField names field f of point i as the API does.
func apiField(i int, f string) string { return fmt.Sprintf("points[%d].%s", i, f) }

// fieldNamer names field f ("time", "import_price_per_kwh", "export_price_per_kwh")
// of point i as the input gave it.
type fieldNamer func(i int, f string) string

func validate(pts []Point, interval time.Duration, at fieldNamer) error {
	if len(pts) == 0 {
		return errors.New("points: empty")
	}
	if len(pts) > MaxPoints {
		return fmt.Errorf("points: %d points, at most %d", len(pts), MaxPoints)
	}
	seen := make(map[int64]int, len(pts))
	for i, p := range pts {
		switch {
		case p.Time.IsZero():
			return fmt.Errorf("%s: required (RFC 3339)", at(i, "time"))
		case !p.Time.Equal(p.Time.Truncate(interval)):
			return fmt.Errorf("%s: %s is not on a %s boundary", at(i, "time"), p.Time.UTC().Format(time.RFC3339Nano), interval)
		}
		if err := checkPrice(at(i, "import_price_per_kwh"), p.ImportPerKWh); err != nil {
			return err
		}
		if p.ExportPerKWh != nil {
			if err := checkPrice(at(i, "export_price_per_kwh"), *p.ExportPerKWh); err != nil {
				return err
			}
			if *p.ExportPerKWh > p.ImportPerKWh {
				return fmt.Errorf("%s: %v is above the import price %v (export may not pay more than import at the same time)", at(i, "export_price_per_kwh"), *p.ExportPerKWh, p.ImportPerKWh)
			}
		}
		if j, dup := seen[p.Time.Unix()]; dup {
			return fmt.Errorf("%s: %s given twice (also %s)", at(i, "time"), p.Time.UTC().Format(time.RFC3339), at(j, "time"))
		}
		seen[p.Time.Unix()] = i
	}
	return nil
}

func checkPrice(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxAbsPricePerKWh {
		return fmt.Errorf("%s: %v is not a price per kWh in [-%d, %d]", field, v, MaxAbsPricePerKWh, MaxAbsPricePerKWh)
	}
	return nil
}

// Put merges points into the feed (a later price replaces an earlier one for the same
// interval). Invalid points are refused whole.
func (f *Feed) Put(pts []Point) error {
	return f.put(pts, apiField)
}

func (f *Feed) put(pts []Point, at fieldNamer) error {
	if err := validate(pts, f.interval, at); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range pts {
		p.Time = p.Time.UTC()
		f.pts[p.Time.Unix()] = p
	}
	return nil
}

// Prune drops the prices of intervals that ended before t.
func (f *Feed) Prune(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, p := range f.pts {
		if p.Time.Add(f.interval).Before(t) {
			delete(f.pts, k)
		}
	}
}

// Coverage returns the first and the end of the last interval the feed prices, and
// the number of intervals; zero times when it is empty.
func (f *Feed) Coverage() (first, end time.Time, n int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, p := range f.pts {
		if first.IsZero() || p.Time.Before(first) {
			first = p.Time
		}
		if e := p.Time.Add(f.interval); e.After(end) {
			end = e
		}
	}
	return first, end, len(f.pts)
}

// Prices implements Source: each step takes the feed's price for the interval its
// start falls in; see the package documentation for uncovered steps and export.
func (f *Feed) Prices(ctx context.Context, start time.Time, step time.Duration, steps int) (imp, exp []float64, err error) {
	if err := checkRun(ctx, step, steps); err != nil {
		return nil, nil, err
	}
	_, tariffExp, err := f.export.Prices(ctx, start, step, steps)
	if err != nil {
		return nil, nil, err
	}
	var fbImp []float64
	if f.fallback != nil {
		if fbImp, _, err = f.fallback.Prices(ctx, start, step, steps); err != nil {
			return nil, nil, err
		}
	}
	imp, exp = make([]float64, steps), make([]float64, steps)
	f.mu.RLock()
	defer f.mu.RUnlock()
	for k := range steps {
		t := start.Add(time.Duration(k) * step)
		p, ok := f.pts[t.Truncate(f.interval).Unix()]
		switch {
		case ok:
			imp[k] = p.ImportPerKWh
			exp[k] = math.Min(tariffExp[k], p.ImportPerKWh)
			if p.ExportPerKWh != nil {
				exp[k] = *p.ExportPerKWh
			}
		case fbImp != nil:
			imp[k], exp[k] = fbImp[k], math.Min(tariffExp[k], fbImp[k])
		default:
			return nil, nil, f.uncovered(k, t)
		}
	}
	return imp, exp, nil
}

// uncovered names the first step without a price and what the feed covers (the
// read lock is held).
func (f *Feed) uncovered(k int, t time.Time) error {
	var first, end time.Time
	for _, p := range f.pts {
		if first.IsZero() || p.Time.Before(first) {
			first = p.Time
		}
		if e := p.Time.Add(f.interval); e.After(end) {
			end = e
		}
	}
	covers := "holds no prices"
	if len(f.pts) > 0 {
		covers = fmt.Sprintf("has %d prices from %s to %s", len(f.pts), first.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	return fmt.Errorf("prices: the day-ahead feed has no price for step %d (%s); it %s (push prices with PUT /api/v1/prices, or set tariff.day_ahead.fallback: tou)",
		k, t.UTC().Format(time.RFC3339), covers)
}

// ParseCSV reads a price file: a header row naming timeCol (RFC 3339), importCol and,
// optionally, exportCol (other columns are ignored); one row per interval. A blank
// export value takes the tariff's. A missing column, a time that is not RFC 3339 or a
// price that is not a number is an error naming the line, the column and the value.
// Point i comes from line i+2.
func ParseCSV(r io.Reader, timeCol, importCol, exportCol string) ([]Point, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // every row as many fields as the header
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("line 1: empty file (want a header row)")
		}
		return nil, fmt.Errorf("line 1: %w", err)
	}
	ti, ii, ei := -1, -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case timeCol:
			ti = i
		case importCol:
			ii = i
		case exportCol:
			ei = i
		}
	}
	if ti < 0 || ii < 0 {
		missing := timeCol
		if ti >= 0 {
			missing = importCol
		}
		return nil, fmt.Errorf("line 1: no column %q in the header %q", missing, strings.Join(header, ","))
	}
	var pts []Point
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if pe, ok := errors.AsType[*csv.ParseError](err); ok && errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, fmt.Errorf("line %d: %d fields, the header has %d (a decimal comma?)", pe.Line, len(rec), len(header))
			}
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(pts) >= MaxPoints {
			return nil, fmt.Errorf("line %d: more than %d prices", line, MaxPoints)
		}
		field := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		tv := field(ti)
		t, err := time.Parse(time.RFC3339, tv)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %q is not an RFC 3339 time", line, timeCol, tv)
		}
		p := Point{Time: t.UTC()}
		iv := field(ii)
		if p.ImportPerKWh, err = strconv.ParseFloat(iv, 64); err != nil {
			return nil, fmt.Errorf("line %d: %s: %q is not a number", line, importCol, iv)
		}
		if ei >= 0 {
			if ev := field(ei); ev != "" {
				x, err := strconv.ParseFloat(ev, 64)
				if err != nil {
					return nil, fmt.Errorf("line %d: %s: %q is not a number", line, exportCol, ev)
				}
				p.ExportPerKWh = &x
			}
		}
		pts = append(pts, p)
	}
	if len(pts) == 0 {
		return nil, errors.New("line 2: no prices after the header")
	}
	return pts, nil
}
