package site

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// fill sets every exported field below v, allocating every pointer, giving every
// slice one element and every map one entry, so a walk reaches every field Config
// has now or gains later. seed varies the leaf values.
func fill(t *testing.T, v reflect.Value, seed int, path string) {
	if immutable[v.Type()] {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), seed, path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0), seed, path+"[0]")
	case reflect.Array:
		for i := range v.Len() {
			fill(t, v.Index(i), seed, fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		k := reflect.New(v.Type().Key()).Elem()
		fill(t, k, seed, path+"{key}")
		e := reflect.New(v.Type().Elem()).Elem()
		fill(t, e, seed, path+"{value}")
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				if k := f.Type.Kind(); !clonedByHand[path+"."+f.Name] && (k == reflect.Pointer || k == reflect.Slice || k == reflect.Map || k == reflect.Interface) {
					t.Errorf("%s.%s is an unexported %s: Clone copies it by value, so the copies would share it", path, f.Name, k)
				}
				continue
			}
			fill(t, v.Field(i), seed, path+"."+f.Name)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", seed))
	case reflect.Bool:
		v.SetBool(seed%2 == 1)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(seed) + 0.5)
	case reflect.Interface, reflect.Func, reflect.Chan:
		t.Errorf("%s is a %s: Clone cannot copy it; give it a concrete type", path, v.Kind())
	}
}

// clonedByHand are the unexported fields Config.Clone copies itself (the test fills
// them with setUnexported).
var clonedByHand = map[string]bool{"Config.warnings": true, "Config.doc": true}

func setUnexported(c *Config) {
	c.warnings = Errors{{Path: "devices[0].bess.max_charge_kw", Value: "5000", Msg: "implausible"}}
	c.doc = &docIndex{lines: map[string]int{"devices[0]": 3}, ids: map[string]string{"devices[0]": "bess"}, byLine: map[int]string{3: "devices[0]"}}
}

// shared walks a and b (of one type) in step and reports every pointer, slice or map
// they share.
func shared(a, b reflect.Value, path string, out *[]string) {
	if immutable[a.Type()] {
		return
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return
		}
		if a.Pointer() == b.Pointer() {
			*out = append(*out, path)
		}
		shared(a.Elem(), b.Elem(), path, out)
	case reflect.Slice:
		if a.Len() > 0 && b.Len() > 0 && a.Pointer() == b.Pointer() {
			*out = append(*out, path)
		}
		for i := range min(a.Len(), b.Len()) {
			shared(a.Index(i), b.Index(i), fmt.Sprintf("%s[%d]", path, i), out)
		}
	case reflect.Map:
		if !a.IsNil() && !b.IsNil() && a.Pointer() == b.Pointer() {
			*out = append(*out, path)
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); bv.IsValid() {
				shared(a.MapIndex(k), bv, fmt.Sprintf("%s[%v]", path, k), out)
			}
		}
	case reflect.Struct:
		for i := range a.NumField() {
			shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name, out)
		}
	}
}

// TestCloneSharesNothing fills every field of a Config (so a field added later is
// covered without editing this test), clones it, and checks that the copy shares no
// pointer, slice or map with the original, that it is equal to it, and that editing
// every field of the copy leaves the original as it was.
func TestCloneSharesNothing(t *testing.T) {
	orig, want := &Config{}, &Config{}
	fill(t, reflect.ValueOf(orig).Elem(), 1, "Config")
	fill(t, reflect.ValueOf(want).Elem(), 1, "Config")
	orig.Site.Location, want.Site.Location = time.UTC, time.UTC
	setUnexported(orig)
	setUnexported(want)
	c := orig.Clone()
	if !reflect.DeepEqual(c, orig) {
		t.Fatal("the clone differs from the original")
	}
	var out []string
	shared(reflect.ValueOf(orig), reflect.ValueOf(c), "Config", &out)
	if len(out) > 0 {
		t.Fatalf("the clone shares %v with the original", out)
	}
	fill(t, reflect.ValueOf(c).Elem(), 2, "Config")
	c.warnings[0].Msg = "edited"
	c.doc.lines["devices[0]"] = 99
	if !reflect.DeepEqual(orig, want) {
		t.Fatal("editing the clone changed the original")
	}
	if c.Site.Location != time.UTC {
		t.Error("the clone lost the time zone")
	}
	// The copy is a different config now: the check above could fail.
	if reflect.DeepEqual(c, orig) {
		t.Fatal("the edit of the clone did not take")
	}
	// The Safety section in particular (the what-if copy once shared its map).
	c.Safety.CommsLoss["bess"] = "hold"
	if orig.Safety.CommsLoss["bess"] == "hold" {
		t.Error("safety.comms_loss shared")
	}
	var nilCfg *Config
	if nilCfg.Clone() != nil {
		t.Error("a nil config cloned to non-nil")
	}
	d := orig.Devices[0]
	dc := d.Clone()
	out = nil
	shared(reflect.ValueOf(d), reflect.ValueOf(dc), "Device", &out)
	if len(out) > 0 || !reflect.DeepEqual(d, dc) {
		t.Errorf("device clone shares %v", out)
	}
}
