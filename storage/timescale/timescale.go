package timescale

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/gridd/gridd/storage"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLockKey is the pg_advisory_lock key that serialises migrations of one database.
const migrateLockKey int64 = 0x67726964645f6d67 // "gridd_mg"

// Store is the PostgreSQL/TimescaleDB implementation of storage.Store. It is safe for concurrent use.
type Store struct {
	pool        *pgxpool.Pool
	log         *slog.Logger
	hypertables bool
	features    Features
	opts        Options
	stopJobs    context.CancelFunc // ends the retention job; nil when none runs
	jobsDone    chan struct{}
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value string), applies pending
// migrations and logs which time layout the database uses. log may be nil (slog.Default()).
// It is OpenWith with the zero Options: no retention.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	return OpenWith(ctx, dsn, log, Options{})
}

// OpenWith is Open with options. After the migrations it reads the TimescaleDB license and
// sets up compression, continuous aggregates and retention policies where the license allows
// them, logging the path chosen for each (see Features). When retention is configured and the
// server cannot enforce it, it starts gridd's own retention job, which Close stops.
func OpenWith(ctx context.Context, dsn string, log *slog.Logger, opts Options) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	opts, err := opts.validate()
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("timescale: open: parse dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("timescale: open: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("timescale: open %s: %w", describe(cfg), err)
	}
	hyper, err := migrate(ctx, pool, log)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("timescale: open %s: %w", describe(cfg), err)
	}
	if hyper {
		log.Info("storage: PostgreSQL with TimescaleDB hypertables", "database", describe(cfg))
	} else {
		log.Info("storage: plain PostgreSQL tables with BRIN time indexes", "database", describe(cfg))
	}
	features, err := setUpFeatures(ctx, pool, hyper, opts, log)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("timescale: open %s: %w", describe(cfg), err)
	}
	s := &Store{pool: pool, log: log, hypertables: hyper, features: features, opts: opts}
	if opts.Retention > 0 && !features.RetentionPolicy {
		jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		s.stopJobs, s.jobsDone = cancel, make(chan struct{})
		go func() {
			defer close(s.jobsDone)
			s.retentionLoop(jobCtx)
		}()
	}
	return s, nil
}

// describe names the database without credentials.
func describe(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// Hypertables reports whether the time-series tables are TimescaleDB hypertables
// (false: plain tables with BRIN time indexes).
func (s *Store) Hypertables() bool { return s.hypertables }

// Close stops the retention job, if any, and closes the connection pool.
func (s *Store) Close() error {
	if s.stopJobs != nil {
		s.stopJobs()
		<-s.jobsDone
		s.stopJobs = nil
	}
	s.pool.Close()
	return nil
}

// Migrate applies pending migrations to the database behind pool, for the migrate command.
// It is safe to run from several processes at once. It logs through slog.Default().
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := migrate(ctx, pool, slog.Default()); err != nil {
		return fmt.Errorf("timescale: migrate: %w", err)
	}
	return nil
}

// migration is one embedded schema change. A version has either one file, or a "_plain" and a
// "_timescale" alternative of which the one matching the database is applied.
type migration struct {
	version int
	name    string // "schema", "plain", "timescale"
	sql     string
}

func isPlain(name string) bool { return name == "plain" || strings.HasSuffix(name, "_plain") }
func isTimescale(name string) bool {
	return name == "timescale" || strings.HasSuffix(name, "_timescale")
}

// loadMigrations reads fsys's "migrations" directory (storage.LoadMigrations) into
// versions 1..n, each one file or a _plain and a _timescale alternative.
func loadMigrations(fsys fs.FS) ([][]migration, error) {
	versions, err := storage.LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	out := make([][]migration, len(versions))
	for i, files := range versions {
		switch {
		case len(files) == 1 && !isPlain(files[0].Name) && !isTimescale(files[0].Name):
		case len(files) == 2 && isPlain(files[0].Name) && isTimescale(files[1].Name):
		default:
			return nil, fmt.Errorf("migration version %d has files %v: want one file, or one _plain and one _timescale alternative", i+1, storage.MigrationNames(files))
		}
		for _, m := range files {
			out[i] = append(out[i], migration{version: m.Version, name: m.Name, sql: m.SQL})
		}
	}
	return out, nil
}

// migrate applies pending migrations under a session advisory lock, each in its own transaction
// together with its schema_migrations row. It reports whether the applied time layout is the
// TimescaleDB one (hypertables).
func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (hypertables bool, err error) {
	versions, err := loadMigrations(migrationFiles)
	if err != nil {
		return false, err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("acquire connection: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		conn.Release()
		return false, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A connection that may still hold the lock never goes back to the pool.
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey); uerr != nil {
			conn.Hijack().Close(context.WithoutCancel(ctx))
			return
		}
		conn.Release()
	}()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return false, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]string{}
	rows, err := conn.Query(ctx, `SELECT version, name FROM schema_migrations`)
	if err != nil {
		return false, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			rows.Close()
			return false, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = name
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("read schema_migrations: %w", err)
	}
	for v := range applied {
		if v > len(versions) {
			return false, fmt.Errorf("database schema version %d is newer than this program knows (%d)", v, len(versions))
		}
	}

	var timescale *bool // decided once, when the first pending migration has alternatives
	for _, alts := range versions {
		v := alts[0].version
		if have, ok := applied[v]; ok {
			if !hasName(alts, have) {
				return false, fmt.Errorf("migration %04d: database has %q applied, this program has %v", v, have, names(alts))
			}
			hypertables = hypertables || isTimescale(have)
			continue
		}
		m := alts[0]
		if len(alts) == 2 {
			if timescale == nil {
				ts, err := enableTimescale(ctx, pool, log)
				if err != nil {
					return false, err
				}
				timescale = &ts
			}
			if *timescale {
				m = alts[1]
			}
		}
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		}); err != nil {
			return false, fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
		log.Info("storage: applied migration", "version", m.version, "name", m.name)
		hypertables = hypertables || isTimescale(m.name)
	}
	return hypertables, nil
}

func hasName(ms []migration, name string) bool {
	for _, m := range ms {
		if m.name == name {
			return true
		}
	}
	return false
}

func names(ms []migration) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.name)
	}
	return out
}

// enableTimescale reports whether the timescaledb extension is installed, creating it when
// the server offers it. A failed CREATE EXTENSION (for example, the library is not preloaded or
// the role may not create it) falls back to plain tables.
func enableTimescale(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (bool, error) {
	var installed, available bool
	err := pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'),
		EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')`).Scan(&installed, &available)
	if err != nil {
		return false, fmt.Errorf("look up timescaledb: %w", err)
	}
	switch {
	case installed:
		log.Info("storage: timescaledb extension installed; time-series tables become hypertables")
		return true, nil
	case !available:
		log.Info("storage: timescaledb extension not available; time-series tables are plain tables with BRIN time indexes")
		return false, nil
	}
	// Its own connection: a failure here may end the session.
	if _, err := pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS timescaledb`); err != nil {
		if ctx.Err() != nil {
			return false, fmt.Errorf("create extension timescaledb: %w", err)
		}
		log.Warn("storage: timescaledb is available but could not be created; time-series tables are plain tables with BRIN time indexes", "err", err)
		return false, nil
	}
	log.Info("storage: created timescaledb extension; time-series tables become hypertables")
	return true, nil
}

// ts is the time sent to the server: truncated to microseconds (the precision of timestamptz)
// here, so it does not depend on the wire format, and in UTC.
func ts(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// nullTime sends the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	v := ts(t)
	return &v
}

// nullID sends ID 0 as NULL.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const (
	codeForeignKeyViolation = "23503"
	codeUniqueViolation     = "23505"
	codeDeadlockDetected    = "40P01"
	codeSerialization       = "40001"
)

// retryIdempotent runs an idempotent write again when the server aborted it to break a deadlock.
func retryIdempotent(ctx context.Context, fn func() error) error {
	var err error
	for attempt := range 4 {
		if err = fn(); err == nil {
			return nil
		}
		if c := pgCode(err); c != codeDeadlockDetected && c != codeSerialization {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
	return err
}
