package iec104_test

import (
	"math"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/iec104test"
)

// A configured point table replaces the default one: the interrogation answers
// exactly its points at its IOAs, a point with time_tag false is sent spontaneously
// as M_ME_NC_1, the import limit command sits at its new IOA and the default 3001
// is then an unknown IOA.
func TestConfiguredPointTable(t *testing.T) {
	r := startRig(t, false, "refuse", 20*time.Millisecond, `  points:
    - {point: site_import_kw, ioa: 40001, time_tag: false, deadband: 0}
    - {point: battery_soc_pct, of: bess, ioa: 40002}
    - {point: node_power_kw, of: f1, ioa: 40003}
    - {point: limit_in_force, ioa: 40100}
    - {point: import_limit_kw, ioa: 47001}
`)
	m, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	m.StartDT()
	m.SendI(iec104test.GI(7))
	if a := m.Reply(100, 7); a.Neg {
		t.Fatalf("GI refused: %+v", a)
	}
	m.Reply(100, 10)
	got := map[uint32]bool{}
	for ioa := range m.Points {
		got[ioa] = true
	}
	if len(got) != 4 || !got[40001] || !got[40002] || !got[40003] || !got[40100] {
		t.Fatalf("GI answered IOAs %v, want 40001 40002 40003 40100", got)
	}
	if soc := m.Points[40002]; soc.Qual&0x80 != 0 || soc.Value < 10 || soc.Value > 90 {
		t.Fatalf("40002 battery SoC %+v", soc)
	}
	if imp := m.Points[40001]; math.Abs(imp.Value-r.meter(t)) > 5 {
		t.Fatalf("40001 = %.1f, meter %.1f", imp.Value, r.meter(t))
	}

	// The default IOA takes no command any more; the configured one does.
	m.SendI(iec104test.Setpoint(7, 6, 3001, 100, 0))
	if a := m.Reply(50, 47); !a.Neg {
		t.Fatalf("C_SE_NC_1 to 3001 with a configured table: %+v, want negative cause 47", a)
	}
	limit := math.Round(r.meter(t) - 40)
	m.SendI(iec104test.Setpoint(7, 6, 47001, float32(limit), 0))
	if a := m.Reply(50, 7); a.Neg {
		t.Fatalf("import limit at 47001 refused: %+v", a)
	}
	m.Reply(50, 10)
	iv := r.site.Config.Control.Interval.D
	now := r.site.Clock.Now()
	for k := 0; k < 3; k++ {
		now = now.Add(iv)
		r.site.Clock.Set(now)
		if _, err := r.site.Service.ControlTick(t.Context(), now, iv); err != nil {
			t.Fatal(err)
		}
	}
	m.Until("40001 under the limit (M_ME_NC_1) and 40100 set (M_SP_TB_1)", 5*time.Second, func(iec104test.ASDU) bool {
		p, ok := m.Points[40001]
		return ok && p.Value <= limit+0.5 && m.Points[40100].Value == 1
	})
	types := map[uint32]map[byte]bool{40001: {}, 40100: {}}
	for _, a := range m.Log {
		if a.Cause != 3 {
			continue
		}
		for _, o := range a.Objs {
			if types[o.IOA] != nil {
				types[o.IOA][a.Typ] = true
			}
		}
	}
	if !types[40001][13] || types[40001][36] {
		t.Errorf("40001 (time_tag false) sent spontaneously as types %v, want 13 (M_ME_NC_1) only", types[40001])
	}
	if !types[40100][30] {
		t.Errorf("40100 sent spontaneously as types %v, want 30 (M_SP_TB_1)", types[40100])
	}
}
