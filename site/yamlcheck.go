package site

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// docIndex maps the paths of a config document ("devices[4].bess.capacity_kwh",
// the paths FieldError uses) to their YAML lines, and list items to their ids.
type docIndex struct {
	lines  map[string]int
	ids    map[string]string // "devices[4]" → "bess-1"
	byLine map[int]string    // line → the deepest path that starts on it
}

// checkDocument walks the YAML document against the type of v (a pointer to a
// struct) before it is decoded: a key the type does not have (with the
// nearest known name), and a scalar that cannot be a number or a boolean
// where one is wanted (a number typed with its unit), each with its line. It
// also returns the index of the document's paths.
func checkDocument(file string, root *yaml.Node, v any) (Errors, *docIndex) {
	c := &docChecker{file: file, idx: &docIndex{lines: map[string]int{}, ids: map[string]string{}, byLine: map[int]string{}}}
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	c.walk(n, reflect.TypeOf(v), "")
	return c.errs, c.idx
}

type docChecker struct {
	file string
	errs Errors
	idx  *docIndex
}

var unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()

func (c *docChecker) add(n *yaml.Node, path, value, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{File: c.file, Line: n.Line, Path: path, Value: value, Msg: fmt.Sprintf(format, args...)})
}

func (c *docChecker) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if path != "" {
		if _, ok := c.idx.lines[path]; !ok {
			c.idx.lines[path] = n.Line
		}
		c.idx.byLine[n.Line] = path
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType) {
		return // the type reads itself (Duration) and says what is wrong
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n, orRoot(path), scalarValue(n), "want a mapping of %s", strings.Join(yamlFields(t), ", "))
			return
		}
		fields := yamlFieldMap(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			f, ok := fields[k.Value]
			sub := join(path, k.Value)
			if !ok {
				msg := "unknown field"
				if near := nearest(k.Value, yamlFields(t)); near != "" {
					msg += fmt.Sprintf("; did you mean %s?", near)
				}
				c.add(k, sub, "", "%s (%s takes: %s)", msg, orRoot(path), strings.Join(yamlFields(t), ", "))
				continue
			}
			c.walk(val, f.Type, sub)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n, orRoot(path), scalarValue(n), "want a list")
			return
		}
		for i, item := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			if id := mappingValue(item, "id"); id != "" {
				c.idx.ids[sub] = id
			}
			c.walk(item, t.Elem(), sub)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, orRoot(path), scalarValue(n), "want a mapping")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.walk(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode {
			c.add(n, path, "", "want a number")
			return
		}
		isInt := t.Kind() != reflect.Float32 && t.Kind() != reflect.Float64
		if n.Tag == "!!int" || (!isInt && n.Tag == "!!float") {
			return
		}
		if n.Tag == "!!float" && isInt {
			c.add(n, path, n.Value, "want a whole number")
			return
		}
		if m := numberWithUnit.FindStringSubmatch(n.Value); m != nil {
			c.add(n, path, n.Value, "not a number; write the number alone, without %q (the unit is in the field's name)", strings.TrimSpace(m[2]))
			return
		}
		c.add(n, path, n.Value, "not a number")
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			c.add(n, path, scalarValue(n), "want true or false")
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			c.add(n, path, "", "want a text value")
		}
	}
}

// numberWithUnit matches a number followed by a unit ("200 kWh", "11kW", "6 s").
var numberWithUnit = regexp.MustCompile(`^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z%°/][A-Za-z%°/0-9]*)\s*$`)

func orRoot(path string) string {
	if path == "" {
		return "(file)"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func scalarValue(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func mappingValue(n *yaml.Node, key string) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key && n.Content[i+1].Kind == yaml.ScalarNode {
			return n.Content[i+1].Value
		}
	}
	return ""
}

// yamlFieldMap is the fields of struct type t by their YAML names (the
// lowercased Go name when untagged, as yaml.v3 does); "-" fields are left out.
func yamlFieldMap(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			for k, v := range yamlFieldMap(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out
}

func yamlFields(t reflect.Type) []string {
	m := yamlFieldMap(t)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// nearest is the known name closest to s by edit distance, when it is close
// enough to be a typo (at most a third of the longer name, and at most 3), or
// "".
func nearest(s string, known []string) string {
	best, bestD := "", math.MaxInt
	for _, k := range known {
		d := editDistance(strings.ToLower(s), k)
		if d < bestD {
			best, bestD = k, d
		}
	}
	if bestD <= min(3, max(1, max(len(s), len(best))/3)) {
		return best
	}
	return ""
}

// editDistance is the Damerau–Levenshtein distance (adjacent transpositions
// count one) between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// annotate sets the line and the device or node id of each error from the
// document's index: the line of the deepest indexed prefix of its path.
func (idx *docIndex) annotate(errs Errors) {
	for _, e := range errs {
		if e.Line == 0 {
			e.Line = idx.line(e.Path)
		}
		if e.ID == "" {
			e.ID = idx.id(e.Path)
		}
	}
}

func (idx *docIndex) line(path string) int {
	for p := path; p != ""; p = parent(p) {
		if l, ok := idx.lines[p]; ok {
			return l
		}
	}
	return 0
}

// id is the id of the list item the path is in ("devices[4]…" → "bess-1").
func (idx *docIndex) id(path string) string {
	for p := path; p != ""; p = parent(p) {
		if strings.HasSuffix(p, "]") {
			if id, ok := idx.ids[p]; ok {
				return id
			}
		}
	}
	return ""
}

// parent strips the last element of a path: "a.b[2].c" → "a.b[2]" → "a.b" → "a" → "".
func parent(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// pathAtLine is the path of the field on line (for decoder errors that give a
// line only), or "".
func (idx *docIndex) pathAtLine(line int) string { return idx.byLine[line] }

var yamlLine = regexp.MustCompile(`^line (\d+): `)

// decodeErrors turns the decoder's errors ("line 30: …") into field errors
// with the path of the line.
func (idx *docIndex) decodeErrors(file string, err error) Errors {
	var out Errors
	msgs := []string{cleanYAMLError(err)}
	var te *yaml.TypeError
	if ok := asTypeError(err, &te); ok {
		msgs = te.Errors
	}
	for _, m := range msgs {
		fe := &FieldError{File: file, Path: "(yaml)", Msg: m}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			if l, err := strconv.Atoi(g[1]); err == nil {
				fe.Line = l
				fe.Msg = strings.TrimPrefix(m, g[0])
				if p := idx.pathAtLine(l); p != "" {
					fe.Path = p
				}
			}
		}
		out = append(out, fe)
	}
	idx.annotate(out)
	return out
}

func asTypeError(err error, te **yaml.TypeError) bool {
	t, ok := err.(*yaml.TypeError) //nolint:errorlint // yaml.v3 returns it unwrapped
	if ok {
		*te = t
	}
	return ok
}
