package main

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCheckListen(t *testing.T) {
	for _, tc := range []struct {
		addr           string
		tls, insecure  bool
		wantErr, warns bool
	}{
		{"127.0.0.1:8080", false, false, false, false},
		{"127.0.0.2:8080", false, false, false, false},
		{"[::1]:8080", false, false, false, false},
		{"localhost:8080", false, false, false, false},
		{"0.0.0.0:8080", false, false, true, false},
		{":8080", false, false, true, false},
		{"[::]:8080", false, false, true, false},
		{"192.0.2.10:8080", false, false, true, false},
		{"gridd.example:8080", false, false, true, false},
		{"0.0.0.0:8080", true, false, false, false},
		{"192.0.2.10:443", true, false, false, false},
		{"0.0.0.0:8080", false, true, false, true},
		{"no-port", false, false, true, false},
	} {
		var logBuf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logBuf, nil))
		err := checkListen(tc.addr, tc.tls, tc.insecure, log)
		if (err != nil) != tc.wantErr {
			t.Errorf("checkListen(%q, tls=%v, insecure=%v) = %v, want error %v", tc.addr, tc.tls, tc.insecure, err, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), tc.addr) {
			t.Errorf("error %q does not name the address %q", err, tc.addr)
		}
		if warned := strings.Contains(logBuf.String(), "INSECURE"); warned != tc.warns {
			t.Errorf("checkListen(%q, tls=%v, insecure=%v): warned=%v\n%s", tc.addr, tc.tls, tc.insecure, warned, logBuf.String())
		}
	}
}

// TestRunRefusesPlainHTTPOnNetwork: `gridd run|demo --listen 0.0.0.0:...` without TLS
// stops with a usage error before anything starts.
func TestRunRefusesPlainHTTPOnNetwork(t *testing.T) {
	for _, args := range [][]string{
		{"run", "--config", "../../configs/demo-site.yaml", "--data-dir", t.TempDir(), "--listen", "0.0.0.0:0"},
		{"demo", "--data-dir", t.TempDir(), "--listen", ":0"},
	} {
		code, _, errOut := runCLI(t, args...)
		if code != 2 || !strings.Contains(errOut, "--insecure-listen") || !strings.Contains(errOut, "TLS") {
			t.Errorf("gridd %v: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestServeHTTPSlowHeaderCut: a client that never finishes its request header is
// disconnected after the server's ReadHeaderTimeout (10 s) instead of holding the
// connection.
func TestServeHTTPSlowHeaderCut(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	addr, stop, err := serveHTTP("127.0.0.1:0", h, newLogger(io.Discard, false), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	c.SetReadDeadline(time.Now().Add(40 * time.Second))
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s", time.Since(t0).Round(time.Second))
	}
	if d := time.Since(t0); d < 5*time.Second || d > 30*time.Second {
		t.Fatalf("connection closed after %s, want about 10 s", d.Round(time.Second))
	}
}
