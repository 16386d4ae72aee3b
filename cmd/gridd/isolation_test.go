package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
)

// TestHelperGridd is the entry point of the child process the isolation test starts:
// the test binary re-executed as `gridd ARGS...` (after "--"). Run directly it skips.
func TestHelperGridd(t *testing.T) {
	if os.Getenv("GRIDD_HELPER_PROCESS") != "1" {
		t.Skip("entry point of a child process")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, args, os.Stdout, os.Stderr))
}

// procSocket is one socket of /proc/PID/net/{tcp,tcp6,udp,udp6}.
type procSocket struct {
	proto         string
	local, remote netip
	state         string // hex TCP state: 0A listen, 01 established
	inode         string
}

type netip struct {
	ip   net.IP
	port int
}

func (a netip) String() string { return net.JoinHostPort(a.ip.String(), strconv.Itoa(a.port)) }

// parseProcAddr decodes "0100007F:1F90" (IPv4) or a 32-hex-digit IPv6 address; the
// kernel prints each 32-bit word in host (little-endian) byte order.
func parseProcAddr(s string) (netip, error) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip{}, fmt.Errorf("address %q", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip{}, fmt.Errorf("address %q", s)
	}
	ip := make(net.IP, len(raw))
	for w := 0; w < len(raw); w += 4 {
		for i := 0; i < 4; i++ {
			ip[w+i] = raw[w+3-i]
		}
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip{}, fmt.Errorf("port %q", p)
	}
	return netip{ip, int(port)}, nil
}

// processSockets returns the sockets the process pid holds open: the network tables
// of its namespace filtered by the socket inodes among its file descriptors.
func processSockets(t *testing.T, pid int) []procSocket {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	owned := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			owned[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []procSocket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, proto))
		if err != nil {
			if proto == "tcp" {
				t.Fatal(err)
			}
			continue // no IPv6 in this kernel
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		for _, line := range lines[1:] {
			f := strings.Fields(line)
			if len(f) < 10 {
				t.Fatalf("/proc/%d/net/%s: short line %q", pid, proto, line)
			}
			if !owned[f[9]] {
				continue
			}
			l, err := parseProcAddr(f[1])
			if err != nil {
				t.Fatal(err)
			}
			r, err := parseProcAddr(f[2])
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, procSocket{proto: proto, local: l, remote: r, state: f[3], inode: f[9]})
		}
	}
	return out
}

func TestParseProcAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0100007F:1F90", "127.0.0.1:8080"},
		{"00000000:01F6", "0.0.0.0:502"},
		{"00000000000000000000000001000000:0050", "[::1]:80"},
		{"0000000000000000FFFF00000100007F:1F90", "127.0.0.1:8080"}, // v4-mapped
	} {
		got, err := parseProcAddr(tc.in)
		if err != nil || got.String() != tc.want {
			t.Errorf("parseProcAddr(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "01007F:1F90", "zz00007F:1F90", "0100007F:XYZ"} {
		if _, err := parseProcAddr(bad); err == nil {
			t.Errorf("parseProcAddr(%q) accepted", bad)
		}
	}
}

const isolationSite = `
site: {name: isolation, timezone: UTC, cycle: "@every 1s", step: 15m, horizon: 6h}
tariff:
  import: [{from: "00:00", to: "24:00", price_per_kwh: 0.30}]
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes: [{id: sub, parent: "", limit_kw: 500}]
approval: {auto: true}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "METER", unit_id: 1, profile: "builtin:substation-meter"}
  - id: bess
    kind: bess
    node: sub
    endpoint: "BESS"
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}
    sim: {initial_soc_pct: 50}
`

// TestRunOpensOnlyTheAPIListener is the network-isolation control: `gridd run`
// dispatching a site (devices served by the simulator in this process) holds exactly
// one listening socket, the API's, and no UDP socket; its Modbus connections are
// outbound (gridd is the client, the field side needs no inbound port on gridd's host).
func TestRunOpensOnlyTheAPIListener(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("needs Linux /proc")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	meterAddr, bessAddr := freeLoopback(t), freeLoopback(t)
	yml := strings.NewReplacer("METER", meterAddr, "BESS", bessAddr).Replace(isolationSite)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, profiles, err := loadSite(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := startSim(ctx, cfg, profiles, clock.Real{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	simPorts := map[int]string{}
	for _, a := range []string{meterAddr, bessAddr} {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		simPorts[n] = a
	}

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGridd$", "--", "run", "--config", cfgPath,
		"--data-dir", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GRIDD_HELPER_PROCESS=1")
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	apiAddr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "console and API at http://"); ok {
				apiAddr <- strings.TrimSuffix(rest, "/")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var api string
	select {
	case api = <-apiAddr:
	case <-time.After(2 * time.Minute):
		t.Fatalf("gridd run did not report its API address; stderr:\n%s", stderr.String())
	}

	// Wait until the cycle has connected to both simulated devices.
	pid := cmd.Process.Pid
	var socks []procSocket
	deadline := time.Now().Add(90 * time.Second)
	for {
		socks = processSockets(t, pid)
		connected := map[int]bool{}
		for _, x := range socks {
			if strings.HasPrefix(x.proto, "tcp") && x.state == "01" && simPorts[x.remote.port] != "" {
				connected[x.remote.port] = true
			}
		}
		if len(connected) == len(simPorts) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gridd run did not connect to the simulated devices %v; sockets %v\nstderr:\n%s", simPorts, socks, stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	var listening []string
	for _, x := range socks {
		switch {
		case strings.HasPrefix(x.proto, "udp"):
			t.Errorf("gridd run holds a UDP socket %s (inode %s)", x.local, x.inode)
		case x.state == "0A":
			listening = append(listening, x.local.String())
		case simPorts[x.local.port] != "":
			t.Errorf("connection %s <- %s is inbound on a field port", x.local, x.remote)
		}
	}
	if len(listening) != 1 || listening[0] != api {
		t.Fatalf("listening sockets %v, want only the API at %s", listening, api)
	}
	t.Logf("gridd run (pid %d): listening %v, %d sockets in all, Modbus connections outbound to %v", pid, listening, len(socks), simPorts)
}

// syncBuffer serialises writes from the child's stderr copier and reads by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
