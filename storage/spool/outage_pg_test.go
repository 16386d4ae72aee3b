package spool

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"

	"github.com/jackc/pgx/v5"
)

// cluster is a throwaway PostgreSQL server of the test's own, so stopping it does not disturb
// other packages' tests that share the server of scripts/test.
type cluster struct {
	t    *testing.T
	bin  string
	dir  string
	port int
	root bool
}

// newCluster initialises and starts a cluster with the binaries in GRIDD_TEST_PG_BIN (exported
// by scripts/lib/pg.sh). Without it the test is skipped, or fails when GRIDD_REQUIRE_PG=1.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bin := os.Getenv("GRIDD_TEST_PG_BIN")
	if bin == "" {
		if os.Getenv("GRIDD_REQUIRE_PG") == "1" {
			t.Fatal("GRIDD_TEST_PG_BIN is unset and GRIDD_REQUIRE_PG=1: the outage test must run")
		}
		t.Skip("GRIDD_TEST_PG_BIN is unset; skipping the PostgreSQL outage test")
	}
	dir, err := os.MkdirTemp("", "gridd-spool-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, bin: bin, dir: dir, root: os.Getuid() == 0}
	t.Cleanup(func() {
		c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "stop")
		os.RemoveAll(dir)
	})
	if c.root {
		// PostgreSQL refuses to run as root: the cluster belongs to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if out, err := c.run("initdb", "-D", c.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.start()
	return c
}

func (c *cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *cluster) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port)
}

func (c *cluster) run(tool string, args ...string) ([]byte, error) {
	name := filepath.Join(c.bin, tool)
	if c.root {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	return exec.Command(name, args...).CombinedOutput()
}

func (c *cluster) start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)
	if out, err := c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func (c *cluster) stop() {
	c.t.Helper()
	if out, err := c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop"); err != nil {
		c.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// TestPostgresOutage stops the database mid-run for several cycles, keeps polling, restarts it,
// and checks that every poll's telemetry is stored exactly once.
func TestPostgresOutage(t *testing.T) {
	ctx := t.Context()
	pg := newCluster(t)
	inner, err := timescale.Open(ctx, pg.dsn(), quiet())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := open(t, inner, t.TempDir(), Options{WriteTimeout: 5 * time.Second})
	defer s.Close()

	const before, during, after = 4, 8, 4
	c := 0
	poll := func(n int) {
		t.Helper()
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
	poll(before)
	if st := s.Stats(); st.Spooled != 0 {
		t.Fatalf("with the database up, %d records were spooled", st.Spooled)
	}
	pg.stop()
	poll(during)
	if st := s.Stats(); st.PendingRecords < 2*during {
		t.Fatalf("during the outage %d records pending, want at least %d", st.PendingRecords, 2*during)
	}
	pg.start()
	poll(after)
	// The pool may need a moment to replace its dead connections.
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().PendingRecords > 0 {
		if err := s.Flush(ctx); err != nil && time.Now().After(deadline) {
			t.Fatalf("Flush after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkComplete(t, inner, c)

	conn, err := pgx.Connect(ctx, pg.dsn())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, keys int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (time, device_id, point)) FROM telemetry`).Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	if want := c * len(cycle(0)); rows != want || keys != want {
		t.Fatalf("telemetry has %d rows with %d distinct keys, want %d polls x %d samples = %d", rows, keys, c, len(cycle(0)), want)
	}
	events, err := inner.ListAudit(ctx, t0, t0.Add(24*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != c {
		t.Fatalf("%d audit events, want %d", len(events), c)
	}
	for i, e := range events {
		if e.Subject != fmt.Sprint(i) {
			t.Fatalf("audit event %d has subject %q: lost, duplicated or out of order", i, e.Subject)
		}
	}
	if st := s.Stats(); st.Spooled < int64(2*during) || st.Flushed != st.Spooled || st.Refused != 0 {
		t.Fatalf("stats %+v: want every spooled record flushed and none refused", st)
	}
}
