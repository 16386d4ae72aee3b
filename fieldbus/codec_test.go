package fieldbus

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func pt(typ DataType, bo ByteOrder, wo WordOrder, scale, offset float64) *Point {
	reg := Holding
	if typ == Bool {
		reg = Coil
	}
	return &Point{Name: "x", Register: reg, Type: typ, Scale: scale, Offset: offset, ByteOrder: bo, WordOrder: wo}
}

func TestCodecVectors(t *testing.T) {
	type tc struct {
		name  string
		typ   DataType
		bo    ByteOrder
		wo    WordOrder
		scale float64
		off   float64
		value float64
		regs  []uint16
	}
	var cases []tc
	add := func(name string, typ DataType, scale, off, value float64, hiBig []uint16) {
		// Derive the four byte/word order layouts from the natural one.
		n := len(hiBig)
		for _, bo := range []ByteOrder{BigEndian, LittleEndian} {
			for _, wo := range []WordOrder{HighFirst, LowFirst} {
				regs := make([]uint16, n)
				for i := range hiBig {
					w := hiBig[i]
					if wo == LowFirst {
						w = hiBig[n-1-i]
					}
					if bo == LittleEndian {
						w = w<<8 | w>>8
					}
					regs[i] = w
				}
				cases = append(cases, tc{name + "/" + string(bo) + "/" + string(wo), typ, bo, wo, scale, off, value, regs})
			}
		}
	}
	add("u16", U16, 1, 0, 1234, []uint16{0x04D2})
	add("u16 scaled", U16, 0.1, 0, 6553.5, []uint16{0xFFFF})
	add("u16 offset", U16, 0.1, -40, -39.9, []uint16{0x0001})
	add("i16 neg", I16, 1, 0, -1, []uint16{0xFFFF})
	add("i16 scaled neg", I16, 0.1, 0, -12.3, []uint16{0xFF85})
	add("i16 min", I16, 1, 0, -32768, []uint16{0x8000})
	add("u32", U32, 1, 0, 305419896, []uint16{0x1234, 0x5678})
	add("u32 scaled", U32, 0.1, 0, 30541989.6, []uint16{0x1234, 0x5678})
	add("i32 neg scaled", I32, 0.1, 0, -10000, []uint16{0xFFFE, 0x7960})
	add("i32 max", I32, 1, 0, math.MaxInt32, []uint16{0x7FFF, 0xFFFF})
	add("i32 negative scale", I32, -1, 0, 2, []uint16{0xFFFF, 0xFFFE})
	add("u64", U64, 1, 0, 0x0001020304050607, []uint16{0x0001, 0x0203, 0x0405, 0x0607})
	add("i64 neg", I64, 1, 0, -2, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE})
	add("i64 neg scaled", I64, 0.01, 0, -1.5, []uint16{0xFFFF, 0xFFFF, 0xFFFF, 0xFF6A})
	add("f32", F32, 1, 0, 1.5, []uint16{0x3FC0, 0x0000})
	add("f32 neg", F32, 1, 0, -2.5, []uint16{0xC020, 0x0000})
	add("f32 scaled", F32, 1000, 0, -2500, []uint16{0xC020, 0x0000})
	add("f64 neg", F64, 1, 0, -2.5, []uint16{0xC004, 0, 0, 0})
	add("f64 offset", F64, 1, 10, 7.5, []uint16{0xC004, 0, 0, 0})
	cases = append(cases,
		tc{"bool 1", Bool, BigEndian, HighFirst, 1, 0, 1, []uint16{1}},
		tc{"bool 0", Bool, BigEndian, HighFirst, 1, 0, 0, []uint16{0}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := pt(c.typ, c.bo, c.wo, c.scale, c.off)
			regs, err := p.Encode(c.value)
			if err != nil {
				t.Fatalf("Encode(%v): %v", c.value, err)
			}
			if !slices.Equal(regs, c.regs) {
				t.Fatalf("Encode(%v) = %04X, want %04X", c.value, regs, c.regs)
			}
			v, err := p.Decode(c.regs)
			if err != nil {
				t.Fatalf("Decode(%04X): %v", c.regs, err)
			}
			if math.Abs(v-c.value) > 1e-9*math.Max(1, math.Abs(c.value)) {
				t.Fatalf("Decode(%04X) = %v, want %v", c.regs, v, c.value)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	lim := pt(U16, BigEndian, HighFirst, 0.1, 0)
	lim.HasLimits, lim.Min, lim.Max = true, 0, 100
	cases := []struct {
		name string
		p    *Point
		regs []uint16
		want string
	}{
		{"f32 NaN", pt(F32, BigEndian, HighFirst, 1, 0), []uint16{0x7FC0, 0}, "NaN"},
		{"f32 +Inf", pt(F32, BigEndian, HighFirst, 1, 0), []uint16{0x7F80, 0}, "Inf"},
		{"f32 -Inf low first", pt(F32, BigEndian, LowFirst, 1, 0), []uint16{0, 0xFF80}, "Inf"},
		{"f64 NaN", pt(F64, BigEndian, HighFirst, 1, 0), []uint16{0x7FF8, 0, 0, 1}, "NaN"},
		{"f64 overflow after scale", pt(F64, BigEndian, HighFirst, 10, 0), []uint16{0x7FEF, 0xFFFF, 0xFFFF, 0xFFFF}, "overflows"},
		{"u64 beyond 2^53", pt(U64, BigEndian, HighFirst, 1, 0), []uint16{0x0020, 0, 0, 1}, "2^53"},
		{"i64 beyond -2^53", pt(I64, BigEndian, HighFirst, 1, 0), []uint16{0xFFDF, 0xFFFF, 0xFFFF, 0xFFFF}, "2^53"},
		{"out of limits", lim, []uint16{1001}, "outside the profile limits"},
		{"short", pt(U32, BigEndian, HighFirst, 1, 0), []uint16{1}, "needs 2 registers"},
		{"bool 2", pt(Bool, BigEndian, HighFirst, 1, 0), []uint16{2}, "bool"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := c.p.Decode(c.regs)
			if err == nil {
				t.Fatalf("Decode(%04X) = %v, want error", c.regs, v)
			}
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Decode error %q, want ErrDecode mentioning %q", err, c.want)
			}
		})
	}
	// Inside the limits decodes.
	if v, err := lim.Decode([]uint16{1000}); err != nil || v != 100 {
		t.Fatalf("Decode(1000) = %v, %v; want 100", v, err)
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		p    *Point
		v    float64
		want string
	}{
		{"u16 negative", pt(U16, BigEndian, HighFirst, 1, 0), -1, "outside u16 range"},
		{"u16 too big", pt(U16, BigEndian, HighFirst, 1, 0), 65536, "outside u16 range"},
		{"u16 scaled too big", pt(U16, BigEndian, HighFirst, 0.1, 0), 6553.6, "outside u16 range"},
		{"i16 too big", pt(I16, BigEndian, HighFirst, 1, 0), 32768, "outside i16 range"},
		{"i16 too small scaled", pt(I16, BigEndian, HighFirst, 0.1, 0), -3276.9, "outside i16 range"},
		{"u32 negative after offset", pt(U32, BigEndian, HighFirst, 1, 100), 99, "outside u32 range"},
		{"i32 too big", pt(I32, BigEndian, HighFirst, 1, 0), 3e9, "outside i32 range"},
		{"u64 beyond 2^53", pt(U64, BigEndian, HighFirst, 1, 0), 1 << 54, "outside u64 range"},
		{"NaN", pt(I32, BigEndian, HighFirst, 1, 0), math.NaN(), "not a finite"},
		{"Inf", pt(F64, BigEndian, HighFirst, 1, 0), math.Inf(1), "not a finite"},
		{"f32 overflow", pt(F32, BigEndian, HighFirst, 1, 0), 1e39, "outside f32 range"},
		{"f32 precision", pt(F32, BigEndian, HighFirst, 1, 0), 16777217, "round-trip"},
		{"f32 precision large", pt(F32, BigEndian, HighFirst, 1, 0), 1e10 + 1, "round-trip"},
		{"bool half", pt(Bool, BigEndian, HighFirst, 1, 0), 0.5, "0 or 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			regs, err := c.p.Encode(c.v)
			if err == nil {
				t.Fatalf("Encode(%v) = %04X, want error", c.v, regs)
			}
			if !errors.Is(err, ErrEncode) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Encode error %q, want ErrEncode mentioning %q", err, c.want)
			}
		})
	}
}

func TestQuantize(t *testing.T) {
	cases := []struct {
		p    *Point
		v    float64
		want float64
	}{
		{pt(I32, BigEndian, HighFirst, 0.1, 0), 12.34, 12.3},
		{pt(I32, BigEndian, HighFirst, 0.1, 0), -12.36, -12.4},
		{pt(U16, BigEndian, HighFirst, 0.5, 0), 10.3, 10.5},
		{pt(I16, BigEndian, HighFirst, 1, 0.25), 3, 3.25},
		{pt(F32, BigEndian, HighFirst, 1, 0), 0.1, float64(float32(0.1))},
	}
	for _, c := range cases {
		got, err := c.p.Quantize(c.v)
		if err != nil {
			t.Fatalf("Quantize(%v) on %s×%g: %v", c.v, c.p.Type, c.p.Scale, err)
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Fatalf("Quantize(%v) on %s×%g = %v, want %v", c.v, c.p.Type, c.p.Scale, got, c.want)
		}
	}
}

var fuzzScales = []float64{1, 0.1, 0.01, 0.001, 10, -1, 0.5}
var fuzzOffsets = []float64{0, 0.5, -40, 1000}

// FuzzDecode decodes random registers as every type and order: it must never panic,
// and every value that decodes must encode again and decode to the same value (the
// same registers for integers of moderate size).
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0}, uint8(0), uint8(0), uint8(0))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFE, 0, 0, 0, 0}, uint8(3), uint8(1), uint8(1))
	f.Add([]byte{0x7F, 0xC0, 0, 0, 0, 0, 0, 0}, uint8(6), uint8(2), uint8(0))
	f.Add([]byte{0x7F, 0x7F, 0xFF, 0xFF, 0, 0, 0, 0}, uint8(6), uint8(0), uint8(4))
	f.Add([]byte{0x7F, 0xEF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, uint8(7), uint8(3), uint8(2))
	f.Add([]byte{0x00, 0x20, 0, 0, 0, 0, 0, 1}, uint8(4), uint8(0), uint8(0))
	f.Add([]byte{0x80, 0x00, 0, 0, 0, 0, 0, 0}, uint8(5), uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, typ, order, sc uint8) {
		types := []DataType{U16, I16, U32, I32, U64, I64, F32, F64}
		p := pt(types[int(typ)%len(types)], BigEndian, HighFirst,
			fuzzScales[int(sc)%len(fuzzScales)], fuzzOffsets[int(sc/8)%len(fuzzOffsets)])
		if order&1 != 0 {
			p.ByteOrder = LittleEndian
		}
		if order&2 != 0 {
			p.WordOrder = LowFirst
		}
		n := p.Width()
		if len(data) < 2*n {
			return
		}
		regs := make([]uint16, n)
		for i := range regs {
			regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
		v, err := p.Decode(regs)
		if err != nil {
			if !errors.Is(err, ErrDecode) {
				t.Fatalf("Decode error does not wrap ErrDecode: %v", err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("Decode returned %v without error", v)
		}
		back, err := p.Encode(v)
		if err != nil {
			// Only floats at the very edge of their range may fail to re-encode
			// after scaling.
			if (p.Type == F32 && math.Abs(v) > 1e37) || (p.Type == F64 && math.Abs(v) > 1e306) {
				return
			}
			t.Fatalf("%s %s/%s scale %g offset %g: Decode(%04X) = %v but Encode fails: %v",
				p.Type, p.ByteOrder, p.WordOrder, p.Scale, p.Offset, regs, v, err)
		}
		v2, err := p.Decode(back)
		if err != nil {
			t.Fatalf("Decode(Encode(%v)) = %04X fails: %v", v, back, err)
		}
		if math.Abs(v2-v) > p.Tolerance(v) {
			t.Fatalf("%s scale %g offset %g: %04X -> %v -> %04X -> %v", p.Type, p.Scale, p.Offset, regs, v, back, v2)
		}
		raw, _ := p.decodeRaw(regs)
		if !p.Type.IsFloat() && math.Abs(raw) < 1<<40 && !slices.Equal(back, regs) {
			t.Fatalf("%s %s/%s scale %g offset %g: registers %04X -> %v -> %04X", p.Type, p.ByteOrder, p.WordOrder, p.Scale, p.Offset, regs, v, back)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	for _, typ := range []DataType{U16, I32, F32, U64} {
		p := pt(typ, BigEndian, LowFirst, 0.1, 0)
		regs, err := p.Encode(1234.5)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(string(typ), func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Decode(regs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	p := pt(I32, BigEndian, HighFirst, 0.1, 0)
	for b.Loop() {
		if _, err := p.Encode(-123.4); err != nil {
			b.Fatal(err)
		}
	}
}
