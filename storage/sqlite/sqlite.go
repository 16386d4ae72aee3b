package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"time"

	"github.com/gridd/gridd/storage"

	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the database file Open uses inside its directory.
const FileName = "gridd.db"

// busyTimeout is how long a connection waits for a lock held by another connection or process.
const busyTimeout = 10 * time.Second

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Store is the embedded SQLite implementation of storage.Store. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating if needed) dir/gridd.db, creating dir if needed (0700), and applies
// pending migrations. The database, its WAL and shared-memory files are 0600. Several processes may open the same directory; writers take turns.
func Open(ctx context.Context, dir string) (*Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("sqlite: open: %w: dir is empty", storage.ErrInvalid)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", dir, err)
	}
	if _, err := storage.SecureDir(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open: create dir: %w", err)
	}
	path := filepath.Join(abs, FileName)
	// The database file is created 0600 before SQLite opens it, and SQLite gives its WAL
	// and shared-memory files the database file's mode; files left looser by an older
	// version are tightened.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := storage.SecureFile(f, f == path); err != nil {
			return nil, fmt.Errorf("sqlite: open: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	// A committed write survives a power cut, not only a process crash.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	// Write transactions take the write lock at BEGIN, so two writers never deadlock
	// upgrading from a read lock; read-only transactions stay deferred.
	q.Set("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	// Processes opening a new database at the same moment race to switch it to WAL,
	// which SQLite answers with SQLITE_BUSY without waiting: try again for as long as
	// a busy write would be waited for.
	deadline := time.Now().Add(busyTimeout)
	for {
		db, err := openDB(ctx, dsn)
		if err == nil {
			return &Store{db: db, path: path}, nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sqlite: open %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// openDB opens the database and applies pending migrations.
func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (another connection holds the lock).
func isBusy(err error) bool {
	var se *sqlitedrv.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// migration is one embedded schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations in fsys's "migrations" directory
// (storage.LoadMigrations): versions 1..n, one file each.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	versions, err := storage.LoadMigrations(fsys)
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(versions))
	for _, files := range versions {
		if len(files) != 1 {
			return nil, fmt.Errorf("migration version %d has files %v: want one file", files[0].Version, storage.MigrationNames(files))
		}
		m := files[0]
		ms = append(ms, migration{version: m.Version, name: m.Name, sql: m.SQL})
	}
	return ms, nil
}

// migrate applies pending migrations, each in its own write transaction together with its
// schema_migrations row, so concurrent openers apply each migration exactly once.
func migrate(ctx context.Context, db *sql.DB) error {
	ms, err := loadMigrations(migrationFiles)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var newest sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&newest); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if newest.Valid && int(newest.Int64) > len(ms) {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d)", newest.Int64, len(ms))
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %04d_%s: begin: %w", m.version, m.name, err)
	}
	defer tx.Rollback()
	var have string
	err = tx.QueryRowContext(ctx, `SELECT name FROM schema_migrations WHERE version = ?`, m.version).Scan(&have)
	switch {
	case err == nil:
		if have != m.name {
			return fmt.Errorf("migration %04d: database has %q applied, this program has %q", m.version, have, m.name)
		}
		return nil
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
		return fmt.Errorf("migration %04d_%s: record: %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %04d_%s: commit: %w", m.version, m.name, err)
	}
	return nil
}

// toUS converts a time to stored unix microseconds.
func toUS(t time.Time) int64 { return t.UnixMicro() }

// fromUS converts stored unix microseconds to a UTC time.
func fromUS(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullUS stores the zero time as NULL.
func nullUS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: toUS(t), Valid: true}
}

func fromNullUS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromUS(v.Int64)
}

// nullID stores ID 0 as NULL.
func nullID(id int64) sql.NullInt64 {
	return sql.NullInt64{Int64: id, Valid: id != 0}
}

// isForeignKeyViolation reports whether err is SQLite's foreign key constraint failure.
func isForeignKeyViolation(err error) bool {
	var se *sqlitedrv.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
