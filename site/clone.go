package site

import (
	"maps"
	"reflect"
	"time"
)

// Clone returns a deep copy of the config: no pointer, slice or map is shared
// between the copy and c, so editing one (a what-if --set, a test) never changes the
// other. The copy is made field by field by reflection, so an exported field added
// to Config or below it is copied too; the unexported results of parsing (warnings,
// the line index), which reflection cannot set, are copied here by hand. The time
// zone (*time.Location, immutable) is the one thing both keep.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	out := deepCopy(reflect.ValueOf(c)).Interface().(*Config)
	out.warnings = deepCopy(reflect.ValueOf(c.warnings)).Interface().(Errors)
	out.doc = c.doc.clone()
	return out
}

// clone copies the index (nil for nil).
func (d *docIndex) clone() *docIndex {
	if d == nil {
		return nil
	}
	return &docIndex{lines: maps.Clone(d.lines), ids: maps.Clone(d.ids), byLine: maps.Clone(d.byLine)}
}

// Clone returns a deep copy of the device (see Config.Clone).
func (d Device) Clone() Device {
	return deepCopy(reflect.ValueOf(d)).Interface().(Device)
}

// immutable lists types a copy may share.
var immutable = map[reflect.Type]bool{reflect.TypeFor[*time.Location](): true}

// deepCopy returns a copy of v that shares no pointer, slice or map with it. An
// unexported field is copied by value: Config.Clone copies the ones that refer to
// memory by hand (TestCloneSharesNothing fails on one it does not).
func deepCopy(v reflect.Value) reflect.Value {
	if immutable[v.Type()] {
		return v
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(deepCopy(v.Elem()))
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			n.Index(i).Set(deepCopy(v.Index(i)))
		}
		return n
	case reflect.Array:
		n := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			n.Index(i).Set(deepCopy(v.Index(i)))
		}
		return n
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			n.SetMapIndex(deepCopy(it.Key()), deepCopy(it.Value()))
		}
		return n
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type()).Elem()
		n.Set(deepCopy(v.Elem()))
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		for i := range v.NumField() {
			if f := n.Field(i); f.CanSet() {
				f.Set(deepCopy(v.Field(i)))
			}
		}
		return n
	default:
		return v
	}
}
