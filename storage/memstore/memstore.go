package memstore

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/storage"
)

// Store is an in-memory storage.Store. The zero value is not usable; call New.
type Store struct {
	mu sync.RWMutex

	tel map[pointKey]*pointSeries

	// The forecasts have their own lock (taken after mu when both are held), so
	// a cycle's forecast write runs beside its other reads and writes.
	fcMu      sync.Mutex
	fc        map[fcKey]map[int64]*fcList // (series, quantile) -> valid_at -> entries sorted by issued_at
	methods   []string                    // fcEntry.method indexes this
	methodIdx map[string]uint32

	schedules map[int64]*storage.Schedule
	byStatus  map[storage.ScheduleStatus]map[int64]struct{}
	nextSched int64

	writes    []storage.SetpointWrite
	nextWrite int64
	cycles    []storage.CycleRun
	nextCycle int64
	audit     []storage.AuditEvent
	nextAudit int64
	assets    map[string]storage.Asset
	closed    bool
}

type pointKey struct{ dev, point string }

type pointSeries struct {
	us   []int64
	val  []float64
	qual []storage.Quality
}

type fcKey struct {
	series   string
	quantile float64
}

// fcEntry holds no pointer (the method is an index into Store.methods), so the
// garbage collector does not scan the forecasts, which are most of a replay's heap.
type fcEntry struct {
	issued int64
	value  float64
	method uint32
}

type fcList struct{ e []fcEntry }

// New returns an empty store.
func New() *Store {
	return &Store{
		tel: map[pointKey]*pointSeries{}, fc: map[fcKey]map[int64]*fcList{}, methodIdx: map[string]uint32{},
		schedules: map[int64]*storage.Schedule{}, byStatus: map[storage.ScheduleStatus]map[int64]struct{}{},
		assets: map[string]storage.Asset{},
	}
}

func us(t time.Time) int64        { return t.UnixMicro() }
func fromUS(u int64) time.Time    { return time.UnixMicro(u).UTC() }
func trunc(t time.Time) time.Time { return fromUS(us(t)) }

func (s *Store) check(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	if s.closed {
		return fmt.Errorf("memstore: %s: store is closed", op)
	}
	return nil
}

// WriteTelemetry implements storage.Store.
func (s *Store) WriteTelemetry(ctx context.Context, samples []storage.Sample) error {
	for i, x := range samples {
		if err := x.Validate(); err != nil {
			return fmt.Errorf("memstore: write telemetry: sample %d: %w", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "write telemetry"); err != nil {
		return err
	}
	for _, x := range samples {
		k := pointKey{x.DeviceID, x.Point}
		ps := s.tel[k]
		if ps == nil {
			ps = &pointSeries{}
			s.tel[k] = ps
		}
		ps.put(us(x.Time), x.Value, x.Quality)
	}
	return nil
}

func (ps *pointSeries) put(t int64, v float64, q storage.Quality) {
	n := len(ps.us)
	if n == 0 || ps.us[n-1] < t {
		ps.us, ps.val, ps.qual = append(ps.us, t), append(ps.val, v), append(ps.qual, q)
		return
	}
	i := sort.Search(n, func(i int) bool { return ps.us[i] >= t })
	if i < n && ps.us[i] == t {
		ps.val[i], ps.qual[i] = v, q
		return
	}
	ps.us = append(ps.us, 0)
	ps.val = append(ps.val, 0)
	ps.qual = append(ps.qual, "")
	copy(ps.us[i+1:], ps.us[i:])
	copy(ps.val[i+1:], ps.val[i:])
	copy(ps.qual[i+1:], ps.qual[i:])
	ps.us[i], ps.val[i], ps.qual[i] = t, v, q
}

// span returns the index range of samples with from <= t < to.
func (ps *pointSeries) span(from, to int64) (int, int) {
	a := sort.Search(len(ps.us), func(i int) bool { return ps.us[i] >= from })
	b := sort.Search(len(ps.us), func(i int) bool { return ps.us[i] >= to })
	return a, b
}

// LatestTelemetry implements storage.Store.
func (s *Store) LatestTelemetry(ctx context.Context, deviceID string) ([]storage.Sample, error) {
	if err := storage.ValidateFilter("deviceID", deviceID); err != nil {
		return nil, fmt.Errorf("memstore: latest telemetry: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "latest telemetry"); err != nil {
		return nil, err
	}
	var out []storage.Sample
	for k, ps := range s.tel {
		if (deviceID != "" && k.dev != deviceID) || len(ps.us) == 0 {
			continue
		}
		n := len(ps.us) - 1
		out = append(out, storage.Sample{Time: fromUS(ps.us[n]), DeviceID: k.dev, Point: k.point, Value: ps.val[n], Quality: ps.qual[n]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DeviceID != out[j].DeviceID {
			return out[i].DeviceID < out[j].DeviceID
		}
		return out[i].Point < out[j].Point
	})
	return out, nil
}

// TelemetryRange implements storage.Store.
func (s *Store) TelemetryRange(ctx context.Context, deviceID, point string, from, to time.Time) ([]storage.Sample, error) {
	if err := storage.ValidateTelemetryQuery(deviceID, point, from, to); err != nil {
		return nil, fmt.Errorf("memstore: telemetry range: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "telemetry range"); err != nil {
		return nil, err
	}
	ps := s.tel[pointKey{deviceID, point}]
	if ps == nil {
		return nil, nil
	}
	a, b := ps.span(us(from), us(to))
	if a >= b {
		return nil, nil
	}
	out := make([]storage.Sample, 0, b-a)
	for i := a; i < b; i++ {
		out = append(out, storage.Sample{Time: fromUS(ps.us[i]), DeviceID: deviceID, Point: point, Value: ps.val[i], Quality: ps.qual[i]})
	}
	return out, nil
}

// TelemetryBuckets implements storage.Store.
func (s *Store) TelemetryBuckets(ctx context.Context, deviceID, point string, from, to time.Time, width time.Duration) ([]storage.Bucket, error) {
	if err := storage.ValidateBucketQuery(deviceID, point, from, to, width); err != nil {
		return nil, fmt.Errorf("memstore: telemetry buckets: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "telemetry buckets"); err != nil {
		return nil, err
	}
	ps := s.tel[pointKey{deviceID, point}]
	if ps == nil {
		return nil, nil
	}
	w := width.Microseconds()
	a, b := ps.span(us(from), us(to))
	var out []storage.Bucket
	var sum float64
	for i := a; i < b; i++ {
		if ps.qual[i] != storage.QualityGood {
			continue
		}
		t := ps.us[i]
		start := t - ((t%w)+w)%w
		v := ps.val[i]
		if n := len(out); n > 0 && us(out[n-1].Time) == start {
			bk := &out[n-1]
			sum += v
			bk.Count++
			bk.Mean = sum / float64(bk.Count)
			if v < bk.Min {
				bk.Min = v
			}
			if v > bk.Max {
				bk.Max = v
			}
			continue
		}
		sum = v
		out = append(out, storage.Bucket{Time: fromUS(start), Mean: v, Min: v, Max: v, Count: 1})
	}
	return out, nil
}

// CountTelemetry implements storage.Store.
func (s *Store) CountTelemetry(ctx context.Context, deviceID string) (int64, error) {
	if err := storage.ValidateFilter("deviceID", deviceID); err != nil {
		return 0, fmt.Errorf("memstore: count telemetry: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "count telemetry"); err != nil {
		return 0, err
	}
	var n int64
	for k, ps := range s.tel {
		if deviceID == "" || k.dev == deviceID {
			n += int64(len(ps.us))
		}
	}
	return n, nil
}

// WriteForecasts implements storage.Store.
func (s *Store) WriteForecasts(ctx context.Context, points []storage.ForecastPoint) error {
	for i, p := range points {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("memstore: write forecasts: point %d: %w", i, err)
		}
	}
	s.mu.RLock()
	err := s.check(ctx, "write forecasts")
	if err == nil {
		s.fcMu.Lock()
		defer s.fcMu.Unlock()
	}
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	// A write holds a few series and quantiles, interleaved: their maps are
	// looked up once each.
	type keyMap struct {
		k fcKey
		m map[int64]*fcList
	}
	var seen [8]keyMap
	keys := seen[:0]
	method, methodName := uint32(0), ""
	for i := range points {
		p := &points[i]
		k := fcKey{p.Series, p.Quantile}
		var m map[int64]*fcList
		for _, km := range keys {
			if km.k == k {
				m = km.m
				break
			}
		}
		if m == nil {
			if m = s.fc[k]; m == nil {
				m = map[int64]*fcList{}
				s.fc[k] = m
			}
			keys = append(keys, keyMap{k, m})
		}
		if i == 0 || p.Method != methodName {
			method, methodName = s.methodIndex(p.Method), p.Method
		}
		v := us(p.ValidAt)
		e := fcEntry{issued: us(p.IssuedAt), value: p.Value, method: method}
		l := m[v]
		if l == nil {
			l = &fcList{}
			m[v] = l
		}
		list := l.e
		n := len(list)
		switch {
		case n == 0 || list[n-1].issued < e.issued:
			list = append(list, e)
		default:
			i := sort.Search(n, func(i int) bool { return list[i].issued >= e.issued })
			if i < n && list[i].issued == e.issued {
				list[i] = e
			} else {
				list = append(list, fcEntry{})
				copy(list[i+1:], list[i:])
				list[i] = e
			}
		}
		l.e = list
	}
	return nil
}

// methodIndex interns a forecast method's name; fcMu is held.
func (s *Store) methodIndex(name string) uint32 {
	i, ok := s.methodIdx[name]
	if !ok {
		i = uint32(len(s.methods))
		s.methods = append(s.methods, name)
		s.methodIdx[name] = i
	}
	return i
}

func byStepDevice(a, b storage.ScheduleSetpoint) int {
	if a.Step != b.Step {
		return a.Step - b.Step
	}
	return strings.Compare(a.DeviceID, b.DeviceID)
}

// sortSetpoints orders validated setpoints (steps in [0, steps)) by step, then
// device, keeping the order of equal ones: what slices.SortStableFunc with
// byStepDevice gives, by a counting sort on the step and an insertion sort of
// each step's few devices. (A schedule comes device by device; the stable
// merge sort took most of an insert.)
func sortSetpoints(sp []storage.ScheduleSetpoint, steps int) {
	start := make([]int, steps+1)
	for i := range sp {
		start[sp[i].Step+1]++
	}
	for k := 0; k < steps; k++ {
		start[k+1] += start[k]
	}
	out := make([]storage.ScheduleSetpoint, len(sp))
	next := append([]int(nil), start[:steps]...)
	for i := range sp {
		k := sp[i].Step
		out[next[k]] = sp[i]
		next[k]++
	}
	for k := 0; k < steps; k++ {
		g := out[start[k]:start[k+1]]
		for i := 1; i < len(g); i++ {
			for j := i; j > 0 && g[j].DeviceID < g[j-1].DeviceID; j-- {
				g[j], g[j-1] = g[j-1], g[j]
			}
		}
	}
	copy(sp, out)
}

// ForecastAsOf implements storage.Store.
func (s *Store) ForecastAsOf(ctx context.Context, series string, quantile float64, asOf, from, to time.Time) ([]storage.ForecastPoint, error) {
	if err := storage.ValidateForecastQuery(series, quantile, asOf, from, to); err != nil {
		return nil, fmt.Errorf("memstore: forecast as of: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "forecast as of"); err != nil {
		return nil, err
	}
	s.fcMu.Lock()
	defer s.fcMu.Unlock()
	m := s.fc[fcKey{series, quantile}]
	a, b, limit := us(from), us(to), us(asOf)
	var out []storage.ForecastPoint
	for v, l := range m {
		if v < a || v >= b {
			continue
		}
		list := l.e
		i := sort.Search(len(list), func(i int) bool { return list[i].issued > limit })
		if i == 0 {
			continue
		}
		e := list[i-1]
		out = append(out, storage.ForecastPoint{IssuedAt: fromUS(e.issued), ValidAt: fromUS(v), Series: series, Quantile: quantile, Value: e.value, Method: s.methods[e.method]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ValidAt.Before(out[j].ValidAt) })
	return out, nil
}

func copySchedule(sc *storage.Schedule, withDetail bool) storage.Schedule {
	c := *sc
	if len(sc.CostBreakdown) == 0 {
		c.CostBreakdown = nil
	} else {
		c.CostBreakdown = make(map[string]float64, len(sc.CostBreakdown))
		for k, v := range sc.CostBreakdown {
			c.CostBreakdown[k] = v
		}
	}
	c.Plan, c.Setpoints = nil, nil
	if withDetail {
		if len(sc.Plan) > 0 {
			c.Plan = append([]byte(nil), sc.Plan...)
		}
		if len(sc.Setpoints) > 0 {
			c.Setpoints = append([]storage.ScheduleSetpoint(nil), sc.Setpoints...)
		}
	}
	return c
}

// InsertSchedule implements storage.Store.
func (s *Store) InsertSchedule(ctx context.Context, sc *storage.Schedule) (int64, error) {
	if err := sc.Validate(); err != nil {
		return 0, fmt.Errorf("memstore: insert schedule: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "insert schedule"); err != nil {
		return 0, err
	}
	c := copySchedule(sc, true)
	s.nextSched++
	c.ID = s.nextSched
	c.CreatedAt, c.Start = trunc(c.CreatedAt), trunc(c.Start)
	if c.DecidedAt.IsZero() {
		c.DecidedAt = time.Time{}
	} else {
		c.DecidedAt = trunc(c.DecidedAt)
	}
	for i := range c.Setpoints {
		c.Setpoints[i].Time = trunc(c.Setpoints[i].Time)
	}
	if !slices.IsSortedFunc(c.Setpoints, byStepDevice) {
		sortSetpoints(c.Setpoints, c.Steps)
	}
	s.schedules[c.ID] = &c
	s.index(c.ID, "", c.Status)
	return c.ID, nil
}

func (s *Store) index(id int64, from, to storage.ScheduleStatus) {
	if from != "" {
		delete(s.byStatus[from], id)
	}
	m := s.byStatus[to]
	if m == nil {
		m = map[int64]struct{}{}
		s.byStatus[to] = m
	}
	m[id] = struct{}{}
}

// GetSchedule implements storage.Store.
func (s *Store) GetSchedule(ctx context.Context, id int64) (*storage.Schedule, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "get schedule"); err != nil {
		return nil, err
	}
	sc, ok := s.schedules[id]
	if !ok {
		return nil, fmt.Errorf("memstore: get schedule %d: %w", id, storage.ErrNotFound)
	}
	c := copySchedule(sc, true)
	return &c, nil
}

// ListSchedules implements storage.Store.
func (s *Store) ListSchedules(ctx context.Context, from, to time.Time, status storage.ScheduleStatus) ([]storage.Schedule, error) {
	if err := storage.ValidateRange(from, to); err != nil {
		return nil, fmt.Errorf("memstore: list schedules: %w", err)
	}
	if err := storage.ValidateStatusFilter(status); err != nil {
		return nil, fmt.Errorf("memstore: list schedules: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "list schedules"); err != nil {
		return nil, err
	}
	a, b := us(from), us(to)
	var out []storage.Schedule
	add := func(sc *storage.Schedule) {
		if c := us(sc.CreatedAt); c >= a && c < b {
			out = append(out, copySchedule(sc, false))
		}
	}
	if status == "" {
		for _, sc := range s.schedules {
			add(sc)
		}
	} else {
		for id := range s.byStatus[status] {
			add(s.schedules[id])
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.After(out[j].CreatedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// SetScheduleStatus implements storage.Store.
func (s *Store) SetScheduleStatus(ctx context.Context, id int64, from, to storage.ScheduleStatus, actor, reason string, at time.Time) error {
	if err := storage.ValidateStatusChange(id, from, to, actor, reason, at); err != nil {
		return fmt.Errorf("memstore: set schedule %d status: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "set schedule status"); err != nil {
		return err
	}
	sc, ok := s.schedules[id]
	if !ok {
		return fmt.Errorf("memstore: set schedule %d status: %w", id, storage.ErrNotFound)
	}
	if sc.Status != from {
		return fmt.Errorf("memstore: set schedule %d status to %s: it is %s, not %s: %w", id, to, sc.Status, from, storage.ErrConflict)
	}
	s.index(id, sc.Status, to)
	if storage.KeepsDecision(from, to) {
		sc.Status = to
	} else {
		sc.Status, sc.Approver, sc.Reason, sc.DecidedAt = to, actor, reason, trunc(at)
	}
	return nil
}

// RecordSetpointWrite implements storage.Store.
func (s *Store) RecordSetpointWrite(ctx context.Context, w storage.SetpointWrite) (int64, error) {
	if err := w.Validate(); err != nil {
		return 0, fmt.Errorf("memstore: record setpoint write: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "record setpoint write"); err != nil {
		return 0, err
	}
	if _, ok := s.schedules[w.ScheduleID]; w.ScheduleID != 0 && !ok {
		return 0, fmt.Errorf("memstore: record setpoint write: schedule %d: %w", w.ScheduleID, storage.ErrNotFound)
	}
	s.nextWrite++
	w.ID, w.Time = s.nextWrite, trunc(w.Time)
	s.writes = append(s.writes, w)
	return w.ID, nil
}

// ListSetpointWrites implements storage.Store.
func (s *Store) ListSetpointWrites(ctx context.Context, scheduleID int64) ([]storage.SetpointWrite, error) {
	if scheduleID < 0 {
		return nil, fmt.Errorf("memstore: list setpoint writes: %w: scheduleID %d is negative", storage.ErrInvalid, scheduleID)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "list setpoint writes"); err != nil {
		return nil, err
	}
	var out []storage.SetpointWrite
	for _, w := range s.writes {
		if scheduleID == 0 || w.ScheduleID == scheduleID {
			out = append(out, w)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RecordCycle implements storage.Store.
func (s *Store) RecordCycle(ctx context.Context, c storage.CycleRun) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, fmt.Errorf("memstore: record cycle: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "record cycle"); err != nil {
		return 0, err
	}
	if _, ok := s.schedules[c.ScheduleID]; c.ScheduleID != 0 && !ok {
		return 0, fmt.Errorf("memstore: record cycle: schedule %d: %w", c.ScheduleID, storage.ErrNotFound)
	}
	s.nextCycle++
	c.ID, c.Started = s.nextCycle, trunc(c.Started)
	s.cycles = append(s.cycles, c)
	return c.ID, nil
}

// ListCycles implements storage.Store.
func (s *Store) ListCycles(ctx context.Context, limit int) ([]storage.CycleRun, error) {
	if err := storage.ValidateLimit(limit); err != nil {
		return nil, fmt.Errorf("memstore: list cycles: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "list cycles"); err != nil {
		return nil, err
	}
	out := append([]storage.CycleRun(nil), s.cycles...)
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.After(out[j].Started)
		}
		return out[i].ID > out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// AppendAudit implements storage.Store.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("memstore: append audit: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "append audit"); err != nil {
		return 0, err
	}
	s.nextAudit++
	e.ID, e.Time = s.nextAudit, trunc(e.Time)
	s.audit = append(s.audit, e)
	return e.ID, nil
}

// ListAuditAll implements storage.Store.
func (s *Store) ListAuditAll(ctx context.Context) ([]storage.AuditEvent, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "list all audit"); err != nil {
		return nil, err
	}
	out := append([]storage.AuditEvent(nil), s.audit...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// ListAudit implements storage.Store.
func (s *Store) ListAudit(ctx context.Context, from, to time.Time, limit int) ([]storage.AuditEvent, error) {
	if err := storage.ValidateRange(from, to); err != nil {
		return nil, fmt.Errorf("memstore: list audit: %w", err)
	}
	if err := storage.ValidateLimit(limit); err != nil {
		return nil, fmt.Errorf("memstore: list audit: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "list audit"); err != nil {
		return nil, err
	}
	a, b := us(from), us(to)
	var out []storage.AuditEvent
	for _, e := range s.audit {
		if t := us(e.Time); t >= a && t < b {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		return out[i].ID < out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// UpsertAssets implements storage.Store.
func (s *Store) UpsertAssets(ctx context.Context, assets []storage.Asset) error {
	for i, a := range assets {
		if err := a.Validate(); err != nil {
			return fmt.Errorf("memstore: upsert assets: asset %d: %w", i, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx, "upsert assets"); err != nil {
		return err
	}
	for _, a := range assets {
		s.assets[a.ID] = a
	}
	return nil
}

// ListAssets implements storage.Store.
func (s *Store) ListAssets(ctx context.Context) ([]storage.Asset, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, "list assets"); err != nil {
		return nil, err
	}
	out := make([]storage.Asset, 0, len(s.assets))
	for _, a := range s.assets {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Close implements storage.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// Prune drops what a long replay no longer needs, to keep memory bounded: telemetry
// samples and forecast values (by ValidAt) before dataBefore; schedules created
// before recordsBefore that are neither proposed nor approved; and setpoint writes,
// cycle runs and audit events before recordsBefore. Without Prune the store keeps
// everything.
func (s *Store) Prune(dataBefore, recordsBefore time.Time) {
	s.PruneKeeping(dataBefore, recordsBefore, nil)
}

// PruneKeeping is Prune, except that the telemetry of each device and point
// named in keep ([2]string{device, point}) is cut at its own time instead of
// at dataBefore (the history a forecast needs can be longer than what the rest
// of a replay needs).
func (s *Store) PruneKeeping(dataBefore, recordsBefore time.Time, keep map[[2]string]time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := us(dataBefore)
	for k, ps := range s.tel {
		cut := cut
		if t, ok := keep[[2]string{k.dev, k.point}]; ok {
			cut = us(t)
		}
		i := sort.Search(len(ps.us), func(i int) bool { return ps.us[i] >= cut })
		if i > 0 {
			ps.us = append([]int64(nil), ps.us[i:]...)
			ps.val = append([]float64(nil), ps.val[i:]...)
			ps.qual = append([]storage.Quality(nil), ps.qual[i:]...)
		}
	}
	s.fcMu.Lock()
	for _, m := range s.fc {
		for v := range m {
			if v < cut {
				delete(m, v)
			}
		}
	}
	s.fcMu.Unlock()
	cut = us(recordsBefore)
	for id, sc := range s.schedules {
		if us(sc.CreatedAt) < cut && sc.Status != storage.StatusProposed && sc.Status != storage.StatusApproved {
			delete(s.byStatus[sc.Status], id)
			delete(s.schedules, id)
		}
	}
	s.writes = pruneBy(s.writes, func(w storage.SetpointWrite) bool { return us(w.Time) >= cut })
	s.cycles = pruneBy(s.cycles, func(c storage.CycleRun) bool { return us(c.Started) >= cut })
	s.audit = pruneBy(s.audit, func(e storage.AuditEvent) bool { return us(e.Time) >= cut })
}

func pruneBy[T any](list []T, keep func(T) bool) []T {
	out := list[:0:0]
	for _, x := range list {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}
