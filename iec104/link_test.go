package iec104_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/gridd/gridd/iec104"
	"github.com/gridd/gridd/internal/iec104test"
)

// The link layer: the station acknowledges the master's 8 I frames (N(R) = 8 in an
// S frame or in its own I frames, within w = 8), tests a silent master with TESTFR act after t3, and closes the
// connection when t1 passes without an answer (audited).
func TestLinkLayerTimers(t *testing.T) {
	r := startRig(t, false, "refuse", 20*time.Millisecond, "", func(o *iec104.Options) {
		o.T1, o.T2, o.T3 = 400*time.Millisecond, 10*time.Second, 300*time.Millisecond
	})
	m, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	// Eight refused clock syncs: eight I frames from the master.
	for i := 0; i < 8; i++ {
		m.SendI(iec104test.ClockSync(7, time.Now()))
	}
	sawS, sawTest := false, false
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && !(sawS && sawTest) {
		ctl, _, err := m.Frame(time.Until(deadline))
		if err != nil {
			break
		}
		switch {
		case ctl[0]&1 == 0 || ctl[0] == 0x01:
			if nr := binary.LittleEndian.Uint16(ctl[2:4]) >> 1; nr == 8 {
				sawS = true
			}
		case ctl[0] == 0x43:
			sawTest = true
		}
	}
	if !sawS {
		t.Error("the station never acknowledged the 8 I frames (N(R) = 8)")
	}
	if !sawTest {
		t.Fatal("no TESTFR act after t3 of silence")
	}
	// Frame answered that TESTFR: stay silent now; the next one goes unanswered.
	closedAt := time.Now()
	buf := make([]byte, 64)
	m.C.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		n, err := m.C.Read(buf)
		if err != nil {
			break
		}
		if n > 0 && buf[0] == 0x68 && buf[2] == 0x43 {
			closedAt = time.Now() // a TESTFR act we do not answer
		}
	}
	if d := time.Since(closedAt); d > time.Second {
		t.Fatalf("connection closed %s after the unanswered TESTFR, want about t1 (400 ms)", d)
	}
	deadline = time.Now().Add(2 * time.Second)
	for len(r.audits(t, "iec104.protocol")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(r.audits(t, "iec104.protocol")) == 0 {
		t.Fatal("no audit event for the timed-out connection")
	}
}
