package iec104_test

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/site"
)

// benchSite: the same meter and battery twice on one node, once behind a simulated
// RTU over IEC 104 and once over Modbus TCP (the reference), and a load to step.
const benchSite = `
site: {name: rtubench, timezone: UTC}
tariff: {import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}], export_price_per_kwh: 0.05}
grid: {import_limit_kw: 900, export_limit_kw: 300}
nodes:
  - {id: sub, parent: "", limit_kw: 900}
devices:
  - {id: meter-104, kind: meter, node: sub, endpoint: "iec104://127.0.0.1:RTU", unit_id: 1, profile: "builtin:rtu104-feeder-meter"}
  - {id: bess-104, kind: bess, node: sub, endpoint: "iec104://127.0.0.1:RTU", unit_id: 2, profile: "builtin:rtu104-bess", bess: {capacity_kwh: 2000, min_soc_pct: 5, max_soc_pct: 95, max_charge_kw: 100, max_discharge_kw: 100}}
  - {id: meter-mb, kind: meter, node: sub, endpoint: "127.0.0.1:MB", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: bess-mb, kind: bess, node: sub, endpoint: "127.0.0.1:MB", unit_id: 2, profile: "builtin:bess", bess: {capacity_kwh: 2000, min_soc_pct: 5, max_soc_pct: 95, max_charge_kw: 100, max_discharge_kw: 100}}
  - {id: load, kind: load, node: sub, endpoint: "127.0.0.1:MB", unit_id: 3, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
`

func ms(xs []time.Duration, q float64) float64 {
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if q < 0 { // mean
		var sum time.Duration
		for _, x := range s {
			sum += x
		}
		return float64(sum.Microseconds()) / 1000 / float64(len(s))
	}
	return float64(s[int(q*float64(len(s)-1))].Microseconds()) / 1000
}

// BenchmarkRTULatency measures the IEC 104 field driver against a simulated RTU on
// loopback, each round:
//   - spont: from a load step in the simulator to the driver holding the meter's new
//     value (RTU scan, spontaneous M_ME_TF_1, the driver's latest value; read through
//     fieldbus.Poller, which asks nothing of the RTU);
//   - mbread: the reference, one Modbus poll of the same meter over loopback;
//   - write: a setpoint written to the battery by C_SE_NC_1: ACTCON, then the read-back
//     once the RTU reports the new setpoint spontaneously;
//   - mbwrite: the reference, the same setpoint written over Modbus with read-back.
//
// go test ./fieldbus/iec104 -run '^$' -bench RTULatency -benchtime 100x
func BenchmarkRTULatency(b *testing.B) {
	yml := strings.NewReplacer("RTU", strconv.Itoa(testsite.FreePort(b)), "MB", strconv.Itoa(testsite.FreePort(b))).Replace(benchSite)
	cfg, err := site.Parse("rtubench.yaml", []byte(yml))
	if err != nil {
		b.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	sm := testsite.StartSim(b, b.Context(), cfg, profiles, clock.Real{}, log)
	devs := testsite.Devices(cfg, profiles)
	byID := func(ids ...string) []fieldbus.Device {
		var out []fieldbus.Device
		for _, d := range devs {
			for _, id := range ids {
				if d.ID == id {
					out = append(out, d)
				}
			}
		}
		return out
	}
	shared := fieldbus.NewShared()
	b.Cleanup(func() { shared.Close() })
	p104 := fieldbus.NewPoller(byID("meter-104"), clock.Real{}, log, fieldbus.WithShared(shared))
	pmb := fieldbus.NewPoller(byID("meter-mb"), clock.Real{}, log, fieldbus.WithShared(shared))
	w := fieldbus.NewWriter(devs, clock.Real{}, log, fieldbus.WithShared(shared))
	b.Cleanup(func() { p104.Close(); pmb.Close(); w.Close() })
	read := func(p *fieldbus.Poller) float64 {
		rd := p.Poll(context.Background())[0]
		v, ok := rd.Value("active_power_kw")
		if !ok || v.Quality != fieldbus.Good {
			b.Fatalf("%s: %+v %v", rd.DeviceID, v, rd.Err)
		}
		return v.Value
	}
	read(p104) // connect and interrogate
	var spont, mbread, write, mbwrite []time.Duration
	for i := 0; b.Loop(); i++ {
		scale := 1.0
		if i%2 == 0 {
			scale = 1.5
		}
		// Wait a random-ish part of the RTU's scan so steps land at every phase.
		time.Sleep(time.Duration(i%7) * sim.RTUScan / 7)
		if err := sm.SetLoadScale("load", scale); err != nil {
			b.Fatal(err)
		}
		st, _ := sm.State("meter-104")
		t0 := time.Now()
		for math.Abs(read(p104)-st.PowerKW) > 0.5 {
			if time.Since(t0) > 5*time.Second {
				b.Fatalf("meter over IEC 104 %.1f kW, simulator %.1f kW after 5 s", read(p104), st.PowerKW)
			}
		}
		spont = append(spont, time.Since(t0))
		t1 := time.Now()
		read(pmb)
		mbread = append(mbread, time.Since(t1))

		sp := float64(10 + i%20)
		if i%2 == 1 {
			sp = -sp
		}
		time.Sleep(time.Duration(i*3%7) * sim.RTUScan / 7) // another phase of the scan
		t2 := time.Now()
		if res, err := w.Write(b.Context(), "bess-104", "setpoint_kw", sp); err != nil || res.Mismatch {
			b.Fatalf("IEC 104 write %v: %+v %v", sp, res, err)
		}
		write = append(write, time.Since(t2))
		t3 := time.Now()
		if res, err := w.Write(b.Context(), "bess-mb", "setpoint_kw", sp); err != nil || res.Mismatch {
			b.Fatalf("Modbus write %v: %+v %v", sp, res, err)
		}
		mbwrite = append(mbwrite, time.Since(t3))
	}
	scan := float64(sim.RTUScan.Microseconds()) / 1000
	b.ReportMetric(ms(spont, -1), "spont-mean-ms")
	b.ReportMetric(ms(spont, 0.95), "spont-p95-ms")
	b.ReportMetric(ms(spont, -1)/scan, "spont/scan")
	b.ReportMetric(ms(mbread, -1), "mbread-mean-ms")
	b.ReportMetric(ms(write, -1), "write-mean-ms")
	b.ReportMetric(ms(write, 0.95), "write-p95-ms")
	b.ReportMetric(ms(mbwrite, -1), "mbwrite-mean-ms")
	b.ReportMetric(ms(write, -1)/ms(mbwrite, -1), "write/mbwrite")
}
