package iec104_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/wendy512/go-iecp5/asdu"
	"github.com/wendy512/go-iecp5/cs104"
)

// peerMaster collects what the station sends to a go-iecp5 client.
type peerMaster struct {
	mu      sync.Mutex
	floats  map[asdu.InfoObjAddr]float32
	singles map[asdu.InfoObjAddr]bool
	replies []asdu.Identifier // confirmations of commands and interrogations
	changed chan struct{}
}

func (p *peerMaster) note(f func()) {
	p.mu.Lock()
	f()
	p.mu.Unlock()
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

func (p *peerMaster) InterrogationHandler(_ asdu.Connect, a *asdu.ASDU) error {
	p.note(func() { p.replies = append(p.replies, a.Identifier) })
	return nil
}

func (p *peerMaster) ASDUHandler(_ asdu.Connect, a *asdu.ASDU) error {
	switch a.Type {
	case asdu.M_ME_NC_1, asdu.M_ME_TF_1:
		for _, o := range a.GetMeasuredValueFloat() {
			p.note(func() { p.floats[o.Ioa] = o.Value })
		}
	case asdu.M_SP_NA_1, asdu.M_SP_TB_1:
		for _, o := range a.GetSinglePoint() {
			p.note(func() { p.singles[o.Ioa] = o.Value })
		}
	default:
		p.note(func() { p.replies = append(p.replies, a.Identifier) })
	}
	return nil
}

func (p *peerMaster) CounterInterrogationHandler(asdu.Connect, *asdu.ASDU) error { return nil }
func (p *peerMaster) ReadHandler(asdu.Connect, *asdu.ASDU) error                 { return nil }
func (p *peerMaster) TestCommandHandler(asdu.Connect, *asdu.ASDU) error          { return nil }
func (p *peerMaster) ClockSyncHandler(asdu.Connect, *asdu.ASDU) error            { return nil }
func (p *peerMaster) ResetProcessHandler(asdu.Connect, *asdu.ASDU) error         { return nil }
func (p *peerMaster) DelayAcquisitionHandler(asdu.Connect, *asdu.ASDU) error     { return nil }

func (p *peerMaster) wait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		p.mu.Lock()
		ok := cond()
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.changed:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("go-iecp5 master: no %s within 5 s", what)
		}
	}
}

func (p *peerMaster) replied(typ asdu.TypeID, cause asdu.Cause) (neg, ok bool) {
	for _, r := range p.replies {
		if r.Type == typ && r.Coa.Cause == cause {
			return r.Coa.IsNegative, true
		}
	}
	return false, false
}

// Another Go implementation of IEC 104 (go-iecp5's cs104 client) as the SCADA:
// STARTDT, general interrogation and an import limit by C_SE_NC_1, confirmed;
// the limit reaches the devices and the master sees 2004 set and 1001 under it.
func TestInteropGoIECP5Master(t *testing.T) {
	r := newRig(t, false, "refuse")
	pm := &peerMaster{floats: map[asdu.InfoObjAddr]float32{}, singles: map[asdu.InfoObjAddr]bool{}, changed: make(chan struct{}, 1)}
	opt := cs104.NewOption()
	if err := opt.AddRemoteServer(r.addr); err != nil {
		t.Fatal(err)
	}
	opt.SetAutoReconnect(false)
	opt.SetParams(asdu.ParamsWide)
	active := make(chan struct{})
	var once sync.Once
	c := cs104.NewClient(pm, opt)
	c.SetOnConnectHandler(func(c *cs104.Client) { c.SendStartDt() })
	c.SetServerActiveHandler(func(*cs104.Client) { once.Do(func() { close(active) }) })
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case <-active:
	case <-time.After(5 * time.Second):
		t.Fatal("no STARTDT con for the go-iecp5 master")
	}

	if err := c.InterrogationCmd(asdu.CauseOfTransmission{Cause: asdu.Activation}, 7, asdu.QOIStation); err != nil {
		t.Fatal(err)
	}
	pm.wait(t, "interrogation ACTTERM", func() bool { _, ok := pm.replied(asdu.C_IC_NA_1, asdu.ActivationTerm); return ok })
	pm.mu.Lock()
	imp, haveImp := pm.floats[1001]
	_, haveSoC := pm.floats[1201]
	auto, limited := pm.singles[2001], pm.singles[2004]
	pm.mu.Unlock()
	if !haveImp || !haveSoC || !auto || limited {
		t.Fatalf("interrogation: 1001 %v (%v), 1201 %v, 2001 %v, 2004 %v", imp, haveImp, haveSoC, auto, limited)
	}
	if math.Abs(float64(imp)-r.meter(t)) > 5 {
		t.Fatalf("1001 = %.1f, meter %.1f", imp, r.meter(t))
	}

	limit := float32(math.Round(float64(imp) - 40))
	if err := asdu.SetpointCmdFloat(c, asdu.C_SE_NC_1, asdu.CauseOfTransmission{Cause: asdu.Activation}, 7,
		asdu.SetpointCommandFloatInfo{Ioa: 3001, Value: limit}); err != nil {
		t.Fatal(err)
	}
	pm.wait(t, "C_SE_NC_1 ACTTERM", func() bool { _, ok := pm.replied(asdu.C_SE_NC_1, asdu.ActivationTerm); return ok })
	if neg, _ := pm.replied(asdu.C_SE_NC_1, asdu.ActivationCon); neg {
		t.Fatalf("import limit %.0f refused", limit)
	}
	iv := r.site.Config.Control.Interval.D
	now := r.site.Clock.Now()
	for k := 0; k < 3; k++ {
		now = now.Add(iv)
		r.site.Clock.Set(now)
		if _, err := r.site.Service.ControlTick(t.Context(), now, iv); err != nil {
			t.Fatal(err)
		}
	}
	if m := r.meter(t); m > float64(limit)+0.5 {
		t.Fatalf("meter %.1f kW over the limit %.0f", m, limit)
	}
	pm.wait(t, "2004 set and 1001 under the limit", func() bool { return pm.singles[2004] && pm.floats[1001] <= limit+0.5 })
}
