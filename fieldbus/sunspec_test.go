package fieldbus_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
)

// sunSpecImage is a PV inverter with storage and a meter, plus one model gridd has
// no definition for (it must be skipped by its length).
func sunSpecImage(t testing.TB) []uint16 {
	t.Helper()
	regs, err := modbus.EncodeSunSpec([]modbus.SunSpecModelData{
		{ID: 1, Text: map[string]string{"Mn": "Acme Solar", "Md": "AS-50", "SN": "SN0042", "Vr": "1.2.3"}, Raw: map[string]int64{"DA": 1}},
		{ID: 103, Raw: map[string]int64{
			"A": 7421, "A_SF": -2, "PPVphAB": 4012, "V_SF": -1, "W": 4321, "W_SF": 1,
			"Hz": 5001, "Hz_SF": -2, "WH": 12345678, "WH_SF": 0, "TmpCab": -55, "Tmp_SF": -1,
			"St": 4, "Evt1": 1<<7 | 1<<0,
		}},
		{ID: 124, Raw: map[string]int64{"WChaMax": 250, "WChaMax_SF": 2, "ChaState": 655, "ChaState_SF": -1, "ChaSt": 4, "StorCtl_Mod": 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	regs = regs[:len(regs)-2] // drop the end marker to append more
	regs = append(regs, 64999, 3, 1, 2, 3)
	meter, err := modbus.EncodeSunSpec([]modbus.SunSpecModelData{{ID: 203, Raw: map[string]int64{
		"W": -1520, "W_SF": 1, "VAR": 300, "VAR_SF": 0, "PPV": 4005, "V_SF": -1, "Hz": 4999, "Hz_SF": -2,
		"A": 222, "A_SF": -1, "TotWhImp": 987654, "TotWhExp": 1000, "TotWh_SF": 1,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return append(regs, meter[2:]...)
}

func TestSunSpecDiscovery(t *testing.T) {
	img := sunSpecImage(t)
	for i, base := range []uint16{40000, 50000, 0} {
		scheme := ""
		if i == 1 {
			scheme = "rtuovertcp://" // the probe works over any transport
		}
		t.Run(scheme+"base "+strconv.Itoa(int(base)), func(t *testing.T) {
			addr := scheme + freeAddr(t, "127.0.0.1")
			srv, err := sim.ServeRegisters(addr, 3, base, img, quiet)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			dev, err := modbus.ProbeSunSpec(context.Background(), addr, 3, 2*time.Second, quiet)
			if err != nil {
				t.Fatal(err)
			}
			if dev.Base != base {
				t.Errorf("base %d, want %d", dev.Base, base)
			}
			var ids []uint16
			for _, m := range dev.Models {
				ids = append(ids, m.ID)
			}
			if want := []uint16{1, 103, 124, 64999, 203}; !equalIDs(ids, want) {
				t.Fatalf("models %v, want %v", ids, want)
			}
			if m, _ := dev.Model(64999); m.Name != "" || m.Values != nil || m.Length != 3 {
				t.Errorf("unknown model decoded: %+v", m)
			}
			common, _ := dev.Model(1)
			if v, _ := common.Value("Mn"); v.Text != "Acme Solar" {
				t.Errorf("Mn %q", v.Text)
			}
			if v, _ := common.Value("SN"); v.Text != "SN0042" {
				t.Errorf("SN %q", v.Text)
			}
			inv, _ := dev.Model(103)
			checks := []struct {
				model *modbus.SunSpecModel
				point string
				want  float64
				text  string
			}{
				{inv, "W", 43210, ""},
				{inv, "A", 74.21, ""},
				{inv, "Hz", 50.01, ""},
				{inv, "WH", 12345678, ""},
				{inv, "TmpCab", -5.5, ""},
				{inv, "St", 4, "MPPT"},
				{inv, "Evt1", 129, "GROUND_FAULT|OVER_TEMP"},
			}
			stor, _ := dev.Model(124)
			checks = append(checks, struct {
				model *modbus.SunSpecModel
				point string
				want  float64
				text  string
			}{stor, "ChaState", 65.5, ""}, struct {
				model *modbus.SunSpecModel
				point string
				want  float64
				text  string
			}{stor, "WChaMax", 25000, ""}, struct {
				model *modbus.SunSpecModel
				point string
				want  float64
				text  string
			}{stor, "ChaSt", 4, "CHARGING"})
			for _, c := range checks {
				v, ok := c.model.Value(c.point)
				if !ok || !v.Implemented || math.Abs(v.Value-c.want) > 1e-9*math.Max(1, math.Abs(c.want)) || v.Text != c.text {
					t.Errorf("model %d %s = %+v, want %v %q", c.model.ID, c.point, v, c.want, c.text)
				}
			}
			if v, ok := inv.Value("DCW"); !ok || v.Implemented {
				t.Errorf("DCW not set in the image but reported %+v", v)
			}
			sem := dev.Semantic()
			wantSem := map[string]float64{
				"active_power_kw":     -43.21, // inverter output; the meter comes later
				"soc_pct":             65.5,
				"frequency_hz":        50.01,
				"voltage_v":           401.2,
				"energy_export_kwh":   12345.678,
				"energy_import_kwh":   9876.54,
				"reactive_power_kvar": 0.3,
			}
			for k, w := range wantSem {
				if math.Abs(sem[k]-w) > 1e-9*math.Max(1, math.Abs(w)) {
					t.Errorf("semantic %s = %v, want %v", k, sem[k], w)
				}
			}
		})
	}
}

func TestSunSpecErrors(t *testing.T) {
	read := func(img map[uint16]uint16) modbus.HoldingReader {
		return func(_ context.Context, addr, count uint16) ([]uint16, error) {
			out := make([]uint16, count)
			for i := range out {
				v, ok := img[addr+uint16(i)]
				if !ok {
					return nil, &modbus.ExceptionError{Code: 2, Name: "ILLEGAL DATA ADDRESS", Err: modbus.ErrIllegalDataAddress}
				}
				out[i] = v
			}
			return out, nil
		}
	}
	if _, err := modbus.DiscoverSunSpec(context.Background(), read(map[uint16]uint16{0: 1, 1: 2})); !errors.Is(err, modbus.ErrNoSunSpec) {
		t.Errorf("no marker: %v", err)
	}
	short := map[uint16]uint16{40000: 0x5375, 40001: 0x6E53, 40002: 103, 40003: 10}
	for i := uint16(0); i < 10; i++ {
		short[40004+i] = 0
	}
	short[40014], short[40015] = 0xFFFF, 0
	if _, err := modbus.DiscoverSunSpec(context.Background(), read(short)); err == nil {
		t.Error("model 103 with length 10 accepted")
	}
	loop := map[uint16]uint16{0: 0x5375, 1: 0x6E53}
	for a := uint16(2); a < 2+2*70; a += 2 {
		loop[a], loop[a+1] = 64000, 0
	}
	if _, err := modbus.DiscoverSunSpec(context.Background(), read(loop)); err == nil {
		t.Error("endless model chain accepted")
	}
	if _, err := modbus.EncodeSunSpec([]modbus.SunSpecModelData{{ID: 103, Raw: map[string]int64{"Nope": 1}}}); err == nil {
		t.Error("unknown point encoded")
	}
}

// FuzzDiscoverSunSpec feeds arbitrary register images to discovery: it must not
// panic, and anything it decodes must be finite.
func FuzzDiscoverSunSpec(f *testing.F) {
	img := sunSpecImage(f)
	b := make([]byte, 2*len(img))
	for i, r := range img {
		b[2*i], b[2*i+1] = byte(r>>8), byte(r)
	}
	f.Add(b)
	f.Add([]byte{0x53, 0x75, 0x6E, 0x53, 0, 1, 0xff, 0xff})
	f.Add([]byte{0x53, 0x75, 0x6E, 0x53, 0, 103, 0, 50})
	f.Fuzz(func(t *testing.T, data []byte) {
		regs := make([]uint16, len(data)/2)
		for i := range regs {
			regs[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		}
		read := func(_ context.Context, addr, count uint16) ([]uint16, error) {
			if int(addr)+int(count) > len(regs) {
				return nil, &modbus.ExceptionError{Code: 2, Name: "ILLEGAL DATA ADDRESS", Err: modbus.ErrIllegalDataAddress}
			}
			return regs[addr : int(addr)+int(count)], nil
		}
		dev, _ := modbus.DiscoverSunSpec(context.Background(), read)
		if dev == nil {
			return
		}
		for _, m := range dev.Models {
			for _, v := range m.Values {
				if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
					t.Fatalf("model %d %s = %v", m.ID, v.Name, v.Value)
				}
			}
		}
	})
}

func equalIDs(a, b []uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
