package fieldbus

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/gridd/gridd/iec104/apdu"
)

// Profile protocols.
const (
	ProtocolModbus = "modbus"
	ProtocolIEC104 = "iec104"
)

// IEC104Address is where a point of a protocol iec104 profile lives in a substation
// RTU (a controlled station): the IOA and type of the monitored value, and for an rw
// point the IOA and type of the command that sets it. The device's unit_id is the
// ASDU common address.
type IEC104Address struct {
	// IOA is the monitored value's information object address (1..16777215).
	IOA uint32
	// Type is the monitored type without time tag (M_SP_NA_1, M_DP_NA_1, M_ME_NA_1,
	// M_ME_NB_1, M_ME_NC_1); the time-tagged variants are accepted for it.
	Type byte
	// Command and CommandIOA: the command of an rw point (C_SC_NA_1, C_SE_NA_1,
	// C_SE_NB_1, C_SE_NC_1), of the monitored type's family; 0 for read-only points.
	Command    byte
	CommandIOA uint32
}

// iec104Types are the monitored types a profile may name, with the command of the
// same family and the data type the codec uses for them: a scaled value is a 16-bit
// integer times the point's scale, a normalised one the same with the scale divided
// by 32768, a short float an f32, single and double points bools.
var iec104Types = map[string]struct {
	typ, cmd byte
	data     DataType
}{
	"M_SP_NA_1": {apdu.MSpNa1, apdu.CScNa1, Bool},
	"M_DP_NA_1": {apdu.MDpNa1, 0, Bool},
	"M_ME_NA_1": {apdu.MMeNa1, apdu.CSeNa1, I16},
	"M_ME_NB_1": {apdu.MMeNb1, apdu.CSeNb1, I16},
	"M_ME_NC_1": {apdu.MMeNc1, apdu.CSeNc1, F32},
}

func iec104TypeNames() string {
	var out []string
	for n := range iec104Types {
		out = append(out, n)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// buildIEC104Point validates one point of a protocol iec104 profile:
//
//   - name: active_power_kw   # semantic name
//     ioa: 1001               # monitored value's IOA
//     type: M_ME_NC_1         # M_SP_NA_1 | M_DP_NA_1 | M_ME_NA_1 | M_ME_NB_1 | M_ME_NC_1
//     scale: 1                # engineering = value * scale + offset (normalised: value in [-1, 1))
//     command: C_SE_NC_1      # rw points: the command of the type's family
//     command_ioa: 3001
//     access: rw
//     min: -100               # limits, required for rw points
//     max: 100
func buildIEC104Point(i int, r *rawPoint, _ *Profile, e *profileErrors) (Point, bool) {
	path := func(f string) string { return fmt.Sprintf("points[%d].%s", i, f) }
	pt := Point{Name: r.Name, Scale: 1, Access: ReadOnly, ByteOrder: BigEndian, WordOrder: HighFirst,
		Line: e.lines[fmt.Sprintf("points[%d]", i)], IEC104: &IEC104Address{}}
	semOK := false
	var sem Semantic
	switch {
	case r.Name == "":
		e.add(path("name"), nil, "missing")
	default:
		sem, semOK = LookupSemantic(r.Name)
		if !semOK {
			e.add(path("name"), r.Name, "unknown semantic name (want one of %s)", strings.Join(vocabularyNames(), ", "))
		}
	}
	for _, f := range []struct {
		name string
		set  bool
	}{{"register", r.Register != ""}, {"address", r.Address != nil}, {"byte_order", r.ByteOrder != ""},
		{"word_order", r.WordOrder != ""}, {"length", r.Length != nil}, {"enum", r.Enum != nil}, {"bits", r.Bits != nil}} {
		if f.set {
			e.add(path(f.name), nil, "a protocol iec104 point takes ioa and type, not %s", f.name)
		}
	}
	a := pt.IEC104
	switch {
	case r.IOA == nil:
		e.add(path("ioa"), nil, "missing (the monitored value's information object address)")
	case *r.IOA < 1 || *r.IOA > 1<<24-1:
		e.add(path("ioa"), *r.IOA, "must be in 1..16777215 (three octets)")
	default:
		a.IOA = uint32(*r.IOA)
	}
	t, typeOK := iec104Types[r.Type]
	switch {
	case r.Type == "":
		e.add(path("type"), nil, "missing (want one of %s)", iec104TypeNames())
	case !typeOK:
		e.add(path("type"), r.Type, "unknown IEC 104 monitored type (want one of %s; time-tagged variants are accepted for them)", iec104TypeNames())
	default:
		a.Type, pt.Type = t.typ, t.data
	}
	scaleOffset(r.Scale, r.Offset, &pt, path, e)
	if pt.Type == Bool && (pt.Scale != 1 || pt.Offset != 0) {
		e.add(path("scale"), pt.Scale, "%s points take no scale or offset", r.Type)
	}
	if a.Type == apdu.MMeNa1 {
		pt.Scale /= 32768
	}
	if semOK {
		pt.Unit = sem.Unit
		if r.Unit != nil && *r.Unit != sem.Unit {
			e.add(path("unit"), *r.Unit, "%s is always in %q; convert with scale and offset", r.Name, sem.Unit)
		}
	}
	switch Access(r.Access) {
	case "", ReadOnly:
	case ReadWrite:
		pt.Access = ReadWrite
	default:
		e.add(path("access"), r.Access, "unknown access (want r or rw)")
	}
	switch {
	case r.Command == "" && r.CommandIOA == nil:
		if pt.Access == ReadWrite {
			e.add(path("command"), nil, "missing: an rw point needs the command that sets it (command and command_ioa)")
		}
	case r.Command == "":
		e.add(path("command"), nil, "missing: command_ioa is set")
	case typeOK && (t.cmd == 0 || apdu.TypeNames[t.cmd] != r.Command):
		want := "none: it cannot be commanded"
		if t.cmd != 0 {
			want = apdu.TypeNames[t.cmd]
		}
		e.add(path("command"), r.Command, "the command of a %s point is %s", r.Type, want)
	case r.CommandIOA == nil:
		e.add(path("command_ioa"), nil, "missing: command %s needs the IOA it is sent to", r.Command)
	case *r.CommandIOA < 1 || *r.CommandIOA > 1<<24-1:
		e.add(path("command_ioa"), *r.CommandIOA, "must be in 1..16777215 (three octets)")
	default:
		if typeOK {
			a.Command = t.cmd
		}
		a.CommandIOA = uint32(*r.CommandIOA)
		if pt.Access != ReadWrite {
			var v any
			if r.Access != "" {
				v = r.Access
			}
			e.add(path("access"), v, "a point with a command must be access rw")
		}
	}
	nerr := len(e.errs)
	switch {
	case r.Min != nil && r.Max != nil:
		pt.HasLimits, pt.Min, pt.Max = true, *r.Min, *r.Max
	case r.Min != nil:
		e.add(path("max"), nil, "missing: min and max must be given together")
	case r.Max != nil:
		e.add(path("min"), nil, "missing: min and max must be given together")
	case pt.Type == Bool:
		pt.HasLimits, pt.Min, pt.Max = true, 0, 1
	case pt.Access == ReadWrite:
		e.add(path("min"), nil, "missing: rw points need min and max (limits in engineering units)")
	}
	if pt.HasLimits && len(e.errs) == nerr && pt.Type != "" {
		switch {
		case !finite(pt.Min):
			e.add(path("min"), pt.Min, "must be finite")
		case !finite(pt.Max):
			e.add(path("max"), pt.Max, "must be finite")
		case pt.Min > pt.Max:
			e.add(path("min"), pt.Min, "is above max %s", strconv.FormatFloat(pt.Max, 'g', -1, 64))
		default:
			for _, lim := range []struct {
				f string
				v float64
			}{{"min", pt.Min}, {"max", pt.Max}} {
				if _, err := pt.Encode(lim.v); err != nil {
					e.add(path(lim.f), lim.v, "not representable as %s with scale %g, offset %g: %v", r.Type, pt.Scale, pt.Offset, err)
				}
			}
		}
	}
	return pt, false
}

// checkIOAs reports a monitored IOA or a command IOA used twice in one profile.
func checkIOAs(pts []Point, e *profileErrors) {
	mon, cmd := map[uint32]int{}, map[uint32]int{}
	for i := range pts {
		a := pts[i].IEC104
		if a == nil {
			continue
		}
		if a.IOA != 0 {
			if j, dup := mon[a.IOA]; dup {
				e.add(fmt.Sprintf("points[%d].ioa", i), int64(a.IOA), "already used by points[%d] (%s)", j, pts[j].Name)
			} else {
				mon[a.IOA] = i
			}
		}
		if a.CommandIOA != 0 {
			if j, dup := cmd[a.CommandIOA]; dup {
				e.add(fmt.Sprintf("points[%d].command_ioa", i), int64(a.CommandIOA), "already used by points[%d] (%s)", j, pts[j].Name)
			} else {
				cmd[a.CommandIOA] = i
			}
		}
	}
}

// IEC104Raw converts a value as an IEC 104 information element carries it (a short
// float, a scaled value, a normalised fraction, or a single/double point's state as
// 0/1) to the point's engineering value, checking the profile limits (ErrDecode).
func (p *Point) IEC104Raw(v float64) (float64, error) {
	if p.IEC104 == nil {
		return 0, fmt.Errorf("%w: point %s has no IEC 104 address", ErrDecode, p.Name)
	}
	var regs []uint16
	switch p.IEC104.Type {
	case apdu.MSpNa1, apdu.MDpNa1:
		if v != 0 && v != 1 {
			return 0, fmt.Errorf("%w: state %v", ErrDecode, v)
		}
		regs = []uint16{uint16(v)}
	case apdu.MMeNa1, apdu.MMeNb1:
		if p.IEC104.Type == apdu.MMeNa1 {
			v *= 32768
		}
		n, err := apdu.Int16(v)
		if err != nil {
			return 0, fmt.Errorf("%w: %s", ErrDecode, err.Error())
		}
		regs = []uint16{uint16(n)}
	default:
		return p.Decode(p.bitsToWords(uint64(float32bits(v)), 2))
	}
	return p.Decode(regs)
}

// IEC104Command converts an engineering value (checked and quantised by the
// Writer) to the value of the point's command: a short float, a scaled value, a
// normalised fraction or a single command's state 0/1.
func (p *Point) IEC104Command(v float64) (float32, error) {
	if p.IEC104 == nil || p.IEC104.Command == 0 {
		return 0, fmt.Errorf("%w: point %s has no IEC 104 command", ErrEncode, p.Name)
	}
	return p.IEC104Value(v)
}

// IEC104Value converts an engineering value to the value of the point's
// information element (the inverse of IEC104Raw): a short float, a scaled value, a
// normalised fraction, or a single or double point's state as 0/1. Values the type
// cannot hold are an error (ErrEncode), never clamped.
func (p *Point) IEC104Value(v float64) (float32, error) {
	if p.IEC104 == nil {
		return 0, fmt.Errorf("%w: point %s has no IEC 104 address", ErrEncode, p.Name)
	}
	regs, err := p.Encode(v)
	if err != nil {
		return 0, err
	}
	switch p.Type {
	case Bool:
		return float32(regs[0]), nil
	case I16:
		f := float32(int16(regs[0]))
		if p.IEC104.Type == apdu.MMeNa1 {
			f /= 32768
		}
		return f, nil
	}
	return float32frombits(uint32(p.wordsToBits(regs))), nil
}

func float32bits(v float64) uint32     { return math.Float32bits(float32(v)) }
func float32frombits(b uint32) float32 { return math.Float32frombits(b) }
