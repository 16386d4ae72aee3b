package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/iec104test"
)

// The real-time `gridd demo` serves its SCADA over IEC 104 on loopback: a master
// written from the standard interrogates it and sets an import limit, which the
// demo confirms and enforces (2004 set, 1001 at or under the limit within two
// control intervals).
func TestDemoIEC104Station(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, &out, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop")
		}
	})
	re := regexp.MustCompile(`IEC 104 station \(common address 1\) at tcp://(\S+) for \[127\.0\.0\.1\]`)
	var addr string
	deadline := time.Now().Add(90 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no IEC 104 station in the demo's output:\n%s\n%s", out.String(), errb.String())
		}
	}
	// Wait for the first cycle so the plan and readings are there.
	for !regexp.MustCompile(`cycle .*setpoints written`).MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no first cycle:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	m, err := iec104test.Dial(t, addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	m.SendI(iec104test.GI(1))
	if a := m.Reply(100, 7); a.Neg {
		t.Fatal("GI refused")
	}
	m.Reply(100, 10)
	imp, ok := m.Points[1001]
	if !ok || imp.Qual&0x80 != 0 || m.Points[2004].Value != 0 || m.Points[2001].Value != 1 {
		t.Fatalf("GI: 1001 %+v, 2001 %+v, 2004 %+v", imp, m.Points[2001], m.Points[2004])
	}
	// Feeder B's power (1103, the third node) comes from its meter, which the demo
	// reads from a simulated RTU over IEC 104: good, and inside the feeder's rating.
	if fb, ok := m.Points[1103]; !ok || fb.Qual&0x80 != 0 || math.Abs(fb.Value) > 160 {
		t.Fatalf("1103 feeder-b power (read over IEC 104 from its RTU): %+v", fb)
	}
	limit := math.Max(0, math.Round(imp.Value-20))
	m.SendI(iec104test.Setpoint(1, 6, 3001, float32(limit), 0))
	if a := m.Reply(50, 7); a.Neg {
		t.Fatalf("import limit %.0f refused", limit)
	}
	m.Reply(50, 10)
	// Two control intervals (2 s each), the poll that reads the result and the scan.
	m.Until("1001 under the limit with 2004 set", 6*time.Second, func(iec104test.ASDU) bool {
		return m.Points[2004].Value == 1 && m.Points[1001].Value <= limit+1
	})
	t.Logf("demo import %.1f kW, IEC 104 limit %.0f kW, now %.1f kW", imp.Value, limit, m.Points[1001].Value)
}

// TestDemoLinePerCycle: the real-time demo prints which devices answered, when the
// next cycle runs, and then one line per cycle, as the README promises.
func TestDemoLinePerCycle(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real-time demo for a few seconds")
	}
	src, err := os.ReadFile("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(src), `cycle: "*/15 * * * *"`, `cycle: "@every 2s"`, 1)
	if cfg == string(src) {
		t.Fatal("the demo config has no 15-minute cycle line to replace")
	}
	path := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--config", path, "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, &out, &errb)
	}()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop")
		}
	}()
	cycles := regexp.MustCompile(`(?m)^cycle .*setpoints written and read back`)
	deadline := time.Now().Add(60 * time.Second)
	for len(cycles.FindAllString(out.String(), -1)) < 3 {
		select {
		case code := <-done:
			t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 3 cycle lines in 60 s:\n%s", out.String())
		}
	}
	s := out.String()
	for _, want := range []string{"gridd demo: all 20 devices answered", "gridd demo: next cycle at "} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	// --metrics-listen serves the same metrics without authentication.
	m := regexp.MustCompile(`Prometheus metrics at (http://\S+/metrics)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no metrics address in the output:\n%s", s)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"gridd_poll_device_duration_seconds_bucket{device=\"bess-1\"", "gridd_control_latency_seconds_count ", "gridd_cycle_phase_duration_seconds_count{phase=\"total\"} "} {
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, lacks %q", m[1], resp.StatusCode, want)
		}
	}
}
