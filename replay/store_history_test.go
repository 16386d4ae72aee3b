package replay

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/memstore"
)

// recordSite stores what a running site would have: load and PV power every 15
// minutes over [t0, t0+hours), and one charger session from +2h to +4h (announced
// departure +5h) that received 6 kWh of a 9 kWh request.
func recordSite(t *testing.T, st storage.Store, t0 time.Time, hours int) {
	t.Helper()
	var smp []storage.Sample
	add := func(tm time.Time, dev, pt string, v float64) {
		smp = append(smp, storage.Sample{Time: tm, DeviceID: dev, Point: pt, Value: v, Quality: storage.QualityGood})
	}
	for k := 0; k < hours*4; k++ {
		tm := t0.Add(time.Duration(k) * 15 * time.Minute)
		add(tm, "load-1", "active_power_kw", 12)
		add(tm, "pv-1", "active_power_kw", -3)
		on := tm.Sub(t0) >= 2*time.Hour && tm.Sub(t0) < 4*time.Hour
		c, req, dep, got := 0.0, 0.0, 0.0, 0.0
		if on {
			c, req, dep, got = 1, 9, float64(t0.Add(5*time.Hour).Unix()), math.Min(6, tm.Sub(t0.Add(2*time.Hour)).Hours()*4)
		}
		add(tm, "ev-1", "connected", c)
		add(tm, "ev-1", "session_energy_request_kwh", req)
		add(tm, "ev-1", "session_departure_unix", dep)
		add(tm, "ev-1", "session_energy_kwh", got)
	}
	if err := st.WriteTelemetry(context.Background(), smp); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryFromStore(t *testing.T) {
	cfg := smallConfig(t)
	t0 := time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)
	st := memstore.New()
	recordSite(t, st, t0, 8)
	tests := []struct {
		name     string
		from, to time.Duration
		want     string
	}{
		{"covered", 0, 7 * time.Hour, ""},
		{"beyond the recording", 0, 12 * time.Hour, "does not cover"},
		{"before the recording", -2 * time.Hour, 4 * time.Hour, "does not cover"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, err := HistoryFromStore(context.Background(), st, cfg, t0.Add(tc.from), t0.Add(tc.to))
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := h.MeanKW("pv-1", t0, t0.Add(time.Hour)); v != 3 {
				t.Errorf("PV mean %g, want 3 (generation as a magnitude)", v)
			}
			s := h.Sessions("ev-1")
			if len(s) != 1 || !s[0].PlugIn.Equal(t0.Add(2*time.Hour)) || !s[0].PlugOut.Equal(t0.Add(4*time.Hour)) || s[0].EnergyKWh != 9 {
				t.Errorf("sessions %+v, want one from +2h to +4h of 9 kWh", s)
			}
		})
	}
}
