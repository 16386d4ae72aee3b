package api

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI document's request and response schemas are derived from the Go types
// the handlers decode and encode, so each is written once. Request structs say more
// with tags:
//
//	api:"required"   the field must be given (not null, not ""); missingField checks it
//	doc:"..."        the field's description, also the hint of its "is required" error
//	maxItems:"N"     an array's length limit (the handler checks it too)
//	maxLength:"N"    a string's length limit (the handler checks it too)

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	apiTimeType    = reflect.TypeFor[apiTime]()
	durationType   = reflect.TypeFor[time.Duration]()
	marshalerType  = reflect.TypeFor[json.Marshaler]()
	textMarshaler  = reflect.TypeFor[encoding.TextMarshaler]()
)

// requestSchema is the JSON schema of a request body decoded into a value of t: the
// fields' JSON names and types, the api:"required" ones required, no other keys.
func requestSchema(t reflect.Type) map[string]any { return schemaOf(t, true) }

// responseSchema is the JSON schema of what encoding/json writes for a value of t:
// fields without omitempty are required; nil pointers, slices and maps are null.
func responseSchema(t reflect.Type) map[string]any { return schemaOf(t, false) }

func schemaOf(t reflect.Type, request bool) map[string]any {
	switch {
	case t == timeType || t == apiTimeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawMessageType:
		return map[string]any{} // any JSON value
	case t == durationType:
		return map[string]any{"type": "integer", "description": "nanoseconds"}
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
			return map[string]any{}
		}
		if t.Implements(textMarshaler) {
			return map[string]any{"type": "string"}
		}
	}
	nullable := func(s map[string]any) map[string]any {
		if !request {
			s["nullable"] = true
		}
		return s
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := schemaOf(t.Elem(), request)
		if len(s) == 0 {
			return s
		}
		return nullable(s)
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "format": "byte"}
		}
		s := map[string]any{"type": "array", "items": schemaOf(t.Elem(), request)}
		if t.Kind() == reflect.Slice {
			return nullable(s)
		}
		return s
	case reflect.Map:
		return nullable(map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), request)})
	case reflect.Struct:
		return structSchema(t, request)
	default: // interface
		return map[string]any{}
	}
}

func structSchema(t reflect.Type, request bool) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			ft := f.Type
			if f.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
				if !f.IsExported() {
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			s := schemaOf(ft, request)
			if request && ft.Kind() == reflect.Pointer && f.Tag.Get("api") != "required" && len(s) > 0 {
				s["nullable"] = true // null is "not given"
			}
			if d := f.Tag.Get("doc"); d != "" {
				s["description"] = d
			}
			for _, k := range []string{"maxItems", "maxLength"} {
				if v := f.Tag.Get(k); v != "" {
					n, err := strconv.Atoi(v)
					if err != nil {
						panic(fmt.Sprintf("api: %s.%s: %s tag %q is not a number", t, f.Name, k, v))
					}
					s[k] = n
				}
			}
			props[name] = s
			if request && f.Tag.Get("api") == "required" || !request && !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if request {
		s["additionalProperties"] = false
	}
	return s
}

// missingField returns the first api:"required" field of the request v (a pointer
// to a struct) that was not given: path names it ("points[2].time"), field is its
// top-level JSON name ("points") and hint is its doc tag.
func missingField(v any) (path, field, hint string) {
	path, hint = missingIn(reflect.ValueOf(v).Elem(), "")
	field, _, _ = strings.Cut(path, "[")
	field, _, _ = strings.Cut(field, ".")
	return path, field, hint
}

func missingIn(v reflect.Value, prefix string) (string, string) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		fv := v.Field(i)
		if f.Tag.Get("api") == "required" {
			switch fv.Kind() {
			case reflect.Pointer, reflect.Slice, reflect.Map:
				if fv.IsNil() {
					return prefix + name, hintOf(f)
				}
			case reflect.String:
				if strings.TrimSpace(fv.String()) == "" {
					return prefix + name, hintOf(f)
				}
			}
		}
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			for j := range fv.Len() {
				if p, h := missingIn(fv.Index(j), fmt.Sprintf("%s%s[%d].", prefix, name, j)); p != "" {
					return p, h
				}
			}
		}
	}
	return "", ""
}

func hintOf(f reflect.StructField) string {
	if d := f.Tag.Get("doc"); d != "" {
		return d
	}
	t := f.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == apiTimeType {
		return "RFC 3339"
	}
	return ""
}

// requireFields answers 400 naming the first required field of req not given.
func requireFields(w http.ResponseWriter, req any) bool {
	path, field, hint := missingField(req)
	if path == "" {
		return true
	}
	if hint != "" {
		hint = " (" + hint + ")"
	}
	fail(w, http.StatusBadRequest, field, "%s is required%s", path, hint)
	return false
}
