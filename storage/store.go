package storage

import (
	"context"
	"errors"
	"time"
)

// Quality flags a telemetry value.
type Quality string

const (
	// QualityGood: read from the device in this cycle and decoded.
	QualityGood Quality = "good"
	// QualityStale: the device did not answer; Value holds the last good value (or NaN-free 0 if none).
	QualityStale Quality = "stale"
	// QualityBad: the device answered but the value could not be decoded or was out of range.
	QualityBad Quality = "bad"
)

// Sample is one telemetry value.
type Sample struct {
	Time     time.Time
	DeviceID string
	Point    string // semantic name, e.g. "active_power_kw"
	Value    float64
	Quality  Quality
}

// Bucket aggregates the good samples of one point over [Time, Time+width).
type Bucket struct {
	Time  time.Time // bucket start, a whole multiple of the width since the Unix epoch
	Mean  float64
	Min   float64
	Max   float64
	Count int64 // good samples in the bucket
}

// ForecastPoint is one value of a forecast, as known at IssuedAt.
type ForecastPoint struct {
	IssuedAt time.Time
	ValidAt  time.Time
	Series   string  // e.g. "load:building-1"
	Quantile float64 // 0.5 for the median
	Value    float64
	Method   string
}

// ScheduleStatus is a schedule's lifecycle state.
type ScheduleStatus string

const (
	StatusProposed   ScheduleStatus = "proposed"
	StatusApproved   ScheduleStatus = "approved"
	StatusRejected   ScheduleStatus = "rejected"
	StatusExpired    ScheduleStatus = "expired"
	StatusSuperseded ScheduleStatus = "superseded"
)

// Schedule is one optimised dispatch plan.
type Schedule struct {
	ID          int64
	CreatedAt   time.Time
	Start       time.Time
	StepMinutes int
	Steps       int
	Status      ScheduleStatus
	InputHash   string
	Objective   float64
	// CostBreakdown maps a cost term ("energy", "demand", "battery_wear", ...) to its value.
	CostBreakdown map[string]float64
	SolverStatus  string
	// Approver is who approved or rejected it ("policy:auto" for the auto-approve policy).
	Approver  string
	DecidedAt time.Time // zero while proposed
	Reason    string
	// Plan is the full optimiser output as JSON (for explanation and the console).
	Plan []byte
	// Setpoints are the per-step, per-device power setpoints.
	Setpoints []ScheduleSetpoint
}

// ScheduleSetpoint is one device's planned power for one step.
type ScheduleSetpoint struct {
	DeviceID string
	Step     int
	Time     time.Time
	PowerKW  float64
}

// WriteStatus is the outcome of a setpoint write.
type WriteStatus string

const (
	WriteOK       WriteStatus = "ok"       // written and read back equal
	WriteMismatch WriteStatus = "mismatch" // written, but the read-back differs
	WriteFailed   WriteStatus = "failed"   // not written (comms error, refused)
)

// SetpointWrite records one setpoint sent to a device.
type SetpointWrite struct {
	ID          int64
	Time        time.Time
	ScheduleID  int64
	DeviceID    string
	Point       string
	RequestedKW float64
	WrittenKW   float64
	ReadBackKW  float64
	Status      WriteStatus
	Error       string
}

// CycleRun records one dispatch cycle.
type CycleRun struct {
	ID           int64
	Started      time.Time // cycle time (the clock's time when the cycle started)
	PollMS       float64
	ForecastMS   float64
	SolveMS      float64
	WriteMS      float64
	TotalMS      float64
	Devices      int
	StaleDevices int
	SolverStatus string
	Iterations   int
	ScheduleID   int64 // 0 if none was made
	Error        string
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID      int64
	Time    time.Time
	Actor   string // "user:alice", "policy:auto", "system"
	Action  string // "schedule.approve", ...
	Subject string // "schedule:12"
	Detail  string
}

// Asset is one entry of the asset registry.
type Asset struct {
	ID       string
	Kind     string
	Node     string
	Endpoint string
	Owner    string
	Location string
}

// ErrNotFound is returned when a looked-up record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a compare-and-set update finds another state.
var ErrConflict = errors.New("conflict")

// Store is the system of record. Every backend passes the contract suite in storage/storetest.
//
// Times are stored with microsecond precision (TimePrecision) and returned in UTC. Records are
// checked with their Validate method before anything is written; a rejected call writes nothing
// and returns an error wrapping ErrInvalid that names the field and the bad value. Range
// queries reject from after to. An empty CostBreakdown or Plan reads back as nil.
type Store interface {
	// WriteTelemetry stores samples. It is idempotent on (Time, DeviceID, Point):
	// writing the same key again replaces the value, never duplicates it.
	WriteTelemetry(ctx context.Context, samples []Sample) error
	// LatestTelemetry returns the newest sample of every point of a device ("" = all devices),
	// ordered by DeviceID, then Point.
	LatestTelemetry(ctx context.Context, deviceID string) ([]Sample, error)
	// TelemetryRange returns a point's samples with from <= Time < to, oldest first.
	TelemetryRange(ctx context.Context, deviceID, point string, from, to time.Time) ([]Sample, error)
	// TelemetryBuckets aggregates a point's good samples with from <= Time < to into buckets of
	// the given width, aligned to the Unix epoch (a bucket starts at a whole multiple of width
	// since 1970-01-01T00:00:00Z). Stale and bad samples are left out, and so are empty buckets.
	// Oldest first. width must be a positive whole number of microseconds.
	TelemetryBuckets(ctx context.Context, deviceID, point string, from, to time.Time, width time.Duration) ([]Bucket, error)
	// CountTelemetry counts the samples of a device ("" = all devices).
	CountTelemetry(ctx context.Context, deviceID string) (int64, error)

	// WriteForecasts stores forecast points (idempotent on IssuedAt, ValidAt, Series, Quantile).
	WriteForecasts(ctx context.Context, points []ForecastPoint) error
	// ForecastAsOf returns, for each ValidAt in [from, to), the value of the latest forecast of series
	// issued at or before asOf, ordered by ValidAt.
	ForecastAsOf(ctx context.Context, series string, quantile float64, asOf, from, to time.Time) ([]ForecastPoint, error)

	// InsertSchedule stores a schedule with its setpoints and returns its new ID.
	InsertSchedule(ctx context.Context, s *Schedule) (int64, error)
	// GetSchedule returns a schedule with its setpoints (ordered by Step, then DeviceID), or ErrNotFound.
	GetSchedule(ctx context.Context, id int64) (*Schedule, error)
	// ListSchedules returns schedules created in [from, to), newest first, without setpoints and plan.
	// An empty status matches every status.
	ListSchedules(ctx context.Context, from, to time.Time, status ScheduleStatus) ([]Schedule, error)
	// SetScheduleStatus moves a schedule from one status to another (compare-and-set);
	// ErrConflict if it is no longer in status from, ErrNotFound if it does not exist.
	// actor, reason and at become the schedule's decision (Approver, Reason, DecidedAt),
	// except when a decided schedule is superseded (from approved or rejected): its
	// decision is history and stays as it was; the supersede is its own record (the
	// audit event schedule.supersede).
	SetScheduleStatus(ctx context.Context, id int64, from, to ScheduleStatus, actor, reason string, at time.Time) error

	// RecordSetpointWrite stores one setpoint write and returns its ID.
	RecordSetpointWrite(ctx context.Context, w SetpointWrite) (int64, error)
	// ListSetpointWrites returns the writes of a schedule (0 = all), oldest first (ties by ID).
	ListSetpointWrites(ctx context.Context, scheduleID int64) ([]SetpointWrite, error)

	// RecordCycle stores one cycle run and returns its ID.
	RecordCycle(ctx context.Context, c CycleRun) (int64, error)
	// ListCycles returns the newest cycle runs, newest first, at most limit (0 = no limit).
	ListCycles(ctx context.Context, limit int) ([]CycleRun, error)

	// AppendAudit appends an audit event and returns its ID.
	AppendAudit(ctx context.Context, e AuditEvent) (int64, error)
	// ListAudit returns audit events with Time in [from, to), oldest first (ties by ID), at most limit (0 = no limit).
	ListAudit(ctx context.Context, from, to time.Time, limit int) ([]AuditEvent, error)
	// ListAuditAll returns every audit event in ID order, whatever its time or ID: the
	// hash chain is verified, and state restored at start, from exactly this list.
	ListAuditAll(ctx context.Context) ([]AuditEvent, error)

	// UpsertAssets creates or updates assets in the registry.
	UpsertAssets(ctx context.Context, assets []Asset) error
	// ListAssets returns the registry ordered by ID.
	ListAssets(ctx context.Context) ([]Asset, error)

	Close() error
}
