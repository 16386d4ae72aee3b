package forecast

import (
	"context"
	"math"
	"os"
	"testing"
	"time"
)

func TestExplore(t *testing.T) {
	for _, c := range []struct{ file, col string; nn bool }{
		{"../testdata/cambridge_buildings_load_hourly_2019.csv", "building_b36_kwh", false},
		{"../testdata/konstanz_residential4_hourly_2016.csv", "pv_kwh", true},
	} {
		f, _ := os.Open(c.file)
		pts, err := ReadCSV(f, "timestamp_utc", c.col)
		f.Close()
		if err != nil { t.Fatal(err) }
		var sum float64
		for _, p := range pts { sum += p.Value }
		mean := sum / float64(len(pts))
		var mad float64
		for _, p := range pts { mad += math.Abs(p.Value - mean) }
		mad /= float64(len(pts))
		for _, start := range []time.Time{time.Date(pts[0].Time.Year(), 3, 4, 0, 0, 0, 0, time.UTC), time.Date(pts[0].Time.Year(), 6, 3, 0, 0, 0, 0, time.UTC), time.Date(pts[0].Time.Year(), 10, 7, 0, 0, 0, 0, time.UTC)} {
			var origins []time.Time
			for d := 0; d < 28; d++ { origins = append(origins, start.AddDate(0, 0, d)) }
			for _, fc := range []Forecaster{SeasonalNaive{Period: Week}, SeasonalNaive{Period: Day}, Auto{}, Persistence{}} {
				s, err := Backtest(context.Background(), fc, Request{Series: c.col, History: pts, Step: time.Hour, Steps: 24, NonNegative: c.nn}, origins)
				if err != nil { t.Fatal(err) }
				t.Logf("%s %s mean %.2f mad %.2f  %+v", c.col, start.Format("01-02"), mean, mad, *s)
			}
		}
	}
}
