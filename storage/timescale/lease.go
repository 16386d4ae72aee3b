package timescale

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/gridd/gridd/storage"

	"github.com/jackc/pgx/v5"
)

// ErrLeaseHeld is returned (wrapped) by AcquireLease when another session owns the site.
var ErrLeaseHeld = errors.New("site lease is held by another instance")

// ErrLeaseLost is returned (wrapped) by Lease.Check once the lease's session has ended.
var ErrLeaseLost = errors.New("site lease lost")

// Lease keep-alive settings for the lease's session: the server notices a dead owner (a host
// that vanished without closing its connection) within about idle + interval*count and then
// frees the lock. An owner that exits or closes its connection frees it at once.
const (
	leaseKeepaliveIdle     = 5 * time.Second
	leaseKeepaliveInterval = 2 * time.Second
	leaseKeepaliveCount    = 3
	leaseCheckTimeout      = 5 * time.Second
)

// Lease is one site's ownership: a session-level PostgreSQL advisory lock held on a connection
// of its own (outside the pool), so it lasts exactly as long as that session. It is safe for
// concurrent use.
type Lease struct {
	site string
	key  int64

	mu   sync.Mutex
	conn *pgx.Conn // nil once released or lost
}

// LeaseKey is the advisory-lock key of a site: the FNV-1a hash of "gridd/site/" + site.
// Dispatchers can see who owns a site with
//
//	SELECT pid, client_addr, application_name FROM pg_locks JOIN pg_stat_activity USING (pid)
//	WHERE locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = <key>;
func LeaseKey(site string) int64 {
	h := fnv.New64a()
	h.Write([]byte("gridd/site/" + site))
	return int64(h.Sum64())
}

// AcquireLease tries once to take the lease of site. It returns an error wrapping ErrLeaseHeld
// when another session holds it; a standby instance calls it every cycle and takes the site over
// in the first cycle after the owner's session ends. The lease opens its own connection with the
// store's connection settings.
func (s *Store) AcquireLease(ctx context.Context, site string) (*Lease, error) {
	if site == "" {
		return nil, fmt.Errorf("timescale: acquire lease: %w: site is empty", storage.ErrInvalid)
	}
	if err := storage.ValidateFilter("site", site); err != nil {
		return nil, fmt.Errorf("timescale: acquire lease: %w", err)
	}
	cfg := s.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = "gridd lease " + site
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("timescale: acquire lease %q: connect: %w", site, err)
	}
	fail := func(err error) (*Lease, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("timescale: acquire lease %q: %w", site, err)
	}
	for _, set := range []string{
		fmt.Sprintf("SET tcp_keepalives_idle = %d", int(leaseKeepaliveIdle.Seconds())),
		fmt.Sprintf("SET tcp_keepalives_interval = %d", int(leaseKeepaliveInterval.Seconds())),
		fmt.Sprintf("SET tcp_keepalives_count = %d", leaseKeepaliveCount),
	} {
		if _, err := conn.Exec(ctx, set); err != nil {
			return fail(err)
		}
	}
	key := LeaseKey(site)
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err != nil {
		return fail(err)
	}
	if !got {
		return fail(ErrLeaseHeld)
	}
	s.log.Info("storage: took the site lease", "site", site, "key", key)
	return &Lease{site: site, key: key, conn: conn}, nil
}

// Site returns the leased site.
func (l *Lease) Site() string { return l.site }

// Check confirms the lease is still held: its session is alive. The owner calls it every cycle
// before acting for the site; an error (wrapping ErrLeaseLost once the session is gone) means
// the owner must stop acting and go back to standby. A lost lease stays lost.
func (l *Lease) Check(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return fmt.Errorf("timescale: lease %q: %w", l.site, ErrLeaseLost)
	}
	cctx, cancel := context.WithTimeout(ctx, leaseCheckTimeout)
	defer cancel()
	var held bool
	err := l.conn.QueryRow(cctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
		AND objsubid = 1 AND pid = pg_backend_pid() AND granted AND ((classid::bigint << 32) | objid::bigint) = $1)`, l.key).Scan(&held)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; the lease may still be fine.
			return fmt.Errorf("timescale: lease %q: check: %w", l.site, err)
		}
		l.conn.Close(context.WithoutCancel(ctx))
		l.conn = nil
		return fmt.Errorf("timescale: lease %q: %w: %w", l.site, ErrLeaseLost, err)
	}
	if !held {
		l.conn.Close(context.WithoutCancel(ctx))
		l.conn = nil
		return fmt.Errorf("timescale: lease %q: %w: the session no longer holds the lock", l.site, ErrLeaseLost)
	}
	return nil
}

// Release gives the lease up and closes its connection. Releasing twice is a no-op.
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	conn := l.conn
	l.conn = nil
	// Closing the session frees the lock even if the unlock fails.
	_, uerr := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	cerr := conn.Close(context.WithoutCancel(ctx))
	if uerr != nil {
		return fmt.Errorf("timescale: release lease %q: %w", l.site, uerr)
	}
	if cerr != nil {
		return fmt.Errorf("timescale: release lease %q: %w", l.site, cerr)
	}
	return nil
}
