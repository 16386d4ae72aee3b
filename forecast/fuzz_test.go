package forecast

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"testing"
	"time"
)

// FuzzForecast feeds arbitrary histories and request shapes to every method
// (Auto for a load and for PV included): no panics, and any result is well
// formed and finite.
func FuzzForecast(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 10, 0, 0, 0, 2, 0, 20}, uint16(60), uint16(24), int32(0), uint8(0))
	f.Add([]byte{255, 255, 255, 250, 128, 0, 0, 0, 0, 0, 127, 255, 0, 0, 0, 0, 0, 0}, uint16(15), uint16(96), int32(30), uint8(1))
	f.Add(make([]byte, 6*200), uint16(1), uint16(500), int32(-7), uint8(2))
	f.Add([]byte{1, 2, 3}, uint16(0), uint16(0), int32(0), uint8(3))
	for kind := uint8(4); kind < 10; kind++ {
		f.Add(make([]byte, 6*300), uint16(60), uint16(48), int32(9000), kind)
	}
	f.Fuzz(func(t *testing.T, data []byte, stepMin, steps uint16, originMin int32, kind uint8) {
		origin := t0.Add(Week).Add(time.Duration(originMin%(60*24*14)) * time.Minute)
		var hist []Point
		for len(data) >= 6 {
			off := int32(binary.BigEndian.Uint32(data)) % (60 * 24 * 30) // minutes around t0+1 week
			v := float64(int16(binary.BigEndian.Uint16(data[4:])))
			if v == math.MinInt16 {
				v = math.NaN()
			}
			hist = append(hist, Point{t0.Add(Week).Add(time.Duration(off) * time.Minute), v})
			data = data[6:]
		}
		var fc Forecaster
		var pv *PVSite
		kind %= 10
		switch kind {
		case 0:
			fc = Fallback{}
		case 1:
			fc = SeasonalNaive{Period: Day}
		case 2:
			fc = Persistence{}
		case 3:
			fc = SeasonalNaive{Period: 90 * time.Minute, MaxGapPeriods: 5, Band: BandOptions{Origins: 3, MinPerBucket: 2}}
		case 4:
			fc = Select{}
		case 5:
			fc = DoubleSeasonal{Window: 3 * Week}
		case 6:
			fc = Regression{Window: Week}
		case 7:
			fc = PVClearSky{Site: PVSite{LatitudeDeg: 52, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 4}}
		case 8:
			fc = &Auto{}
		default:
			fc = &Auto{}
			pv = &PVSite{LatitudeDeg: 52, TiltDeg: 30, AzimuthDeg: 180, CapacityKW: 4}
		}
		req := Request{Series: "f", History: hist, Origin: origin, Step: time.Duration(stepMin) * time.Minute, Steps: int(steps), NonNegative: kind&4 != 0, PV: pv}
		res, err := fc.Forecast(context.Background(), req)
		if err != nil {
			if errors.Is(err, ErrNoHistory) || errors.Is(err, errUnfilled) || validateRequest(req) != nil ||
				(kind == 1 && req.Step > Day) || (kind == 3 && req.Step > 90*time.Minute) ||
				(kind >= 5 && kind <= 7 && stepsPerDay(req.Step) == 0) {
				return
			}
			t.Fatalf("unexpected error: %v", err)
		}
		if len(res.Times) != req.Steps || len(res.P10) != req.Steps || len(res.P50) != req.Steps || len(res.P90) != req.Steps {
			t.Fatalf("lengths %d/%d/%d/%d, want %d", len(res.Times), len(res.P10), len(res.P50), len(res.P90), req.Steps)
		}
		for k := range res.P50 {
			if !res.Times[k].Equal(origin.Add(time.Duration(k) * req.Step)) {
				t.Fatalf("Times[%d] = %v", k, res.Times[k])
			}
			for _, v := range []float64{res.P10[k], res.P50[k], res.P90[k]} {
				if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e6 {
					t.Fatalf("step %d: value %v from int16 history", k, v)
				}
				if req.NonNegative && v < 0 {
					t.Fatalf("step %d: negative %v with NonNegative", k, v)
				}
			}
			if res.P10[k] > res.P90[k] {
				t.Fatalf("step %d: P10 %v > P90 %v", k, res.P10[k], res.P90[k])
			}
		}
	})
}
