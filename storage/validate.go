package storage

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalid is returned (wrapped) when a record or argument is rejected before it is stored.
// The message names the field and the bad value.
var ErrInvalid = errors.New("invalid input")

// Time precision: backends store times with microsecond precision (finer parts are
// truncated) and return them in UTC.
const TimePrecision = time.Microsecond

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// checkText rejects text no backend can store faithfully: invalid UTF-8 and NUL bytes.
func checkText(field, s string, required bool) error {
	if required && s == "" {
		return invalid("%s is empty", field)
	}
	if !utf8.ValidString(s) {
		return invalid("%s %q is not valid UTF-8", field, s)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return invalid("%s %q contains a NUL byte", field, s)
	}
	return nil
}

func checkFinite(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalid("%s %v is not finite", field, v)
	}
	return nil
}

func checkNonNegative(field string, v float64) error {
	if err := checkFinite(field, v); err != nil {
		return err
	}
	if v < 0 {
		return invalid("%s %v is negative", field, v)
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return invalid("%s is zero", field)
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return invalid("%s %s is outside years 1 to 9999", field, t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// Valid reports whether q is one of the defined qualities.
func (q Quality) Valid() bool {
	switch q {
	case QualityGood, QualityStale, QualityBad:
		return true
	}
	return false
}

// Valid reports whether s is one of the defined schedule statuses.
func (s ScheduleStatus) Valid() bool {
	switch s {
	case StatusProposed, StatusApproved, StatusRejected, StatusExpired, StatusSuperseded:
		return true
	}
	return false
}

// Valid reports whether s is one of the defined write outcomes.
func (s WriteStatus) Valid() bool {
	switch s {
	case WriteOK, WriteMismatch, WriteFailed:
		return true
	}
	return false
}

// Validate checks a sample before it is stored.
func (s Sample) Validate() error {
	if err := checkTime("Time", s.Time); err != nil {
		return err
	}
	if err := checkText("DeviceID", s.DeviceID, true); err != nil {
		return err
	}
	if err := checkText("Point", s.Point, true); err != nil {
		return err
	}
	if err := checkFinite("Value", s.Value); err != nil {
		return err
	}
	if !s.Quality.Valid() {
		return invalid("Quality %q is not one of good, stale, bad", s.Quality)
	}
	return nil
}

// Validate checks a forecast point before it is stored.
func (p ForecastPoint) Validate() error {
	if err := checkTime("IssuedAt", p.IssuedAt); err != nil {
		return err
	}
	if err := checkTime("ValidAt", p.ValidAt); err != nil {
		return err
	}
	if err := checkText("Series", p.Series, true); err != nil {
		return err
	}
	if err := checkQuantile(p.Quantile); err != nil {
		return err
	}
	if err := checkFinite("Value", p.Value); err != nil {
		return err
	}
	return checkText("Method", p.Method, false)
}

func checkQuantile(q float64) error {
	if math.IsNaN(q) || q < 0 || q > 1 {
		return invalid("Quantile %v is outside [0, 1]", q)
	}
	return nil
}

// Validate checks a schedule and its setpoints before it is stored. Setpoint steps must lie in
// [0, Steps) and each (DeviceID, Step) may appear once.
func (s *Schedule) Validate() error {
	if s == nil {
		return invalid("schedule is nil")
	}
	if err := checkTime("CreatedAt", s.CreatedAt); err != nil {
		return err
	}
	if err := checkTime("Start", s.Start); err != nil {
		return err
	}
	if s.StepMinutes <= 0 {
		return invalid("StepMinutes %d is not positive", s.StepMinutes)
	}
	if s.Steps <= 0 {
		return invalid("Steps %d is not positive", s.Steps)
	}
	if !s.Status.Valid() {
		return invalid("Status %q is not a schedule status", s.Status)
	}
	if err := checkText("InputHash", s.InputHash, false); err != nil {
		return err
	}
	if err := checkFinite("Objective", s.Objective); err != nil {
		return err
	}
	for term, v := range s.CostBreakdown {
		if err := checkText("CostBreakdown key", term, true); err != nil {
			return err
		}
		if err := checkFinite(fmt.Sprintf("CostBreakdown[%q]", term), v); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{
		{"SolverStatus", s.SolverStatus}, {"Approver", s.Approver}, {"Reason", s.Reason},
	} {
		if err := checkText(f.name, f.v, false); err != nil {
			return err
		}
	}
	// Steps seen per device (a few devices, many steps: one small map, no hashing
	// of every (device, step) pair).
	seen := map[string][]bool{}
	for i, sp := range s.Setpoints {
		// Field names are formatted only when a check fails (a schedule has
		// thousands of setpoints).
		if checkText("", sp.DeviceID, true) != nil {
			if err := checkText(fmt.Sprintf("Setpoints[%d].DeviceID", i), sp.DeviceID, true); err != nil {
				return err
			}
		}
		if sp.Step < 0 || sp.Step >= s.Steps {
			return invalid("Setpoints[%d].Step %d is outside [0, %d)", i, sp.Step, s.Steps)
		}
		if checkTime("", sp.Time) != nil {
			if err := checkTime(fmt.Sprintf("Setpoints[%d].Time", i), sp.Time); err != nil {
				return err
			}
		}
		if math.IsNaN(sp.PowerKW) || math.IsInf(sp.PowerKW, 0) {
			return checkFinite(fmt.Sprintf("Setpoints[%d].PowerKW", i), sp.PowerKW)
		}
		steps := seen[sp.DeviceID]
		if steps == nil {
			steps = make([]bool, s.Steps)
			seen[sp.DeviceID] = steps
		}
		if steps[sp.Step] {
			return invalid("Setpoints[%d]: device %q step %d appears twice", i, sp.DeviceID, sp.Step)
		}
		steps[sp.Step] = true
	}
	return nil
}

// Validate checks a setpoint write before it is stored. ScheduleID 0 means the write belongs to no schedule.
func (w SetpointWrite) Validate() error {
	if err := checkTime("Time", w.Time); err != nil {
		return err
	}
	if w.ScheduleID < 0 {
		return invalid("ScheduleID %d is negative", w.ScheduleID)
	}
	if err := checkText("DeviceID", w.DeviceID, true); err != nil {
		return err
	}
	if err := checkText("Point", w.Point, true); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"RequestedKW", w.RequestedKW}, {"WrittenKW", w.WrittenKW}, {"ReadBackKW", w.ReadBackKW}} {
		if err := checkFinite(f.name, f.v); err != nil {
			return err
		}
	}
	if !w.Status.Valid() {
		return invalid("Status %q is not one of ok, mismatch, failed", w.Status)
	}
	return checkText("Error", w.Error, false)
}

// Validate checks a cycle run before it is stored. ScheduleID 0 means the cycle made no schedule.
func (c CycleRun) Validate() error {
	if err := checkTime("Started", c.Started); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"PollMS", c.PollMS}, {"ForecastMS", c.ForecastMS}, {"SolveMS", c.SolveMS}, {"WriteMS", c.WriteMS}, {"TotalMS", c.TotalMS}} {
		if err := checkNonNegative(f.name, f.v); err != nil {
			return err
		}
	}
	if c.Devices < 0 {
		return invalid("Devices %d is negative", c.Devices)
	}
	if c.StaleDevices < 0 || c.StaleDevices > c.Devices {
		return invalid("StaleDevices %d is outside [0, Devices=%d]", c.StaleDevices, c.Devices)
	}
	if c.Iterations < 0 {
		return invalid("Iterations %d is negative", c.Iterations)
	}
	if c.ScheduleID < 0 {
		return invalid("ScheduleID %d is negative", c.ScheduleID)
	}
	if err := checkText("SolverStatus", c.SolverStatus, false); err != nil {
		return err
	}
	return checkText("Error", c.Error, false)
}

// Validate checks an audit event before it is stored.
func (e AuditEvent) Validate() error {
	if err := checkTime("Time", e.Time); err != nil {
		return err
	}
	if err := checkText("Actor", e.Actor, true); err != nil {
		return err
	}
	if err := checkText("Action", e.Action, true); err != nil {
		return err
	}
	if err := checkText("Subject", e.Subject, false); err != nil {
		return err
	}
	return checkText("Detail", e.Detail, false)
}

// Validate checks an asset before it is stored.
func (a Asset) Validate() error {
	if err := checkText("ID", a.ID, true); err != nil {
		return err
	}
	if err := checkText("Kind", a.Kind, true); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"Node", a.Node}, {"Endpoint", a.Endpoint}, {"Owner", a.Owner}, {"Location", a.Location},
	} {
		if err := checkText(f.name, f.v, false); err != nil {
			return err
		}
	}
	return nil
}

// ValidateRange checks a [from, to) query range: both set and from not after to.
func ValidateRange(from, to time.Time) error {
	if err := checkTime("from", from); err != nil {
		return err
	}
	// to is exclusive: the end of year 9999 is a valid bound, so every storable time
	// can be queried.
	if !to.Equal(End) {
		if err := checkTime("to", to); err != nil {
			return err
		}
	}
	if from.After(to) {
		return invalid("range from %s is after to %s", from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// ValidateStatusChange checks the arguments of SetScheduleStatus.
func ValidateStatusChange(id int64, from, to ScheduleStatus, actor, reason string, at time.Time) error {
	if id <= 0 {
		return invalid("schedule id %d is not positive", id)
	}
	if !from.Valid() {
		return invalid("from status %q is not a schedule status", from)
	}
	if !to.Valid() {
		return invalid("to status %q is not a schedule status", to)
	}
	if err := checkText("actor", actor, true); err != nil {
		return err
	}
	if err := checkText("reason", reason, false); err != nil {
		return err
	}
	return checkTime("at", at)
}

// KeepsDecision says whether a status change keeps the schedule's recorded decision:
// superseding a schedule that was already approved or rejected does not rewrite who
// decided it, why and when.
func KeepsDecision(from, to ScheduleStatus) bool {
	return to == StatusSuperseded && (from == StatusApproved || from == StatusRejected)
}

// ValidateFilter checks an optional text filter such as LatestTelemetry's deviceID ("" = no filter).
func ValidateFilter(field, value string) error {
	return checkText(field, value, false)
}

// ValidateTelemetryQuery checks the arguments of TelemetryRange.
func ValidateTelemetryQuery(deviceID, point string, from, to time.Time) error {
	if err := checkText("deviceID", deviceID, true); err != nil {
		return err
	}
	if err := checkText("point", point, true); err != nil {
		return err
	}
	return ValidateRange(from, to)
}

// ValidateBucketQuery checks the arguments of TelemetryBuckets.
func ValidateBucketQuery(deviceID, point string, from, to time.Time, width time.Duration) error {
	if err := ValidateTelemetryQuery(deviceID, point, from, to); err != nil {
		return err
	}
	if width <= 0 || width%TimePrecision != 0 {
		return invalid("bucket width %s is not a positive whole number of microseconds", width)
	}
	return nil
}

// ValidateForecastQuery checks the arguments of ForecastAsOf.
func ValidateForecastQuery(series string, quantile float64, asOf, from, to time.Time) error {
	if err := checkText("series", series, true); err != nil {
		return err
	}
	if err := checkQuantile(quantile); err != nil {
		return err
	}
	if err := checkTime("asOf", asOf); err != nil {
		return err
	}
	return ValidateRange(from, to)
}

// ValidateStatusFilter checks a ListSchedules status filter ("" matches every status).
func ValidateStatusFilter(s ScheduleStatus) error {
	if s != "" && !s.Valid() {
		return invalid("status %q is not a schedule status", s)
	}
	return nil
}

// ValidateLimit checks a list limit (0 = no limit).
func ValidateLimit(limit int) error {
	if limit < 0 {
		return invalid("limit %d is negative", limit)
	}
	return nil
}

// ValidateScheduleFilter checks a ListSetpointWrites schedule filter (0 = every schedule).
func ValidateScheduleFilter(scheduleID int64) error {
	if scheduleID < 0 {
		return invalid("scheduleID %d is negative", scheduleID)
	}
	return nil
}

// ValidateSamples checks a WriteTelemetry batch; the error names the first bad sample's index.
func ValidateSamples(samples []Sample) error {
	for i, x := range samples {
		if err := x.Validate(); err != nil {
			return fmt.Errorf("sample %d: %w", i, err)
		}
	}
	return nil
}

// ValidateForecasts checks a WriteForecasts batch; the error names the first bad point's index.
func ValidateForecasts(points []ForecastPoint) error {
	for i, p := range points {
		if err := p.Validate(); err != nil {
			return fmt.Errorf("point %d: %w", i, err)
		}
	}
	return nil
}

// ValidateAssets checks an UpsertAssets batch; the error names the first bad asset's index.
func ValidateAssets(assets []Asset) error {
	for i, a := range assets {
		if err := a.Validate(); err != nil {
			return fmt.Errorf("asset %d: %w", i, err)
		}
	}
	return nil
}
