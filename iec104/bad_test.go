package iec104_test

import (
	"encoding/binary"
	"errors"
	"github.com/gridd/gridd/internal/iec104test"
	"io"
	"math"
	"net"
	"testing"
	"time"
)

// Bad commands get a negative confirmation with the cause the standard names, an
// audit event with the master's address, and change nothing.
func TestBadCommandsRefused(t *testing.T) {
	r := newRig(t, false, "refuse")
	m, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	c58 := append([]byte{58, 1, 6, 0, 7, 0, 0x1d, 0x0c, 0, 1}, 0, 0, 0, 8, 3, 6, 19)
	for _, tc := range []struct {
		name  string
		asdu  []byte
		typ   byte
		cause byte
	}{
		{"unknown IOA", iec104test.Setpoint(7, 6, 3005, 100, 0), 50, 47},
		{"set-point on a measured value", iec104test.Setpoint(7, 6, 1001, 100, 0), 50, 47},
		{"unknown type id (C_SC_TA_1)", c58, 58, 44},
		{"monitoring type from a master", []byte{13, 1, 6, 0, 7, 0, 0xe9, 3, 0, 0, 0, 0x80, 0x3f, 0}, 13, 44},
		{"scaled set-point (C_SE_NB_1, not taken)", []byte{49, 1, 6, 0, 7, 0, 0xb9, 0x0b, 0, 0x64, 0, 0}, 49, 44},
		{"normalised set-point (C_SE_NA_1, not taken)", []byte{48, 1, 6, 0, 7, 0, 0xb9, 0x0b, 0, 0, 0x20, 0}, 48, 44},
		{"double point from a master", []byte{3, 1, 6, 0, 7, 0, 0xd1, 7, 0, 2}, 3, 44},
		{"wrong common address", iec104test.Setpoint(9, 6, 3001, 100, 0), 50, 46},
		{"interrogation to another station", []byte{100, 1, 6, 0, 8, 0, 0, 0, 0, 20}, 100, 46},
		{"unknown cause", iec104test.Setpoint(7, 3, 3001, 100, 0), 50, 45},
		{"negative import limit", iec104test.Setpoint(7, 6, 3001, -5, 0), 50, 7},
		{"NaN import limit", iec104test.Setpoint(7, 6, 3001, float32(math.NaN()), 0), 50, 7},
		{"infinite export limit", iec104test.Setpoint(7, 6, 3002, float32(math.Inf(1)), 0), 50, 7},
		{"import limit above the physical 900 kW", iec104test.Setpoint(7, 6, 3001, 1000, 0), 50, 7},
		{"export limit above the physical 300 kW", iec104test.Setpoint(7, 6, 3002, 400, 0), 50, 7},
		{"pause not allowed", iec104test.Single(7, 3101, 1), 45, 7},
		{"single command to an unknown IOA", iec104test.Single(7, 3102, 1), 45, 47},
		{"clock sync refused", iec104test.ClockSync(7, time.Now()), 103, 7},
		{"deactivation without a select", iec104test.Setpoint(7, 8, 3001, 100, 0), 50, 9},
		{"interrogation with group 21 only", []byte{100, 1, 6, 0, 7, 0, 0, 0, 0, 21}, 100, 7},
	} {
		before := len(r.audits(t, "iec104.refused"))
		m.SendI(tc.asdu)
		a := m.Reply(tc.typ, tc.cause)
		if !a.Neg {
			t.Errorf("%s: reply type %d cause %d without the negative bit", tc.name, a.Typ, a.Cause)
		}
		ev := r.audits(t, "iec104.refused")
		if len(ev) != before+1 || ev[len(ev)-1][:len("iec104:127.0.0.1")] != "iec104:127.0.0.1" {
			t.Errorf("%s: refusal audit events %v", tc.name, ev)
		}
	}
	now := r.site.Clock.Now()
	if ls := r.site.Service.Limits(t.Context(), now); len(ls) != 0 {
		t.Fatalf("limits in force after refused commands: %+v", ls)
	}
	if r.site.Service.Envelope().KillSwitch().Engaged {
		t.Fatal("paused by a refused command")
	}
	// The station still serves this master.
	m.SendI(iec104test.GI(7))
	if a := m.Reply(100, 7); a.Neg {
		t.Fatal("GI refused after bad commands")
	}
	m.Reply(100, 10)
}

// Select-before-operate: a select confirms and changes nothing; an execute that
// differs from the select is refused; a matching execute sets the limit.
func TestSelectBeforeOperate(t *testing.T) {
	r := newRig(t, false, "accept")
	m, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	m.SendI(iec104test.Setpoint(7, 6, 3002, 50, 0x80))
	if a := m.Reply(50, 7); a.Neg {
		t.Fatal("select refused")
	}
	if ls := r.site.Service.Limits(t.Context(), r.site.Clock.Now()); len(ls) != 0 {
		t.Fatalf("a select set a limit: %+v", ls)
	}
	m.SendI(iec104test.Setpoint(7, 6, 3002, 60, 0))
	if a := m.Reply(50, 7); !a.Neg {
		t.Fatal("execute of another value than selected confirmed")
	}
	m.SendI(iec104test.Setpoint(7, 6, 3002, 50, 0x80))
	m.Reply(50, 7)
	m.SendI(iec104test.Setpoint(7, 8, 3002, 50, 0x80))
	if a := m.Reply(50, 9); a.Neg {
		t.Fatal("deactivation of a select refused")
	}
	m.SendI(iec104test.Setpoint(7, 6, 3002, 50, 0x80))
	m.Reply(50, 7)
	m.SendI(iec104test.Setpoint(7, 6, 3002, 50, 0))
	if a := m.Reply(50, 7); a.Neg {
		t.Fatal("execute after select refused")
	}
	m.Reply(50, 10)
	ls := r.site.Service.Limits(t.Context(), r.site.Clock.Now())
	if len(ls) != 1 || ls[0].ExportKW == nil || *ls[0].ExportKW != 50 {
		t.Fatalf("limits %+v, want an export limit of 50 kW", ls)
	}
	// Clock sync is accepted (and audited) when the config says so.
	m.SendI(iec104test.ClockSync(7, time.Date(2019, 6, 3, 8, 0, 5, 0, time.UTC)))
	if a := m.Reply(103, 7); a.Neg {
		t.Fatal("clock sync refused with clock_sync: accept")
	}
	if ev := r.audits(t, "iec104.clock_sync"); len(ev) != 1 {
		t.Fatalf("clock sync audit events %v", ev)
	}
}

// With allow_pause, C_SC_NA_1 3101 pauses (1) and resumes (0) automation, and 2001
// follows.
func TestPauseResume(t *testing.T) {
	r := newRig(t, true, "refuse")
	m, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	m.SendI(iec104test.Single(7, 3101, 1))
	if a := m.Reply(45, 7); a.Neg {
		t.Fatal("pause refused")
	}
	m.Reply(45, 10)
	ks := r.site.Service.Envelope().KillSwitch()
	if !ks.Engaged || ks.By != "iec104:127.0.0.1" {
		t.Fatalf("kill switch %+v after pause", ks)
	}
	m.Until("2001 = 0", 5*time.Second, func(a iec104test.ASDU) bool { p, ok := m.Points[2001]; return ok && p.Value == 0 })
	m.SendI(iec104test.Single(7, 3101, 0))
	m.Reply(45, 7)
	m.Reply(45, 10)
	if r.site.Service.Envelope().KillSwitch().Engaged {
		t.Fatal("still paused after resume")
	}
	m.Until("2001 = 1", 5*time.Second, func(a iec104test.ASDU) bool { return m.Points[2001].Value == 1 })
}

// closed waits for the station to close the connection.
func closed(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 512)
	for {
		_, err := c.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		return errors.Is(err, io.EOF) || !(errors.As(err, &ne) && ne.Timeout())
	}
}

// Garbage APDUs and protocol violations close the connection with an audit event;
// a master not on the allow-list is refused at connect; the station stays up.
func TestGarbageAndAllowList(t *testing.T) {
	r := newRig(t, false, "refuse")
	iframe := func(ns, nr uint16, asdu []byte) []byte {
		b := []byte{0x68, byte(4 + len(asdu)), byte(ns << 1), byte(ns >> 7), byte(nr << 1), byte(nr >> 7)}
		return append(b, asdu...)
	}
	startdt := []byte{0x68, 4, 7, 0, 0, 0}
	short := iec104test.Setpoint(7, 6, 3001, 10, 0)[:10]
	for _, tc := range []struct {
		name    string
		started bool
		bytes   []byte
	}{
		{"bad start octet", false, []byte{0x69, 4, 7, 0, 0, 0}},
		{"length below 4", false, []byte{0x68, 2, 7, 0}},
		{"unknown U function", false, []byte{0x68, 4, 0x0f, 0, 0, 0}},
		{"U frame with data", false, []byte{0x68, 6, 7, 0, 0, 0, 1, 2}},
		{"I frame before STARTDT", false, iframe(0, 0, iec104test.GI(7))},
		{"wrong send sequence number", true, iframe(5, 0, iec104test.GI(7))},
		{"acknowledges frames never sent", true, []byte{0x68, 4, 1, 0, 10, 0}},
		{"truncated set-point", true, iframe(0, 0, short)},
		{"ASDU with no objects", true, iframe(0, 0, []byte{50, 0, 6, 0, 7, 0})},
		{"CP56Time2a month 13", true, iframe(0, 0, []byte{103, 1, 6, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 13, 19})},
	} {
		before := len(r.audits(t, "iec104.protocol"))
		c, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.started {
			c.Write(startdt)
			con := make([]byte, 6)
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.ReadFull(c, con); err != nil || con[2] != 0x0b {
				t.Fatalf("%s: STARTDT con % x %v", tc.name, con, err)
			}
		}
		c.Write(tc.bytes)
		if !closed(c) {
			t.Errorf("%s: connection not closed", tc.name)
		}
		c.Close()
		deadline := time.Now().Add(2 * time.Second)
		for len(r.audits(t, "iec104.protocol")) == before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if len(r.audits(t, "iec104.protocol")) != before+1 {
			t.Errorf("%s: no iec104.protocol audit event", tc.name)
		}
	}
	// A master not on the allow-list (127.0.0.2) is refused at connect.
	m, err := iec104test.Dial(t, r.addr, "127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	m.C.Write([]byte{0x68, 4, 7, 0, 0, 0})
	if !closed(m.C) {
		t.Fatal("a master not on the allow-list was not refused")
	}
	if ev := r.audits(t, "iec104.refuse"); len(ev) != 1 || ev[0] != "iec104:127.0.0.2 connection" {
		t.Fatalf("refusal audit events %v", ev)
	}
	// The station still serves an allowed master.
	ok, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	ok.StartDT()
	ok.SendI(iec104test.GI(7))
	ok.Reply(100, 7)
	a := ok.Reply(100, 10)
	if a.Neg || len(ok.Points) != 12 {
		t.Fatalf("GI after garbage: %d points", len(ok.Points))
	}
	_ = binary.LittleEndian
}
