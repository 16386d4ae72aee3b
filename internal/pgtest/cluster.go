package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Cluster is a PostgreSQL server of the test's own, initialised and started from the
// server binaries in GRIDD_TEST_PG_BIN (exported by scripts/lib/pg.sh), so a test can
// stop and start it without disturbing other tests that share the server of
// scripts/test. It is removed when the test ends.
type Cluster struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	root bool
}

// NewCluster starts a cluster. Without GRIDD_TEST_PG_BIN the test is skipped, or fails
// when GRIDD_REQUIRE_PG=1.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := os.Getenv("GRIDD_TEST_PG_BIN")
	if bin == "" {
		if os.Getenv("GRIDD_REQUIRE_PG") == "1" {
			t.Fatal("GRIDD_TEST_PG_BIN is unset and GRIDD_REQUIRE_PG=1: the PostgreSQL cluster test must run")
		}
		t.Skip("GRIDD_TEST_PG_BIN is unset; skipping a test that needs its own PostgreSQL cluster")
	}
	dir, err := os.MkdirTemp("", "gridd-pg-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, bin: bin, dir: dir, root: os.Getuid() == 0}
	t.Cleanup(func() {
		_, _ = c.run("pg_ctl", "-D", c.data(), "-m", "immediate", "stop")
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
	c.Start()
	return c
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// DSN is the cluster's postgres database.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", c.port)
}

func (c *Cluster) run(tool string, args ...string) ([]byte, error) {
	name := filepath.Join(c.bin, tool)
	if c.root {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	return exec.Command(name, args...).CombinedOutput()
}

// Start starts the server (NewCluster already did once).
func (c *Cluster) Start() {
	c.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir)
	if out, err := c.run("pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "server.log"), "-w", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		c.t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server (fast shutdown), as an outage would.
func (c *Cluster) Stop() {
	c.t.Helper()
	if out, err := c.run("pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop"); err != nil {
		c.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}
