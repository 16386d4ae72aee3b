package safety

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
)

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func bess(mod func(*Limits)) Limits {
	l := Limits{DeviceID: "bess-1", Kind: site.KindBESS, Point: "setpoint_kw", MinKW: -100, MaxKW: 100,
		MinSoCPct: 10, MaxSoCPct: 90, CommsLoss: site.SafeZero}
	if mod != nil {
		mod(&l)
	}
	return l
}

func ptr(v float64) *float64 { return &v }

func newEnv(t *testing.T, ls ...Limits) *Envelope {
	t.Helper()
	e, err := New(ls, Options{CommsLossAfter: 2})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLimit(t *testing.T) {
	cases := []struct {
		name      string
		limits    Limits
		soc       *float64
		measured  *float64
		last      *float64 // written 15 min before
		req       float64
		want      float64
		clamped   bool
		reasonHas string
	}{
		{"inside", bess(nil), ptr(50), nil, nil, 40, 40, false, ""},
		{"above max", bess(nil), ptr(50), nil, nil, 140, 100, true, "allowed [-100.00, 100.00]"},
		{"narrowed by config", bess(func(l *Limits) { l.MaxKW = 60 }), ptr(50), nil, nil, 80, 60, true, ""},
		{"ramp up from last", bess(func(l *Limits) { l.RampKWPerMin = 2 }), ptr(50), nil, ptr(0), 80, 30, true, "ramp limit"},
		{"ramp down from last", bess(func(l *Limits) { l.RampKWPerMin = 2 }), ptr(50), nil, ptr(50), -80, 20, true, "ramp limit"},
		{"ramp from measured before any write", bess(func(l *Limits) { l.RampKWPerMin = 1 }), ptr(50), ptr(-10), nil, 50, 5, true, "ramp limit"},
		{"ramp inside", bess(func(l *Limits) { l.RampKWPerMin = 2 }), ptr(50), nil, ptr(10), 35, 35, false, ""},
		{"reserve blocks discharge", bess(func(l *Limits) { l.ReserveSoCPct = 30 }), ptr(29), nil, nil, -50, 0, true, "reserve interlock"},
		{"reserve allows charge", bess(func(l *Limits) { l.ReserveSoCPct = 30 }), ptr(29), nil, nil, 50, 50, false, ""},
		{"above reserve discharge ok", bess(func(l *Limits) { l.ReserveSoCPct = 30 }), ptr(31), nil, nil, -50, -50, false, ""},
		{"guard near min", bess(func(l *Limits) { l.SoCGuardPct = 5 }), ptr(14), nil, nil, -20, 0, true, "SoC guard"},
		{"guard near max", bess(func(l *Limits) { l.SoCGuardPct = 5 }), ptr(86), nil, nil, 20, 0, true, "no charge"},
		{"no SoC known: static only", bess(func(l *Limits) { l.ReserveSoCPct = 30 }), nil, nil, nil, -50, -50, false, ""},
		{"interlock beats ramp", bess(func(l *Limits) { l.ReserveSoCPct = 30; l.RampKWPerMin = 1 }), ptr(25), nil, ptr(-60), -60, 0, true, "interlock overrides ramp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.limits)
			e.Observe("bess-1", true, tc.soc, tc.measured)
			if tc.last != nil {
				e.Written("bess-1", *tc.last, t0.Add(-15*time.Minute))
			}
			d, err := e.Limit("bess-1", tc.req, SourceSchedule, t0)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Write || math.Abs(d.ValueKW-tc.want) > 1e-9 || d.Clamped != tc.clamped {
				t.Fatalf("got write=%v value=%v clamped=%v (%v), want value %v clamped %v", d.Write, d.ValueKW, d.Clamped, d.Reasons, tc.want, tc.clamped)
			}
			if tc.reasonHas != "" && !strings.Contains(strings.Join(d.Reasons, "; "), tc.reasonHas) {
				t.Errorf("reasons %q do not mention %q", d.Reasons, tc.reasonHas)
			}
			if d.RequestedKW != tc.req {
				t.Errorf("requested %v recorded as %v", tc.req, d.RequestedKW)
			}
			if err := e.Check("bess-1", "setpoint_kw", d.ValueKW, t0); err != nil {
				t.Errorf("Limit's own value fails Check: %v", err)
			}
		})
	}
}

func TestLimitRejectsBadInput(t *testing.T) {
	e := newEnv(t, bess(nil))
	if _, err := e.Limit("bess-1", math.NaN(), SourceSchedule, t0); err == nil {
		t.Error("NaN request accepted")
	}
	if _, err := e.Limit("nope", 1, SourceSchedule, t0); !errors.Is(err, ErrUnknownDevice) {
		t.Errorf("unknown device: %v", err)
	}
	for _, l := range []Limits{
		bess(func(l *Limits) { l.MinKW = 10; l.MaxKW = 5 }),
		bess(func(l *Limits) { l.RampKWPerMin = -1 }),
		bess(func(l *Limits) { l.CommsLoss = "explode" }),
		bess(func(l *Limits) { l.MaxKW = math.Inf(1) }),
		bess(func(l *Limits) { l.DeviceID = "" }),
	} {
		if _, err := New([]Limits{l}, Options{}); err == nil {
			t.Errorf("limits %+v accepted", l)
		}
	}
}

func TestKillSwitch(t *testing.T) {
	e := newEnv(t, bess(nil))
	if !e.Pause("user:ann", "storm", t0) {
		t.Fatal("pause did not engage")
	}
	if e.Pause("user:bob", "test", t0.Add(time.Minute)) {
		t.Fatal("a second pause reports engaging")
	}
	if ks := e.KillSwitch(); ks.By != "user:ann" || ks.Reason != "storm" || !ks.Since.Equal(t0) {
		t.Fatalf("a second pause replaced the first: %+v", ks)
	}
	d, _ := e.Limit("bess-1", 30, SourceSchedule, t0)
	if d.Write || !strings.Contains(d.Reasons[0], "kill switch") {
		t.Fatalf("schedule write allowed while paused: %+v", d)
	}
	d, _ = e.Limit("bess-1", 30, SourceOverride, t0)
	if !d.Write || d.ValueKW != 30 {
		t.Fatalf("manual override blocked while paused: %+v", d)
	}
	if !e.Resume() || e.KillSwitch().Engaged {
		t.Fatal("resume")
	}
	d, _ = e.Limit("bess-1", 30, SourceSchedule, t0)
	if !d.Write {
		t.Fatal("schedule write blocked after resume")
	}
}

func TestOverrideLeases(t *testing.T) {
	e := newEnv(t, bess(nil))
	if _, err := e.AddOverride(Override{DeviceID: "bess-1", ValueKW: 500, From: t0, Until: t0.Add(time.Hour), Actor: "u"}); err == nil || !strings.Contains(err.Error(), "value_kw") {
		t.Errorf("override beyond limits: %v", err)
	}
	if _, err := e.AddOverride(Override{DeviceID: "bess-1", ValueKW: 5, From: t0, Until: t0, Actor: "u"}); err == nil || !strings.Contains(err.Error(), "until") {
		t.Errorf("empty lease: %v", err)
	}
	o, err := e.AddOverride(Override{DeviceID: "bess-1", ValueKW: -20, From: t0, Until: t0.Add(time.Hour), Actor: "user:ann", Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := e.ActiveOverride("bess-1", t0.Add(30*time.Minute)); !ok || got.ID != o.ID {
		t.Fatalf("lease not active: %v %v", got, ok)
	}
	if _, ok := e.ActiveOverride("bess-1", t0.Add(time.Hour)); ok {
		t.Fatal("lease active at its end")
	}
	if exp := e.Expire(t0.Add(59 * time.Minute)); len(exp) != 0 {
		t.Fatalf("expired early: %v", exp)
	}
	if exp := e.Expire(t0.Add(time.Hour)); len(exp) != 1 || exp[0].ID != o.ID {
		t.Fatalf("expire: %v", exp)
	}
	if len(e.Overrides()) != 0 {
		t.Fatal("expired lease kept")
	}
}

func TestCommsStateMachine(t *testing.T) {
	cases := []struct {
		action    string
		written   *float64
		wantWrite bool
		wantKW    float64
	}{
		{site.SafeHold, ptr(40), false, 0},
		{site.SafeLastSafe, ptr(40), true, 40},
		{site.SafeLastSafe, nil, false, 0},
		{site.SafeZero, ptr(40), true, 0},
	}
	for _, tc := range cases {
		t.Run(tc.action, func(t *testing.T) {
			e := newEnv(t, bess(func(l *Limits) { l.CommsLoss = tc.action }))
			if tr := e.Observe("bess-1", true, ptr(50), nil); tr != nil {
				t.Fatalf("online → online reported %v", tr)
			}
			if tc.written != nil {
				e.Written("bess-1", *tc.written, t0)
			}
			if _, lost := e.CommsAction("bess-1", t0); lost {
				t.Fatal("action while online")
			}
			tr := e.Observe("bess-1", false, nil, nil)
			if tr == nil || tr.To != CommsSuspect {
				t.Fatalf("first miss: %v", tr)
			}
			if _, lost := e.CommsAction("bess-1", t0); lost {
				t.Fatal("action while only suspect")
			}
			tr = e.Observe("bess-1", false, nil, nil)
			if tr == nil || tr.To != CommsLost || tr.Missed != 2 {
				t.Fatalf("second miss: %v", tr)
			}
			d, lost := e.CommsAction("bess-1", t0)
			if !lost || d.Write != tc.wantWrite || d.ValueKW != tc.wantKW || d.Source != SourceCommsLoss {
				t.Fatalf("lost action %+v, want write=%v %v", d, tc.wantWrite, tc.wantKW)
			}
			if tr := e.Observe("bess-1", true, ptr(50), nil); tr == nil || tr.To != CommsOnline {
				t.Fatalf("recovery: %v", tr)
			}
			if e.Comms("bess-1") != CommsOnline {
				t.Fatal("not online after recovery")
			}
		})
	}
}

type recWriter struct{ got []float64 }

func (w *recWriter) Write(_ context.Context, dev, point string, v float64) (fieldbus.WriteResult, error) {
	w.got = append(w.got, v)
	return fieldbus.WriteResult{DeviceID: dev, Point: point, Requested: v, Written: v, ReadBack: v}, nil
}

func TestGuardRefusesOutside(t *testing.T) {
	e := newEnv(t, bess(func(l *Limits) { l.RampKWPerMin = 1; l.ReserveSoCPct = 20 }))
	e.Observe("bess-1", true, ptr(15), ptr(0))
	w := &recWriter{}
	g := &Guard{Env: e, Inner: w, Now: func() time.Time { return t0 }}
	for _, v := range []float64{200, -5, 20, math.NaN()} {
		if _, err := g.Write(context.Background(), "bess-1", "setpoint_kw", v); err == nil {
			t.Errorf("guard let %v through", v)
		}
	}
	if _, err := g.Write(context.Background(), "bess-1", "power_limit_kw", 1); err == nil {
		t.Error("guard let another point through")
	}
	if len(w.got) != 0 {
		t.Fatalf("writer reached with %v", w.got)
	}
	if _, err := g.Write(context.Background(), "bess-1", "setpoint_kw", 10); err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 1 {
		t.Fatal("allowed write not passed on")
	}
}

// TestNeverOutside drives random plans, SoCs and comms through Limit and Guard and
// checks every value the writer receives against the envelope computed independently.
func TestNeverOutside(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := bess(func(l *Limits) {
		l.RampKWPerMin = 3
		l.ReserveSoCPct = 25
		l.SoCGuardPct = 3
		l.MinKW = -80
		l.MaxKW = 90
	})
	e := newEnv(t, l)
	w := &recWriter{}
	at := t0
	g := &Guard{Env: e, Inner: w, Now: func() time.Time { return at }}
	last, hasLast := 0.0, false
	for i := 0; i < 5000; i++ {
		at = at.Add(time.Duration(1+r.IntN(30)) * time.Minute)
		soc := r.Float64() * 100
		e.Observe("bess-1", true, &soc, nil)
		req := (r.Float64()*2 - 1) * 300
		d, err := e.Limit("bess-1", req, SourceSchedule, at)
		if err != nil {
			t.Fatal(err)
		}
		n := len(w.got)
		if _, err := g.Write(context.Background(), "bess-1", "setpoint_kw", d.ValueKW); err != nil {
			t.Fatalf("step %d: Limit gave %v, Guard refused: %v", i, d.ValueKW, err)
		}
		v := w.got[n]
		if v < l.MinKW-1e-9 || v > l.MaxKW+1e-9 {
			t.Fatalf("step %d: wrote %v outside [%v, %v]", i, v, l.MinKW, l.MaxKW)
		}
		if v < -1e-9 && (soc <= l.ReserveSoCPct || soc <= l.MinSoCPct+l.SoCGuardPct) {
			t.Fatalf("step %d: discharged %v at SoC %.1f", i, v, soc)
		}
		if v > 1e-9 && soc >= l.MaxSoCPct-l.SoCGuardPct {
			t.Fatalf("step %d: charged %v at SoC %.1f", i, v, soc)
		}
		interlocked := soc <= l.ReserveSoCPct || soc <= l.MinSoCPct+l.SoCGuardPct || soc >= l.MaxSoCPct-l.SoCGuardPct
		if hasLast && !interlocked && math.Abs(v-last) > l.RampKWPerMin*30+1e-9 {
			t.Fatalf("step %d: ramp %v → %v", i, last, v)
		}
		if d.Clamped != (math.Abs(req-v) > 1e-9) {
			t.Fatalf("step %d: clamped=%v for %v → %v", i, d.Clamped, req, v)
		}
		last, hasLast = v, true
	}
}

func TestFromSite(t *testing.T) {
	cfg := &site.Config{Devices: []site.Device{
		{ID: "b", Kind: site.KindBESS, BESS: &site.BESSParams{MaxChargeKW: 50, MaxDischargeKW: 40, MinSoCPct: 10, MaxSoCPct: 90},
			Safety: &site.DeviceSafety{MaxKW: ptr(30), RampKWPerMin: 2, ReserveSoCPct: 20}},
		{ID: "p", Kind: site.KindPV, PV: &site.PVParams{CapacityKW: 150}},
		{ID: "e", Kind: site.KindEVCharger, EV: &site.EVParams{MaxChargeKW: 11}},
		{ID: "m", Kind: site.KindMeter},
	}, Safety: site.Safety{CommsLoss: map[string]string{site.KindEVCharger: site.SafeLastSafe}}}
	ls := FromSite(cfg)
	if len(ls) != 3 {
		t.Fatalf("%d limits, want 3 controllable devices", len(ls))
	}
	want := map[string]Limits{
		"b": {DeviceID: "b", Kind: site.KindBESS, Point: "setpoint_kw", MinKW: -40, MaxKW: 30, RampKWPerMin: 2, MinSoCPct: 10, MaxSoCPct: 90, ReserveSoCPct: 20, CommsLoss: site.SafeZero},
		"p": {DeviceID: "p", Kind: site.KindPV, Point: "power_limit_kw", MinKW: 0, MaxKW: 150, CommsLoss: site.SafeHold},
		"e": {DeviceID: "e", Kind: site.KindEVCharger, Point: "setpoint_kw", MinKW: 0, MaxKW: 11, CommsLoss: site.SafeLastSafe},
	}
	for _, l := range ls {
		if l != want[l.DeviceID] {
			t.Errorf("%s: got %+v\nwant %+v", l.DeviceID, l, want[l.DeviceID])
		}
	}
	if _, err := New(ls, Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestSafeActionExemptFromRamp: with a ramp limit and a device far from zero, the
// comms-loss "zero" and the safe-state zero are still written (decided at zero and
// admitted by Guard), while a schedule's request for zero stays ramp-limited.
func TestSafeActionExemptFromRamp(t *testing.T) {
	cases := []struct {
		name      string
		src       Source
		req, want float64
	}{
		{"comms loss zero", SourceCommsLoss, 0, 0},
		{"safe state zero", SourceSafeState, 0, 0},
		{"schedule zero is ramped", SourceSchedule, 0, -75},
		{"safe source, not zero, is ramped", SourceSafeState, 50, -75},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, bess(func(l *Limits) { l.RampKWPerMin = 0.5 }))
			e.Observe("bess-1", true, ptr(50), nil)
			e.Written("bess-1", -80, t0)
			at := t0.Add(10 * time.Minute) // ramp allows [-85, -75]
			d, err := e.Limit("bess-1", tc.req, tc.src, at)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(d.ValueKW-tc.want) > 1e-9 || !d.Write {
				t.Fatalf("decided %+v, want %g", d, tc.want)
			}
			w := &recWriter{}
			g := &Guard{Env: e, Inner: w, Now: func() time.Time { return at }}
			if _, err := g.Write(context.Background(), "bess-1", "setpoint_kw", d.ValueKW); err != nil {
				t.Fatalf("guard refused the decided value %g: %v", d.ValueKW, err)
			}
		})
	}
	// The comms-loss path proper: the device is lost, CommsAction says zero, and the
	// guard writes it although the ramp allows only [-85, -75].
	e := newEnv(t, bess(func(l *Limits) { l.RampKWPerMin = 0.5 }))
	e.Observe("bess-1", true, ptr(50), nil)
	e.Written("bess-1", -80, t0)
	e.Observe("bess-1", false, nil, nil)
	e.Observe("bess-1", false, nil, nil)
	at := t0.Add(10 * time.Minute)
	d, lost := e.CommsAction("bess-1", at)
	if !lost || !d.Write || d.ValueKW != 0 {
		t.Fatalf("comms action %+v lost=%v", d, lost)
	}
	g := &Guard{Env: e, Inner: &recWriter{}, Now: func() time.Time { return at }}
	if _, err := g.Write(context.Background(), "bess-1", d.Point, d.ValueKW); err != nil {
		t.Fatalf("comms-loss zero refused: %v", err)
	}
	// Zero stays inside the static limits and interlocks: a device whose range
	// excludes zero has its zero at the nearest bound, and Check still refuses 0.
	e = newEnv(t, bess(func(l *Limits) { l.MinKW, l.RampKWPerMin = 10, 0.5; l.ZeroKW = 10 }))
	if err := e.Check("bess-1", "setpoint_kw", 0, t0); !errors.Is(err, ErrOutside) {
		t.Fatalf("0 outside [10, 100] admitted: %v", err)
	}
}

// TestFromSiteReserve: a battery's reserve is the higher of the site-wide
// safety.reserve_soc_pct and its own.
func TestFromSiteReserve(t *testing.T) {
	for _, tc := range []struct {
		name         string
		site, device float64
		want         float64
	}{
		{"site-wide only", 30, 0, 30},
		{"device only", 0, 25, 25},
		{"device higher", 20, 35, 35},
		{"site higher", 40, 35, 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &site.Config{Safety: site.Safety{ReserveSoCPct: tc.site}, Devices: []site.Device{
				{ID: "b", Kind: site.KindBESS, BESS: &site.BESSParams{MaxChargeKW: 50, MaxDischargeKW: 40, MaxSoCPct: 90},
					Safety: &site.DeviceSafety{ReserveSoCPct: tc.device}},
				{ID: "e", Kind: site.KindEVCharger, EV: &site.EVParams{MaxChargeKW: 11}},
			}}
			ls := FromSite(cfg)
			if ls[0].ReserveSoCPct != tc.want || ls[1].ReserveSoCPct != 0 {
				t.Fatalf("reserves %v (bess), %v (charger), want %v, 0", ls[0].ReserveSoCPct, ls[1].ReserveSoCPct, tc.want)
			}
		})
	}
}

// TestWriteMismatchState: CommsLossAfter mismatches in a row turn an online device
// not_following; polls that succeed keep it there; a matching write and the next poll
// bring it back online; a mismatch count broken by a good write starts again.
func TestWriteMismatchState(t *testing.T) {
	e := newEnv(t, bess(nil)) // CommsLossAfter 2
	steps := []struct {
		do   string // "mismatch", "poll", "written"
		want CommsState
		tr   bool // a transition is returned (mismatch only)
	}{
		{"mismatch", CommsOnline, false},
		{"written", CommsOnline, false},
		{"mismatch", CommsOnline, false},
		{"mismatch", CommsNotFollowing, true},
		{"poll", CommsNotFollowing, false},
		{"mismatch", CommsNotFollowing, false},
		{"written", CommsNotFollowing, false},
		{"poll", CommsOnline, false},
	}
	for i, st := range steps {
		var tr *Transition
		switch st.do {
		case "mismatch":
			tr = e.WriteMismatch("bess-1")
		case "poll":
			e.Observe("bess-1", true, ptr(50), nil)
		case "written":
			e.Written("bess-1", 10, t0)
		}
		if got := e.Comms("bess-1"); got != st.want || (tr != nil) != st.tr {
			t.Fatalf("step %d %s: comms %s transition %v, want %s %v", i, st.do, got, tr, st.want, st.tr)
		}
	}
}
