package fieldbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/site"
)

// Device is a configured field device with its resolved profile.
type Device struct {
	site.Device
	Profile *Profile
	// PollInterval is how often Poller.PollDue reads the device (0: at every
	// PollDue). Poll reads every device whatever its interval.
	PollInterval time.Duration
	// Priority orders the devices of one poll: higher goes first, so that with more
	// devices than workers the important ones are read first. Equal priorities keep
	// the configured order.
	Priority int
}

// DefaultTimeout applies to a device whose config sets no timeout.
const DefaultTimeout = time.Second

// ErrTimeout marks a request the device did not answer in time. Drivers return
// errors that match it (errors.Is) for timeouts; the poller retries them only when
// Retry.Timeouts is set.
var ErrTimeout = errors.New("request timed out")

// RequestTimeout is the device's configured timeout, or DefaultTimeout.
func (d *Device) RequestTimeout() time.Duration {
	if d.Timeout.D > 0 {
		return d.Timeout.D
	}
	return DefaultTimeout
}

// Quality flags a value. The strings match storage's quality flags.
type Quality string

// Qualities.
const (
	// Good: read from the device in this poll and decoded.
	Good Quality = "good"
	// Stale: the device did not answer; the value is the last good one.
	Stale Quality = "stale"
	// Bad: the device answered but the value could not be decoded or is out of range.
	Bad Quality = "bad"
)

// Value is one point of one reading, in the point's vocabulary unit.
type Value struct {
	Point string
	// Value is the number (0 for string points).
	Value float64
	// Text is a string point's text, or the name of an enum value or the set bits of
	// a bitfield (Point.Symbol); "" for plain numbers.
	Text    string
	Unit    string
	Quality Quality
	// Err says why the quality is not good (nil when good).
	Err error
}

// Reading is the result of polling one device.
type Reading struct {
	DeviceID string
	// Time is the clock time the device's reads completed.
	Time time.Time
	// Values are in profile point order. A bad point holds 0 (or its last good
	// value); a stale device reports only points that were read good before.
	Values []Value
	// Stale is true when the device did not answer (timeout, connection error).
	Stale bool
	// Err joins every problem: the device's (when Stale) and each bad point's.
	Err error
	// Latency is the wall time the device's I/O took.
	Latency time.Duration
}

// Value returns the named point's value.
func (r *Reading) Value(point string) (Value, bool) {
	for _, v := range r.Values {
		if v.Point == point {
			return v, true
		}
	}
	return Value{}, false
}

// Option configures a Poller or Writer.
type Option func(*options)

type options struct {
	shared    *Shared
	resources map[string]io.Closer
	settings  map[string]any
	workers   int
	breaker   Breaker
	retry     Retry
}

// Retry is how the poller retries a device inside one poll. After a failed attempt
// it waits Backoff (doubling after every further attempt) and tries the reads that
// are still missing again, at most Attempts more times. Connection errors (refused,
// reset, closed by the peer) and, inside the driver, its transient errors (Modbus:
// the exceptions SERVER DEVICE BUSY and ACKNOWLEDGE) are retried; timeouts
// (ErrTimeout) only if Timeouts is set, since each one already
// cost the device's full timeout. A retry that would not finish inside the device's
// PollInterval (backoff plus one timeout) is not started.
type Retry struct {
	Attempts int
	Backoff  time.Duration
	Timeouts bool
}

// DefaultRetry is what the poller uses unless told otherwise.
func DefaultRetry() Retry { return Retry{Attempts: 1, Backoff: 50 * time.Millisecond} }

// WithRetry sets how devices are retried inside a poll (default DefaultRetry();
// Retry{} disables retries).
func WithRetry(r Retry) Option { return func(o *options) { o.retry = r } }

// Breaker is the poller's circuit breaker for dead devices. After Threshold
// consecutive polls in which a device did not answer, the poller stops sending it
// requests for Backoff (doubling after every further failed attempt, up to
// MaxBackoff, measured on the poller's clock) and reports it Stale at once with
// ErrCircuitOpen. The first poll after the backoff tries the device again; one answer
// closes the breaker. Threshold 0 disables the breaker.
type Breaker struct {
	Threshold           int
	Backoff, MaxBackoff time.Duration
}

// DefaultBreaker is what the poller uses unless told otherwise.
func DefaultBreaker() Breaker {
	return Breaker{Threshold: 3, Backoff: 5 * time.Second, MaxBackoff: 2 * time.Minute}
}

// ErrCircuitOpen marks a stale reading of a device the poller skipped because its
// circuit breaker is open.
var ErrCircuitOpen = errors.New("circuit open: device skipped after repeated failures")

// WithBreaker sets the circuit breaker for dead devices (default DefaultBreaker()).
func WithBreaker(b Breaker) Option { return func(o *options) { o.breaker = b } }

// WithShared makes the Poller or Writer open devices with a shared resource set
// (so that a Poller and a Writer share connections). The caller closes it;
// Poller.Close and Writer.Close leave it open.
func WithShared(s *Shared) Option { return func(o *options) { o.shared = s } }

// WithResource puts c under key in the resource set the drivers use, owned by the
// caller (Close leaves it open). Drivers offer typed options built on it, e.g.
// modbus.WithConns.
func WithResource(key string, c io.Closer) Option {
	return func(o *options) {
		if o.resources == nil {
			o.resources = map[string]io.Closer{}
		}
		o.resources[key] = c
	}
}

// WithSetting passes a driver setting (Env.Setting); drivers offer typed options
// built on it, e.g. modbus.WithPlanOptions.
func WithSetting(key string, v any) Option {
	return func(o *options) {
		if o.settings == nil {
			o.settings = map[string]any{}
		}
		o.settings[key] = v
	}
}

// WithWorkers bounds how many devices are polled at once (default 64).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// DefaultWorkers is the default bound on concurrently polled devices.
const DefaultWorkers = 64

func buildOptions(opts []Option) (options, bool) {
	o := options{workers: DefaultWorkers, breaker: DefaultBreaker(), retry: DefaultRetry()}
	for _, f := range opts {
		f(&o)
	}
	if o.workers < 1 {
		o.workers = 1
	}
	own := false
	if o.shared == nil {
		o.shared = NewShared()
		own = true
	}
	for k, c := range o.resources {
		o.shared.put(k, c)
	}
	return o, own
}

// put stores a resource its caller owns.
func (s *Shared) put(key string, c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = sharedEntry{c: c}
}

func (o options) env(clk clock.Clock, log *slog.Logger) Env {
	return Env{Clock: clk, Log: log, Shared: o.shared, settings: o.settings}
}

// Poller reads every device's points through the driver registered for each
// device's endpoint scheme.
type Poller struct {
	devs      []*polled
	shared    *Shared
	ownShared bool
	clk       clock.Clock
	log       *slog.Logger
	workers   int
	breaker   Breaker
	retry     Retry
	order     []int      // device indices by priority (highest first), then config order
	mu        sync.Mutex // one Poll at a time
	metrics   atomic.Pointer[pollMetrics]
}

type polled struct {
	Device
	sess    Session
	openErr error
	// last good value per profile point, and whether there is one
	last     []float64
	lastText []string
	have     []bool
	// Circuit breaker state: consecutive failed polls, and when the device may be
	// tried again (zero while closed).
	fails     int
	openUntil time.Time
	backoff   time.Duration
	// nextDue is when PollDue reads the device next (zero: at once).
	nextDue time.Time
}

// NewPoller prepares polling of devices: it opens each device with the driver
// registered for its endpoint's scheme (Register), which plans its reads once. A
// device that cannot be opened (no profile, no driver for its scheme, bad options)
// reports the problem in every Reading.Err.
func NewPoller(devices []Device, clk clock.Clock, log *slog.Logger, opts ...Option) *Poller {
	if log == nil {
		log = slog.Default()
	}
	o, own := buildOptions(opts)
	p := &Poller{shared: o.shared, ownShared: own, clk: clk, log: log, workers: o.workers, breaker: o.breaker, retry: o.retry}
	env := o.env(clk, log)
	for _, d := range devices {
		pd := &polled{Device: d}
		switch {
		case d.Profile == nil:
			pd.openErr = fmt.Errorf("device %s: no profile", d.ID)
		default:
			pd.last = make([]float64, len(d.Profile.Points))
			pd.have = make([]bool, len(d.Profile.Points))
			pd.lastText = make([]string, len(d.Profile.Points))
			pd.sess, pd.openErr = open(d, env)
			if pd.openErr != nil {
				pd.openErr = fmt.Errorf("device %s: %w", d.ID, pd.openErr)
			}
		}
		p.order = append(p.order, len(p.devs))
		p.devs = append(p.devs, pd)
	}
	sort.SliceStable(p.order, func(a, b int) bool { return p.devs[p.order[a]].Priority > p.devs[p.order[b]].Priority })
	return p
}

// Poll reads all devices concurrently (at most the worker bound at once, higher
// Priority first) and returns one Reading per device in the order given to NewPoller.
// Each request is bounded by its device's timeout, so a dead device delays only
// itself (and, for devices sharing its endpoint, those behind it on the same
// connection).
func (p *Poller) Poll(ctx context.Context) []Reading {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.poll(ctx, p.order, p.clk.Now())
}

// PollDue reads the devices whose PollInterval has elapsed on the poller's clock
// (every device at the first call, devices without an interval at every call) and
// returns their Readings in the order given to NewPoller. A device's next poll is
// due one interval after the slot it was due in; slots missed because PollDue was
// not called are skipped, not caught up. Call it at least as often as the shortest
// interval (NextDue says when).
func (p *Poller) PollDue(ctx context.Context) []Reading {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clk.Now()
	var due []int
	for _, i := range p.order {
		if d := p.devs[i]; d.nextDue.IsZero() || !now.Before(d.nextDue) {
			due = append(due, i)
		}
	}
	all := p.poll(ctx, due, now)
	sort.Ints(due)
	out := make([]Reading, 0, len(due))
	for _, i := range due {
		out = append(out, all[i])
	}
	return out
}

// NextDue is the earliest time a device is due for PollDue.
func (p *Poller) NextDue() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next time.Time
	for _, d := range p.devs {
		if next.IsZero() || d.nextDue.Before(next) {
			next = d.nextDue
		}
	}
	return next
}

// poll reads the devices idx (in that order of start) and schedules their next poll
// after now. The result has one slot per device; slots not polled are zero.
func (p *Poller) poll(ctx context.Context, idx []int, now time.Time) []Reading {
	out := make([]Reading, len(p.devs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(p.workers, len(idx)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(idx) {
					return
				}
				i := idx[k]
				out[i] = p.pollDevice(ctx, p.devs[i])
				p.metrics.Load().observe(out[i])
			}
		}()
	}
	wg.Wait()
	for _, i := range idx {
		d := p.devs[i]
		if d.PollInterval <= 0 {
			d.nextDue = now
			continue
		}
		due := d.nextDue
		if due.IsZero() {
			due = now
		}
		due = due.Add(d.PollInterval)
		if !due.After(now) {
			due = now.Add(d.PollInterval)
		}
		d.nextDue = due
	}
	return out
}

func (p *Poller) pollDevice(ctx context.Context, d *polled) Reading {
	r := Reading{DeviceID: d.ID}
	if d.openErr != nil {
		r.Err = d.openErr
		r.Time = p.clk.Now()
		return r
	}
	if !d.openUntil.IsZero() {
		if now := p.clk.Now(); now.Before(d.openUntil) {
			r.Time = now
			return p.staleReading(r, d, fmt.Errorf("device %s at %s unit %d: %w (retry at %s)", d.ID, d.Endpoint, d.UnitID, ErrCircuitOpen, d.openUntil.Format(time.RFC3339)))
		}
	}
	start := time.Now()
	a := &ReadAttempt{Retry: p.retry, Points: make([]PointRead, len(d.Profile.Points))}
	backoff := p.retry.Backoff
	var err error
	for attempt := 0; ; attempt++ {
		a.Attempt = attempt
		err = ctx.Err()
		if err == nil {
			err = d.sess.Read(ctx, a)
		}
		if err == nil || attempt >= p.retry.Attempts || !p.retryable(err) {
			break
		}
		if iv := d.PollInterval; iv > 0 && time.Since(start)+backoff+d.RequestTimeout() > iv {
			break
		}
		if !Sleep(ctx, backoff) {
			break
		}
		p.log.Debug("fieldbus: retrying device", "device", d.ID, "attempt", attempt+1, "err", err)
		backoff *= 2
	}
	r.Latency = time.Since(start)
	r.Time = p.clk.Now()
	if err != nil {
		p.tripped(d)
		p.log.Warn("fieldbus: device did not answer", "device", d.ID, "endpoint", d.Endpoint, "err", err, "failures", d.fails)
		return p.staleReading(r, d, fmt.Errorf("device %s at %s unit %d: %w", d.ID, d.Endpoint, d.UnitID, err))
	}
	if d.fails > 0 {
		p.log.Info("fieldbus: device answers again", "device", d.ID, "after_failures", d.fails)
	}
	d.fails, d.openUntil, d.backoff = 0, time.Time{}, 0
	values := make([]Value, len(d.Profile.Points))
	var errs []error
	for pi := range d.Profile.Points {
		pt := &d.Profile.Points[pi]
		pr := a.Points[pi]
		v := Value{Point: pt.Name, Unit: pt.Unit, Quality: Good, Value: pr.Value, Text: pr.Text, Err: pr.Err}
		if !pr.Done && v.Err == nil {
			v.Err = errors.New("not read by the driver")
		}
		if v.Err == nil {
			d.last[pi], d.lastText[pi], d.have[pi] = v.Value, v.Text, true
		} else {
			v.Quality = Bad
			v.Value, v.Text = d.last[pi], d.lastText[pi]
			v.Err = fmt.Errorf("device %s point %s: %w", d.ID, pt.Name, v.Err)
			errs = append(errs, v.Err)
		}
		values[pi] = v
	}
	r.Values = values
	r.Err = errors.Join(errs...)
	return r
}

// retryable says whether a failed device attempt is worth another one.
func (p *Poller) retryable(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.Is(err, ErrTimeout):
		return p.retry.Timeouts
	}
	return true
}

// Sleep waits d or until ctx ends; it reports whether the full d passed. Drivers
// use it for their own backoff.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// staleReading reports the device's last good values as stale.
func (p *Poller) staleReading(r Reading, d *polled, err error) Reading {
	r.Stale = true
	r.Err = err
	for i := range d.Profile.Points {
		if pt := &d.Profile.Points[i]; d.have[i] {
			r.Values = append(r.Values, Value{Point: pt.Name, Value: d.last[i], Text: d.lastText[i], Unit: pt.Unit, Quality: Stale, Err: err})
		}
	}
	return r
}

// tripped counts a failed poll and opens the breaker once the threshold is reached.
func (p *Poller) tripped(d *polled) {
	d.fails++
	b := p.breaker
	if b.Threshold <= 0 || d.fails < b.Threshold {
		return
	}
	switch {
	case d.backoff == 0:
		d.backoff = b.Backoff
	default:
		d.backoff *= 2
	}
	if b.MaxBackoff > 0 && d.backoff > b.MaxBackoff {
		d.backoff = b.MaxBackoff
	}
	if d.backoff <= 0 {
		return
	}
	d.openUntil = p.clk.Now().Add(d.backoff)
	p.log.Warn("fieldbus: circuit open", "device", d.ID, "failures", d.fails, "retry_in", d.backoff)
}

// Close closes the devices' sessions and the poller's shared resources (unless they
// were given by WithShared).
func (p *Poller) Close() error {
	var errs []error
	for _, d := range p.devs {
		if d.sess != nil {
			errs = append(errs, d.sess.Close())
		}
	}
	if p.ownShared {
		errs = append(errs, p.shared.Close())
	}
	return errors.Join(errs...)
}
