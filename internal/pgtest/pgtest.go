// Package pgtest gives tests a throwaway PostgreSQL database on the server that
// ./scripts/test starts (GRIDD_TEST_PG_DSN). Without that variable the test is
// skipped, unless GRIDD_REQUIRE_PG=1 (CI), where it fails: PostgreSQL tests must run.
//
// The TimescaleDB server that ./scripts/test starts in CI or with GRIDD_FULL=1
// (scripts/lib/timescale.sh) is GRIDD_TEST_TS_DSN, required with GRIDD_REQUIRE_TS=1;
// TimescaleDSN and FreshTimescaleDatabase are its counterparts.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerDSN returns GRIDD_TEST_PG_DSN, skipping the test when it is unset unless
// GRIDD_REQUIRE_PG=1, which makes it a failure.
func ServerDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("GRIDD_TEST_PG_DSN")
	if dsn == "" {
		if os.Getenv("GRIDD_REQUIRE_PG") == "1" {
			tb.Fatal("GRIDD_TEST_PG_DSN is unset and GRIDD_REQUIRE_PG=1: PostgreSQL tests must run")
		}
		tb.Skip("GRIDD_TEST_PG_DSN is unset; skipping PostgreSQL tests")
	}
	return dsn
}

// TimescaleDSN returns GRIDD_TEST_TS_DSN, a PostgreSQL server with the timescaledb
// extension available, skipping the test when it is unset unless GRIDD_REQUIRE_TS=1,
// which makes it a failure.
func TimescaleDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("GRIDD_TEST_TS_DSN")
	if dsn == "" {
		if os.Getenv("GRIDD_REQUIRE_TS") == "1" {
			tb.Fatal("GRIDD_TEST_TS_DSN is unset and GRIDD_REQUIRE_TS=1: TimescaleDB tests must run")
		}
		tb.Skip("GRIDD_TEST_TS_DSN is unset; skipping TimescaleDB tests (run ./scripts/test with GRIDD_FULL=1)")
	}
	return dsn
}

// WithDatabase returns dsn pointed at database name.
func WithDatabase(tb testing.TB, dsn, name string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("parse the test server DSN: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}

// FreshDatabase creates an empty database, dropped when the test ends, and returns
// its DSN. It uses a linguistic (ICU) collation where the server has one, so tests
// check that ordering does not depend on the collation.
func FreshDatabase(tb testing.TB) string {
	tb.Helper()
	return freshDatabaseOn(tb, ServerDSN(tb))
}

// FreshTimescaleDatabase is FreshDatabase on the TimescaleDB server (GRIDD_TEST_TS_DSN).
// The database starts empty: the timescaledb extension is available, not yet created.
func FreshTimescaleDatabase(tb testing.TB) string {
	tb.Helper()
	return freshDatabaseOn(tb, TimescaleDSN(tb))
}

func freshDatabaseOn(tb testing.TB, dsn string) string {
	tb.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	name := "gridd_test_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect to the test server: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"); err != nil {
		tb.Logf("create database %s with an ICU collation: %v; using the server default", name, err)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			tb.Fatalf("create database %s: %v", name, err)
		}
	}
	tb.Cleanup(func() {
		admin, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("connect to drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop database %s: %v", name, err)
		}
	})
	return WithDatabase(tb, dsn, name)
}
