package fieldbus

import (
	"errors"
	"strings"
	"testing"
)

// statusProfile has a string, an enum and a bitfield point.
const statusProfile = `name: status-test
kind: pv
points:
  - {name: active_power_kw, register: input, address: 0, type: i16}
  - {name: serial_number, register: input, address: 1, type: string, length: 4}
  - {name: model, register: holding, address: 10, type: string, length: 3, byte_order: little}
  - name: status
    register: input
    address: 5
    type: u16
    enum: {1: off, 2: sleeping, 4: mppt, 7: fault}
  - name: alarm
    register: input
    address: 6
    type: u32
    bits: {0: ground_fault, 7: over_temp, 31: comms_lost}
`

func TestTextPointsParse(t *testing.T) {
	p, err := ParseProfile("s.yaml", []byte(statusProfile))
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := p.Point("serial_number")
	st, _ := p.Point("status")
	al, _ := p.Point("alarm")
	if sn.Type != String || sn.Length != 4 || sn.Width() != 4 || !sn.HasText() {
		t.Errorf("serial_number: %+v", sn)
	}
	if st.Enum[7] != "fault" || len(st.Enum) != 4 || !st.HasText() {
		t.Errorf("status enum: %v", st.Enum)
	}
	if al.Bits[31] != "comms_lost" || len(al.Bits) != 3 {
		t.Errorf("alarm bits: %v", al.Bits)
	}
	bad := []struct{ name, point, wantErr string }{
		{"string without length", `{name: model, register: input, address: 0, type: string}`, "points[0].length: missing"},
		{"string too long", `{name: model, register: input, address: 0, type: string, length: 126}`, `points[0].length: 126: must be in 1..125`},
		{"length on a number", `{name: status, register: input, address: 0, type: u16, length: 2}`, "only string points take a length"},
		{"string in a coil", `{name: model, register: coil, address: 0, type: string, length: 2}`, "want type bool"},
		{"string rw", `{name: model, register: holding, address: 0, type: string, length: 2, access: rw}`, "string points are read-only"},
		{"string scaled", `{name: model, register: input, address: 0, type: string, length: 2, scale: 2}`, "string points take no scale"},
		{"string past 65535", `{name: model, register: input, address: 65534, type: string, length: 3}`, "end past address 65535"},
		{"enum on a float", `{name: status, register: input, address: 0, type: f32, enum: {1: on}}`, `enum needs an integer type`},
		{"enum scaled", `{name: status, register: input, address: 0, type: u16, scale: 0.1, enum: {1: on}}`, "takes no scale or offset"},
		{"enum out of range", `{name: status, register: input, address: 0, type: u16, enum: {70000: on}}`, `points[0].enum.70000: 70000: value outside the u16 range`},
		{"enum duplicate name", `{name: status, register: input, address: 0, type: u16, enum: {1: on, 2: on}}`, `name already used for 1`},
		{"enum bad name", `{name: status, register: input, address: 0, type: u16, enum: {1: "on fire"}}`, `"on fire": want a name`},
		{"empty enum", `{name: status, register: input, address: 0, type: u16, enum: {}}`, "enum: is empty"},
		{"bits signed", `{name: alarm, register: input, address: 0, type: i16, bits: {0: a}}`, "bits need an unsigned type"},
		{"bit too high", `{name: alarm, register: input, address: 0, type: u16, bits: {16: a}}`, `points[0].bits.16: 16: bit number must be in 0..15`},
		{"enum and bits", `{name: alarm, register: input, address: 0, type: u16, enum: {1: a}, bits: {0: b}}`, "not both"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseProfile("b.yaml", []byte("name: b\nkind: pv\npoints:\n  - "+tc.point+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestTextCodec(t *testing.T) {
	p, err := ParseProfile("s.yaml", []byte(statusProfile))
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := p.Point("serial_number")
	md, _ := p.Point("model")
	for _, tc := range []struct {
		pt   *Point
		text string
		regs []uint16
	}{
		{sn, "AB12-7", []uint16{0x4142, 0x3132, 0x2D37, 0}},
		{sn, "12345678", []uint16{0x3132, 0x3334, 0x3536, 0x3738}},
		{sn, "", []uint16{0, 0, 0, 0}},
		{md, "XYZ", []uint16{0x5958, 0x005A, 0}},
	} {
		regs, err := tc.pt.EncodeText(tc.text)
		if err != nil {
			t.Fatalf("EncodeText(%q): %v", tc.text, err)
		}
		if len(regs) != len(tc.regs) {
			t.Fatalf("EncodeText(%q) = %04X, want %04X", tc.text, regs, tc.regs)
		}
		for i := range regs {
			if regs[i] != tc.regs[i] {
				t.Fatalf("EncodeText(%q) = %04X, want %04X", tc.text, regs, tc.regs)
			}
		}
		got, err := tc.pt.DecodeText(tc.regs)
		if err != nil || got != tc.text {
			t.Fatalf("DecodeText(%04X) = %q, %v, want %q", tc.regs, got, err, tc.text)
		}
	}
	if got, err := sn.DecodeText([]uint16{0x4142, 0x2020, 0x2000, 0}); err != nil || got != "AB" {
		t.Errorf("trailing blanks: %q, %v", got, err)
	}
	if _, err := sn.DecodeText([]uint16{0x4107, 0, 0, 0}); !errors.Is(err, ErrDecode) {
		t.Errorf("control character decoded: %v", err)
	}
	if _, err := sn.DecodeText([]uint16{0x4142}); !errors.Is(err, ErrDecode) {
		t.Errorf("short string decoded: %v", err)
	}
	if _, err := sn.EncodeText("123456789"); !errors.Is(err, ErrEncode) {
		t.Errorf("over-long text encoded: %v", err)
	}
	if _, err := sn.Encode(1); !errors.Is(err, ErrEncode) {
		t.Errorf("number encoded into a string point: %v", err)
	}
	st, _ := p.Point("status")
	al, _ := p.Point("alarm")
	for _, tc := range []struct {
		pt   *Point
		v    float64
		want string
	}{
		{st, 4, "mppt"},
		{st, 7, "fault"},
		{st, 3, "unknown(3)"},
		{al, 0, ""},
		{al, 1, "ground_fault"},
		{al, 1<<7 | 1<<31, "over_temp,comms_lost"},
		{al, 1<<7 | 1<<3, "bit3,over_temp"},
	} {
		if got := tc.pt.Symbol(tc.v); got != tc.want {
			t.Errorf("%s.Symbol(%v) = %q, want %q", tc.pt.Name, tc.v, got, tc.want)
		}
	}
}

// FuzzDecodeText: decoding never panics; decoded text encodes back to registers that
// decode to the same text.
func FuzzDecodeText(f *testing.F) {
	f.Add([]byte("AB12\x00\x00\x00\x00"), false)
	f.Add([]byte("  x \x00 y\x07"), true)
	f.Fuzz(func(t *testing.T, data []byte, little bool) {
		p := Point{Name: "model", Type: String, Length: len(data) / 2, ByteOrder: BigEndian}
		if little {
			p.ByteOrder = LittleEndian
		}
		regs := make([]uint16, p.Length)
		for i := range regs {
			regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
		s, err := p.DecodeText(regs)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("error does not wrap ErrDecode: %v", err)
			}
			return
		}
		back, err := p.EncodeText(s)
		if err != nil {
			t.Fatalf("DecodeText gave %q, EncodeText fails: %v", s, err)
		}
		if again, err := p.DecodeText(back); err != nil || again != s {
			t.Fatalf("round trip %q -> %q, %v", s, again, err)
		}
	})
}
