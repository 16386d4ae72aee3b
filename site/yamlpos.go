package site

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlIndex maps the config's field paths ("devices[3].bess.capacity_kwh") to where
// they are written, and sequence items to their id, so an error names the line, the
// device by id and, for a misspelt field, the nearest known one.
type yamlIndex struct {
	line map[string]int    // path -> line of its key (or item)
	ids  map[string]string // "devices[3]" -> "bess-1"
	keys []yamlKey         // every key and scalar value, for decode errors that give a line
}

type yamlKey struct {
	path, value string
	line        int
	key         bool
}

func indexYAML(data []byte) *yamlIndex {
	ix := &yamlIndex{line: map[string]int{}, ids: map[string]string{}}
	var root yaml.Node
	if yaml.NewDecoder(bytes.NewReader(data)).Decode(&root) != nil || len(root.Content) == 0 {
		return ix
	}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				ix.line[p] = k.Line
				ix.keys = append(ix.keys, yamlKey{p, k.Value, k.Line, true})
				if v.Kind == yaml.ScalarNode {
					ix.keys = append(ix.keys, yamlKey{p, v.Value, v.Line, false})
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, it := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				ix.line[p] = it.Line
				if it.Kind == yaml.MappingNode {
					for j := 0; j+1 < len(it.Content); j += 2 {
						if it.Content[j].Value == "id" {
							ix.ids[p] = it.Content[j+1].Value
						}
					}
				}
				if it.Kind == yaml.ScalarNode {
					ix.keys = append(ix.keys, yamlKey{p, it.Value, it.Line, false})
				}
				walk(it, p)
			}
		}
	}
	walk(root.Content[0], "")
	return ix
}

var indexed = regexp.MustCompile(`^([a-z_]+)\[(\d+)\]`)

// lineOf returns the line of path or of its nearest written ancestor (0 = unknown).
func (ix *yamlIndex) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := ix.line[p]; ok {
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

// item returns the id of the device or node a path is in ("devices[3].bess" ->
// "bess-1"), "" for other paths.
func (ix *yamlIndex) item(path string) string {
	m := indexed.FindStringSubmatch(path)
	if m == nil || (m[1] != "devices" && m[1] != "nodes") {
		return ""
	}
	return ix.ids[m[0]]
}

// annotate gives every error its line and names sequence items by id.
func (ix *yamlIndex) annotate(errs Errors) Errors {
	for _, e := range errs {
		if e.Line == 0 {
			e.Line = ix.lineOf(e.Path)
		}
		e.Item = ix.item(e.Path)
	}
	return errs
}

var (
	yamlLine     = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
	badValue     = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// decodeErrors turns yaml.v3's decode errors into field errors with the path, the
// line, the value and, for an unknown field, the nearest known field.
func (ix *yamlIndex) decodeErrors(file string, err error) Errors {
	var msgs []string
	if te := (*yaml.TypeError)(nil); errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var out Errors
	for _, m := range msgs {
		fe := &FieldError{File: file, Path: "(yaml)", Msg: m}
		if mm := yamlLine.FindStringSubmatch(m); mm != nil {
			line, _ := strconv.Atoi(mm[1])
			fe.Line, fe.Msg = line, mm[2]
			if u := unknownField.FindStringSubmatch(mm[2]); u != nil {
				if p := ix.find(line, u[1], true); p != "" {
					fe.Path = p
					fe.Msg = "unknown field"
					if s := nearestField(p, u[1]); s != "" {
						fe.Msg += fmt.Sprintf("; did you mean %s?", s)
					}
				}
			} else if b := badValue.FindStringSubmatch(mm[2]); b != nil {
				if p := ix.find(line, b[2], false); p != "" {
					fe.Path, fe.Value = p, b[2]
					fe.Msg = "want " + kindWord(b[3])
					if unit := unitOf(p); unit != "" && b[3] == "float64" {
						fe.Msg += fmt.Sprintf(" (the unit, %s, is in the field name: write the number only)", unit)
					}
				}
			}
		}
		fe.Item = ix.item(fe.Path)
		out = append(out, fe)
	}
	return out
}

// find returns the path of the key (or scalar value) written on line with this text.
func (ix *yamlIndex) find(line int, text string, key bool) string {
	for _, k := range ix.keys {
		if k.line == line && k.key == key && k.value == text {
			return k.path
		}
	}
	return ""
}

func kindWord(goType string) string {
	switch goType {
	case "float64", "float32":
		return "a number"
	case "int", "int64", "uint16", "uint8", "uint32":
		return "a whole number"
	case "bool":
		return "true or false"
	}
	return "a " + goType
}

// unitOf returns the unit a field name carries ("capacity_kwh" -> "kWh").
func unitOf(path string) string {
	name := path[strings.LastIndexByte(path, '.')+1:]
	for _, u := range []struct{ suffix, unit string }{{"_kwh", "kWh"}, {"_kw", "kW"}, {"_pct", "%"}, {"_per_kwh", "per kWh"}} {
		if strings.HasSuffix(name, u.suffix) {
			return u.unit
		}
	}
	return ""
}

// nearestField suggests the known field of path's parent closest to the misspelt name.
func nearestField(path, bad string) string {
	t := reflect.TypeOf(Config{})
	parts := strings.Split(path, ".")
	for _, part := range parts[:len(parts)-1] {
		name := part
		if i := strings.IndexByte(part, '['); i >= 0 {
			name = part[:i]
		}
		f, ok := fieldByTag(t, name)
		if !ok {
			return ""
		}
		t = f.Type
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
	}
	best, bestD := "", 4 // at most three edits away
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if d := editDistance(bad, tag); d < bestD {
			best, bestD = tag, d
		}
	}
	return best
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0] == tag {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
