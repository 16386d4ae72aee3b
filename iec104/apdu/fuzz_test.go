package apdu

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary bytes to the APDU reader and decoder the station runs
// on every frame from a master: no panic; a decoded I frame's ASDU re-encodes to
// the bytes it came from; errors from the decoder wrap ErrFrame.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x68, 4, 7, 0, 0, 0})
	f.Add([]byte{0x68, 4, 1, 0, 2, 0})
	f.Add(IFrame(0, 0, []byte{100, 1, 6, 0, 1, 0, 0, 0, 0, 20}))
	f.Add(IFrame(3, 9, []byte{50, 1, 6, 0, 1, 0, 0xb9, 0x0b, 0, 0, 0, 0x48, 0x43, 0x80}))
	f.Add(IFrame(1, 1, []byte{45, 1, 6, 0, 1, 0, 0x1d, 0x0c, 0, 1}))
	f.Add(IFrame(1, 1, EncodeCP56([]byte{103, 1, 6, 0, 1, 0, 0, 0, 0}, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))))
	f.Add(IFrame(1, 1, []byte{13, 0x82, 3, 0, 1, 0, 0xe9, 3, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x80, 0x3f, 0}))
	f.Add([]byte{0x68, 6, 0, 0, 0, 0, 58, 1})
	f.Add(IFrame(2, 0, []byte{9, 2, 3, 0, 1, 0, 1, 0, 0, 0x00, 0x40, 0, 2, 0, 0, 0xff, 0xbf, 0x80}))
	f.Add(IFrame(2, 0, []byte{11, 1, 20, 0, 2, 0, 4, 0, 0, 0x88, 0x13, 0}))
	f.Add(IFrame(2, 0, []byte{3, 0x82, 20, 0, 2, 0, 5, 0, 0, 1, 2}))
	f.Add(IFrame(2, 0, EncodeCP56([]byte{35, 1, 3, 0, 2, 0, 4, 0, 0, 0x88, 0x13, 0}, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))))
	f.Add(IFrame(2, 0, []byte{49, 1, 6, 0, 2, 0, 0xb9, 0x0b, 0, 0x10, 0x00, 0}))
	f.Add(IFrame(2, 0, []byte{48, 1, 7, 0, 2, 0, 0xb9, 0x0b, 0, 0x00, 0x80, 0}))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ReadFrame(bytes.NewReader(data), nil)
		if err != nil {
			return
		}
		a, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("decode error %v does not wrap ErrFrame", err)
			}
			return
		}
		if a.Kind != FrameI {
			return
		}
		if a.ASDU == nil {
			t.Fatal("I frame without ASDU")
		}
		if a.ASDU.SQ {
			return // the station encodes SQ=0 only
		}
		got := a.ASDU.Encode()
		want := b[6:]
		if ElemLen(a.ASDU.Type) < 0 {
			return
		}
		// Reserved bits of VSQ/time tags are not kept; compare lengths and headers.
		if len(got) != len(want) || !bytes.Equal(got[:1], want[:1]) || got[2] != want[2] || !bytes.Equal(got[4:6], want[4:6]) {
			t.Fatalf("re-encoded ASDU % x, decoded from % x", got, want)
		}
	})
}
