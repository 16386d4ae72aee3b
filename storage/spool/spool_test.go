package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var errDown = errors.New("connection refused (database down)")

// outage wraps a real SQLite store and fails its spoolable writes while down is set, the way
// a lost database connection does.
type outage struct {
	storage.Store
	mu   sync.Mutex
	down bool
}

func (o *outage) set(down bool) { o.mu.Lock(); o.down = down; o.mu.Unlock() }
func (o *outage) isDown() bool  { o.mu.Lock(); defer o.mu.Unlock(); return o.down }

func (o *outage) WriteTelemetry(ctx context.Context, s []storage.Sample) error {
	if o.isDown() {
		return errDown
	}
	return o.Store.WriteTelemetry(ctx, s)
}

func (o *outage) AppendAudit(ctx context.Context, e storage.AuditEvent) (int64, error) {
	if o.isDown() {
		return 0, errDown
	}
	return o.Store.AppendAudit(ctx, e)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newInner(t *testing.T) *outage {
	t.Helper()
	st, err := sqlite.Open(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &outage{Store: st}
}

func open(t *testing.T, inner storage.Store, dir string, opts Options) *Store {
	t.Helper()
	if opts.Log == nil {
		opts.Log = quiet()
	}
	if opts.RetryInterval == 0 {
		opts.RetryInterval = time.Nanosecond // retry on every write
	}
	s, err := New(inner, dir, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// cycle returns one poll: every device and point at cycle c.
func cycle(c int) []storage.Sample {
	var out []storage.Sample
	for d := range 3 {
		for _, p := range []string{"active_power_kw", "soc_pct"} {
			out = append(out, storage.Sample{Time: t0.Add(time.Duration(c) * time.Minute), DeviceID: fmt.Sprintf("dev-%d", d),
				Point: p, Value: float64(c*10 + d), Quality: storage.QualityGood})
		}
	}
	return out
}

// checkComplete checks that inner holds exactly cycles 0..n-1 of every series, values intact.
// checkAudit checks that inner holds exactly the audit events with subjects 0..n-1, in order.
func checkAudit(t *testing.T, inner storage.Store, n int) {
	t.Helper()
	events, err := inner.ListAudit(t.Context(), t0, t0.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("%d audit events, want %d", len(events), n)
	}
	for i, e := range events {
		if e.Subject != fmt.Sprint(i) {
			t.Fatalf("audit event %d has subject %q: lost, duplicated or out of order", i, e.Subject)
		}
	}
}

func checkComplete(t *testing.T, inner storage.Store, n int) {
	t.Helper()
	ctx := t.Context()
	per := len(cycle(0))
	if got, err := inner.CountTelemetry(ctx, ""); err != nil || got != int64(n*per) {
		t.Fatalf("CountTelemetry = %d, %v; want %d (%d polls of %d samples)", got, err, n*per, n, per)
	}
	for d := range 3 {
		for _, p := range []string{"active_power_kw", "soc_pct"} {
			dev := fmt.Sprintf("dev-%d", d)
			got, err := inner.TelemetryRange(ctx, dev, p, t0, t0.Add(time.Duration(n)*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != n {
				t.Fatalf("%s/%s has %d samples, want %d", dev, p, len(got), n)
			}
			for c, x := range got {
				if want := t0.Add(time.Duration(c) * time.Minute); !x.Time.Equal(want) || x.Value != float64(c*10+d) {
					t.Fatalf("%s/%s sample %d = %v at %s, want %v at %s (gap or wrong value)", dev, p, c, x.Value, x.Time, float64(c*10+d), want)
				}
			}
		}
	}
}

func TestOutageSpoolsAndFlushesInOrder(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		before, during, after int
	}{
		{"short outage", 2, 1, 2},
		{"long outage", 3, 20, 3},
		{"outage from the start", 0, 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			inner := newInner(t)
			s := open(t, inner, t.TempDir(), Options{})
			defer s.Close()
			c := 0
			write := func(n int) {
				for range n {
					if err := s.WriteTelemetry(ctx, cycle(c)); err != nil {
						t.Fatalf("cycle %d: WriteTelemetry: %v", c, err)
					}
					if _, err := s.AppendAudit(ctx, storage.AuditEvent{Time: t0.Add(time.Duration(c) * time.Minute), Actor: "system", Action: "cycle", Subject: fmt.Sprint(c)}); err != nil {
						t.Fatalf("cycle %d: AppendAudit: %v", c, err)
					}
					c++
				}
			}
			write(tc.before)
			inner.set(true)
			write(tc.during)
			st := s.Stats()
			if st.PendingRecords != 2*tc.during || st.PendingBytes == 0 {
				t.Fatalf("during the outage: %+v, want %d pending records", st, 2*tc.during)
			}
			if err := s.Flush(ctx); !errors.Is(err, errDown) {
				t.Fatalf("Flush while down: %v, want the inner error", err)
			}
			inner.set(false)
			write(tc.after) // the first write flushes the spool first
			st = s.Stats()
			if st.PendingRecords != 0 || st.PendingBytes != 0 || st.Flushed != int64(2*tc.during) {
				t.Fatalf("after the outage: %+v, want nothing pending and %d flushed", st, 2*tc.during)
			}
			checkComplete(t, inner, c)
			checkAudit(t, inner, c)
			if fi, err := os.Stat(filepath.Join(s.dir, LogFile)); err != nil || fi.Size() != 0 {
				t.Fatalf("spool file after flushing: %v, %v; want empty", fi, err)
			}
		})
	}
}

func TestSpoolSurvivesRestart(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	innerDir := t.TempDir()
	st, err := sqlite.Open(ctx, innerDir)
	if err != nil {
		t.Fatal(err)
	}
	inner := &outage{Store: st, down: true}
	s := open(t, inner, dir, Options{})
	for c := range 4 {
		if err := s.WriteTelemetry(ctx, cycle(c)); err != nil {
			t.Fatal(err)
		}
	}
	// Flush part of it, then stop.
	inner.set(false)
	if err := s.flushN(ctx, 1); err != nil {
		t.Fatal(err)
	}
	inner.set(true)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// A torn append from a crash.
	f, err := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`0badc0de {"kind":"telem`)
	f.Close()

	st2, err := sqlite.Open(ctx, innerDir)
	if err != nil {
		t.Fatal(err)
	}
	inner2 := &outage{Store: st2}
	s2 := open(t, inner2, dir, Options{})
	defer s2.Close()
	if got := s2.Stats().PendingRecords; got != 3 {
		t.Fatalf("after restart %d records pending, want 3", got)
	}
	if err := s2.WriteTelemetry(ctx, cycle(4)); err != nil {
		t.Fatal(err)
	}
	checkComplete(t, inner2, 5)
}

func TestCorruptRecordIsMovedAside(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	inner := newInner(t)
	inner.set(true)
	s := open(t, inner, dir, Options{})
	for c := range 3 {
		if err := s.WriteTelemetry(ctx, cycle(c)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	data, err := os.ReadFile(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	bad := strings.Replace(lines[1], "dev-1", "dev-X", 1) // payload no longer matches its checksum
	if err := os.WriteFile(filepath.Join(dir, LogFile), []byte(lines[0]+bad+lines[2]), 0o640); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s2 := open(t, st, dir, Options{})
	defer s2.Close()
	if err := s2.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := s2.Stats(); got.Rejected != 1 || got.Flushed != 3 || got.PendingRecords != 0 {
		t.Fatalf("stats %+v, want 1 rejected, 3 flushed", got)
	}
	rej, err := os.ReadFile(filepath.Join(dir, RejectedFile))
	if err != nil || string(rej) != bad {
		t.Fatalf("rejected file = %q, %v; want the corrupt line %q", rej, err, bad)
	}
	if n, _ := st.CountTelemetry(ctx, ""); n != int64(2*len(cycle(0))) {
		t.Fatalf("stored %d samples, want the two good records' %d", n, 2*len(cycle(0)))
	}
}

func TestFullSpoolRefusesAndAlarms(t *testing.T) {
	ctx := t.Context()
	inner := newInner(t)
	inner.set(true)
	one, err := encode(record{Kind: "telemetry", Samples: cycle(0)})
	if err != nil {
		t.Fatal(err)
	}
	// Room for three cycles of telemetry plus a reserve for audit events.
	const reserve = 4096
	sim := clock.NewSim(t0.Add(time.Hour))
	s := open(t, inner, t.TempDir(), Options{MaxBytes: int64(3*len(one)) + reserve + 100, ReserveBytes: reserve, Clock: sim})
	defer s.Close()
	for c := range 3 {
		if err := s.WriteTelemetry(ctx, cycle(c)); err != nil {
			t.Fatalf("cycle %d: %v", c, err)
		}
	}
	for c := 3; c < 5; c++ {
		err := s.WriteTelemetry(ctx, cycle(c))
		if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "bytes") {
			t.Fatalf("cycle %d on a full spool: error = %v, want ErrFull naming the size", c, err)
		}
	}
	st := s.Stats()
	if !st.Full || st.Refused != 2 || st.PendingRecords != 4 {
		t.Fatalf("stats %+v: want Full, 2 refused, 3 telemetry records + 1 alarm event pending", st)
	}
	// An audit event still fits in the reserve.
	if _, err := s.AppendAudit(ctx, storage.AuditEvent{Time: sim.Now().Add(time.Minute), Actor: "user:alice", Action: "schedule.approve"}); err != nil {
		t.Fatalf("AppendAudit into the reserve: %v", err)
	}
	inner.set(false)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Full || st.PendingRecords != 0 {
		t.Fatalf("after flushing: %+v, want the alarm cleared", st)
	}
	checkComplete(t, inner, 3)
	events, err := inner.ListAudit(ctx, storage.Epoch, t0.Add(48*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].Action != "storage.spool_full" || !events[0].Time.Equal(sim.Now()) || events[1].Action != "schedule.approve" {
		t.Fatalf("audit events %+v: want the spool-full alarm (once) then the approval", events)
	}
}

func TestInvalidInputIsNotSpooled(t *testing.T) {
	ctx := t.Context()
	inner := newInner(t)
	inner.set(true)
	s := open(t, inner, t.TempDir(), Options{})
	defer s.Close()
	bad := cycle(0)
	bad[2].Quality = "meh"
	if err := s.WriteTelemetry(ctx, bad); !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "meh") {
		t.Fatalf("invalid sample: %v, want ErrInvalid naming the value", err)
	}
	if _, err := s.AppendAudit(ctx, storage.AuditEvent{Time: t0, Action: "x"}); !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), "Actor") {
		t.Fatalf("invalid audit event: %v, want ErrInvalid naming Actor", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.WriteTelemetry(cctx, cycle(0)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v, want context.Canceled", err)
	}
	if st := s.Stats(); st.Spooled != 0 {
		t.Fatalf("stats %+v: nothing may be spooled", st)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	inner := newInner(t)
	for _, tc := range []struct {
		name    string
		dir     string
		opts    Options
		mention string
	}{
		{"empty dir", "", Options{}, "dir"},
		{"reserve not below max", t.TempDir(), Options{MaxBytes: 10, ReserveBytes: 10}, "ReserveBytes 10"},
		{"negative max", t.TempDir(), Options{MaxBytes: -1}, "MaxBytes -1"},
		{"negative retry", t.TempDir(), Options{RetryInterval: -time.Second}, "RetryInterval"},
		{"negative timeout", t.TempDir(), Options{WriteTimeout: -time.Second}, "WriteTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(inner, tc.dir, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, storage.ErrInvalid) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("error %v, want ErrInvalid naming %q", err, tc.mention)
			}
		})
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, OffsetFile), []byte("17\n"), 0o640)
	if s, err := New(inner, dir, Options{}); err == nil || !strings.Contains(err.Error(), `"17"`) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("New with an offset past the spool: %v, want an error naming it", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, rec := range []record{
		{Kind: "telemetry", Samples: cycle(1)},
		{Kind: "audit", Event: &storage.AuditEvent{Time: t0, Actor: "system", Action: "x"}},
	} {
		line, err := encode(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(line[:len(line)-1])
	}
	f.Add([]byte(`00000000 {}`))
	f.Add([]byte(`zz`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := decode(line)
		if err != nil {
			return
		}
		again, err := encode(rec)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		if _, err := decode(again[:len(again)-1]); err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
	})
}
