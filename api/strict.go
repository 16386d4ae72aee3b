package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// keyError is a JSON object key that strict decoding refuses; field names it.
type keyError struct {
	field, msg string
}

func (e *keyError) Error() string { return e.msg }

// checkKeys walks one JSON document alongside the Go type it is decoded into and
// refuses what encoding/json would accept silently: a key that matches a field only
// when case is ignored ("Energy_KWH" for "energy_kwh"), and a key given twice in one
// object (the last one would win), also when the two differ only in case. Objects
// decoded into maps or interfaces keep any keys but no duplicates. Syntax errors are
// left to the decoder (checkKeys returns nil for them).
func checkKeys(data []byte, t reflect.Type) *keyError {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var ke *keyError
	func() {
		defer func() {
			if r := recover(); r != nil {
				if k, ok := r.(*keyError); ok {
					ke = k
					return
				}
				panic(r)
			}
		}()
		walkKeys(dec, t)
	}()
	return ke
}

var unmarshalerType = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()

// walkKeys reads one value from dec; it panics with a *keyError for a refused key and
// returns silently on a syntax error (the decoder reports it afterwards).
func walkKeys(dec *json.Decoder, t reflect.Type) bool {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(unmarshalerType) || t.Implements(unmarshalerType)) {
		t = nil // decodes itself: its keys are its own business, duplicates still are not
	}
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return true
	}
	switch delim {
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = structFields(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]string{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return false
			}
			key, _ := kt.(string)
			fold := strings.ToLower(key)
			if fields != nil {
				fold = key
			}
			if prev, dup := seen[fold]; dup {
				panic(&keyError{prev, fmt.Sprintf("key %q given twice (also as %q)", key, prev)})
			}
			if fields != nil {
				ft, known := fields[key]
				if !known {
					for name := range fields {
						if strings.EqualFold(name, key) {
							panic(&keyError{name, fmt.Sprintf("unknown field %q (keys are case-sensitive: did you mean %q?)", key, name)})
						}
					}
					return false // an unknown field: DisallowUnknownFields names it
				}
				// Two keys folding to one field are refused too.
				for k := range seen {
					if strings.EqualFold(k, key) {
						panic(&keyError{seen[k], fmt.Sprintf("key %q given twice (also as %q)", key, seen[k])})
					}
				}
				elem = ft
			}
			seen[fold] = key
			if !walkKeys(dec, elem) {
				return false
			}
		}
		_, err := dec.Token()
		return err == nil
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for dec.More() {
			if !walkKeys(dec, elem) {
				return false
			}
		}
		_, err := dec.Token()
		return err == nil
	}
	return false
}

// structFields returns the JSON names of a struct's fields (embedded structs
// flattened) with their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range structFields(ft) {
					out[k] = v
				}
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}
