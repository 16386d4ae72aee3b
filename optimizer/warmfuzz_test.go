package optimizer_test

import (
	"context"
	"encoding/binary"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/optimizer"
	"github.com/gridd/gridd/optimizer/scengen"
)

// FuzzWarmStart hands Solve a previous plan with one value replaced (any
// float64, NaN and infinities included) and its start moved by a whole or
// partial number of steps. The solve must either reject the plan with an
// error naming the warm-start field, or reach the cold solve's objective:
// a warm start changes the path, never the optimum.
func FuzzWarmStart(f *testing.F) {
	prev, next := mpc(f, scengen.Params{Seed: 3, EVs: 12, Batteries: 1, Feeders: 1, Steps: 24}, 1, optimizer.Options{})
	cold, err := optimizer.Solve(context.Background(), next, optimizer.Options{})
	if err != nil {
		f.Fatal(err)
	}
	enc := func(asset, field, step uint8, v float64, shiftMin int16) []byte {
		b := []byte{asset, field, step}
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		return binary.LittleEndian.AppendUint16(b, uint16(shiftMin))
	}
	f.Add(enc(0, 0, 0, 1, 0))
	f.Add(enc(0, 0, 0, math.NaN(), 0))
	f.Add(enc(1, 1, 5, math.Inf(1), 0))
	f.Add(enc(2, 2, 3, -1e300, 15))
	f.Add(enc(0, 3, 23, 50, -15))
	f.Add(enc(3, 0, 7, 0, 7))
	f.Add(enc(5, 1, 2, 1e9, 1440))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 13 {
			return
		}
		asset, field, step := int(data[0]), int(data[1]%4), int(data[2])
		v := math.Float64frombits(binary.LittleEndian.Uint64(data[3:11]))
		shift := time.Duration(int16(binary.LittleEndian.Uint16(data[11:13]))) * time.Minute

		p := *prev // the unexported duals stay shared: they are only read
		p.Start = prev.Start.Add(shift)
		p.Assets = append([]optimizer.AssetPlan(nil), prev.Assets...)
		p.GridImportKW = append([]float64(nil), prev.GridImportKW...)
		name := "grid_import_kw"
		target := &p.GridImportKW
		if len(p.Assets) > 0 && field > 0 {
			a := &p.Assets[asset%len(p.Assets)]
			switch field {
			case 1:
				a.PowerKW, target, name = append([]float64(nil), a.PowerKW...), &a.PowerKW, "power_kw"
			case 2:
				a.SoCKWh, target, name = append([]float64(nil), a.SoCKWh...), &a.SoCKWh, "soc_kwh"
			case 3:
				a.ChargeKW, target, name = append([]float64(nil), a.ChargeKW...), &a.ChargeKW, "charge_kw"
			}
		}
		if len(*target) > 0 {
			(*target)[step%len(*target)] = v
		}

		got, err := optimizer.Solve(context.Background(), next, optimizer.Options{WarmStart: &p})
		if err != nil {
			if !strings.Contains(err.Error(), "warm start plan") || !strings.Contains(err.Error(), name) {
				t.Fatalf("warm start with %s = %v, shift %v: unexpected error %v", name, v, shift, err)
			}
			if !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) <= optimizer.MaxMagnitude {
				t.Fatalf("warm start with valid %s = %v rejected: %v", name, v, err)
			}
			return
		}
		if rel := math.Abs(got.Objective-cold.Objective) / (1 + math.Abs(cold.Objective)); rel > 1e-6 {
			t.Fatalf("warm start with %s = %v, shift %v: objective %v, cold %v (relative difference %.2g)",
				name, v, shift, got.Objective, cold.Objective, rel)
		}
	})
}
