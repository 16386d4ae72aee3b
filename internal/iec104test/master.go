// Package iec104test is, for tests, a minimal IEC 60870-5-104 controlling station (master) written from the standard
// (IEC 60870-5-104 §5 APCI, IEC 60870-5-101 §7 ASDU), sharing no code with the
// station under test: it builds and parses APDUs byte by byte.
package iec104test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"testing"
	"time"
)

type ASDU struct {
	Typ, Cause byte
	Neg        bool
	CA         uint16
	Objs       []Obj
}

type Obj struct {
	IOA   uint32
	Value float64 // float, or the SIQ/SCO/QOI bit 0
	Qual  byte
}

type Master struct {
	T      testing.TB
	C      net.Conn
	vs, vr uint16
	Points map[uint32]Obj // latest value per IOA, any cause
	Log    []ASDU
}

func Dial(t testing.TB, addr string, local string) (*Master, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &Master{T: t, C: c, Points: map[uint32]Obj{}}, nil
}

func (m *Master) raw(b []byte) {
	m.T.Helper()
	if _, err := m.C.Write(b); err != nil {
		m.T.Fatalf("master write: %v", err)
	}
}

// New wraps a connection already made (e.g. over TLS).
func New(t testing.TB, c net.Conn) *Master {
	t.Cleanup(func() { c.Close() })
	return &Master{T: t, C: c, Points: map[uint32]Obj{}}
}

// startDT sends STARTDT act and waits for STARTDT con.
func (m *Master) StartDT() {
	m.T.Helper()
	m.raw([]byte{0x68, 4, 0x07, 0, 0, 0})
	for {
		ctl, _, err := m.Frame(3 * time.Second)
		if err != nil {
			m.T.Fatalf("STARTDT con: %v", err)
		}
		if ctl[0] == 0x0B {
			return
		}
	}
}

// sendI sends an I frame carrying asdu with the master's sequence numbers.
func (m *Master) SendI(asdu []byte) {
	m.T.Helper()
	b := []byte{0x68, byte(4 + len(asdu)), byte(m.vs << 1), byte(m.vs >> 7), byte(m.vr << 1), byte(m.vr >> 7)}
	m.vs = (m.vs + 1) % 32768
	m.raw(append(b, asdu...))
}

// frame reads one APDU: its control field and, for I frames, the ASDU. It answers
// TESTFR act and acknowledges every I frame with an S frame.
func (m *Master) Frame(timeout time.Duration) ([4]byte, []byte, error) {
	var ctl [4]byte
	if err := m.C.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return ctl, nil, err
	}
	h := make([]byte, 2)
	if _, err := io.ReadFull(m.C, h); err != nil {
		return ctl, nil, err
	}
	if h[0] != 0x68 || h[1] < 4 {
		return ctl, nil, fmt.Errorf("bad APDU header % x", h)
	}
	body := make([]byte, h[1])
	if _, err := io.ReadFull(m.C, body); err != nil {
		return ctl, nil, err
	}
	copy(ctl[:], body[:4])
	switch {
	case ctl[0]&1 == 0: // I frame
		ns := binary.LittleEndian.Uint16(ctl[0:2]) >> 1
		if ns != m.vr {
			return ctl, nil, fmt.Errorf("station N(S) %d, expected %d", ns, m.vr)
		}
		m.vr = (m.vr + 1) % 32768
		m.raw([]byte{0x68, 4, 1, 0, byte(m.vr << 1), byte(m.vr >> 7)})
		return ctl, body[4:], nil
	case ctl[0] == 0x43: // TESTFR act
		m.raw([]byte{0x68, 4, 0x83, 0, 0, 0})
	}
	return ctl, nil, nil
}

// parse decodes an ASDU of the types the station sends.
func Parse(b []byte) (ASDU, error) {
	if len(b) < 6 {
		return ASDU{}, errors.New("short ASDU")
	}
	a := ASDU{Typ: b[0], Cause: b[2] & 0x3f, Neg: b[2]&0x40 != 0, CA: binary.LittleEndian.Uint16(b[4:6])}
	n, sq := int(b[1]&0x7f), b[1]&0x80 != 0
	if sq {
		return a, errors.New("SQ=1 not expected from the station")
	}
	size := map[byte]int{1: 1, 3: 1, 13: 5, 58: 8, 30: 8, 36: 12, 45: 1, 48: 3, 49: 3, 50: 5, 100: 1, 103: 7}[a.Typ]
	if size == 0 {
		return a, fmt.Errorf("unexpected type %d", a.Typ)
	}
	body := b[6:]
	if len(body) != n*(3+size) {
		return a, fmt.Errorf("type %d: %d objects in %d octets", a.Typ, n, len(body))
	}
	for i := 0; i < n; i++ {
		e := body[i*(3+size) : (i+1)*(3+size)]
		o := Obj{IOA: uint32(e[0]) | uint32(e[1])<<8 | uint32(e[2])<<16}
		switch a.Typ {
		case 1, 30, 45, 100:
			o.Value, o.Qual = float64(e[3]&1), e[3]
		case 13, 36, 50:
			o.Value, o.Qual = float64(math.Float32frombits(binary.LittleEndian.Uint32(e[3:7]))), e[7]
		}
		a.Objs = append(a.Objs, o)
	}
	return a, nil
}

// Until reads ASDUs until pred holds for one of them (after recording its points);
// pred is first called with an empty ASDU, for predicates on Points.
func (m *Master) Until(what string, timeout time.Duration, pred func(ASDU) bool) ASDU {
	m.T.Helper()
	if pred(ASDU{}) { // a predicate on Points that already holds
		return ASDU{}
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, b, err := m.Frame(time.Until(deadline))
		if err != nil {
			m.T.Fatalf("waiting for %s: %v", what, err)
		}
		if b == nil {
			continue
		}
		a, err := Parse(b)
		if err != nil {
			m.T.Fatalf("waiting for %s: %v (% x)", what, err, b)
		}
		m.Log = append(m.Log, a)
		if a.Typ < 45 {
			for _, o := range a.Objs {
				m.Points[o.IOA] = o
			}
		}
		if pred(a) {
			return a
		}
	}
	m.T.Fatalf("no %s within %s", what, timeout)
	return ASDU{}
}

// reply waits for the station's answer to a command of type typ.
func (m *Master) Reply(typ byte, cause byte) ASDU {
	m.T.Helper()
	return m.Until(fmt.Sprintf("type %d cause %d", typ, cause), 5*time.Second, func(a ASDU) bool { return a.Typ == typ && a.Cause == cause })
}

// Command ASDUs (one object, SQ=0, originator address 0).
func GI(ca uint16) []byte { return []byte{100, 1, 6, 0, byte(ca), byte(ca >> 8), 0, 0, 0, 20} }

func Setpoint(ca uint16, cause byte, ioa uint32, v float32, qos byte) []byte {
	b := []byte{50, 1, cause, 0, byte(ca), byte(ca >> 8), byte(ioa), byte(ioa >> 8), byte(ioa >> 16)}
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	return append(b, qos)
}

func Single(ca uint16, ioa uint32, sco byte) []byte {
	return []byte{45, 1, 6, 0, byte(ca), byte(ca >> 8), byte(ioa), byte(ioa >> 8), byte(ioa >> 16), sco}
}

func ClockSync(ca uint16, t time.Time) []byte {
	t = t.UTC()
	ms := uint16(t.Second()*1000 + t.Nanosecond()/1e6)
	return []byte{103, 1, 6, 0, byte(ca), byte(ca >> 8), 0, 0, 0, byte(ms), byte(ms >> 8), byte(t.Minute()), byte(t.Hour()), byte(t.Day()), byte(t.Month()), byte(t.Year() % 100)}
}
