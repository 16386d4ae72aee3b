package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/prices"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// The handlers act on a site through the small interfaces below, each for one role of
// the API; Dispatcher is all of them and what NewServer takes. *dispatch.Service
// implements it in production; the handler tests use a fake (fake_test.go). The
// request and response types are dispatch's and storage's own.

// SiteReader is the site's configuration, clock and store (what every read route uses).
type SiteReader interface {
	Config() *site.Config
	Clock() clock.Clock
	Store() storage.Store
}

// Auditor records an action in the audit log.
type Auditor interface {
	Audit(ctx context.Context, actor, action, subject, text string, data any) error
}

// Scheduler decides on proposed schedules, explains them and pins devices.
type Scheduler interface {
	Approve(ctx context.Context, id int64, actor, reason string) ([]storage.SetpointWrite, error)
	Reject(ctx context.Context, id int64, actor, reason string) error
	Explain(ctx context.Context, id int64) (*dispatch.Explanation, error)
	Pins() []dispatch.Pin
	Pin(ctx context.Context, p dispatch.Pin) (*storage.Schedule, error)
	Unpin(ctx context.Context, deviceID, actor, reason string) error
}

// SafetyControl is the kill switch and manual overrides.
type SafetyControl interface {
	Envelope() *safety.Envelope
	Pause(ctx context.Context, actor, reason string) error
	Resume(ctx context.Context, actor, reason string) ([]storage.SetpointWrite, error)
	AddOverride(ctx context.Context, o safety.Override) (safety.Override, []storage.SetpointWrite, error)
	CancelOverride(ctx context.Context, id int64, actor, reason string) error
}

// AlarmDesk lists and acknowledges alarms.
type AlarmDesk interface {
	Alarms() []dispatch.Alarm
	AckAlarm(ctx context.Context, key, actor, reason string) error
}

// RealTime is the real-time layer: external limits, the peak target and its counters.
type RealTime interface {
	Limits(ctx context.Context, at time.Time) []dispatch.ExternalLimit
	SetLimit(ctx context.Context, l dispatch.ExternalLimit) (dispatch.ExternalLimit, *dispatch.TickResult, error)
	EndLimit(ctx context.Context, id int64, actor, reason string) error
	PeakTarget(ctx context.Context, at time.Time) (float64, *storage.Schedule, error)
	Metrics() dispatch.Metrics
}

// Operators is what charging operators see of their sessions and the plan in force.
type Operators interface {
	Sessions() []dispatch.Session
	SessionOf(deviceID string) (dispatch.Session, bool)
	SessionStatus(ss dispatch.Session) dispatch.SessionPlan
	CancelSession(ctx context.Context, deviceID, actor, reason string) error
	InForce(ctx context.Context, at time.Time) (*storage.Schedule, error)
}

// Live streams the values each poll reads (the console's live views).
type Live interface {
	SubscribeLive(buf int) (<-chan dispatch.LiveUpdate, func())
	LiveSnapshot() dispatch.LiveUpdate
}

// Inputs takes what callers feed the next cycles: charging sessions, weather and
// day-ahead prices; and
// streams the setpoints written.
type Inputs interface {
	ReportSession(ctx context.Context, ss dispatch.Session) error
	SetWeather(ctx context.Context, pts []dispatch.WeatherPoint, actor string) error
	SetPrices(ctx context.Context, pts []prices.Point, actor string) error
	Subscribe(buf int) (<-chan storage.SetpointWrite, func())
}

// MetricsSource registers its Prometheus collectors.
type MetricsSource interface {
	RegisterMetrics(reg prometheus.Registerer) error
}

// Dispatcher is everything the API does to a site.
type Dispatcher interface {
	SiteReader
	Auditor
	Scheduler
	SafetyControl
	AlarmDesk
	RealTime
	Inputs
	Operators
	Live
	MetricsSource
}
