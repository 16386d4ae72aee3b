package modbus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
)

// SunSpec register maps start with the marker "SunS" (0x5375, 0x6E53) at one of
// these holding register addresses, followed by a chain of models (ID, length,
// length registers of data) that ends with ID 0xFFFF.
var SunSpecBases = []uint16{40000, 50000, 0}

// sunSpecMarker is "SunS" in two registers.
var sunSpecMarker = [2]uint16{0x5375, 0x6E53}

// SunSpecEnd is the model ID that ends the chain.
const SunSpecEnd = 0xFFFF

// ErrNoSunSpec is returned when no base holds the "SunS" marker.
var ErrNoSunSpec = errors.New("no SunSpec marker at holding register 40000, 50000 or 0")

// SunSpecPointDef is one point of a SunSpec model definition, as in the public
// SunSpec model JSON (only the points gridd uses are encoded).
type SunSpecPointDef struct {
	Name string
	// Offset is the register offset from the first register after ID and L.
	Offset int
	// Type is the SunSpec type: uint16, int16, uint32, acc32, enum16, bitfield16,
	// bitfield32, sunssf or string.
	Type string
	// Size is the number of registers.
	Size int
	// SF names the scale-factor point of the same model ("" for none).
	SF    string
	Units string
	// Symbols names enum values or bitfield bits.
	Symbols map[uint32]string
}

// SunSpecModelDef is a SunSpec model definition.
type SunSpecModelDef struct {
	ID     uint16
	Name   string
	Length int
	Points []SunSpecPointDef
}

func (m *SunSpecModelDef) point(name string) (*SunSpecPointDef, bool) {
	for i := range m.Points {
		if m.Points[i].Name == name {
			return &m.Points[i], true
		}
	}
	return nil, false
}

func ssp(name string, off int, typ string, sf, units string) SunSpecPointDef {
	size := 1
	switch typ {
	case "uint32", "acc32", "bitfield32":
		size = 2
	}
	return SunSpecPointDef{Name: name, Offset: off, Type: typ, Size: size, SF: sf, Units: units}
}

func sspString(name string, off, size int) SunSpecPointDef {
	return SunSpecPointDef{Name: name, Offset: off, Type: "string", Size: size}
}

var inverterState = map[uint32]string{1: "OFF", 2: "SLEEPING", 3: "STARTING", 4: "MPPT", 5: "THROTTLED", 6: "SHUTTING_DOWN", 7: "FAULT", 8: "STANDBY"}

var chaSt = map[uint32]string{1: "OFF", 2: "EMPTY", 3: "DISCHARGING", 4: "CHARGING", 5: "FULL", 6: "HOLDING", 7: "TESTING"}

func inverterModel(id uint16, name string) *SunSpecModelDef {
	m := &SunSpecModelDef{ID: id, Name: name, Length: 50, Points: []SunSpecPointDef{
		ssp("A", 0, "uint16", "A_SF", "A"),
		ssp("A_SF", 4, "sunssf", "", ""),
		ssp("PPVphAB", 5, "uint16", "V_SF", "V"),
		ssp("PhVphA", 8, "uint16", "V_SF", "V"),
		ssp("V_SF", 11, "sunssf", "", ""),
		ssp("W", 12, "int16", "W_SF", "W"),
		ssp("W_SF", 13, "sunssf", "", ""),
		ssp("Hz", 14, "uint16", "Hz_SF", "Hz"),
		ssp("Hz_SF", 15, "sunssf", "", ""),
		ssp("WH", 22, "acc32", "WH_SF", "Wh"),
		ssp("WH_SF", 24, "sunssf", "", ""),
		ssp("DCW", 29, "int16", "DCW_SF", "W"),
		ssp("DCW_SF", 30, "sunssf", "", ""),
		ssp("TmpCab", 31, "int16", "Tmp_SF", "C"),
		ssp("Tmp_SF", 35, "sunssf", "", ""),
		ssp("St", 36, "enum16", "", ""),
		ssp("Evt1", 38, "bitfield32", "", ""),
	}}
	m.Points[15].Symbols = inverterState
	m.Points[16].Symbols = map[uint32]string{0: "GROUND_FAULT", 1: "DC_OVER_VOLT", 2: "AC_DISCONNECT", 3: "DC_DISCONNECT",
		4: "GRID_DISCONNECT", 5: "CABINET_OPEN", 6: "MANUAL_SHUTDOWN", 7: "OVER_TEMP", 8: "OVER_FREQUENCY",
		9: "UNDER_FREQUENCY", 10: "AC_OVER_VOLT", 11: "AC_UNDER_VOLT", 12: "BLOWN_STRING_FUSE", 13: "UNDER_TEMP",
		14: "MEMORY_LOSS", 15: "HW_TEST_FAILURE"}
	return m
}

func meterModel(id uint16, name string) *SunSpecModelDef {
	return &SunSpecModelDef{ID: id, Name: name, Length: 105, Points: []SunSpecPointDef{
		ssp("A", 0, "int16", "A_SF", "A"),
		ssp("A_SF", 4, "sunssf", "", ""),
		ssp("PhV", 5, "int16", "V_SF", "V"),
		ssp("PPV", 9, "int16", "V_SF", "V"),
		ssp("V_SF", 13, "sunssf", "", ""),
		ssp("Hz", 14, "int16", "Hz_SF", "Hz"),
		ssp("Hz_SF", 15, "sunssf", "", ""),
		ssp("W", 16, "int16", "W_SF", "W"),
		ssp("W_SF", 20, "sunssf", "", ""),
		ssp("VAR", 26, "int16", "VAR_SF", "var"),
		ssp("VAR_SF", 30, "sunssf", "", ""),
		ssp("TotWhExp", 36, "acc32", "TotWh_SF", "Wh"),
		ssp("TotWhImp", 44, "acc32", "TotWh_SF", "Wh"),
		ssp("TotWh_SF", 52, "sunssf", "", ""),
	}}
}

// SunSpecModels are the model definitions gridd decodes: common (1), inverters
// (101-103), storage (124) and meters (201-204). Offsets follow the public SunSpec
// model JSON definitions.
var SunSpecModels = map[uint16]*SunSpecModelDef{
	1: {ID: 1, Name: "common", Length: 66, Points: []SunSpecPointDef{
		sspString("Mn", 0, 16), sspString("Md", 16, 16), sspString("Opt", 32, 8),
		sspString("Vr", 40, 8), sspString("SN", 48, 16), ssp("DA", 64, "uint16", "", ""),
	}},
	101: inverterModel(101, "inverter single phase"),
	102: inverterModel(102, "inverter split phase"),
	103: inverterModel(103, "inverter three phase"),
	124: {ID: 124, Name: "storage", Length: 24, Points: []SunSpecPointDef{
		ssp("WChaMax", 0, "uint16", "WChaMax_SF", "W"),
		ssp("StorCtl_Mod", 3, "bitfield16", "", ""),
		ssp("MinRsvPct", 5, "uint16", "MinRsvPct_SF", "%"),
		ssp("ChaState", 6, "uint16", "ChaState_SF", "%"),
		ssp("ChaSt", 9, "enum16", "", ""),
		ssp("OutWRte", 10, "int16", "InOutWRte_SF", "%"),
		ssp("InWRte", 11, "int16", "InOutWRte_SF", "%"),
		ssp("WChaMax_SF", 16, "sunssf", "", ""),
		ssp("MinRsvPct_SF", 19, "sunssf", "", ""),
		ssp("ChaState_SF", 20, "sunssf", "", ""),
		ssp("InOutWRte_SF", 23, "sunssf", "", ""),
	}},
	201: meterModel(201, "meter single phase"),
	202: meterModel(202, "meter split phase"),
	203: meterModel(203, "meter wye three phase"),
	204: meterModel(204, "meter delta three phase"),
}

func init() {
	s := SunSpecModels[124]
	p, _ := s.point("ChaSt")
	p.Symbols = chaSt
	p, _ = s.point("StorCtl_Mod")
	p.Symbols = map[uint32]string{0: "CHARGE", 1: "DISCHARGE"}
}

// SunSpecValue is one decoded point of a model.
type SunSpecValue struct {
	Name string
	// Value is the scaled number (raw × 10^SF); Text holds strings, enum names and
	// the names of set bits.
	Value float64
	Text  string
	Units string
	// Implemented is false when the device reports the point's "not implemented"
	// value (or its scale factor is not implemented).
	Implemented bool
}

// SunSpecModel is one model found in a device's map.
type SunSpecModel struct {
	ID uint16
	// Name is "" for a model gridd has no definition for (it is skipped, not decoded).
	Name string
	// Address is the holding register of the model's ID; data starts at Address+2.
	Address uint16
	Length  uint16
	Values  []SunSpecValue
}

// Value returns the named decoded point.
func (m *SunSpecModel) Value(name string) (SunSpecValue, bool) {
	for _, v := range m.Values {
		if v.Name == name {
			return v, true
		}
	}
	return SunSpecValue{}, false
}

// SunSpecDevice is what DiscoverSunSpec found.
type SunSpecDevice struct {
	Base   uint16
	Models []SunSpecModel
}

// Model returns the first model with the given ID.
func (d *SunSpecDevice) Model(id uint16) (*SunSpecModel, bool) {
	for i := range d.Models {
		if d.Models[i].ID == id {
			return &d.Models[i], true
		}
	}
	return nil, false
}

// Semantic maps what the models hold to vocabulary names in gridd's units and sign
// convention: inverter W (AC output) becomes a negative active_power_kw, meter W
// (positive = import) stays positive, storage ChaState becomes soc_pct.
func (d *SunSpecDevice) Semantic() map[string]float64 {
	out := map[string]float64{}
	set := func(m *SunSpecModel, pt, name string, f float64) {
		if v, ok := m.Value(pt); ok && v.Implemented {
			if _, done := out[name]; !done {
				out[name] = v.Value * f
			}
		}
	}
	for i := range d.Models {
		m := &d.Models[i]
		switch {
		case m.ID >= 101 && m.ID <= 103:
			set(m, "W", "active_power_kw", -0.001)
			set(m, "WH", "energy_export_kwh", 0.001)
			set(m, "PPVphAB", "voltage_v", 1)
			set(m, "A", "current_a", 1)
			set(m, "Hz", "frequency_hz", 1)
			set(m, "TmpCab", "temperature_c", 1)
			set(m, "St", "status", 1)
		case m.ID == 124:
			set(m, "ChaState", "soc_pct", 1)
		case m.ID >= 201 && m.ID <= 204:
			set(m, "W", "active_power_kw", 0.001)
			set(m, "VAR", "reactive_power_kvar", 0.001)
			set(m, "PPV", "voltage_v", 1)
			set(m, "A", "current_a", 1)
			set(m, "Hz", "frequency_hz", 1)
			set(m, "TotWhImp", "energy_import_kwh", 0.001)
			set(m, "TotWhExp", "energy_export_kwh", 0.001)
		}
	}
	return out
}

// HoldingReader reads count holding registers from addr.
type HoldingReader func(ctx context.Context, addr, count uint16) ([]uint16, error)

// maxSunSpecModels bounds the model chain (a device that never ends it is an error).
const maxSunSpecModels = 64

// DiscoverSunSpec looks for the "SunS" marker at 40000, 50000 and 0, walks the model
// chain and decodes every model in SunSpecModels with its scale factors. A base
// whose read fails with a Modbus exception is skipped; other errors (timeouts,
// connection loss) end discovery.
func DiscoverSunSpec(ctx context.Context, read HoldingReader) (*SunSpecDevice, error) {
	var base uint16
	found := false
	for _, b := range SunSpecBases {
		regs, err := read(ctx, b, 2)
		if err != nil {
			if _, ok := asException(err); ok {
				continue
			}
			return nil, fmt.Errorf("sunspec: read marker at %d: %w", b, err)
		}
		if len(regs) == 2 && regs[0] == sunSpecMarker[0] && regs[1] == sunSpecMarker[1] {
			base, found = b, true
			break
		}
	}
	if !found {
		return nil, ErrNoSunSpec
	}
	dev := &SunSpecDevice{Base: base}
	addr := int(base) + 2
	for n := 0; ; n++ {
		if n == maxSunSpecModels {
			return dev, fmt.Errorf("sunspec: more than %d models without the end marker", maxSunSpecModels)
		}
		if addr+2 > 65536 {
			return dev, fmt.Errorf("sunspec: model chain runs past register 65535")
		}
		hdr, err := read(ctx, uint16(addr), 2)
		if err != nil {
			return dev, fmt.Errorf("sunspec: read model header at %d: %w", addr, err)
		}
		id, length := hdr[0], hdr[1]
		if id == SunSpecEnd {
			return dev, nil
		}
		if addr+2+int(length) > 65536 {
			return dev, fmt.Errorf("sunspec: model %d at %d: length %d runs past register 65535", id, addr, length)
		}
		m := SunSpecModel{ID: id, Address: uint16(addr), Length: length}
		if def, ok := SunSpecModels[id]; ok {
			m.Name = def.Name
			if int(length) < def.Length {
				return dev, fmt.Errorf("sunspec: model %d at %d: length %d, want at least %d", id, addr, length, def.Length)
			}
			data, err := readSpan(ctx, read, uint16(addr+2), def.Length)
			if err != nil {
				return dev, fmt.Errorf("sunspec: read model %d at %d: %w", id, addr, err)
			}
			m.Values = DecodeSunSpecModel(def, data)
		}
		dev.Models = append(dev.Models, m)
		addr += 2 + int(length)
	}
}

// readSpan reads n registers in reads of at most MaxReadRegisters.
func readSpan(ctx context.Context, read HoldingReader, addr uint16, n int) ([]uint16, error) {
	out := make([]uint16, 0, n)
	for len(out) < n {
		c := min(n-len(out), MaxReadRegisters)
		regs, err := read(ctx, addr+uint16(len(out)), uint16(c))
		if err != nil {
			return nil, err
		}
		if len(regs) != c {
			return nil, fmt.Errorf("asked for %d registers, got %d", c, len(regs))
		}
		out = append(out, regs...)
	}
	return out, nil
}

// sunSpecRaw decodes one point's raw registers; ok is false for "not implemented".
func sunSpecRaw(p *SunSpecPointDef, regs []uint16) (v float64, bits uint32, ok bool) {
	switch p.Type {
	case "uint16", "enum16", "bitfield16":
		return float64(regs[0]), uint32(regs[0]), regs[0] != 0xFFFF
	case "int16", "sunssf":
		return float64(int16(regs[0])), uint32(regs[0]), regs[0] != 0x8000
	case "uint32", "bitfield32", "enum32":
		u := uint32(regs[0])<<16 | uint32(regs[1])
		return float64(u), u, u != 0xFFFFFFFF
	case "acc32":
		u := uint32(regs[0])<<16 | uint32(regs[1])
		return float64(u), u, u != 0
	}
	return 0, 0, false
}

// DecodeSunSpecModel decodes a model's data registers (after ID and L) with its
// definition, applying scale factors. data must hold at least def.Length registers.
func DecodeSunSpecModel(def *SunSpecModelDef, data []uint16) []SunSpecValue {
	out := make([]SunSpecValue, 0, len(def.Points))
	for i := range def.Points {
		p := &def.Points[i]
		if p.Type == "sunssf" {
			continue
		}
		if p.Offset+p.Size > len(data) {
			out = append(out, SunSpecValue{Name: p.Name, Units: p.Units})
			continue
		}
		regs := data[p.Offset : p.Offset+p.Size]
		v := SunSpecValue{Name: p.Name, Units: p.Units}
		if p.Type == "string" {
			v.Text = sunSpecString(regs)
			v.Implemented = v.Text != ""
			out = append(out, v)
			continue
		}
		raw, bits, ok := sunSpecRaw(p, regs)
		v.Implemented = ok
		v.Value = raw
		if ok && p.SF != "" {
			sf, found := def.point(p.SF)
			if !found || sf.Offset >= len(data) {
				v.Implemented = false
			} else if e, _, sok := sunSpecRaw(sf, data[sf.Offset:sf.Offset+1]); !sok || e < -10 || e > 10 {
				v.Implemented = false
			} else {
				v.Value = scaleExp(raw, int(e))
			}
		}
		if ok {
			switch {
			case strings.HasPrefix(p.Type, "enum"):
				v.Text = p.Symbols[bits]
			case strings.HasPrefix(p.Type, "bitfield"):
				var names []string
				for b := uint32(0); b < 32; b++ {
					if bits&(1<<b) != 0 {
						n, known := p.Symbols[b]
						if !known {
							n = fmt.Sprintf("bit%d", b)
						}
						names = append(names, n)
					}
				}
				v.Text = strings.Join(names, "|")
			}
		}
		if !v.Implemented {
			v.Value = 0
		}
		out = append(out, v)
	}
	return out
}

// scaleExp returns raw × 10^e, dividing for negative e so decimal results are exact.
func scaleExp(raw float64, e int) float64 {
	if e < 0 {
		return raw / math.Pow10(-e)
	}
	return raw * math.Pow10(e)
}

// sunSpecString decodes a NUL-padded string of big-endian byte pairs.
func sunSpecString(regs []uint16) string {
	b := make([]byte, 0, 2*len(regs))
	for _, r := range regs {
		b = append(b, byte(r>>8), byte(r))
	}
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// SunSpecModelData is one model to lay out with EncodeSunSpec: raw register values
// by point name (strings by Text). Points not given read as "not implemented".
type SunSpecModelData struct {
	ID     uint16
	Raw    map[string]int64
	Text   map[string]string
	Length int // 0 means the definition's length
}

// EncodeSunSpec lays out a SunSpec map: marker, the models in order, end marker. It
// returns the registers starting at the base address. The simulator serves it;
// tests use it as a device image.
func EncodeSunSpec(models []SunSpecModelData) ([]uint16, error) {
	regs := []uint16{sunSpecMarker[0], sunSpecMarker[1]}
	for _, md := range models {
		def, ok := SunSpecModels[md.ID]
		if !ok {
			return nil, fmt.Errorf("sunspec: no definition for model %d", md.ID)
		}
		length := md.Length
		if length == 0 {
			length = def.Length
		}
		if length < def.Length {
			return nil, fmt.Errorf("sunspec: model %d: length %d below the definition's %d", md.ID, length, def.Length)
		}
		data := make([]uint16, length)
		for i := range def.Points {
			p := &def.Points[i]
			switch p.Type {
			case "uint16", "enum16", "bitfield16":
				data[p.Offset] = 0xFFFF
			case "int16", "sunssf":
				data[p.Offset] = 0x8000
			case "uint32", "bitfield32":
				data[p.Offset], data[p.Offset+1] = 0xFFFF, 0xFFFF
			}
		}
		for name, v := range md.Raw {
			p, ok := def.point(name)
			if !ok || p.Type == "string" {
				return nil, fmt.Errorf("sunspec: model %d has no numeric point %q", md.ID, name)
			}
			if p.Size == 2 {
				if v < 0 || v > math.MaxUint32 {
					return nil, fmt.Errorf("sunspec: model %d point %s: %d does not fit %s", md.ID, name, v, p.Type)
				}
				data[p.Offset], data[p.Offset+1] = uint16(v>>16), uint16(v)
				continue
			}
			if v < math.MinInt16 || v > math.MaxUint16 {
				return nil, fmt.Errorf("sunspec: model %d point %s: %d does not fit %s", md.ID, name, v, p.Type)
			}
			data[p.Offset] = uint16(v)
		}
		for name, s := range md.Text {
			p, ok := def.point(name)
			if !ok || p.Type != "string" {
				return nil, fmt.Errorf("sunspec: model %d has no string point %q", md.ID, name)
			}
			if len(s) > 2*p.Size {
				return nil, fmt.Errorf("sunspec: model %d point %s: %q longer than %d bytes", md.ID, name, s, 2*p.Size)
			}
			b := make([]byte, 2*p.Size)
			copy(b, s)
			for k := 0; k < p.Size; k++ {
				data[p.Offset+k] = uint16(b[2*k])<<8 | uint16(b[2*k+1])
			}
		}
		regs = append(regs, md.ID, uint16(length))
		regs = append(regs, data...)
	}
	return append(regs, SunSpecEnd, 0), nil
}
