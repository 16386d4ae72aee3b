package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage/timescale"
	"github.com/jackc/pgx/v5"
)

// tsTool runs a PostgreSQL program of the TimescaleDB server's own installation (the
// Debian root of scripts/lib/timescale.sh, GRIDD_TEST_TS_ROOT) as its postgres user,
// so pg_dump and pg_restore match the server's major version.
func tsTool(t *testing.T, root string, args ...string) {
	t.Helper()
	ids, err := exec.Command("chroot", root, "sh", "-c", `echo "$(id -u postgres):$(id -g postgres)"`).Output()
	if err != nil {
		t.Fatalf("postgres user in %s: %v", root, err)
	}
	cmd := exec.Command("chroot", append([]string{"--userspec=" + strings.TrimSpace(string(ids)), root, "env", "LC_ALL=C.UTF-8",
		"/usr/lib/postgresql/17/bin/" + args[0]}, args[1:]...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func hypertables(t *testing.T, ctx context.Context, dsn string) []string {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT hypertable_name FROM timescaledb_information.hypertables`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestPgDumpRestoreTimescale follows docs/SECURITY.md's TimescaleDB backup guidance:
// pg_dump -Fc of a database with hypertables, then in a new database CREATE EXTENSION
// timescaledb, SELECT timescaledb_pre_restore(), pg_restore, SELECT
// timescaledb_post_restore(); gridd opens the copy with every row and every hypertable.
func TestPgDumpRestoreTimescale(t *testing.T) {
	srcDSN := pgtest.FreshTimescaleDatabase(t)
	root := os.Getenv("GRIDD_TEST_TS_ROOT")
	if root == "" {
		if os.Getenv("GRIDD_REQUIRE_TS") == "1" {
			t.Fatal("GRIDD_TEST_TS_ROOT is unset: pg_dump/pg_restore of the TimescaleDB server are needed")
		}
		t.Skip("GRIDD_TEST_TS_ROOT unset (run through ./scripts/test with GRIDD_FULL=1)")
	}
	ctx := context.Background()
	if code, out, errOut := runCLI(t, "demo", "--cycles", "2", "--data-dir", t.TempDir(), "--db", srcDSN); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	srcHT := hypertables(t, ctx, srcDSN)
	if len(srcHT) == 0 {
		t.Fatal("the source database has no hypertables: nothing TimescaleDB-specific to restore")
	}

	dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "gridd-dump-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	inRoot := "/tmp/" + filepath.Base(dir) + "/gridd.dump"
	tsTool(t, root, "pg_dump", "-Fc", "-f", inRoot, "-d", srcDSN)

	dstDSN := pgtest.FreshTimescaleDatabase(t)
	c, err := pgx.Connect(ctx, dstDSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`CREATE EXTENSION IF NOT EXISTS timescaledb`, `SELECT timescaledb_pre_restore()`} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	c.Close(ctx)
	tsTool(t, root, "pg_restore", "--no-owner", "-d", dstDSN, inRoot)
	c, err = pgx.Connect(ctx, dstDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, `SELECT timescaledb_post_restore()`); err != nil {
		t.Fatalf("timescaledb_post_restore: %v", err)
	}
	c.Close(ctx)

	if dstHT := hypertables(t, ctx, dstDSN); strings.Join(dstHT, ",") != strings.Join(srcHT, ",") {
		t.Fatalf("hypertables after restore %v, before %v", dstHT, srcHT)
	}
	a, err := timescale.Open(ctx, srcDSN, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := timescale.Open(ctx, dstDSN, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	same(t, ctx, a, b)
	if rep, err := audit.Verify(ctx, b); err != nil || !rep.OK() || rep.Chained == 0 {
		t.Fatalf("audit chain after restore: %+v %v", rep, err)
	}
	t.Logf("restored %d hypertables: %v", len(srcHT), srcHT)
}
