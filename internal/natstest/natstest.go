//go:build linux

// Package natstest runs a cluster of Debian's nats-server processes on loopback
// ports for tests: three nodes with JetStream, clustered, each a child process
// that dies with the test process. It is what the district cluster tests
// (district/dnats, cmd/gridd) run a district on.
package natstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Bin returns the path of nats-server. Without it the test fails under
// GRIDD_REQUIRE_PEERS=1 (./scripts/test, CI) and is skipped otherwise; it is
// skipped in -short mode too.
func Bin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if os.Getenv("GRIDD_REQUIRE_PEERS") == "1" {
			t.Fatal("nats-server (Debian nats-server) is required (GRIDD_REQUIRE_PEERS=1; scripts/lib/nats.sh installs it)")
		}
		t.Skip("nats-server not installed (scripts/lib/nats.sh installs it)")
	}
	if testing.Short() {
		t.Skip("NATS cluster test: not in -short mode")
	}
	return bin
}

// Node is one nats-server process of a loopback cluster.
type Node struct {
	Name string // server_name: n1, n2, n3
	Port int    // client port on 127.0.0.1
	conf string
	bin  string
	cmd  *exec.Cmd
}

// URL is the node's client URL.
func (n *Node) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// Start (re)starts the node's process with its config and JetStream store.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	if n.cmd != nil {
		t.Fatalf("nats node %s is already running", n.Name)
	}
	n.cmd = exec.Command(n.bin, "-c", n.conf)
	// The node dies with the test process, even when a timeout skips the cleanup.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// Kill ends the node's process with SIGKILL (no goodbye to the cluster or the
// clients) and waits for it.
func (n *Node) Kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		_ = n.cmd.Process.Kill()
		_ = n.cmd.Wait()
	}
	n.cmd = nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartCluster starts three nats-server nodes (bin) with JetStream, clustered
// on loopback ports, each storing under a temporary directory; they are killed
// when the test ends. It returns the nodes and the comma-separated client URLs.
func StartCluster(t testing.TB, bin string) ([]*Node, string) {
	t.Helper()
	dir := t.TempDir()
	nodes := make([]*Node, 3)
	cports := make([]int, 3)
	for i := range nodes {
		nodes[i] = &Node{Name: fmt.Sprintf("n%d", i+1), Port: FreePort(t), bin: bin}
		cports[i] = FreePort(t)
	}
	urls := make([]string, 0, len(nodes))
	for i, n := range nodes {
		var routes []string
		for j, p := range cports {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster { name: gridd-test, listen: 127.0.0.1:%d, routes: [%s] }
`, n.Name, n.Port, filepath.Join(dir, n.Name), cports[i], strings.Join(routes, ", "))
		n.conf = filepath.Join(dir, n.Name+".conf")
		if err := os.WriteFile(n.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		n.Start(t)
		t.Cleanup(n.Kill)
		urls = append(urls, n.URL())
	}
	return nodes, strings.Join(urls, ",")
}
