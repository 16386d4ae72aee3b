package iec104_test

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wendy512/go-iecp5/asdu"
	"github.com/wendy512/go-iecp5/cs104"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
)

// peerRTU is a controlled station built on github.com/wendy512/go-iecp5 (cs104), an
// IEC 104 implementation that shares no code with gridd's: common address 1 is a
// feeder meter (the rtu104-feeder-meter profile's IOAs and types), 2 a battery
// (rtu104-bess) whose setpoint command it confirms, applies and reports back.
type peerRTU struct {
	srv *cs104.Server

	mu       sync.Mutex
	powerKW  float32
	setpoint float32
	invalid  bool // send the meter's power with IV
	refuse   bool // negative ACTCON to commands
	commands int
}

func (p *peerRTU) meter(c asdu.Connect, cause asdu.Cause) {
	p.mu.Lock()
	pw, qds := p.powerKW, asdu.QDSGood
	if p.invalid {
		qds = asdu.QDSInvalid
	}
	p.mu.Unlock()
	coa := asdu.CauseOfTransmission{Cause: cause}
	_ = asdu.MeasuredValueFloat(c, false, coa, 1,
		asdu.MeasuredValueFloatInfo{Ioa: 1001, Value: pw, Qds: qds},
		asdu.MeasuredValueFloatInfo{Ioa: 1010, Value: 1234.5, Qds: asdu.QDSGood},
		asdu.MeasuredValueFloatInfo{Ioa: 1011, Value: 6.5, Qds: asdu.QDSGood})
	_ = asdu.MeasuredValueScaled(c, false, coa, 1,
		asdu.MeasuredValueScaledInfo{Ioa: 1002, Value: int16(pw), Qds: asdu.QDSGood}, // kvar, scale 0.1
		asdu.MeasuredValueScaledInfo{Ioa: 1004, Value: 5001, Qds: asdu.QDSGood})      // Hz, scale 0.01
	_ = asdu.MeasuredValueNormal(c, false, coa, 1, asdu.MeasuredValueNormalInfo{Ioa: 1003, Value: asdu.Normalize(26214), Qds: asdu.QDSGood}) // 0.8 × 500 V
}

func (p *peerRTU) bess(c asdu.Connect, cause asdu.Cause) {
	p.mu.Lock()
	sp := p.setpoint
	p.mu.Unlock()
	_ = asdu.MeasuredValueFloat(c, false, asdu.CauseOfTransmission{Cause: cause}, 2,
		asdu.MeasuredValueFloatInfo{Ioa: 1001, Value: 61, Qds: asdu.QDSGood},
		asdu.MeasuredValueFloatInfo{Ioa: 1002, Value: sp, Qds: asdu.QDSGood},
		asdu.MeasuredValueFloatInfo{Ioa: 1003, Value: 200, Qds: asdu.QDSGood},
		asdu.MeasuredValueFloatInfo{Ioa: 1004, Value: 100, Qds: asdu.QDSGood},
		asdu.MeasuredValueFloatInfo{Ioa: 1005, Value: 100, Qds: asdu.QDSGood},
		asdu.MeasuredValueFloatInfo{Ioa: 2001, Value: sp, Qds: asdu.QDSGood})
}

// interrogationReply builds ACTCON or ACTTERM of a station interrogation. (cs104
// hands the handler an ASDU whose IOA it has already consumed, so its
// SendReplyMirror would send a short object: build the reply whole.)
func interrogationReply(c asdu.Connect, ca asdu.CommonAddr, qoi asdu.QualifierOfInterrogation, cause asdu.Cause) error {
	u := asdu.NewASDU(c.Params(), asdu.Identifier{Type: asdu.C_IC_NA_1, Variable: asdu.VariableStruct{Number: 1},
		Coa: asdu.CauseOfTransmission{Cause: cause}, CommonAddr: ca})
	if err := u.AppendInfoObjAddr(asdu.InfoObjAddrIrrelevant); err != nil {
		return err
	}
	u.AppendBytes(byte(qoi))
	return c.Send(u)
}

func (p *peerRTU) InterrogationHandler(c asdu.Connect, a *asdu.ASDU, qoi asdu.QualifierOfInterrogation) error {
	_ = interrogationReply(c, a.CommonAddr, qoi, asdu.ActivationCon)
	switch a.CommonAddr {
	case 1:
		p.meter(c, asdu.InterrogatedByStation)
	case 2:
		p.bess(c, asdu.InterrogatedByStation)
	}
	return interrogationReply(c, a.CommonAddr, qoi, asdu.ActivationTerm)
}

func (p *peerRTU) ASDUHandler(c asdu.Connect, a *asdu.ASDU) error {
	if a.Type != asdu.C_SE_NC_1 {
		return nil
	}
	con := a.Reply(asdu.ActivationCon, a.CommonAddr)
	term := a.Reply(asdu.ActivationTerm, a.CommonAddr)
	cmd := a.GetSetpointFloatCmd()
	p.mu.Lock()
	p.commands++
	refuse := p.refuse || a.CommonAddr != 2 || cmd.Ioa != 3001
	if !refuse {
		p.setpoint = cmd.Value
	}
	p.mu.Unlock()
	if refuse {
		con.Coa.IsNegative = true
		return c.Send(con)
	}
	_ = c.Send(con)
	_ = c.Send(term)
	p.bess(c, asdu.Spontaneous)
	return nil
}

func (p *peerRTU) CounterInterrogationHandler(asdu.Connect, *asdu.ASDU, asdu.QualifierCountCall) error {
	return nil
}
func (p *peerRTU) ReadHandler(asdu.Connect, *asdu.ASDU, asdu.InfoObjAddr) error { return nil }
func (p *peerRTU) ClockSyncHandler(asdu.Connect, *asdu.ASDU, time.Time) error   { return nil }
func (p *peerRTU) ResetProcessHandler(asdu.Connect, *asdu.ASDU, asdu.QualifierOfResetProcessCmd) error {
	return nil
}
func (p *peerRTU) DelayAcquisitionHandler(asdu.Connect, *asdu.ASDU, uint16) error { return nil }

func startPeer(t *testing.T, p *peerRTU, addr string) {
	t.Helper()
	p.srv = cs104.NewServer(p)
	p.srv.SetParams(asdu.ParamsWide)
	go p.srv.ListenAndServer(addr)
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer RTU not listening on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The driver against an RTU written by others (go-iecp5's cs104 server):
// interrogation at connect through every type of the profiles, a spontaneous
// update, IV quality, a setpoint confirmed and read back, a negative ACTCON, link
// loss (stale) and reconnection.
func TestInteropPeerRTU(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	peer := &peerRTU{powerKW: 123.5}
	startPeer(t, peer, addr)
	t.Cleanup(func() { peer.srv.Close() })

	yml := fmt.Sprintf(`
site: {name: peer, timezone: UTC}
tariff: {import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}], export_price_per_kwh: 0.05}
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes: [{id: sub, parent: "", limit_kw: 500}]
devices:
  - {id: feeder, kind: meter, node: sub, endpoint: "iec104://%[1]s", unit_id: 1, profile: "builtin:rtu104-feeder-meter", timeout: 2s}
  - {id: bess, kind: bess, node: sub, endpoint: "iec104://%[1]s", unit_id: 2, profile: "builtin:rtu104-bess", timeout: 2s,
     bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 100, max_discharge_kw: 100}}
`, addr)
	cfg, err := site.Parse("peer.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var devs []fieldbus.Device
	for _, d := range cfg.Devices {
		devs = append(devs, fieldbus.Device{Device: d, Profile: profiles[d.ID]})
	}
	log := slog.New(slog.DiscardHandler)
	shared := fieldbus.NewShared()
	t.Cleanup(func() { shared.Close() })
	poller := fieldbus.NewPoller(devs, clock.Real{}, log, fieldbus.WithShared(shared), fieldbus.WithBreaker(fieldbus.Breaker{}), fieldbus.WithRetry(fieldbus.Retry{}))
	writer := fieldbus.NewWriter(devs, clock.Real{}, log, fieldbus.WithShared(shared))
	t.Cleanup(func() { poller.Close(); writer.Close() })
	r := &rig{poller: poller, writer: writer}

	rd := r.reading(t, "feeder")
	for point, want := range map[string]float64{"active_power_kw": 123.5, "reactive_power_kvar": 12.3, "voltage_v": 26214 * 500.0 / 32768,
		"frequency_hz": 50.01, "energy_import_kwh": 1234.5, "energy_export_kwh": 6.5} {
		if got := good(t, rd, point); math.Abs(got-want) > 1e-3 {
			t.Errorf("%s = %v, want %v", point, got, want)
		}
	}
	if soc := good(t, r.reading(t, "bess"), "soc_pct"); soc != 61 {
		t.Errorf("bess SoC %v, want 61", soc)
	}

	// A spontaneous update from the RTU (time-tagged) becomes the latest value.
	peer.mu.Lock()
	peer.powerKW = 150.25
	peer.mu.Unlock()
	_ = asdu.MeasuredValueFloatCP56Time2a(peer.srv, asdu.CauseOfTransmission{Cause: asdu.Spontaneous}, 1,
		asdu.MeasuredValueFloatInfo{Ioa: 1001, Value: 150.25, Qds: asdu.QDSGood, Time: time.Now()})
	r.until(t, "feeder", "the spontaneous 150.25 kW", 3*time.Second, func(rd fieldbus.Reading) bool {
		v, _ := rd.Value("active_power_kw")
		return v.Quality == fieldbus.Good && v.Value == 150.25
	})
	_ = asdu.MeasuredValueFloat(peer.srv, false, asdu.CauseOfTransmission{Cause: asdu.Spontaneous}, 1,
		asdu.MeasuredValueFloatInfo{Ioa: 1001, Value: 150.25, Qds: asdu.QDSInvalid})
	r.until(t, "feeder", "IV from the RTU", 3*time.Second, func(rd fieldbus.Reading) bool {
		v, _ := rd.Value("active_power_kw")
		return v.Quality == fieldbus.Bad && strings.Contains(v.Err.Error(), "IV")
	})

	res, err := writer.Write(context.Background(), "bess", "setpoint_kw", -35.5)
	if err != nil || res.ReadBack != -35.5 || res.Mismatch {
		t.Fatalf("setpoint -35.5 through the peer RTU: %+v %v", res, err)
	}
	peer.mu.Lock()
	sp := peer.setpoint
	peer.refuse = true
	peer.mu.Unlock()
	if sp != -35.5 {
		t.Fatalf("the peer RTU holds setpoint %v, want -35.5", sp)
	}
	if _, err := writer.Write(context.Background(), "bess", "setpoint_kw", 10); err == nil || !strings.Contains(err.Error(), "negative confirmation") {
		t.Fatalf("refused by the peer RTU: %v, want a negative confirmation", err)
	}

	// Link loss: the RTU goes away; the devices are stale with their last values.
	peer.srv.Close()
	rd = r.until(t, "bess", "stale after the RTU went away", 5*time.Second, func(rd fieldbus.Reading) bool { return rd.Stale })
	if v, ok := rd.Value("soc_pct"); !ok || v.Quality != fieldbus.Stale || v.Value != 61 {
		t.Fatalf("stale SoC %+v", v)
	}
	// The RTU is back: the driver reconnects and interrogates again.
	peer2 := &peerRTU{powerKW: 99, setpoint: -35.5}
	startPeer(t, peer2, addr)
	t.Cleanup(func() { peer2.srv.Close() })
	r.until(t, "feeder", "99 kW after reconnecting", 10*time.Second, func(rd fieldbus.Reading) bool {
		v, _ := rd.Value("active_power_kw")
		return !rd.Stale && v.Quality == fieldbus.Good && v.Value == 99
	})
}
