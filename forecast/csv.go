package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// ReadCSV reads one series from CSV with a header row. timeColumn holds RFC 3339
// timestamps (any offset; returned in UTC), valueColumn holds decimal numbers.
// A blank value (empty or spaces) is a gap: the row yields no Point. Any other
// unparsable or non-finite value, and any blank or unparsable timestamp, is an
// error naming the line number (the header is line 1) and the column. Points are
// returned in file order; duplicates and ordering are left to the forecaster.
func ReadCSV(r io.Reader, timeColumn, valueColumn string) ([]Point, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("read csv: empty input, want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("read csv: header: %w", err)
	}
	ti, vi := -1, -1
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.TrimSpace(h)
		for _, c := range []struct {
			name string
			idx  *int
		}{{timeColumn, &ti}, {valueColumn, &vi}} {
			if h != c.name {
				continue
			}
			if *c.idx >= 0 {
				return nil, fmt.Errorf("read csv: header: column %q appears more than once", c.name)
			}
			*c.idx = i
		}
	}
	if ti < 0 {
		return nil, fmt.Errorf("read csv: header: no column %q", timeColumn)
	}
	if vi < 0 {
		return nil, fmt.Errorf("read csv: header: no column %q", valueColumn)
	}
	if ti == vi {
		return nil, fmt.Errorf("read csv: time and value column are both %q", timeColumn)
	}

	var out []Point
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		ts := strings.TrimSpace(rec[ti])
		if ts == "" {
			return nil, fmt.Errorf("read csv: line %d column %q: blank timestamp", line, timeColumn)
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("read csv: line %d column %q: timestamp %q is not RFC 3339: %w", line, timeColumn, ts, err)
		}
		if t.IsZero() {
			return nil, fmt.Errorf("read csv: line %d column %q: zero timestamp %q", line, timeColumn, ts)
		}
		if y := t.UTC().Year(); y < 1 || y > 9999 {
			return nil, fmt.Errorf("read csv: line %d column %q: timestamp %q is outside years 1 to 9999 in UTC", line, timeColumn, ts)
		}
		vs := strings.TrimSpace(rec[vi])
		if vs == "" {
			continue
		}
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("read csv: line %d column %q: value %q is not a finite number (leave missing values blank)", line, valueColumn, vs)
		}
		out = append(out, Point{Time: t.UTC(), Value: v})
	}
}
