package apdu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// Start octet and size bounds of an APDU (IEC 60870-5-104 §5).
const (
	StartByte  = 0x68
	MaxAPDULen = 253 // length octet: control field (4) + ASDU (at most 249)
	MaxASDULen = MaxAPDULen - 4
	asduHeader = 6 // type, VSQ, COT (2), common address (2)
	ioaLen     = 3
)

// Frame formats.
type FrameKind int

const (
	FrameI FrameKind = iota
	FrameS
	FrameU
)

// U-frame functions (control octet 1).
const (
	UStartDTAct = 0x07
	UStartDTCon = 0x0B
	UStopDTAct  = 0x13
	UStopDTCon  = 0x23
	UTestFRAct  = 0x43
	UTestFRCon  = 0x83
)

// Type identifications of the subset (IEC 60870-5-101 §7.2.1.1).
const (
	MSpNa1 = 1   // single point
	MDpNa1 = 3   // double point
	MMeNa1 = 9   // measured value, normalised
	MMeNb1 = 11  // measured value, scaled
	MMeNc1 = 13  // measured value, short float
	MSpTb1 = 30  // single point with CP56Time2a
	MDpTb1 = 31  // double point with CP56Time2a
	MMeTd1 = 34  // measured value, normalised with CP56Time2a
	MMeTe1 = 35  // measured value, scaled with CP56Time2a
	MMeTf1 = 36  // measured value, short float with CP56Time2a
	CScNa1 = 45  // single command
	CSeNa1 = 48  // set-point command, normalised
	CSeNb1 = 49  // set-point command, scaled
	CSeNc1 = 50  // set-point command, short float
	CIcNa1 = 100 // interrogation command
	CCsNa1 = 103 // clock synchronisation command
)

// TypeNames maps the subset's type identifications to their names.
var TypeNames = map[byte]string{
	MSpNa1: "M_SP_NA_1", MDpNa1: "M_DP_NA_1", MMeNa1: "M_ME_NA_1", MMeNb1: "M_ME_NB_1", MMeNc1: "M_ME_NC_1",
	MSpTb1: "M_SP_TB_1", MDpTb1: "M_DP_TB_1", MMeTd1: "M_ME_TD_1", MMeTe1: "M_ME_TE_1", MMeTf1: "M_ME_TF_1",
	CScNa1: "C_SC_NA_1", CSeNa1: "C_SE_NA_1", CSeNb1: "C_SE_NB_1", CSeNc1: "C_SE_NC_1", CIcNa1: "C_IC_NA_1",
	CCsNa1: "C_CS_NA_1",
}

// Untimed returns the type without time tag of a monitoring type with one
// (M_ME_TF_1 -> M_ME_NC_1, ...); other types are returned as they are.
func Untimed(t byte) byte {
	switch t {
	case MSpTb1:
		return MSpNa1
	case MDpTb1:
		return MDpNa1
	case MMeTd1:
		return MMeNa1
	case MMeTe1:
		return MMeNb1
	case MMeTf1:
		return MMeNc1
	}
	return t
}

// Causes of transmission.
const (
	CotPeriodic     = 1
	CotSpontaneous  = 3
	CotRequest      = 5
	CotAct          = 6
	CotActCon       = 7
	CotDeact        = 8
	CotDeactCon     = 9
	CotActTerm      = 10
	CotInrogen      = 20
	CotUnknownType  = 44
	CotUnknownCause = 45
	CotUnknownCA    = 46
	CotUnknownIOA   = 47
)

// Quality descriptor bits (QDS of measured values; SIQ and DIQ share IV, NT, SB, BL).
const (
	QDSOverflow    = 0x01 // OV, measured values
	QDSBlocked     = 0x10 // BL
	QDSSubstituted = 0x20 // SB
	QDSNotTopical  = 0x40 // NT
	QDSInvalid     = 0x80 // IV
)

// ErrFrame is returned for a byte sequence that is not a valid APDU.
var ErrFrame = errors.New("iec104: bad APDU")

// APDU is one decoded application protocol data unit.
type APDU struct {
	Kind     FrameKind
	SendSeq  uint16 // N(S), I frames
	RecvSeq  uint16 // N(R), I and S frames
	UFunc    byte   // U frames
	ASDU     *ASDU  // I frames
	RawBytes int    // length on the wire
}

// ASDU is a decoded application service data unit. Objects holds the information
// objects of the types the station knows; for other types Raw keeps the body.
type ASDU struct {
	Type     byte
	SQ       bool
	Count    int
	Cause    byte // 6 bits
	Negative bool
	Test     bool
	Origin   byte
	CA       uint16
	Objects  []Object
	Raw      []byte // information objects as received
}

// Object is one information object: its address and the element of its type.
type Object struct {
	IOA uint32
	// Float is the value: a short float (M_ME_NC_1, M_ME_TF_1, C_SE_NC_1), a scaled
	// value (M_ME_NB_1, M_ME_TE_1, C_SE_NB_1) or a normalised one as a fraction in
	// [-1, 1) (M_ME_NA_1, M_ME_TD_1, C_SE_NA_1).
	Float   float32
	QDS     byte      // quality (monitoring), QOS (C_SE_*), SCO (C_SC_NA_1), QOI (C_IC_NA_1), SIQ (M_SP_*), DIQ (M_DP_*)
	Time    time.Time // CP56Time2a (M_*_T*, C_CS_NA_1)
	HasTime bool
}

// ElemLen is the length of one information element (without the IOA) of type t, or
// -1 for a type the station does not decode.
func ElemLen(t byte) int {
	switch t {
	case MSpNa1, MDpNa1, CScNa1, CIcNa1:
		return 1
	case MMeNa1, MMeNb1, CSeNa1, CSeNb1:
		return 3
	case MMeNc1, CSeNc1:
		return 5
	case MSpTb1, MDpTb1:
		return 8
	case MMeTd1, MMeTe1:
		return 10
	case MMeTf1:
		return 12
	case CCsNa1:
		return 7
	}
	return -1
}

// ReadFrame reads one APDU's bytes (start octet, length and body) from r.
func ReadFrame(r io.Reader, buf []byte) ([]byte, error) {
	if len(buf) < 2+MaxAPDULen {
		buf = make([]byte, 2+MaxAPDULen)
	}
	if _, err := io.ReadFull(r, buf[:2]); err != nil {
		return nil, err
	}
	if buf[0] != StartByte {
		return nil, fmt.Errorf("%w: start octet 0x%02x, want 0x68", ErrFrame, buf[0])
	}
	n := int(buf[1])
	if n < 4 || n > MaxAPDULen {
		return nil, fmt.Errorf("%w: length %d, want 4-253", ErrFrame, n)
	}
	if _, err := io.ReadFull(r, buf[2:2+n]); err != nil {
		return nil, err
	}
	return buf[:2+n], nil
}

// Decode decodes one whole APDU (as ReadFrame returns it).
func Decode(b []byte) (APDU, error) {
	if len(b) < 6 || b[0] != StartByte {
		return APDU{}, fmt.Errorf("%w: %d octets", ErrFrame, len(b))
	}
	if int(b[1]) != len(b)-2 || b[1] > MaxAPDULen {
		return APDU{}, fmt.Errorf("%w: length octet %d for %d octets", ErrFrame, b[1], len(b)-2)
	}
	c := b[2:6]
	a := APDU{RawBytes: len(b)}
	switch {
	case c[0]&1 == 0:
		a.Kind = FrameI
		a.SendSeq = binary.LittleEndian.Uint16(c[0:2]) >> 1
		if c[2]&1 != 0 {
			return APDU{}, fmt.Errorf("%w: I frame with receive-sequence bit 0 set", ErrFrame)
		}
		a.RecvSeq = binary.LittleEndian.Uint16(c[2:4]) >> 1
		asdu, err := DecodeASDU(b[6:])
		if err != nil {
			return APDU{}, err
		}
		a.ASDU = asdu
	case c[0]&3 == 1:
		if len(b) != 6 || c[0] != 1 || c[1] != 0 || c[2]&1 != 0 {
			return APDU{}, fmt.Errorf("%w: bad S frame % x", ErrFrame, b)
		}
		a.Kind = FrameS
		a.RecvSeq = binary.LittleEndian.Uint16(c[2:4]) >> 1
	default:
		if len(b) != 6 || c[1] != 0 || c[2] != 0 || c[3] != 0 {
			return APDU{}, fmt.Errorf("%w: bad U frame % x", ErrFrame, b)
		}
		switch c[0] {
		case UStartDTAct, UStartDTCon, UStopDTAct, UStopDTCon, UTestFRAct, UTestFRCon:
		default:
			return APDU{}, fmt.Errorf("%w: U frame function 0x%02x", ErrFrame, c[0])
		}
		a.Kind = FrameU
		a.UFunc = c[0]
	}
	return a, nil
}

// DecodeASDU decodes an ASDU. Objects of types the station does not know are left in
// Raw (the header is still decoded, so the station can answer "unknown type").
func DecodeASDU(b []byte) (*ASDU, error) {
	if len(b) < asduHeader || len(b) > MaxASDULen {
		return nil, fmt.Errorf("%w: ASDU of %d octets", ErrFrame, len(b))
	}
	a := &ASDU{
		Type: b[0], SQ: b[1]&0x80 != 0, Count: int(b[1] & 0x7f),
		Cause: b[2] & 0x3f, Negative: b[2]&0x40 != 0, Test: b[2]&0x80 != 0,
		Origin: b[3], CA: binary.LittleEndian.Uint16(b[4:6]), Raw: b[asduHeader:],
	}
	if a.Count == 0 {
		return nil, fmt.Errorf("%w: ASDU with no objects", ErrFrame)
	}
	el := ElemLen(a.Type)
	if el < 0 {
		return a, nil
	}
	body := b[asduHeader:]
	want := a.Count * (ioaLen + el)
	if a.SQ {
		want = ioaLen + a.Count*el
	}
	if len(body) != want {
		return nil, fmt.Errorf("%w: type %d with %d objects needs %d octets, got %d", ErrFrame, a.Type, a.Count, want, len(body))
	}
	ioa := uint32(0)
	for i := 0; i < a.Count; i++ {
		if !a.SQ || i == 0 {
			ioa = uint32(body[0]) | uint32(body[1])<<8 | uint32(body[2])<<16
			body = body[ioaLen:]
		} else {
			ioa++
		}
		o, err := decodeElem(a.Type, body[:el])
		if err != nil {
			return nil, err
		}
		o.IOA = ioa
		a.Objects = append(a.Objects, o)
		body = body[el:]
	}
	return a, nil
}

func decodeElem(t byte, e []byte) (Object, error) {
	var o Object
	switch t {
	case MSpTb1, MDpTb1, MMeTd1, MMeTe1, MMeTf1, CCsNa1:
		tm, err := DecodeCP56(e[len(e)-7:])
		if err != nil {
			return o, err
		}
		o.Time, o.HasTime = tm, true
	}
	switch Untimed(t) {
	case MSpNa1, MDpNa1, CScNa1, CIcNa1:
		o.QDS = e[0]
	case MMeNa1, CSeNa1:
		o.Float = float32(int16(binary.LittleEndian.Uint16(e))) / 32768
		o.QDS = e[2]
	case MMeNb1, CSeNb1:
		o.Float = float32(int16(binary.LittleEndian.Uint16(e)))
		o.QDS = e[2]
	case MMeNc1, CSeNc1:
		o.Float = math.Float32frombits(binary.LittleEndian.Uint32(e))
		o.QDS = e[4]
	}
	return o, nil
}

// Int16 is a scaled value (or a normalised one times 32768) as it goes on the wire:
// rounded, and an error if it does not fit in 16 bits. Nothing is clamped.
func Int16(v float64) (int16, error) {
	r := math.Round(v)
	if math.IsNaN(r) || r < math.MinInt16 || r > math.MaxInt16 {
		return 0, fmt.Errorf("%v does not fit a 16-bit value (-32768..32767)", v)
	}
	return int16(r), nil
}

// DecodeCP56 decodes a CP56Time2a time tag (read as UTC).
func DecodeCP56(b []byte) (time.Time, error) {
	ms := int(binary.LittleEndian.Uint16(b[0:2]))
	min, hour, day, mon, year := int(b[2]&0x3f), int(b[3]&0x1f), int(b[4]&0x1f), int(b[5]&0x0f), int(b[6]&0x7f)
	if ms > 59999 || min > 59 || hour > 23 || day < 1 || day > 31 || mon < 1 || mon > 12 {
		return time.Time{}, fmt.Errorf("%w: CP56Time2a % x out of range", ErrFrame, b)
	}
	t := time.Date(2000+year, time.Month(mon), day, hour, min, ms/1000, (ms%1000)*int(time.Millisecond), time.UTC)
	if t.Day() != day {
		return time.Time{}, fmt.Errorf("%w: CP56Time2a day %d of month %d", ErrFrame, day, mon)
	}
	return t, nil
}

// EncodeCP56 encodes t (in UTC) as CP56Time2a.
func EncodeCP56(dst []byte, t time.Time) []byte {
	t = t.UTC()
	ms := uint16(t.Second()*1000 + t.Nanosecond()/int(time.Millisecond))
	wd := int(t.Weekday())
	if wd == 0 {
		wd = 7
	}
	return append(dst, byte(ms), byte(ms>>8), byte(t.Minute()), byte(t.Hour()),
		byte(t.Day())|byte(wd)<<5, byte(t.Month()), byte(t.Year()%100))
}

// Encode encodes the ASDU's header and objects (SQ=0, Raw ignored unless Objects is
// empty, as when mirroring a command of an unknown type).
func (a *ASDU) Encode() []byte {
	out := make([]byte, 0, MaxASDULen)
	n := len(a.Objects)
	raw := n == 0
	if raw {
		n = a.Count
	}
	cot := a.Cause & 0x3f
	if a.Negative {
		cot |= 0x40
	}
	if a.Test {
		cot |= 0x80
	}
	out = append(out, a.Type, byte(n&0x7f), cot, a.Origin, byte(a.CA), byte(a.CA>>8))
	if raw {
		return append(out, a.Raw...)
	}
	for _, o := range a.Objects {
		out = append(out, byte(o.IOA), byte(o.IOA>>8), byte(o.IOA>>16))
		switch Untimed(a.Type) {
		case MSpNa1, MDpNa1, CScNa1, CIcNa1:
			out = append(out, o.QDS)
		case MMeNa1, CSeNa1:
			n, _ := Int16(float64(o.Float) * 32768) // callers check the range first
			out = binary.LittleEndian.AppendUint16(out, uint16(n))
			out = append(out, o.QDS)
		case MMeNb1, CSeNb1:
			n, _ := Int16(float64(o.Float))
			out = binary.LittleEndian.AppendUint16(out, uint16(n))
			out = append(out, o.QDS)
		case MMeNc1, CSeNc1:
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(o.Float))
			out = append(out, o.QDS)
		}
		switch a.Type {
		case MSpTb1, MDpTb1, MMeTd1, MMeTe1, MMeTf1, CCsNa1:
			out = EncodeCP56(out, o.Time)
		}
	}
	return out
}

// IFrame, SFrame and UFrame build APDUs.
func IFrame(ns, nr uint16, asdu []byte) []byte {
	b := make([]byte, 0, 6+len(asdu))
	b = append(b, StartByte, byte(4+len(asdu)), byte(ns<<1), byte(ns>>7), byte(nr<<1), byte(nr>>7))
	return append(b, asdu...)
}

func SFrame(nr uint16) []byte {
	return []byte{StartByte, 4, 1, 0, byte(nr << 1), byte(nr >> 7)}
}

func UFrame(f byte) []byte {
	return []byte{StartByte, 4, f, 0, 0, 0}
}

// MaxObjects is how many objects of type t fit in one ASDU.
func MaxObjects(t byte) int {
	return (MaxASDULen - asduHeader) / (ioaLen + ElemLen(t))
}
