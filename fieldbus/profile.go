package fieldbus

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gridd/gridd/site"
)

// RegisterTable is one of the four Modbus data tables.
type RegisterTable string

// Register tables.
const (
	Holding  RegisterTable = "holding"
	Input    RegisterTable = "input"
	Coil     RegisterTable = "coil"
	Discrete RegisterTable = "discrete"
)

var registerTables = []RegisterTable{Holding, Input, Coil, Discrete}

// IsBit reports whether the table holds single bits (coils, discrete inputs).
func (t RegisterTable) IsBit() bool { return t == Coil || t == Discrete }

// DataType is how a point's raw value is laid out in registers.
type DataType string

// Data types.
const (
	U16  DataType = "u16"
	I16  DataType = "i16"
	U32  DataType = "u32"
	I32  DataType = "i32"
	U64  DataType = "u64"
	I64  DataType = "i64"
	F32  DataType = "f32"
	F64  DataType = "f64"
	Bool DataType = "bool"
	// String is text, two characters per register (first character in the high
	// byte with byte_order big); its width is the point's length.
	String DataType = "string"
)

var dataTypes = []DataType{U16, I16, U32, I32, U64, I64, F32, F64, Bool, String}

// IsInteger reports whether the type is an integer (enums and bitfields need one).
func (t DataType) IsInteger() bool {
	switch t {
	case U16, I16, U32, I32, U64, I64:
		return true
	}
	return false
}

// Width is the number of registers (or bits, for Bool) the type occupies; 0 if unknown
// (and for String, whose width is the point's Length).
func (t DataType) Width() int {
	switch t {
	case U16, I16, Bool:
		return 1
	case U32, I32, F32:
		return 2
	case U64, I64, F64:
		return 4
	}
	return 0
}

// IsFloat reports whether the type is IEEE 754.
func (t DataType) IsFloat() bool { return t == F32 || t == F64 }

// ByteOrder is the order of the two bytes inside one register.
type ByteOrder string

// Byte orders.
const (
	BigEndian    ByteOrder = "big"
	LittleEndian ByteOrder = "little"
)

// WordOrder is the order of registers in a multi-register value.
type WordOrder string

// Word orders.
const (
	HighFirst WordOrder = "high_first"
	LowFirst  WordOrder = "low_first"
)

// Access says whether a point may be written.
type Access string

// Access modes.
const (
	ReadOnly  Access = "r"
	ReadWrite Access = "rw"
)

// Profile is a device's Modbus register map.
type Profile struct {
	Name        string
	Kind        string
	Description string
	ByteOrder   ByteOrder
	WordOrder   WordOrder
	Points      []Point
	// Watchdog is the device's command watchdog: a device that receives no write
	// for this long drops its setpoints to its own default. The Writer's keep-alive
	// re-writes the last setpoints well inside it. Zero: the device has none.
	Watchdog time.Duration
	// Source is where the profile came from: a file path or "builtin:NAME".
	Source string
	// Protocol is the protocol the point addresses are for: ProtocolModbus (register
	// and address) or ProtocolIEC104 (IOA and type; profile_iec104.go).
	Protocol string
}

// Point is one value in a device's register map. Engineering value = raw*Scale + Offset.
type Point struct {
	// Name is the semantic name from Vocabulary.
	Name     string
	Register RegisterTable
	// Address is the 0-based protocol address.
	Address uint16
	Type    DataType
	Scale   float64
	Offset  float64
	// Unit is the vocabulary unit of Name.
	Unit   string
	Access Access
	// HasLimits is true when Min and Max are set (always for writable non-bool points).
	// For writable points they bound what may be written; for every point a decoded
	// value outside them is reported as bad.
	HasLimits bool
	Min, Max  float64
	// ByteOrder and WordOrder are resolved (profile default or the point's override).
	ByteOrder ByteOrder
	WordOrder WordOrder
	// Length is a string point's size in registers (two characters each).
	Length int
	// Enum names the values of a status word (integer points, scale 1, offset 0).
	Enum map[int64]string
	// Bits names the bits of a bitfield (unsigned points, scale 1, offset 0; bit 0 is
	// the least significant).
	Bits map[int]string
	// Line is the YAML line the point starts on (0 if unknown).
	Line int
	// IEC104 addresses the point in a protocol iec104 profile (nil otherwise).
	IEC104 *IEC104Address
}

// Width is the number of registers (bits, for coils and discrete inputs) the point spans.
func (p *Point) Width() int {
	if p.Type == String {
		return p.Length
	}
	return p.Type.Width()
}

// HasText reports whether decoded values of the point carry text (Value.Text): strings,
// enums and bitfields.
func (p *Point) HasText() bool { return p.Type == String || p.Enum != nil || p.Bits != nil }

// Writable reports whether the point may be written.
func (p *Point) Writable() bool { return p.Access == ReadWrite }

// Point returns the point with the given semantic name.
func (pr *Profile) Point(semantic string) (*Point, bool) {
	for i := range pr.Points {
		if pr.Points[i].Name == semantic {
			return &pr.Points[i], true
		}
	}
	return nil, false
}

// Clone returns a deep copy.
func (pr *Profile) Clone() *Profile {
	c := *pr
	c.Points = append([]Point(nil), pr.Points...)
	for i := range c.Points {
		pt := &c.Points[i]
		if pt.IEC104 != nil {
			a := *pt.IEC104
			pt.IEC104 = &a
		}
		if pt.Enum != nil {
			m := make(map[int64]string, len(pt.Enum))
			for k, v := range pt.Enum {
				m[k] = v
			}
			pt.Enum = m
		}
		if pt.Bits != nil {
			m := make(map[int]string, len(pt.Bits))
			for k, v := range pt.Bits {
				m[k] = v
			}
			pt.Bits = m
		}
	}
	return &c
}

//go:embed profiles/*.yaml
var builtinFS embed.FS

// BuiltinPrefix marks a profile reference that names a builtin profile.
const BuiltinPrefix = "builtin:"

// BuiltinProfiles lists the names of the profiles shipped with gridd.
func BuiltinProfiles() []string {
	ents, err := fs.ReadDir(builtinFS, "profiles")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// BuiltinProfile returns a fresh copy of the named builtin profile.
func BuiltinProfile(name string) (*Profile, error) {
	data, err := builtinFS.ReadFile("profiles/" + name + ".yaml")
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("builtin profile %q: not found (have %s)", name, strings.Join(BuiltinProfiles(), ", "))
	}
	p, err := ParseProfile(BuiltinPrefix+name, data)
	if err != nil {
		return nil, err
	}
	if p.Name != name {
		return nil, fmt.Errorf("builtin profile %q: file declares name %q", name, p.Name)
	}
	return p, nil
}

// LoadProfile reads and validates a profile file.
func LoadProfile(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return ParseProfile(path, data)
}

// ResolveProfile loads "builtin:NAME" or a profile file; a relative path is
// resolved against baseDir.
func ResolveProfile(ref, baseDir string) (*Profile, error) {
	if ref == "" {
		return nil, errors.New("empty profile reference (want \"builtin:NAME\" or a file path)")
	}
	if name, ok := strings.CutPrefix(ref, BuiltinPrefix); ok {
		return BuiltinProfile(name)
	}
	path := ref
	if !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	return LoadProfile(path)
}

// rawProfile mirrors the YAML file; pointers distinguish "absent" from zero.
type rawProfile struct {
	Name        string     `yaml:"name"`
	Kind        string     `yaml:"kind"`
	Description string     `yaml:"description"`
	ByteOrder   string     `yaml:"byte_order"`
	WordOrder   string     `yaml:"word_order"`
	Watchdog    string     `yaml:"watchdog"`
	Protocol    string     `yaml:"protocol"`
	Points      []rawPoint `yaml:"points"`
}

type rawPoint struct {
	Name      string           `yaml:"name"`
	Register  string           `yaml:"register"`
	Address   *int64           `yaml:"address"`
	Type      string           `yaml:"type"`
	Scale     *float64         `yaml:"scale"`
	Offset    *float64         `yaml:"offset"`
	Unit      *string          `yaml:"unit"`
	Access    string           `yaml:"access"`
	Min       *float64         `yaml:"min"`
	Max       *float64         `yaml:"max"`
	ByteOrder string           `yaml:"byte_order"`
	WordOrder string           `yaml:"word_order"`
	Length    *int64           `yaml:"length"`
	Enum      map[int64]string `yaml:"enum"`
	Bits      map[int64]string `yaml:"bits"`
	// IEC 104 profiles (profile_iec104.go).
	IOA        *int64 `yaml:"ioa"`
	Command    string `yaml:"command"`
	CommandIOA *int64 `yaml:"command_ioa"`
}

// profileErrors collects validation errors naming file, line, field path and value.
type profileErrors struct {
	file  string
	lines map[string]int
	errs  []error
}

func (e *profileErrors) add(path string, value any, format string, args ...any) {
	var b strings.Builder
	b.WriteString(e.file)
	if l := e.lineOf(path); l > 0 {
		fmt.Fprintf(&b, ":%d", l)
	}
	b.WriteString(": ")
	b.WriteString(path)
	switch v := value.(type) {
	case nil:
	case string:
		fmt.Fprintf(&b, ": %q", v)
	case float64:
		fmt.Fprintf(&b, ": %s", strconv.FormatFloat(v, 'g', -1, 64))
	default:
		fmt.Fprintf(&b, ": %v", v)
	}
	b.WriteString(": ")
	fmt.Fprintf(&b, format, args...)
	e.errs = append(e.errs, errors.New(b.String()))
}

// lineOf finds the line of path, falling back to its closest recorded parent.
func (e *profileErrors) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := e.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// recordLines maps YAML paths such as "points[3].type" to their line numbers.
func recordLines(n *yaml.Node, path string, out map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			recordLines(c, path, out)
		}
	case yaml.MappingNode:
		if path != "" {
			out[path] = n.Line
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			out[p] = k.Line
			recordLines(v, p, out)
		}
	case yaml.SequenceNode:
		if path != "" {
			out[path] = n.Line
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			out[p] = c.Line
			recordLines(c, p, out)
		}
	}
}

var yamlLineRe = regexp.MustCompile(`^line (\d+): (.*)$`)
var yamlFieldRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlErrors turns a yaml.v3 decode error into errors in the profile's format,
// naming the field at the reported line when it is known.
func yamlErrors(file string, lines map[string]int, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		out := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			out = append(out, errors.New(file+yamlMsg(lines, msg)))
		}
		return errors.Join(out...)
	}
	return errors.New(file + yamlMsg(lines, strings.TrimPrefix(err.Error(), "yaml: ")))
}

func yamlMsg(lines map[string]int, msg string) string {
	m := yamlLineRe.FindStringSubmatch(msg)
	if m == nil {
		return ": " + msg
	}
	text := m[2]
	if f := yamlFieldRe.FindStringSubmatch(text); f != nil {
		text = fmt.Sprintf("unknown field %q", f[1])
	}
	text = strings.ReplaceAll(text, "into int64", "into an integer")
	text = strings.ReplaceAll(text, "into float64", "into a number")
	line, _ := strconv.Atoi(m[1])
	path := ""
	for p, l := range lines {
		// The longest path on the line is the key itself, not its parent mapping.
		if l == line && (len(p) > len(path) || len(p) == len(path) && p < path) {
			path = p
		}
	}
	if path != "" {
		return ":" + m[1] + ": " + path + ": " + text
	}
	return ":" + m[1] + ": " + text
}

func joinNames[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// ParseProfile decodes and validates a profile. name labels errors (usually the file path).
// All problems are reported together, each naming the file, line, field and bad value.
func ParseProfile(name string, data []byte) (*Profile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlErrors(name, nil, err)
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty profile", name)
	}
	if doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a mapping with name, kind and points", name, doc.Content[0].Line)
	}
	e := &profileErrors{file: name, lines: map[string]int{}}
	recordLines(&doc, "", e.lines)
	var raw rawProfile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, yamlErrors(name, e.lines, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document", name)
	}
	p := buildProfile(&raw, e)
	if len(e.errs) > 0 {
		return nil, errors.Join(e.errs...)
	}
	p.Source = name
	return p, nil
}

func buildProfile(raw *rawProfile, e *profileErrors) *Profile {
	p := &Profile{
		Name:        raw.Name,
		Kind:        raw.Kind,
		Description: raw.Description,
		ByteOrder:   BigEndian,
		WordOrder:   HighFirst,
	}
	if raw.Name == "" {
		e.add("name", nil, "missing")
	}
	switch {
	case raw.Kind == "":
		e.add("kind", nil, "missing (want one of %s)", strings.Join(site.Kinds, ", "))
	case !contains(site.Kinds, raw.Kind):
		e.add("kind", raw.Kind, "unknown kind (want one of %s)", strings.Join(site.Kinds, ", "))
	}
	if raw.ByteOrder != "" {
		if bo, ok := parseByteOrder(raw.ByteOrder); ok {
			p.ByteOrder = bo
		} else {
			e.add("byte_order", raw.ByteOrder, "unknown byte order (want big or little)")
		}
	}
	if raw.WordOrder != "" {
		if wo, ok := parseWordOrder(raw.WordOrder); ok {
			p.WordOrder = wo
		} else {
			e.add("word_order", raw.WordOrder, "unknown word order (want high_first or low_first)")
		}
	}
	switch raw.Protocol {
	case "", ProtocolModbus:
		p.Protocol = ProtocolModbus
	case ProtocolIEC104:
		p.Protocol = ProtocolIEC104
	default:
		e.add("protocol", raw.Protocol, "unknown protocol (want %s or %s)", ProtocolModbus, ProtocolIEC104)
	}
	if len(raw.Points) == 0 {
		e.add("points", nil, "no points defined")
	}
	seen := map[string]int{}
	valid := make([]bool, len(raw.Points))
	for i := range raw.Points {
		build := buildPoint
		if p.Protocol == ProtocolIEC104 {
			build = buildIEC104Point
		}
		pt, ok := build(i, &raw.Points[i], p, e)
		if pt.Name != "" {
			if j, dup := seen[pt.Name]; dup {
				e.add(fmt.Sprintf("points[%d].name", i), pt.Name, "duplicate point (first defined at points[%d])", j)
				ok = false
			} else {
				seen[pt.Name] = i
			}
		}
		valid[i] = ok
		p.Points = append(p.Points, pt)
	}
	if p.Protocol == ProtocolIEC104 {
		checkIOAs(p.Points, e)
	} else {
		checkOverlaps(p.Points, valid, e)
	}
	if raw.Watchdog != "" {
		d, err := time.ParseDuration(raw.Watchdog)
		switch {
		case err != nil:
			e.add("watchdog", raw.Watchdog, "not a duration (want e.g. \"60s\")")
		case d < 3*time.Second || d > time.Hour:
			e.add("watchdog", raw.Watchdog, "must be between 3s and 1h")
		default:
			p.Watchdog = d
			writable := false
			for i := range p.Points {
				writable = writable || p.Points[i].Writable()
			}
			if !writable {
				e.add("watchdog", raw.Watchdog, "set, but the profile has no writable point to keep alive")
			}
		}
	}
	return p
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func parseByteOrder(s string) (ByteOrder, bool) {
	switch ByteOrder(s) {
	case BigEndian, LittleEndian:
		return ByteOrder(s), true
	}
	return "", false
}

func parseWordOrder(s string) (WordOrder, bool) {
	switch WordOrder(s) {
	case HighFirst, LowFirst:
		return WordOrder(s), true
	}
	return "", false
}

// maxStringRegisters is the longest string point: what one Modbus read returns.
const maxStringRegisters = 125

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// buildPoint validates one raw point. ok is false when the point's address range
// cannot be trusted (for the overlap check).
func buildPoint(i int, r *rawPoint, prof *Profile, e *profileErrors) (Point, bool) {
	path := func(f string) string { return fmt.Sprintf("points[%d].%s", i, f) }
	nerr := len(e.errs)
	pt := Point{
		Name:      r.Name,
		Register:  RegisterTable(r.Register),
		Type:      DataType(r.Type),
		Scale:     1,
		Access:    ReadOnly,
		ByteOrder: prof.ByteOrder,
		WordOrder: prof.WordOrder,
		Line:      e.lines[fmt.Sprintf("points[%d]", i)],
	}
	if r.IOA != nil || r.Command != "" || r.CommandIOA != nil {
		e.add(path("ioa"), nil, "ioa, command and command_ioa are for protocol iec104 profiles; a Modbus point takes register and address")
	}
	var sem Semantic
	semOK := false
	switch {
	case r.Name == "":
		e.add(path("name"), nil, "missing")
	default:
		sem, semOK = LookupSemantic(r.Name)
		if !semOK {
			e.add(path("name"), r.Name, "unknown semantic name (want one of %s)", strings.Join(vocabularyNames(), ", "))
		}
	}
	addrOK := true
	switch {
	case r.Register == "":
		e.add(path("register"), nil, "missing (want one of %s)", joinNames(registerTables))
		addrOK = false
	case !contains(registerTables, pt.Register):
		e.add(path("register"), r.Register, "unknown register table (want one of %s)", joinNames(registerTables))
		addrOK = false
	}
	if r.Type == "" && pt.Register.IsBit() {
		pt.Type = Bool
	}
	switch {
	case pt.Type == "":
		e.add(path("type"), nil, "missing (want one of %s)", joinNames(dataTypes))
		addrOK = false
	case !contains(dataTypes, pt.Type):
		e.add(path("type"), r.Type, "unknown data type (want one of %s)", joinNames(dataTypes))
		addrOK = false
	case pt.Register.IsBit() && pt.Type != Bool:
		e.add(path("type"), r.Type, "a %s holds single bits; want type bool", pt.Register)
		addrOK = false
	case (pt.Register == Holding || pt.Register == Input) && pt.Type == Bool:
		e.add(path("type"), r.Type, "bool is only for coil and discrete points; use u16 for a 0/1 register")
		addrOK = false
	}
	if pt.Type == String {
		switch {
		case r.Length == nil:
			e.add(path("length"), nil, "missing: a string point needs its length in registers (two characters each)")
			addrOK = false
		case *r.Length < 1 || *r.Length > maxStringRegisters:
			e.add(path("length"), *r.Length, "must be in 1..%d registers", maxStringRegisters)
			addrOK = false
		default:
			pt.Length = int(*r.Length)
		}
		if pt.Register.IsBit() || pt.Register == "" {
			addrOK = false
		}
	} else if r.Length != nil {
		e.add(path("length"), *r.Length, "only string points take a length")
	}
	switch {
	case r.Address == nil:
		e.add(path("address"), nil, "missing")
		addrOK = false
	case *r.Address < 0 || *r.Address > 65535:
		e.add(path("address"), *r.Address, "must be in 0..65535")
		addrOK = false
	default:
		pt.Address = uint16(*r.Address)
		if w := pt.Width(); w > 0 && *r.Address+int64(w) > 65536 {
			e.add(path("address"), *r.Address, "a %s spans %d registers and would end past address 65535", pt.Type, w)
			addrOK = false
		}
	}
	scaleOffset(r.Scale, r.Offset, &pt, path, e)
	if (pt.Type == Bool || pt.Type == String) && (pt.Scale != 1 || pt.Offset != 0) {
		e.add(path("scale"), pt.Scale, "%s points take no scale or offset", pt.Type)
	}
	buildSymbols(r, &pt, path, e)
	if r.ByteOrder != "" {
		if bo, ok := parseByteOrder(r.ByteOrder); ok {
			pt.ByteOrder = bo
		} else {
			e.add(path("byte_order"), r.ByteOrder, "unknown byte order (want big or little)")
		}
	}
	if r.WordOrder != "" {
		if wo, ok := parseWordOrder(r.WordOrder); ok {
			pt.WordOrder = wo
		} else {
			e.add(path("word_order"), r.WordOrder, "unknown word order (want high_first or low_first)")
		}
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
		if pt.Register == Input || pt.Register == Discrete {
			e.add(path("access"), r.Access, "%s points are read-only; only holding and coil points can be rw", pt.Register)
		}
	default:
		e.add(path("access"), r.Access, "unknown access (want r or rw)")
	}
	if pt.Type == String {
		if pt.Access == ReadWrite {
			e.add(path("access"), r.Access, "string points are read-only")
		}
		if r.Min != nil || r.Max != nil {
			e.add(path("min"), nil, "string points take no limits")
		}
		return pt, addrOK
	}
	// Limits.
	switch {
	case r.Min != nil && r.Max != nil:
		pt.HasLimits = true
		pt.Min, pt.Max = *r.Min, *r.Max
	case r.Min != nil:
		e.add(path("max"), nil, "missing: min and max must be given together")
	case r.Max != nil:
		e.add(path("min"), nil, "missing: min and max must be given together")
	case pt.Type == Bool:
		// A bool's limits are implicitly 0..1.
		pt.HasLimits = true
		pt.Min, pt.Max = 0, 1
	case pt.Access == ReadWrite:
		e.add(path("min"), nil, "missing: rw points need min and max (limits in engineering units)")
	}
	if pt.HasLimits && len(e.errs) == nerr {
		switch {
		case !finite(pt.Min):
			e.add(path("min"), pt.Min, "must be finite")
		case !finite(pt.Max):
			e.add(path("max"), pt.Max, "must be finite")
		case pt.Min > pt.Max:
			e.add(path("min"), pt.Min, "is above max %s", strconv.FormatFloat(pt.Max, 'g', -1, 64))
		default:
			if _, err := pt.Encode(pt.Min); err != nil {
				e.add(path("min"), pt.Min, "not representable as %s with scale %g, offset %g: %v", pt.Type, pt.Scale, pt.Offset, err)
			}
			if _, err := pt.Encode(pt.Max); err != nil {
				e.add(path("max"), pt.Max, "not representable as %s with scale %g, offset %g: %v", pt.Type, pt.Scale, pt.Offset, err)
			}
		}
	}
	return pt, addrOK
}

// buildSymbols validates a point's enum and bits maps.
func buildSymbols(r *rawPoint, pt *Point, path func(string) string, e *profileErrors) {
	if r.Enum == nil && r.Bits == nil {
		return
	}
	if r.Enum != nil && r.Bits != nil {
		e.add(path("bits"), nil, "a point is an enum or a bitfield, not both")
		return
	}
	field, n := "enum", len(r.Enum)
	if r.Bits != nil {
		field, n = "bits", len(r.Bits)
	}
	switch {
	case !pt.Type.IsInteger():
		e.add(path(field), nil, "%s needs an integer type (u16, i16, u32, i32, u64, i64), not %q", field, pt.Type)
		return
	case field == "bits" && (pt.Type == I16 || pt.Type == I32 || pt.Type == I64):
		e.add(path(field), nil, "bits need an unsigned type (u16, u32, u64), not %q", pt.Type)
		return
	case pt.Scale != 1 || pt.Offset != 0:
		e.add(path(field), nil, "a status word takes no scale or offset (scale %g, offset %g)", pt.Scale, pt.Offset)
		return
	case n == 0:
		e.add(path(field), nil, "is empty")
		return
	}
	names := map[string]int64{}
	keys := make([]int64, 0, n)
	src := r.Enum
	if r.Bits != nil {
		src = r.Bits
	}
	for k := range src {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	lo, hi := intRange(pt.Type)
	for _, k := range keys {
		name := src[k]
		p := fmt.Sprintf("%s.%d", path(field), k)
		switch {
		case field == "bits" && (k < 0 || k >= int64(16*pt.Type.Width())):
			e.add(p, k, "bit number must be in 0..%d for %s", 16*pt.Type.Width()-1, pt.Type)
			continue
		case field == "enum" && (float64(k) < lo || float64(k) > hi):
			e.add(p, k, "value outside the %s range", pt.Type)
			continue
		case !symbolPattern.MatchString(name):
			e.add(p, name, "want a name of letters, digits and '_'")
			continue
		}
		if other, dup := names[name]; dup {
			e.add(p, name, "name already used for %d", other)
			continue
		}
		names[name] = k
	}
	if r.Enum != nil {
		pt.Enum = make(map[int64]string, n)
		for k, v := range r.Enum {
			pt.Enum[k] = v
		}
	} else {
		pt.Bits = make(map[int]string, n)
		for k, v := range r.Bits {
			pt.Bits[int(k)] = v
		}
	}
}

var symbolPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// intRange is the raw range of an integer type.
func intRange(t DataType) (lo, hi float64) {
	switch t {
	case U16:
		return 0, math.MaxUint16
	case I16:
		return math.MinInt16, math.MaxInt16
	case U32:
		return 0, math.MaxUint32
	case I32:
		return math.MinInt32, math.MaxInt32
	case U64:
		return 0, maxExactInt
	case I64:
		return -maxExactInt, maxExactInt
	}
	return 0, 0
}

func checkOverlaps(pts []Point, valid []bool, e *profileErrors) {
	type span struct {
		i          int
		start, end int // [start, end)
	}
	byTable := map[RegisterTable][]span{}
	for i := range pts {
		if !valid[i] {
			continue
		}
		p := &pts[i]
		byTable[p.Register] = append(byTable[p.Register], span{i, int(p.Address), int(p.Address) + p.Width()})
	}
	for _, t := range registerTables {
		spans := byTable[t]
		sort.SliceStable(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
		for k := 1; k < len(spans); k++ {
			// Compare with every earlier span that could still reach this one.
			for j := k - 1; j >= 0; j-- {
				prev, cur := spans[j], spans[k]
				if prev.end > cur.start {
					a, b := prev, cur
					if a.i > b.i {
						a, b = b, a
					}
					e.add(fmt.Sprintf("points[%d].address", b.i), int(pts[b.i].Address),
						"%s %d..%d overlaps points[%d] (%s, %s %d..%d)",
						t, b.start, b.end-1, a.i, pts[a.i].Name, t, a.start, a.end-1)
				}
			}
		}
	}
}

// scaleOffset checks a point's scale (finite, not 0) and offset (finite) and sets
// them on pt when given; every protocol's points take them the same way.
func scaleOffset(scale, offset *float64, pt *Point, path func(string) string, e *profileErrors) {
	if scale != nil {
		switch s := *scale; {
		case !finite(s):
			e.add(path("scale"), s, "must be finite")
		case s == 0:
			e.add(path("scale"), s, "must not be 0")
		default:
			pt.Scale = s
		}
	}
	if offset != nil {
		if !finite(*offset) {
			e.add(path("offset"), *offset, "must be finite")
		} else {
			pt.Offset = *offset
		}
	}
}
