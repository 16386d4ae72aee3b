package site

import (
	"errors"
	"strings"
	"testing"
)

func TestSafetyAndApprovalFields(t *testing.T) {
	good, err := Parse("good.yaml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if good.Approval.SafeState != SafeHold || good.Safety.CommsLossAfter != 2 {
		t.Fatalf("defaults: safe_state %q, comms_loss_after %d", good.Approval.SafeState, good.Safety.CommsLossAfter)
	}
	bessLine := `    bess: {capacity_kwh: 100, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50}`
	cases := []struct {
		name, extra, bessExtra string
		wantPath, wantValue    string
	}{
		{"valid", "approval: {auto: true, max_cost_increase: 5, max_setpoint_change_kw: 20, deadline: 30m, safe_state: zero}\nsafety: {comms_loss_after: 3, comms_loss: {bess: last_safe}}", "    safety: {min_kw: -20, max_kw: 40, ramp_kw_per_min: 2, reserve_soc_pct: 20, soc_guard_pct: 2, comms_loss: hold}", "", ""},
		{"bad safe state", "approval: {safe_state: explode}", "", "approval.safe_state", "explode"},
		{"negative bound", "approval: {max_cost_increase: -1}", "", "approval.max_cost_increase", "-1"},
		{"negative deadline", "approval: {deadline: -5m}", "", "approval.deadline", "-5m0s"},
		{"comms loss kind", "safety: {comms_loss: {meter: zero}}", "", "safety.comms_loss", "meter"},
		{"comms loss action", "safety: {comms_loss: {bess: explode}}", "", "safety.comms_loss.bess", "explode"},
		{"comms loss after", "safety: {comms_loss_after: -1}", "", "safety.comms_loss_after", "-1"},
		{"max beyond rating", "", "    safety: {max_kw: 80}", "devices[1].safety.max_kw", "80"},
		{"min above max", "", "    safety: {min_kw: 30, max_kw: 10}", "devices[1].safety.min_kw", "30"},
		{"negative ramp", "", "    safety: {ramp_kw_per_min: -2}", "devices[1].safety.ramp_kw_per_min", "-2"},
		{"reserve not a pct", "", "    safety: {reserve_soc_pct: 120}", "devices[1].safety.reserve_soc_pct", "120"},
		{"bad device action", "", "    safety: {comms_loss: later}", "devices[1].safety.comms_loss", "later"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			yml := goodConfig + tc.extra + "\n"
			if tc.bessExtra != "" {
				yml = strings.Replace(yml, bessLine, bessLine+"\n"+tc.bessExtra, 1)
			}
			cfg, err := Parse("t.yaml", []byte(yml))
			if tc.wantPath == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Approval.Deadline.D.Minutes() != 30 || cfg.Devices[1].Safety.RampKWPerMin != 2 || *cfg.Devices[1].Safety.MinKW != -20 {
					t.Fatalf("not read: %+v %+v", cfg.Approval, cfg.Devices[1].Safety)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want Errors, got %T: %v", err, err)
			}
			found := false
			for _, fe := range errs {
				if fe.Path == tc.wantPath && fe.Value == tc.wantValue {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s = %q in:\n%v", tc.wantPath, tc.wantValue, err)
			}
		})
	}
	meter := strings.Replace(goodConfig, `profile: "builtin:substation-meter"}`, `profile: "builtin:substation-meter", safety: {ramp_kw_per_min: 1}}`, 1)
	if _, err := Parse("m.yaml", []byte(meter)); err == nil || !strings.Contains(err.Error(), "m.yaml:18: m: devices[0].safety") {
		t.Fatalf("safety on a meter: %v", err)
	}
	lo, hi := good.Devices[1].RatedRangeKW()
	if lo != -50 || hi != 50 {
		t.Fatalf("rated range %v %v", lo, hi)
	}
}
