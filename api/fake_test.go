package api_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/prices"
	"github.com/gridd/gridd/safety"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/memstore"
)

// fake is an api.Dispatcher without a site: an in-memory store, a safety envelope with
// no devices, a fixed clock, and canned answers for the actions. It records each call
// so a test can check what the handler asked for.
type fake struct {
	cfg   *site.Config
	clk   *clock.Sim
	store *memstore.Store
	env   *safety.Envelope

	mu    sync.Mutex
	calls []string // "Approve 7 user:disp because", ...

	// Canned answers.
	approveWrites []storage.SetpointWrite
	approveErr    error
	rejectErr     error
	alarms        []dispatch.Alarm
	ackErr        error
	limits        []dispatch.ExternalLimit
	setLimit      func(dispatch.ExternalLimit) (dispatch.ExternalLimit, *dispatch.TickResult, error)
	endLimitErr   error
	peakKW        float64
	weatherErr    error
	pricesErr     error
}

var (
	_ api.Dispatcher = (*fake)(nil)
	_ api.Dispatcher = (*dispatch.Service)(nil)
)

func newFake(t testing.TB) *fake {
	t.Helper()
	env, err := safety.New(nil, safety.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &site.Config{
		Site: site.SiteSection{Name: "fake", Timezone: "UTC", Cycle: "*/15 * * * *",
			Step: site.Duration{D: 15 * time.Minute}, Horizon: site.Duration{D: 24 * time.Hour}},
		Tariff: site.Tariff{Currency: "GBP"},
		Devices: []site.Device{
			{ID: "bess", Kind: site.KindBESS, Node: "sub", Endpoint: "127.0.0.1:1502", Profile: "builtin:bess"},
			{ID: "ev-1", Kind: site.KindEVCharger, Node: "sub", Endpoint: "127.0.0.1:1503", Profile: "builtin:ev-charger", Owner: "chargeco"},
			{ID: "ev-3", Kind: site.KindEVCharger, Node: "sub", Endpoint: "127.0.0.1:1503", Profile: "builtin:ev-charger", Owner: "otherco"},
		},
	}
	return &fake{cfg: cfg, clk: clock.NewSim(start), store: memstore.New(), env: env}
}

func (f *fake) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// wantCall fails t unless the dispatcher was called as want.
func (f *fake) wantCall(t *testing.T, want string) {
	t.Helper()
	if calls := f.Calls(); !slices.Contains(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
}

func (f *fake) Config() *site.Config { return f.cfg }
func (f *fake) Clock() clock.Clock   { return f.clk }
func (f *fake) Store() storage.Store { return f.store }

func (f *fake) Audit(ctx context.Context, actor, action, subject, text string, data any) error {
	f.record("Audit %s %s %s", actor, action, subject)
	return nil
}

func (f *fake) Approve(ctx context.Context, id int64, actor, reason string) ([]storage.SetpointWrite, error) {
	f.record("Approve %d %s %s", id, actor, reason)
	return f.approveWrites, f.approveErr
}

func (f *fake) Reject(ctx context.Context, id int64, actor, reason string) error {
	f.record("Reject %d %s %s", id, actor, reason)
	return f.rejectErr
}

func (f *fake) Explain(ctx context.Context, id int64) (*dispatch.Explanation, error) {
	return nil, fmt.Errorf("schedule %d: %w", id, storage.ErrNotFound)
}

func (f *fake) Pins() []dispatch.Pin { return nil }

func (f *fake) Pin(ctx context.Context, p dispatch.Pin) (*storage.Schedule, error) {
	f.record("Pin %s %g %s propose-only=%v", p.DeviceID, p.PowerKW, p.Actor, p.ProposeOnly)
	return &storage.Schedule{ID: 2, CreatedAt: f.clk.Now(), Start: f.clk.Now(), StepMinutes: 15, Steps: 96, Status: storage.StatusProposed}, nil
}

func (f *fake) Unpin(ctx context.Context, deviceID, actor, reason string) error {
	f.record("Unpin %s", deviceID)
	return fmt.Errorf("pin on %q: %w", deviceID, storage.ErrNotFound)
}

func (f *fake) Envelope() *safety.Envelope { return f.env }

func (f *fake) Pause(ctx context.Context, actor, reason string) error {
	f.record("Pause %s %s", actor, reason)
	return nil
}

func (f *fake) Resume(ctx context.Context, actor, reason string) ([]storage.SetpointWrite, error) {
	f.record("Resume %s %s", actor, reason)
	return nil, nil
}

func (f *fake) AddOverride(ctx context.Context, o safety.Override) (safety.Override, []storage.SetpointWrite, error) {
	f.record("AddOverride %s %g", o.DeviceID, o.ValueKW)
	return safety.Override{}, nil, fmt.Errorf("%w: device_id: %q has no safety envelope", dispatch.ErrInvalid, o.DeviceID)
}

func (f *fake) CancelOverride(ctx context.Context, id int64, actor, reason string) error {
	return fmt.Errorf("override %d: %w", id, storage.ErrNotFound)
}

func (f *fake) Alarms() []dispatch.Alarm { return f.alarms }

func (f *fake) AckAlarm(ctx context.Context, key, actor, reason string) error {
	f.record("AckAlarm %s %s %s", key, actor, reason)
	if f.ackErr != nil {
		return f.ackErr
	}
	for i := range f.alarms {
		if f.alarms[i].Key == key {
			f.alarms[i].Acked, f.alarms[i].AckedBy, f.alarms[i].AckReason = true, actor, reason
			return nil
		}
	}
	return fmt.Errorf("alarm %q: %w", key, storage.ErrNotFound)
}

func (f *fake) Limits(ctx context.Context, at time.Time) []dispatch.ExternalLimit { return f.limits }

func (f *fake) SetLimit(ctx context.Context, l dispatch.ExternalLimit) (dispatch.ExternalLimit, *dispatch.TickResult, error) {
	f.record("SetLimit %s %s %s", l.Source, l.Actor, l.Reason)
	if f.setLimit != nil {
		return f.setLimit(l)
	}
	l.ID = int64(len(f.limits) + 1)
	f.limits = append(f.limits, l)
	return l, nil, nil
}

func (f *fake) EndLimit(ctx context.Context, id int64, actor, reason string) error {
	f.record("EndLimit %d %s %s", id, actor, reason)
	return f.endLimitErr
}

func (f *fake) PeakTarget(ctx context.Context, at time.Time) (float64, *storage.Schedule, error) {
	return f.peakKW, nil, nil
}

func (f *fake) Metrics() dispatch.Metrics { return dispatch.Metrics{ControlTicks: 3} }

func (f *fake) ReportSession(ctx context.Context, ss dispatch.Session) error {
	f.record("ReportSession %s %g", ss.DeviceID, ss.EnergyKWh)
	return nil
}

func (f *fake) SetWeather(ctx context.Context, pts []dispatch.WeatherPoint, actor string) error {
	f.record("SetWeather %d %s", len(pts), actor)
	return f.weatherErr
}

func (f *fake) SetPrices(ctx context.Context, pts []prices.Point, actor string) error {
	f.record("SetPrices %d %s", len(pts), actor)
	return f.pricesErr
}

func (f *fake) Subscribe(buf int) (<-chan storage.SetpointWrite, func()) {
	ch := make(chan storage.SetpointWrite)
	return ch, func() {}
}

func (f *fake) RegisterMetrics(reg prometheus.Registerer) error { return nil }

// newFakeServer serves the API on f with the test users.
func newFakeServer(t testing.TB, f *fake) *client {
	t.Helper()
	users, tokens, wall := testUsers(t)
	log := slog.New(slog.DiscardHandler)
	srv, err := api.NewServer(f, api.Options{Logger: log, Users: users, Now: func() time.Time { return wall }})
	if err != nil {
		t.Fatal(err)
	}
	return newClient(t, srv, tokens)
}

func (f *fake) Sessions() []dispatch.Session { return nil }

func (f *fake) SessionOf(deviceID string) (dispatch.Session, bool) { return dispatch.Session{}, false }

func (f *fake) SessionStatus(ss dispatch.Session) dispatch.SessionPlan { return dispatch.SessionPlan{} }

func (f *fake) CancelSession(ctx context.Context, deviceID, actor, reason string) error {
	f.record("CancelSession %s %s %s", deviceID, actor, reason)
	return storage.ErrNotFound
}

func (f *fake) InForce(ctx context.Context, at time.Time) (*storage.Schedule, error) { return nil, nil }

func (f *fake) SubscribeLive(buf int) (<-chan dispatch.LiveUpdate, func()) {
	ch := make(chan dispatch.LiveUpdate)
	return ch, func() {}
}

func (f *fake) LiveSnapshot() dispatch.LiveUpdate { return dispatch.LiveUpdate{} }
