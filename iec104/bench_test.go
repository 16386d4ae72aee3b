package iec104_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/iec104test"
)

func quantile(xs []time.Duration, q float64) float64 {
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
}

func mean(xs []time.Duration) float64 {
	var sum time.Duration
	for _, x := range xs {
		sum += x
	}
	return float64(sum.Microseconds()) / 1000 / float64(len(xs))
}

// BenchmarkLatency measures, on a simulated site over loopback Modbus with the
// station's default scan (control.interval / 4 = 500 ms):
//   - spont: from the moment a control tick has stored a new root-meter reading to
//     the master receiving 1001 spontaneously (reading → SCADA);
//   - limit: from the master sending C_SE_NC_1 to the simulator's meter at or under
//     the limit (limit → device; the station confirms with ACTTERM once written);
//   - tick: one control tick (poll and write every device, no IEC 104), the reference.
//
// go test ./iec104 -run '^$' -bench Latency -benchtime 40x
func BenchmarkLatency(b *testing.B) {
	r := newBenchRig(b)
	m, err := iec104test.Dial(b, r.addr, "")
	if err != nil {
		b.Fatal(err)
	}
	m.StartDT()
	m.SendI(iec104test.GI(7))
	m.Reply(100, 10)
	iv := r.site.Config.Control.Interval.D
	meter := func() float64 {
		st, ok := r.site.Sim.State("meter")
		if !ok {
			b.Fatal("no meter")
		}
		return st.PowerKW
	}
	var spont, limit, tick []time.Duration
	scan := iv / 4 // the station's default scan period
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; b.Loop(); i++ {
		// reading → SCADA
		scale := 1.0
		if i%2 == 0 {
			scale = 1.3
		}
		if err := r.site.Sim.SetLoadScale("building", scale); err != nil {
			b.Fatal(err)
		}
		// Sleep a random part of a scan period, so readings arrive at every phase of
		// the station's scan rather than locked to it.
		time.Sleep(time.Duration(rng.Int64N(int64(scan))))
		now := r.site.Clock.Now().Add(iv)
		r.site.Clock.Set(now)
		t0 := time.Now()
		if _, err := r.site.Service.ControlTick(b.Context(), now, iv); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		tick = append(tick, t1.Sub(t0))
		want, _, ok := r.site.Service.LatestValue("meter", "active_power_kw")
		if !ok {
			b.Fatal("no meter reading")
		}
		if math.Abs(float64(float32(want))-m.Points[1001].Value) >= 1 {
			m.Until("1001 spontaneous", 5*time.Second, func(a iec104test.ASDU) bool {
				return a.Typ == 36 && math.Abs(m.Points[1001].Value-float64(float32(want))) < 1e-3
			})
			spont = append(spont, time.Since(t1))
		}
		// limit → device
		lim := math.Round(meter() - 20)
		t2 := time.Now()
		m.SendI(iec104test.Setpoint(7, 6, 3001, float32(lim), 0))
		m.Reply(50, 10)
		for meter() > lim+0.5 {
			if time.Since(t2) > 5*time.Second {
				b.Fatalf("meter %.1f over the limit %.0f after 5 s", meter(), lim)
			}
			time.Sleep(time.Millisecond)
		}
		limit = append(limit, time.Since(t2))
		// Lift it again (a limit at the physical 900 kW replaces it) for the next round.
		m.SendI(iec104test.Setpoint(7, 6, 3001, 900, 0))
		m.Reply(50, 10)
	}
	if len(spont) == 0 {
		b.Fatal("no spontaneous update measured")
	}
	b.ReportMetric(mean(spont), "spont-mean-ms")
	b.ReportMetric(quantile(spont, 0.95), "spont-p95-ms")
	b.ReportMetric(mean(limit), "limit-mean-ms")
	b.ReportMetric(quantile(limit, 0.95), "limit-p95-ms")
	b.ReportMetric(mean(tick), "tick-mean-ms")
	b.ReportMetric(mean(spont)/(float64(scan.Microseconds())/1000), "spont/scan")
	b.ReportMetric(mean(limit)/mean(tick), "limit/tick")
	b.ReportMetric(float64(len(spont)), "spont-n")
}
