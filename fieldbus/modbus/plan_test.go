package modbus

import (
	"github.com/gridd/gridd/fieldbus"
	"os"
	"path/filepath"

	"fmt"
	"strings"
	"testing"
)

func rp(name string, reg fieldbus.RegisterTable, addr uint16, typ fieldbus.DataType) fieldbus.Point {
	return fieldbus.Point{Name: name, Register: reg, Address: addr, Type: typ, Scale: 1}
}

func fmtReads(rs []Read) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s@%d+%d%v ", r.Table, r.Address, r.Count, r.Points)
	}
	return strings.TrimSpace(b.String())
}

func TestPlanReads(t *testing.T) {
	many := func(n int, reg fieldbus.RegisterTable, step uint16, typ fieldbus.DataType) []fieldbus.Point {
		var ps []fieldbus.Point
		for i := 0; i < n; i++ {
			ps = append(ps, rp(fmt.Sprint(i), reg, uint16(i)*step, typ))
		}
		return ps
	}
	cases := []struct {
		name   string
		points []fieldbus.Point
		opts   PlanOptions
		want   string
	}{
		{"contiguous merge", []fieldbus.Point{rp("a", fieldbus.Input, 0, fieldbus.U16), rp("b", fieldbus.Input, 1, fieldbus.I32), rp("c", fieldbus.Input, 3, fieldbus.F64)},
			PlanOptions{}, "input@0+7[0 1 2]"},
		{"unsorted input", []fieldbus.Point{rp("c", fieldbus.Input, 3, fieldbus.F64), rp("a", fieldbus.Input, 0, fieldbus.U16), rp("b", fieldbus.Input, 1, fieldbus.I32)},
			PlanOptions{}, "input@0+7[1 2 0]"},
		{"gap within limit", []fieldbus.Point{rp("a", fieldbus.Holding, 0, fieldbus.U16), rp("b", fieldbus.Holding, 5, fieldbus.U16)},
			PlanOptions{MaxGap: 4}, "holding@0+6[0 1]"},
		{"gap too big", []fieldbus.Point{rp("a", fieldbus.Holding, 0, fieldbus.U16), rp("b", fieldbus.Holding, 6, fieldbus.U16)},
			PlanOptions{MaxGap: 4}, "holding@0+1[0] holding@6+1[1]"},
		{"gap zero keeps contiguous only", []fieldbus.Point{rp("a", fieldbus.Holding, 0, fieldbus.U16), rp("b", fieldbus.Holding, 1, fieldbus.U16), rp("c", fieldbus.Holding, 3, fieldbus.U16)},
			PlanOptions{MaxGap: 0}, "holding@0+2[0 1] holding@3+1[2]"},
		{"tables never merge", []fieldbus.Point{rp("a", fieldbus.Holding, 0, fieldbus.U16), rp("b", fieldbus.Input, 1, fieldbus.U16), rp("c", fieldbus.Coil, 0, fieldbus.Bool), rp("d", fieldbus.Discrete, 1, fieldbus.Bool)},
			PlanOptions{MaxGap: 10}, "coil@0+1[2] discrete@1+1[3] holding@0+1[0] input@1+1[1]"},
		{"125 limit", many(126, fieldbus.Input, 1, fieldbus.U16), PlanOptions{}, "input@0+125[" + seq(0, 125) + "] input@125+1[125]"},
		{"125 limit with 32-bit", many(63, fieldbus.Input, 2, fieldbus.U32), PlanOptions{}, "input@0+124[" + seq(0, 62) + "] input@124+2[62]"},
		{"custom register cap", many(10, fieldbus.Holding, 1, fieldbus.U16), PlanOptions{MaxRegisters: 4}, "holding@0+4[0 1 2 3] holding@4+4[4 5 6 7] holding@8+2[8 9]"},
		{"bits merge to 2000", many(2001, fieldbus.Coil, 1, fieldbus.Bool), PlanOptions{}, "coil@0+2000[" + seq(0, 2000) + "] coil@2000+1[2000]"},
		{"bit cap", many(5, fieldbus.Discrete, 2, fieldbus.Bool), PlanOptions{MaxBits: 4, MaxGap: 1}, "discrete@0+3[0 1] discrete@4+3[2 3] discrete@8+1[4]"},
		{"end of address space", []fieldbus.Point{rp("a", fieldbus.Input, 65532, fieldbus.U64)}, PlanOptions{}, "input@65532+4[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, err := PlanReads(c.points, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtReads(rs); got != c.want {
				t.Fatalf("plan\n got %s\nwant %s", got, c.want)
			}
			// Every point is covered exactly once, inside its read.
			seen := map[int]bool{}
			for _, r := range rs {
				lim := MaxReadRegisters
				if r.Table.IsBit() {
					lim = MaxReadBits
				}
				if int(r.Count) > lim {
					t.Fatalf("read %v exceeds %d", r, lim)
				}
				for _, i := range r.Points {
					p := c.points[i]
					if seen[i] || p.Register != r.Table || int(p.Address) < int(r.Address) || int(p.Address)+p.Width() > r.End() {
						t.Fatalf("point %d (%s@%d) badly placed in %v", i, p.Register, p.Address, r)
					}
					seen[i] = true
				}
			}
			if len(seen) != len(c.points) {
				t.Fatalf("%d of %d points planned", len(seen), len(c.points))
			}
		})
	}
}

func seq(from, to int) string {
	s := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, fmt.Sprint(i))
	}
	return strings.Join(s, " ")
}

func TestPlanReadsBadOptions(t *testing.T) {
	ps := []fieldbus.Point{rp("a", fieldbus.Input, 0, fieldbus.U16)}
	for _, o := range []PlanOptions{{MaxGap: -1}, {MaxRegisters: 3}, {MaxRegisters: 126}, {MaxBits: 2001}, {MaxBits: -1}} {
		if _, err := PlanReads(ps, o); err == nil {
			t.Errorf("PlanReads with %+v succeeded", o)
		}
	}
	if _, err := PlanReads([]fieldbus.Point{rp("a", "table", 0, fieldbus.U16)}, PlanOptions{}); err == nil {
		t.Error("PlanReads with an unknown table succeeded")
	}
	if _, err := PlanReads([]fieldbus.Point{rp("a", fieldbus.Input, 65535, fieldbus.U32)}, PlanOptions{}); err == nil {
		t.Error("PlanReads past 65535 succeeded")
	}
}

// FuzzParseProfile feeds arbitrary YAML to the parser: it must never panic, every
// error must name the file, and an accepted profile must be internally consistent.
func FuzzParseProfile(f *testing.F) {
	seeds, err := filepath.Glob("../profiles/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob("../testdata/profiles/*.yaml")
	for _, path := range append(seeds, more...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: x\nkind: pv\npoints:\n  - {name: active_power_kw, register: input, address: 65535, type: u64}\n"))
	f.Add([]byte("name: x\nkind: pv\npoints:\n  - {name: power_limit_kw, register: holding, address: 1, type: u16, access: rw, min: 0, max: .inf}\n"))
	f.Add([]byte("name: x\nkind: pv\npoints:\n  - {name: serial_number, register: input, address: 1, type: string, length: 4}\n  - {name: status, register: input, address: 5, type: u16, enum: {1: off, 7: fault}}\n"))
	f.Add([]byte("name: x\nkind: pv\npoints:\n  - {name: model, register: input, address: 65530, type: string, length: 6}\n"))
	f.Add([]byte("name: x\nkind: pv\npoints:\n  - {name: alarm, register: input, address: 0, type: u16, bits: {15: a, 16: b}}\n"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := fieldbus.ParseProfile("f.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if p.Name == "" || p.Kind == "" || len(p.Points) == 0 {
			t.Fatalf("accepted an incomplete profile: %+v", p)
		}
		names := map[string]bool{}
		for _, pt := range p.Points {
			if names[pt.Name] {
				t.Fatalf("duplicate %s accepted", pt.Name)
			}
			names[pt.Name] = true
			if pt.Scale == 0 || pt.Width() == 0 || int(pt.Address)+pt.Width() > 65536 {
				t.Fatalf("bad point accepted: %+v", pt)
			}
			if pt.Writable() && (!pt.HasLimits || pt.Min > pt.Max) {
				t.Fatalf("rw point without sane limits accepted: %+v", pt)
			}
			if pt.HasLimits {
				for _, v := range []float64{pt.Min, pt.Max} {
					if _, err := pt.Encode(v); err != nil {
						t.Fatalf("limit %v of %s not encodable: %v", v, pt.Name, err)
					}
				}
			}
		}
		if p.Protocol != fieldbus.ProtocolModbus {
			return // addressed by IOA (fieldbus/iec104)
		}
		if _, err := PlanReads(p.Points, DefaultPlanOptions()); err != nil {
			t.Fatalf("accepted profile cannot be planned: %v", err)
		}
	})
}
