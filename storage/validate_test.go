package storage

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	sched := func(mut func(*Schedule)) *Schedule {
		s := &Schedule{CreatedAt: t0, Start: t0, StepMinutes: 15, Steps: 2, Status: StatusProposed,
			Setpoints: []ScheduleSetpoint{{DeviceID: "b", Step: 0, Time: t0, PowerKW: 1}, {DeviceID: "b", Step: 1, Time: t0, PowerKW: -1}}}
		if mut != nil {
			mut(s)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		err     error
		mention string // "" = valid
	}{
		{"sample", Sample{Time: t0, DeviceID: "d", Point: "p", Quality: QualityStale}.Validate(), ""},
		{"sample negative zero", Sample{Time: t0, DeviceID: "d", Point: "p", Value: math.Copysign(0, -1), Quality: QualityBad}.Validate(), ""},
		{"sample year 0", Sample{Time: time.Date(0, 6, 1, 0, 0, 0, 0, time.UTC), DeviceID: "d", Point: "p", Quality: QualityGood}.Validate(), "Time"},
		{"forecast quantile 0", ForecastPoint{IssuedAt: t0, ValidAt: t0, Series: "s", Quantile: 0}.Validate(), ""},
		{"forecast quantile 1", ForecastPoint{IssuedAt: t0, ValidAt: t0, Series: "s", Quantile: 1}.Validate(), ""},
		{"forecast quantile above 1", ForecastPoint{IssuedAt: t0, ValidAt: t0, Series: "s", Quantile: 1.0000001}.Validate(), "Quantile"},
		{"schedule", sched(nil).Validate(), ""},
		{"schedule without setpoints", sched(func(s *Schedule) { s.Setpoints = nil }).Validate(), ""},
		{"schedule same step, two devices", sched(func(s *Schedule) { s.Setpoints[1].DeviceID, s.Setpoints[1].Step = "c", 0 }).Validate(), ""},
		{"schedule negative step", sched(func(s *Schedule) { s.Setpoints[0].Step = -1 }).Validate(), "Setpoints[0].Step -1"},
		{"schedule empty cost term", sched(func(s *Schedule) { s.CostBreakdown = map[string]float64{"": 1} }).Validate(), "CostBreakdown key"},
		{"nil schedule", (*Schedule)(nil).Validate(), "nil"},
		{"write without schedule", SetpointWrite{Time: t0, DeviceID: "d", Point: "p", Status: WriteFailed}.Validate(), ""},
		{"cycle all stale", CycleRun{Started: t0, Devices: 3, StaleDevices: 3}.Validate(), ""},
		{"cycle stale without devices", CycleRun{Started: t0, StaleDevices: 1}.Validate(), "StaleDevices 1"},
		{"audit", AuditEvent{Time: t0, Actor: "system", Action: "a"}.Validate(), ""},
		{"asset", Asset{ID: "a", Kind: "meter"}.Validate(), ""},
		{"asset bad UTF-8 owner", Asset{ID: "a", Kind: "meter", Owner: "\xc3"}.Validate(), "Owner"},
		{"range empty", ValidateRange(t0, t0), ""},
		{"range reversed", ValidateRange(t0.Add(time.Second), t0), "after"},
		{"range zero to", ValidateRange(t0, time.Time{}), "to is zero"},
		{"status change", ValidateStatusChange(1, StatusProposed, StatusApproved, "policy:auto", "", t0), ""},
		{"status change id 0", ValidateStatusChange(0, StatusProposed, StatusApproved, "policy:auto", "", t0), "id 0"},
		{"status filter empty", ValidateStatusFilter(""), ""},
		{"status filter unknown", ValidateStatusFilter("Approved"), `"Approved"`},
		{"limit 0", ValidateLimit(0), ""},
		{"limit negative", ValidateLimit(-5), "-5"},
		{"schedule filter 0", ValidateScheduleFilter(0), ""},
		{"samples empty", ValidateSamples(nil), ""},
		{"samples second bad", ValidateSamples([]Sample{{Time: t0, DeviceID: "d", Point: "p", Quality: QualityGood}, {Time: t0, DeviceID: "d", Point: "p", Quality: "ok"}}), `sample 1: invalid input: Quality "ok"`},
		{"forecasts first bad", ValidateForecasts([]ForecastPoint{{IssuedAt: t0, ValidAt: t0, Quantile: 0.5}}), "point 0: invalid input: Series is empty"},
		{"assets", ValidateAssets([]Asset{{ID: "a", Kind: "meter"}}), ""},
		{"assets second bad", ValidateAssets([]Asset{{ID: "a", Kind: "meter"}, {ID: "b"}}), "asset 1: invalid input: Kind is empty"},
		{"schedule filter negative", ValidateScheduleFilter(-1), "scheduleID -1"},
		{"filter empty", ValidateFilter("deviceID", ""), ""},
		{"forecast query", ValidateForecastQuery("s", 0.5, t0, t0, t0.Add(time.Hour)), ""},
		{"telemetry query NUL point", ValidateTelemetryQuery("d", "\x00", t0, t0), "point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mention == "" {
				if tc.err != nil {
					t.Fatalf("rejected a valid input: %v", tc.err)
				}
				return
			}
			if !errors.Is(tc.err, ErrInvalid) || !strings.Contains(tc.err.Error(), tc.mention) {
				t.Fatalf("error = %v, want ErrInvalid mentioning %q", tc.err, tc.mention)
			}
		})
	}
}

func TestCostBreakdownRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]float64
		text string // "" = stored as NULL
	}{
		{"nil", nil, ""},
		{"empty", map[string]float64{}, ""},
		{"terms", map[string]float64{"energy": 12.5, "demand": -0.25}, `{"demand":-0.25,"energy":12.5}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := EncodeCostBreakdown(tc.in)
			if err != nil || text != tc.text {
				t.Fatalf("EncodeCostBreakdown = %q, %v; want %q", text, err, tc.text)
			}
			var stored []byte
			if text != "" {
				stored = []byte(text)
			}
			got, err := DecodeCostBreakdown(stored)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.in) == 0 {
				if got != nil {
					t.Fatalf("DecodeCostBreakdown = %v, want nil", got)
				}
				return
			}
			if len(got) != len(tc.in) {
				t.Fatalf("DecodeCostBreakdown = %v, want %v", got, tc.in)
			}
			for k, v := range tc.in {
				if got[k] != v {
					t.Fatalf("DecodeCostBreakdown = %v, want %v", got, tc.in)
				}
			}
		})
	}
	if m, err := DecodeCostBreakdown([]byte("{}")); err != nil || m != nil {
		t.Fatalf("DecodeCostBreakdown({}) = %v, %v; want nil, nil", m, err)
	}
	if _, err := DecodeCostBreakdown([]byte("not json")); err == nil || !strings.Contains(err.Error(), "cost_breakdown") {
		t.Fatalf("DecodeCostBreakdown(not json) error = %v, want one naming cost_breakdown", err)
	}
	if b := NilIfEmpty([]byte{}); b != nil {
		t.Fatalf("NilIfEmpty(empty) = %v, want nil", b)
	}
	if b := NilIfEmpty([]byte("x")); string(b) != "x" {
		t.Fatalf("NilIfEmpty(x) = %q", b)
	}
}
