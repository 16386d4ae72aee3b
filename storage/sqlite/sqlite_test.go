package sqlite

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/storetest"
)

func openTemp(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), tb.TempDir())
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storage.Store { return openTemp(t) })
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) storage.Store { return openTemp(b) })
}

func migrationCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count migrations: %v", err)
	}
	return n
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s1, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	want, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if n := migrationCount(t, s1); n != len(want) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(want))
	}
	x := storage.Sample{Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC), DeviceID: "d", Point: "p", Value: 1.5, Quality: storage.QualityGood}
	if err := s1.WriteTelemetry(ctx, []storage.Sample{x}); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database file: %v", err)
	}

	s2, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer s2.Close()
	if n := migrationCount(t, s2); n != len(want) {
		t.Fatalf("after reopening, schema_migrations has %d rows, want %d", n, len(want))
	}
	if n, err := s2.CountTelemetry(ctx, ""); err != nil || n != 1 {
		t.Fatalf("after reopening, CountTelemetry = %d, %v; want 1", n, err)
	}
	var mode string
	if err := s2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s2.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
}

func TestConcurrentOpen(t *testing.T) {
	for round := range 5 {
		dir := t.TempDir()
		const openers = 3
		stores := make([]*Store, openers)
		errs := make([]error, openers)
		var wg sync.WaitGroup
		for i := range openers {
			wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dir) })
		}
		wg.Wait()
		for i := range openers {
			if errs[i] != nil {
				t.Fatalf("round %d: concurrent Open %d: %v", round, i, errs[i])
			}
			defer stores[i].Close()
		}
		want, _ := loadMigrations(migrationFiles)
		if n := migrationCount(t, stores[0]); n != len(want) {
			t.Fatalf("round %d: schema_migrations has %d rows, want %d", round, n, len(want))
		}
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, dir)
	if err == nil || !strings.Contains(err.Error(), "999") {
		t.Fatalf("Open of a database with schema version 999: error = %v, want one naming 999", err)
	}
}

func TestOpenRejectsBadDir(t *testing.T) {
	ctx := t.Context()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir string
	}{
		{"empty", ""},
		{"a file", file},
		{"below a file", filepath.Join(file, "sub")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, err := Open(ctx, tc.dir); err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.dir)
			}
		})
	}
}

func TestOpenPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?#%name")
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database file not at the expected path: %v", err)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	ctx := t.Context()
	s := openTemp(t)
	defer s.Close()
	id, err := s.AppendAudit(ctx, storage.AuditEvent{Time: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Actor: "system", Action: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET actor = 'mallory' WHERE id = ?`,
		`DELETE FROM audit_events WHERE id = ?`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt, id); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error = %v, want append-only refusal", stmt, err)
		}
	}
	got, err := s.ListAudit(ctx, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil || len(got) != 1 || got[0].Actor != "system" {
		t.Fatalf("audit after refused changes: %+v, %v", got, err)
	}
}

func TestLoadMigrations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		wantErr string
	}{
		{"ordered", []string{"0002_b.sql", "0001_a.sql"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "without gaps"},
		{"repeat", []string{"0001_a.sql", "0001_b.sql"}, "want one file"},
		{"bad name", []string{"0001_a.sql", "2_b.sql"}, "NNNN_name.sql"},
		{"version zero", []string{"0000_a.sql"}, "not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tc.files {
				fsys["migrations/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			ms, err := loadMigrations(fsys)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				for i, m := range ms {
					if m.version != i+1 {
						t.Fatalf("migration %d has version %d", i, m.version)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzTelemetryRoundTrip checks that every sample the store accepts reads back as written
// (UTC, microseconds), and that every sample it refuses is refused with ErrInvalid.
func FuzzTelemetryRoundTrip(f *testing.F) {
	f.Add("meter-root", "active_power_kw", int64(1735689600123456), 12.5, "good")
	f.Add("bess-1", "soc_pct", int64(-1), math.Copysign(0, -1), "stale")
	f.Add("ünï ✓", "p\x00", int64(0), math.MaxFloat64, "bad")
	f.Add("d", "p\xff", int64(253402300799999999), math.SmallestNonzeroFloat64, "good")
	f.Add("", "p", int64(1), 1.0, "good")
	f.Add("d", "p", int64(1), math.NaN(), "meh")
	s, err := Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, device, point string, us int64, value float64, quality string) {
		ctx := context.Background()
		x := storage.Sample{Time: time.UnixMicro(us), DeviceID: device, Point: point, Value: value, Quality: storage.Quality(quality)}
		err := s.WriteTelemetry(ctx, []storage.Sample{x})
		if x.Validate() != nil {
			if !errors.Is(err, storage.ErrInvalid) {
				t.Fatalf("WriteTelemetry(%+v) = %v, want ErrInvalid", x, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("WriteTelemetry(%+v): %v", x, err)
		}
		got, err := s.TelemetryRange(ctx, device, point, x.Time, x.Time.Add(time.Microsecond))
		if err != nil {
			t.Fatalf("TelemetryRange: %v", err)
		}
		if len(got) != 1 || !got[0].Time.Equal(x.Time) || got[0].Time.Location() != time.UTC ||
			got[0].Value != value || got[0].Quality != x.Quality || got[0].DeviceID != device || got[0].Point != point {
			t.Fatalf("round trip of %+v gave %+v", x, got)
		}
	})
}
