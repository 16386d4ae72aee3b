package timescale

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
)

// TestLeaseFailover runs two instances on one database: the first owns the site, the standby
// polls every cycle, the owner dies, and the standby must take over within one cycle.
func TestLeaseFailover(t *testing.T) {
	dsn := freshDatabase(t)
	const cycle = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		die  func(t *testing.T, owner *Store, l *Lease)
	}{
		{"owner releases", func(t *testing.T, _ *Store, l *Lease) {
			if err := l.Release(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
		{"owner's connection closed abruptly", func(t *testing.T, _ *Store, l *Lease) {
			// The process dies: its socket closes without a goodbye to the server.
			if err := l.conn.PgConn().Conn().Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"owner's session terminated by the server", func(t *testing.T, owner *Store, l *Lease) {
			var ok bool
			if err := owner.pool.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, l.conn.PgConn().PID()).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend: %v, %v", ok, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			site := "site-" + strings.ReplaceAll(tc.name, " ", "-")
			a, err := Open(ctx, dsn, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			b, err := Open(ctx, dsn, quietLog())
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()

			la, err := a.AcquireLease(ctx, site)
			if err != nil {
				t.Fatalf("owner AcquireLease: %v", err)
			}
			defer la.Release(context.WithoutCancel(ctx))
			if err := la.Check(ctx); err != nil {
				t.Fatalf("owner Check: %v", err)
			}
			// The standby is refused while the owner lives, for several cycles.
			for range 3 {
				if lb, err := b.AcquireLease(ctx, site); !errors.Is(err, ErrLeaseHeld) {
					if lb != nil {
						lb.Release(ctx)
					}
					t.Fatalf("standby AcquireLease while owned: %v, want ErrLeaseHeld", err)
				}
			}
			// Another site is independent.
			other, err := b.AcquireLease(ctx, site+"-other")
			if err != nil {
				t.Fatalf("standby AcquireLease of another site: %v", err)
			}
			other.Release(ctx)

			tc.die(t, a, la)
			died := time.Now()
			var lb *Lease
			for lb == nil {
				time.Sleep(cycle / 4)
				lb, err = b.AcquireLease(ctx, site)
				if err != nil && !errors.Is(err, ErrLeaseHeld) {
					t.Fatalf("standby AcquireLease: %v", err)
				}
				if lb == nil && time.Since(died) > cycle {
					t.Fatalf("standby did not take over within one cycle (%s)", cycle)
				}
			}
			defer lb.Release(context.WithoutCancel(ctx))
			if err := lb.Check(ctx); err != nil {
				t.Fatalf("new owner Check: %v", err)
			}
			if err := la.Check(ctx); !errors.Is(err, ErrLeaseLost) {
				t.Fatalf("old owner Check after dying: %v, want ErrLeaseLost", err)
			}
			// The old owner cannot take it back while the new one holds it.
			if l, err := a.AcquireLease(ctx, site); !errors.Is(err, ErrLeaseHeld) {
				if l != nil {
					l.Release(ctx)
				}
				t.Fatalf("old owner AcquireLease: %v, want ErrLeaseHeld", err)
			}
		})
	}
}

func TestLeaseRejectsBadSite(t *testing.T) {
	s := openFresh(t)
	defer s.Close()
	for _, site := range []string{"", "a\x00b", "\xff"} {
		if l, err := s.AcquireLease(t.Context(), site); !errors.Is(err, storage.ErrInvalid) {
			if l != nil {
				l.Release(t.Context())
			}
			t.Errorf("AcquireLease(%q): %v, want ErrInvalid", site, err)
		}
	}
}

func TestLeaseKey(t *testing.T) {
	seen := map[int64]string{}
	neg := false
	for i := range 1000 {
		site := fmt.Sprintf("site-%d", i)
		k := LeaseKey(site)
		if k == migrateLockKey {
			t.Fatalf("LeaseKey(%q) collides with the migration lock", site)
		}
		if o, ok := seen[k]; ok {
			t.Fatalf("LeaseKey(%q) = LeaseKey(%q)", site, o)
		}
		seen[k] = site
		neg = neg || k < 0
		if LeaseKey(site) != k {
			t.Fatalf("LeaseKey(%q) is not stable", site)
		}
	}
	if !neg {
		t.Fatal("no negative keys among 1000 sites: the pg_locks check for negative keys is untested")
	}
}

// TestLeaseCheckKeys checks that Check finds the lock for keys of either sign.
func TestLeaseCheckKeys(t *testing.T) {
	s := openFresh(t)
	defer s.Close()
	var pos, neg string
	for i := 0; pos == "" || neg == ""; i++ {
		site := fmt.Sprintf("site-%d", i)
		if LeaseKey(site) < 0 {
			neg = site
		} else {
			pos = site
		}
	}
	for _, site := range []string{pos, neg} {
		l, err := s.AcquireLease(t.Context(), site)
		if err != nil {
			t.Fatalf("AcquireLease(%q): %v", site, err)
		}
		if err := l.Check(t.Context()); err != nil {
			t.Errorf("Check of %q (key %d): %v", site, LeaseKey(site), err)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := l.Check(t.Context()); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Check after Release: %v, want ErrLeaseLost", err)
		}
	}
}
