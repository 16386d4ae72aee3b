package fieldbus

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrDecode marks a value that could not be decoded (bad quality).
var ErrDecode = errors.New("bad value")

// ErrEncode marks a value that cannot be written to a point's registers.
var ErrEncode = errors.New("value not encodable")

// maxExactInt is the largest integer float64 holds exactly (2^53).
const maxExactInt = 1 << 53

// Step is the resolution of the point in engineering units: |scale| for scaled
// numbers, 1 for bools.
func (p *Point) Step() float64 {
	if p.Type == Bool {
		return 1
	}
	return math.Abs(p.Scale)
}

// slack is the floating-point rounding the scale and offset arithmetic may add around
// v: a few units in the last place of the larger of v and the offset.
func (p *Point) slack(v float64) float64 {
	m := math.Max(math.Abs(v), math.Abs(p.Offset))
	return 8 * (math.Nextafter(m, math.Inf(1)) - m)
}

// Tolerance is how far a read-back may differ from a written value and still match:
// half a step plus floating-point slack.
func (p *Point) Tolerance(v float64) float64 { return p.Step()/2 + p.slack(v) }

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// wordsToBits puts the point's registers into natural (big-endian, high word first) order
// and returns them as one integer. regs must have the point's width (≤ 4).
func (p *Point) wordsToBits(regs []uint16) uint64 {
	n := len(regs)
	var v uint64
	for i := 0; i < n; i++ {
		w := regs[i]
		if p.WordOrder == LowFirst {
			w = regs[n-1-i]
		}
		if p.ByteOrder == LittleEndian {
			w = w>>8 | w<<8
		}
		v = v<<16 | uint64(w)
	}
	return v
}

// bitsToWords is the inverse of wordsToBits.
func (p *Point) bitsToWords(v uint64, n int) []uint16 {
	out := make([]uint16, n)
	for i := n - 1; i >= 0; i-- {
		w := uint16(v)
		v >>= 16
		if p.ByteOrder == LittleEndian {
			w = w>>8 | w<<8
		}
		if p.WordOrder == LowFirst {
			out[n-1-i] = w
		} else {
			out[i] = w
		}
	}
	return out
}

// decodeRaw returns the raw (unscaled) number held in regs.
func (p *Point) decodeRaw(regs []uint16) (float64, error) {
	w := p.Type.Width()
	if p.Type == String {
		return 0, fmt.Errorf("%w: string point %s has no number (use DecodeText)", ErrDecode, p.Name)
	}
	if w == 0 {
		return 0, fmt.Errorf("%w: unknown data type %q", ErrDecode, p.Type)
	}
	if len(regs) != w {
		return 0, fmt.Errorf("%w: %s needs %d registers, got %d", ErrDecode, p.Type, w, len(regs))
	}
	if p.Type == Bool {
		switch regs[0] {
		case 0, 1:
			return float64(regs[0]), nil
		}
		return 0, fmt.Errorf("%w: bool register holds %d", ErrDecode, regs[0])
	}
	bits := p.wordsToBits(regs)
	switch p.Type {
	case U16, U32:
		return float64(bits), nil
	case I16:
		return float64(int16(bits)), nil
	case I32:
		return float64(int32(bits)), nil
	case U64:
		if bits > maxExactInt {
			return 0, fmt.Errorf("%w: u64 %d exceeds the exactly representable range ±2^53", ErrDecode, bits)
		}
		return float64(bits), nil
	case I64:
		i := int64(bits)
		if i > maxExactInt || i < -maxExactInt {
			return 0, fmt.Errorf("%w: i64 %d exceeds the exactly representable range ±2^53", ErrDecode, i)
		}
		return float64(i), nil
	case F32:
		f := float64(math.Float32frombits(uint32(bits)))
		if !finite(f) {
			return 0, fmt.Errorf("%w: f32 is %v", ErrDecode, f)
		}
		return f, nil
	case F64:
		f := math.Float64frombits(bits)
		if !finite(f) {
			return 0, fmt.Errorf("%w: f64 is %v", ErrDecode, f)
		}
		return f, nil
	}
	return 0, fmt.Errorf("%w: unknown data type %q", ErrDecode, p.Type)
}

// inverse returns 1/scale when that is an integer (scale 0.1, 0.01, ...), else 0.
// Dividing by it rounds decimal scales correctly (152 × 0.1 = 15.200000000000001,
// 152 / 10 = 15.2).
func (p *Point) inverse() float64 {
	if math.Abs(p.Scale) >= 1 {
		return 0
	}
	inv := 1 / p.Scale
	r := math.Round(inv)
	if r == 0 || math.Abs(inv-r) > 1e-9*math.Abs(r) {
		return 0
	}
	return r
}

// scaled turns a raw number into engineering units.
func (p *Point) scaled(raw float64) float64 {
	if inv := p.inverse(); inv != 0 {
		return raw/inv + p.Offset
	}
	return raw*p.Scale + p.Offset
}

// decodeValue decodes and scales without checking limits.
func (p *Point) decodeValue(regs []uint16) (float64, error) {
	raw, err := p.decodeRaw(regs)
	if err != nil {
		return 0, err
	}
	if p.Type == Bool {
		return raw, nil
	}
	v := p.scaled(raw)
	if !finite(v) {
		return 0, fmt.Errorf("%w: %s * scale %g + offset %g overflows", ErrDecode, fmtNum(raw), p.Scale, p.Offset)
	}
	return v, nil
}

// DecodeUnchecked decodes and scales like Decode but does not check the point's
// limits: a write's read-back reports what the device holds, whatever it is.
func (p *Point) DecodeUnchecked(regs []uint16) (float64, error) { return p.decodeValue(regs) }

// Decode turns the point's registers into its engineering value, honouring type,
// byte order, word order, scale and offset. For coils and discrete inputs regs holds
// one element, 0 or 1. NaN/Inf floats, 64-bit integers beyond ±2^53 and values
// outside the point's limits (when it has them) are errors wrapping ErrDecode.
func (p *Point) Decode(regs []uint16) (float64, error) {
	v, err := p.decodeValue(regs)
	if err != nil {
		return 0, err
	}
	if p.HasLimits {
		tol := p.Step()/2 + p.slack(v)
		if p.Type.IsFloat() {
			tol = p.slack(v)
		}
		if v < p.Min-tol || v > p.Max+tol {
			return 0, fmt.Errorf("%w: %s %s outside the profile limits %s..%s", ErrDecode, fmtNum(v), p.Unit, fmtNum(p.Min), fmtNum(p.Max))
		}
	}
	return v, nil
}

// Encode turns an engineering value into the point's registers. It refuses NaN/Inf,
// values outside the data type's range and values that do not survive the round trip
// within half a scale step; it never clamps. It does not check the profile limits
// (the writer does, with a message naming them).
func (p *Point) Encode(v float64) ([]uint16, error) {
	if !finite(v) {
		return nil, fmt.Errorf("%w: %v is not a finite number", ErrEncode, v)
	}
	w := p.Type.Width()
	if p.Type == Bool {
		switch v {
		case 0, 1:
			return []uint16{uint16(v)}, nil
		}
		return nil, fmt.Errorf("%w: bool point takes 0 or 1, not %s", ErrEncode, fmtNum(v))
	}
	if p.Type == String {
		return nil, fmt.Errorf("%w: string point %s takes text (use EncodeText)", ErrEncode, p.Name)
	}
	if w == 0 {
		return nil, fmt.Errorf("%w: unknown data type %q", ErrEncode, p.Type)
	}
	if p.Scale == 0 || !finite(p.Scale) || !finite(p.Offset) {
		return nil, fmt.Errorf("%w: invalid scale %g or offset %g", ErrEncode, p.Scale, p.Offset)
	}
	r := (v - p.Offset) / p.Scale
	if inv := p.inverse(); inv != 0 {
		r = (v - p.Offset) * inv
	}
	if !finite(r) {
		return nil, fmt.Errorf("%w: %s overflows after scale %g, offset %g", ErrEncode, fmtNum(v), p.Scale, p.Offset)
	}
	var bits uint64
	var back float64
	rangeErr := func(lo, hi float64) error {
		a, b := p.scaled(lo), p.scaled(hi)
		return fmt.Errorf("%w: %s needs raw %s, outside %s range %s..%s (scale %g, offset %g)",
			ErrEncode, fmtNum(v), fmtNum(r), p.Type, fmtNum(math.Min(a, b)), fmtNum(math.Max(a, b)), p.Scale, p.Offset)
	}
	switch p.Type {
	case U16, U32, U64:
		r = math.Round(r)
		var hi float64
		switch p.Type {
		case U16:
			hi = math.MaxUint16
		case U32:
			hi = math.MaxUint32
		default:
			hi = maxExactInt
		}
		if r < 0 || r > hi {
			return nil, rangeErr(0, hi)
		}
		bits = uint64(r)
		back = r
	case I16, I32, I64:
		r = math.Round(r)
		var lo, hi float64
		switch p.Type {
		case I16:
			lo, hi = math.MinInt16, math.MaxInt16
		case I32:
			lo, hi = math.MinInt32, math.MaxInt32
		default:
			lo, hi = -maxExactInt, maxExactInt
		}
		if r < lo || r > hi {
			return nil, rangeErr(lo, hi)
		}
		bits = uint64(int64(r))
		back = r
	case F32:
		f := float32(r)
		if math.IsInf(float64(f), 0) {
			return nil, rangeErr(-math.MaxFloat32, math.MaxFloat32)
		}
		bits = uint64(math.Float32bits(f))
		back = float64(f)
	case F64:
		bits = math.Float64bits(r)
		back = r
	}
	got := p.scaled(back)
	tol := p.Step()/2 + p.slack(v)
	if !finite(got) || math.Abs(got-v) > tol {
		return nil, fmt.Errorf("%w: %s does not round-trip through %s (decodes as %s, more than half a step %g away)",
			ErrEncode, fmtNum(v), p.Type, fmtNum(got), p.Step())
	}
	if w == 1 {
		bits &= 0xffff
	} else if w == 2 {
		bits &= 0xffffffff
	}
	return p.bitsToWords(bits, w), nil
}

// Quantize returns the value the point's registers actually hold after encoding v.
func (p *Point) Quantize(v float64) (float64, error) {
	regs, err := p.Encode(v)
	if err != nil {
		return 0, err
	}
	return p.decodeValue(regs)
}

// InLimits reports whether v is inside the point's limits (true if it has none).
func (p *Point) InLimits(v float64) bool {
	return !p.HasLimits || (v >= p.Min && v <= p.Max)
}

// DecodeText decodes a string point: two characters per register, the first in the
// high byte (byte_order big) or the low byte (little). Trailing NULs and spaces are
// dropped. Control characters other than NUL padding are an error wrapping ErrDecode.
func (p *Point) DecodeText(regs []uint16) (string, error) {
	if p.Type != String {
		return "", fmt.Errorf("%w: point %s is %s, not string", ErrDecode, p.Name, p.Type)
	}
	if len(regs) != p.Length {
		return "", fmt.Errorf("%w: string of %d registers, got %d", ErrDecode, p.Length, len(regs))
	}
	b := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		hi, lo := byte(r>>8), byte(r)
		if p.ByteOrder == LittleEndian {
			hi, lo = lo, hi
		}
		b = append(b, hi, lo)
	}
	end := len(b)
	for end > 0 && (b[end-1] == 0 || b[end-1] == ' ') {
		end--
	}
	b = b[:end]
	for i, c := range b {
		if c < 0x20 || c == 0x7F {
			return "", fmt.Errorf("%w: string has control character 0x%02X at byte %d", ErrDecode, c, i)
		}
	}
	return string(b), nil
}

// EncodeText lays s out in a string point's registers, padded with NULs. Text longer
// than the point or with control characters is refused.
func (p *Point) EncodeText(s string) ([]uint16, error) {
	if p.Type != String {
		return nil, fmt.Errorf("%w: point %s is %s, not string", ErrEncode, p.Name, p.Type)
	}
	if len(s) > 2*p.Length {
		return nil, fmt.Errorf("%w: %q has %d bytes, the point holds %d", ErrEncode, s, len(s), 2*p.Length)
	}
	b := make([]byte, 2*p.Length)
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7F {
			return nil, fmt.Errorf("%w: %q has control character 0x%02X", ErrEncode, s, s[i])
		}
		b[i] = s[i]
	}
	out := make([]uint16, p.Length)
	for i := range out {
		hi, lo := b[2*i], b[2*i+1]
		if p.ByteOrder == LittleEndian {
			hi, lo = lo, hi
		}
		out[i] = uint16(hi)<<8 | uint16(lo)
	}
	return out, nil
}

// Symbol names a decoded status word: the enum name of v, or the names of its set
// bits joined by "," ("" when none is set; an unnamed bit n shows as "bit<n>", a value
// missing from the enum as "unknown(<v>)"). Points without enum or bits give "".
func (p *Point) Symbol(v float64) string {
	switch {
	case p.Enum != nil:
		if name, ok := p.Enum[int64(v)]; ok && float64(int64(v)) == v {
			return name
		}
		return "unknown(" + fmtNum(v) + ")"
	case p.Bits != nil:
		if v < 0 || v != math.Trunc(v) {
			return "unknown(" + fmtNum(v) + ")"
		}
		u := uint64(v)
		var names []string
		for bit := 0; bit < 64 && u>>bit != 0; bit++ {
			if u&(1<<bit) == 0 {
				continue
			}
			if name, ok := p.Bits[bit]; ok {
				names = append(names, name)
			} else {
				names = append(names, "bit"+strconv.Itoa(bit))
			}
		}
		return strings.Join(names, ",")
	}
	return ""
}
