package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

// pipe is a request stream in and a response buffer out.
type pipe struct {
	in  io.Reader
	out bytes.Buffer
}

func (p *pipe) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p *pipe) Write(b []byte) (int, error) { return p.out.Write(b) }

func rtuFrame(b ...byte) []byte { return binary.LittleEndian.AppendUint16(b, crc16(b)) }

func TestServeRTUFrames(t *testing.T) {
	h, err := NewRegisters(1, 100, []uint16{0x1234, 0x5678, 0x9ABC})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		req     []byte
		want    []byte // nil: no response
		wantErr string
	}{
		{"read holding", rtuFrame(1, 3, 0, 100, 0, 2), rtuFrame(1, 3, 4, 0x12, 0x34, 0x56, 0x78), ""},
		{"read input", rtuFrame(1, 4, 0, 102, 0, 1), rtuFrame(1, 4, 2, 0x9A, 0xBC), ""},
		{"write single then read", append(rtuFrame(1, 6, 0, 101, 0xAB, 0xCD), rtuFrame(1, 3, 0, 101, 0, 1)...),
			append(rtuFrame(1, 6, 0, 101, 0xAB, 0xCD), rtuFrame(1, 3, 2, 0xAB, 0xCD)...), ""},
		{"write multiple", rtuFrame(1, 16, 0, 100, 0, 2, 4, 0, 1, 0, 2), rtuFrame(1, 16, 0, 100, 0, 2), ""},
		{"illegal address", rtuFrame(1, 3, 0, 0, 0, 1), rtuFrame(1, 0x83, 2), ""},
		{"unknown unit", rtuFrame(7, 3, 0, 100, 0, 1), rtuFrame(7, 0x83, 0x0B), ""},
		{"quantity 0", rtuFrame(1, 3, 0, 100, 0, 0), rtuFrame(1, 0x83, 3), ""},
		{"broadcast write has no answer", rtuFrame(0, 6, 0, 100, 0, 1), nil, ""},
		{"bad crc", []byte{1, 3, 0, 100, 0, 1, 0, 0}, nil, "bad CRC"},
		{"unframeable function", rtuFrame(1, 43, 14, 1, 0), nil, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pipe{in: bytes.NewReader(tc.req)}
			err := ServeRTU(p, h)
			switch {
			case tc.wantErr == "" && !errors.Is(err, io.EOF):
				t.Fatalf("err %v, want EOF at the end of the stream", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if !bytes.Equal(p.out.Bytes(), tc.want) {
				t.Fatalf("response % X, want % X", p.out.Bytes(), tc.want)
			}
		})
	}
}

func asciiFrame(b ...byte) string {
	return ":" + strings.ToUpper(hex.EncodeToString(append(b, lrc(b)))) + "\r\n"
}

func TestServeASCIIFrames(t *testing.T) {
	h, err := NewRegisters(2, 0, []uint16{0x0102, 0x0304})
	if err != nil {
		t.Fatal(err)
	}
	req := asciiFrame(2, 3, 0, 0, 0, 2) + "garbage line\r\n" + ":0203000000FF\r\n" + asciiFrame(2, 1, 0, 0, 0, 1)
	p := &pipe{in: strings.NewReader(req)}
	if err := ServeASCII(p, h); !errors.Is(err, io.EOF) {
		t.Fatalf("err %v", err)
	}
	want := asciiFrame(2, 3, 4, 1, 2, 3, 4) + asciiFrame(2, 0x81, 2)
	if p.out.String() != want {
		t.Fatalf("responses %q, want %q (bad lines and LRCs are dropped)", p.out.String(), want)
	}
}

// FuzzHandlePDU serves arbitrary request PDUs: never a panic, and every response is
// either an exception (function code | 0x80 and a known code) or echoes the request's
// function code.
func FuzzHandlePDU(f *testing.F) {
	f.Add(byte(1), []byte{3, 0, 100, 0, 2})
	f.Add(byte(1), []byte{16, 0, 100, 0, 2, 4, 0, 1, 0, 2})
	f.Add(byte(1), []byte{15, 0, 0, 0, 9, 2, 0xFF, 1})
	f.Add(byte(0), []byte{5, 0, 1, 0xFF, 0})
	f.Add(byte(3), []byte{})
	f.Fuzz(func(t *testing.T, unit byte, pdu []byte) {
		h, _ := NewRegisters(1, 100, []uint16{1, 2, 3, 4})
		resp, ok := handlePDU(h, unit, pdu)
		if !ok {
			return
		}
		if len(resp) < 2 {
			t.Fatalf("response % X too short", resp)
		}
		if resp[0]&0x80 != 0 {
			if resp[0] != pdu[0]|0x80 || len(resp) != 2 || resp[1] == 0 || resp[1] > 0x0B {
				t.Fatalf("bad exception % X for % X", resp, pdu)
			}
			return
		}
		if resp[0] != pdu[0] {
			t.Fatalf("response % X to function %d", resp, pdu[0])
		}
	})
}
