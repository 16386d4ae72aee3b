package ocpp

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"

	"github.com/gridd/gridd/site"
)

func TestParseFrame(t *testing.T) {
	for _, tc := range []struct {
		in       string
		typ      int
		id, act  string
		err, eid string // error code and the id it answers
	}{
		{in: `[2,"a1","Heartbeat",{}]`, typ: 2, id: "a1", act: "Heartbeat"},
		{in: ` [3,"a2",{"currentTime":"x"}] `, typ: 3, id: "a2"},
		{in: `[4,"a3","NotImplemented","no",{}]`, typ: 4, id: "a3", act: "NotImplemented"},
		{in: ``, err: "RpcFrameworkError", eid: "-1"},
		{in: `{"a":1}`, err: "RpcFrameworkError", eid: "-1"},
		{in: `[2,"a4"`, err: "RpcFrameworkError", eid: "-1"},
		{in: `[2,"a5"]`, err: "RpcFrameworkError", eid: "-1"},
		{in: `[7,"a6","X",{}]`, err: "MessageTypeNotSupported", eid: "a6"},
		{in: `["2","a7","X",{}]`, err: "MessageTypeNotSupported", eid: "a7"},
		{in: `[2,7,"X",{}]`, err: "RpcFrameworkError", eid: "-1"},
		{in: `[2,"","X",{}]`, err: "RpcFrameworkError", eid: "-1"},
		{in: `[2,"` + strings.Repeat("x", 37) + `","X",{}]`, err: "RpcFrameworkError", eid: "-1"},
		{in: `[2,"a8",5,{}]`, err: "RpcFrameworkError", eid: "a8"},
		{in: `[2,"a9","X",{},1]`, err: "RpcFrameworkError", eid: "a9"},
		{in: `[2,"b1","X",[1]]`, err: "FormatViolation", eid: "b1"},
		{in: `[3,"b2",null]`, err: "FormatViolation", eid: "b2"},
		{in: `[4,"b3",1,"d",{}]`, err: "RpcFrameworkError", eid: "b3"},
		{in: `[4,"b4","E","d"]`, err: "RpcFrameworkError", eid: "b4"},
	} {
		f, err := ParseFrame([]byte(tc.in))
		if tc.err == "" {
			if err != nil || f.Type != tc.typ || f.ID != tc.id || f.Action != tc.act {
				t.Errorf("%s: %+v %v", tc.in, f, err)
			}
			continue
		}
		var fe *FrameError
		if !errors.As(err, &fe) || fe.Code != tc.err || fe.ID != tc.eid {
			t.Errorf("%s: %v (%+v), want %s answering %s", tc.in, err, fe, tc.err, tc.eid)
		}
	}
	if code16("FormatViolation") != "FormationViolation" || code16("RpcFrameworkError") != "GenericError" || code16("NotImplemented") != "NotImplemented" {
		t.Error("1.6 error codes")
	}
}

// FuzzParseFrame: any bytes give a frame with a valid envelope or a *FrameError with
// an id to answer, and the CALLERROR gridd would send for it is itself a valid frame.
func FuzzParseFrame(f *testing.F) {
	for _, s := range []string{`[2,"a","Heartbeat",{}]`, `[3,"a",{}]`, `[4,"a","E","d",{}]`, `[`, `[2,"a",`, `{}`,
		`[2,"a","MeterValues",{"evseId":1,"meterValue":[]}]`, "\x00", `[1e999,"a","b",{}]`, `[2,"\u0000","b",{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ParseFrame(data)
		if err != nil {
			var fe *FrameError
			if !errors.As(err, &fe) || fe.ID == "" || len(fe.ID) > maxMessageIDLen || fe.Code == "" {
				t.Fatalf("%q: %v", data, err)
			}
			back, err := ParseFrame(callError(fe.ID, fe.Code, fe.Err.Error()))
			if err != nil || back.Type != typeCallError || back.ID != fe.ID {
				t.Fatalf("the CALLERROR for %q does not parse: %v", data, err)
			}
			return
		}
		if fr.Type < typeCall || fr.Type > typeCallError || fr.ID == "" || len(fr.ID) > maxMessageIDLen {
			t.Fatalf("%q: bad envelope %+v", data, fr)
		}
		if fr.Type == typeCall && (fr.Action == "" || len(fr.Payload) == 0 || fr.Payload[0] != '{') {
			t.Fatalf("%q: bad call %+v", data, fr)
		}
	})
}

// FuzzStationPayloads: whatever a station puts in a composite schedule or its
// sampled values, gridd gets a finite non-negative limit or an error, and finite
// telemetry, never a panic.
func FuzzStationPayloads(f *testing.F) {
	f.Add([]byte(`{"status":"Accepted","schedule":{"evseId":1,"duration":60,"scheduleStart":"x","chargingRateUnit":"W","chargingSchedulePeriod":[{"startPeriod":0,"limit":7000}]}}`), 1.0, "kW", 3)
	f.Add([]byte(`{"status":"Accepted","schedule":{"chargingSchedule":{"chargingRateUnit":"A","chargingSchedulePeriod":[{"startPeriod":5,"limit":-1}]}}}`), -5.0, "Wh", -2)
	f.Add([]byte(`{"status":"Rejected"}`), 1e308, "", 400)
	f.Fuzz(func(t *testing.T, composite []byte, v float64, unit string, mult int) {
		var r compositeSchedule201
		if json.Unmarshal(composite, &r) == nil && r.Schedule != nil {
			for _, ps := range [][]types.ChargingSchedulePeriod{r.Schedule.ChargingSchedulePeriod} {
				if len(ps) == 0 {
					continue
				}
				lim, err := firstPeriod(ps)
				if err == nil && (lim < 0 || math.IsNaN(lim) || math.IsInf(lim, 0)) {
					t.Fatalf("limit %v accepted", lim)
				}
			}
		}
		e := &evse{inTx: true}
		applySamples(e, []sample{{measurand: "Power.Active.Import", value: scale(v, unit, mult)}, {value: scale(v, unit, mult)}, {measurand: "SoC", phase: "L1", value: v}})
		_ = toUnit(site.OCPPStation{ChargingRateUnit: "A", VoltageV: 230, Phases: 3}, v)
	})
}
