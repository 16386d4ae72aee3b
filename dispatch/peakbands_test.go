package dispatch

import (
	"math"
	"testing"

	"github.com/gridd/gridd/optimizer"
)

// TestPeakBands: a kW of peak that the coming days are likely to reach anyway costs
// little; one above every past daily peak costs the full demand charge (no band);
// with no day left the bands cost it in full too.
func TestPeakBands(t *testing.T) {
	// Ten past days peaking at 100..190 kW.
	var peaks []float64
	for k := 0; k < 10; k++ {
		peaks = append(peaks, 190-10*float64(k))
	}
	for _, tc := range []struct {
		name     string
		soFar    float64
		daysLeft float64
		want     []optimizer.PeakCostStep
	}{
		{"above every past day: full charge", 195, 20, nil},
		// Under 190 one day in ten exceeds: p = 0.1, price 10·0.9^2 = 8.1.
		{"one band, two days left", 180, 2, []optimizer.PeakCostStep{{WidthKW: 10, PricePerKW: 8.1}}},
		// [160,170): 3 of 10 exceed → 10·0.7; [170,180): 0.8; [180,190): 0.9.
		{"three bands, one day left", 160, 1, []optimizer.PeakCostStep{{WidthKW: 10, PricePerKW: 7}, {WidthKW: 10, PricePerKW: 8}, {WidthKW: 10, PricePerKW: 9}}},
		{"many days left: levels most days reach are nearly free", 150, 20, []optimizer.PeakCostStep{
			// [150,160): the days at 160..190 exceed, 4 of 10.
			{WidthKW: 10, PricePerKW: 10 * math.Pow(0.6, 20)}, {WidthKW: 10, PricePerKW: 10 * math.Pow(0.7, 20)},
			{WidthKW: 10, PricePerKW: 10 * math.Pow(0.8, 20)}, {WidthKW: 10, PricePerKW: 10 * math.Pow(0.9, 20)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := peakBands(append([]float64(nil), peaks...), tc.soFar, tc.daysLeft, 10)
			if len(got) != len(tc.want) {
				t.Fatalf("bands %+v, want %+v", got, tc.want)
			}
			prev := 0.0
			for i := range got {
				if math.Abs(got[i].WidthKW-tc.want[i].WidthKW) > 1e-9 || math.Abs(got[i].PricePerKW-tc.want[i].PricePerKW) > 1e-9 {
					t.Errorf("band %d: %+v, want %+v", i, got[i], tc.want[i])
				}
				if got[i].PricePerKW < prev || got[i].PricePerKW > 10 {
					t.Errorf("band %d price %v: not in [%v, 10]", i, got[i].PricePerKW, prev)
				}
				prev = got[i].PricePerKW
			}
		})
	}
}
