package apdu

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// A controlled station's link and a controlling station's link over loopback TCP: STARTDT,
// ASDUs both ways past the k window (acknowledged by S frames after w or t2), and a
// TESTFR after t3 of silence answered.
func TestLinkBothRoles(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	b, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cfg := LinkConfig{K: 4, W: 2, T1: 200 * time.Millisecond, T2: 50 * time.Millisecond, T3: 100 * time.Millisecond}
	srv, cli := NewLink(a, cfg, true), NewLink(b, cfg, false)
	got := make(chan *ASDU, 64)
	go func() { _ = srv.Run(func(x *ASDU) { got <- x }) }()
	cgot := make(chan *ASDU, 64)
	go func() { _ = cli.Run(func(x *ASDU) { cgot <- x }) }()
	t.Cleanup(func() { srv.Close(); cli.Close() })
	if err := cli.StartDT(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !cli.Started() {
		t.Fatal("client not started after STARTDT con")
	}
	for i := 0; i < 20; i++ {
		gi := &ASDU{Type: CIcNa1, Cause: CotAct, CA: uint16(i), Objects: []Object{{QDS: 20}}}
		if err := cli.Send(gi.Encode()); err != nil {
			t.Fatal(err)
		}
		m := &ASDU{Type: MMeNc1, Cause: CotSpontaneous, CA: 1, Objects: []Object{{IOA: uint32(i + 1), Float: float32(i)}}}
		if err := srv.Send(m.Encode()); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		select {
		case x := <-got:
			if x.CA != uint16(i) {
				t.Fatalf("station got CA %d, want %d", x.CA, i)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("station: ASDU %d not received", i)
		}
		select {
		case x := <-cgot:
			if x.Objects[0].Float != float32(i) {
				t.Fatalf("client got %v, want %d", x.Objects[0].Float, i)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("client: ASDU %d not received", i)
		}
	}
	time.Sleep(3 * (cfg.T3 + cfg.T1)) // silence: TESTFR act/con keep the link up
	select {
	case <-srv.Done():
		t.Fatalf("station link closed on silence: %v", srv.Err())
	case <-cli.Done():
		t.Fatalf("client link closed on silence: %v", cli.Err())
	default:
	}
}

// FuzzLink feeds arbitrary bytes to a controlled station's link: no panic, and a
// link that closes says why (a frame error, a protocol error, or the end of input).
func FuzzLink(f *testing.F) {
	f.Add([]byte{0x68, 4, 7, 0, 0, 0})
	f.Add(append([]byte{0x68, 4, 7, 0, 0, 0}, IFrame(0, 0, []byte{100, 1, 6, 0, 1, 0, 0, 0, 0, 20})...))
	f.Add(append([]byte{0x68, 4, 7, 0, 0, 0}, IFrame(3, 0, []byte{100, 1, 6, 0, 1, 0, 0, 0, 0, 20})...))
	f.Add([]byte{0x68, 4, 1, 0, 10, 0})
	f.Add([]byte{0x68, 4, 0x43, 0, 0, 0, 0x68, 4, 0x13, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		l := NewLink(a, LinkConfig{T1: 200 * time.Millisecond, T3: time.Second}, true)
		done := make(chan error, 1)
		go func() { done <- l.Run(func(*ASDU) {}) }()
		go func() { // the peer: read whatever the link answers
			_, _ = io.Copy(io.Discard, b)
		}()
		_, _ = b.Write(data)
		b.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("link ended without a reason")
			}
			if !errors.Is(err, ErrFrame) && !errors.Is(err, ErrProtocol) && !errors.Is(err, io.EOF) &&
				!errors.Is(err, io.ErrClosedPipe) && !errors.Is(err, ErrClosed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("link ended with %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("link still running after its peer closed")
		}
	})
}
