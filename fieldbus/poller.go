package fieldbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/site"
)

// Device is a configured field device with its resolved profile.
type Device struct {
	site.Device
	Profile *Profile
}

func (d *Device) timeout() time.Duration {
	if d.Timeout.D > 0 {
		return d.Timeout.D
	}
	return DefaultTimeout
}

func (d *Device) unit() (uint8, error) {
	if d.UnitID < 0 || d.UnitID > 255 {
		return 0, fmt.Errorf("device %s: unit_id %d out of range 0..255", d.ID, d.UnitID)
	}
	return uint8(d.UnitID), nil
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
	Point   string
	Value   float64
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
	conns   *Conns
	workers int
	plan    PlanOptions
	breaker Breaker
}

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

// WithConns makes the Poller or Writer use a shared connection pool. The caller
// closes the pool; Poller.Close and Writer.Close leave it open.
func WithConns(c *Conns) Option { return func(o *options) { o.conns = c } }

// WithWorkers bounds how many devices are polled at once (default 64).
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithPlanOptions sets how reads are merged (default DefaultPlanOptions()).
func WithPlanOptions(p PlanOptions) Option { return func(o *options) { o.plan = p } }

// DefaultWorkers is the default bound on concurrently polled devices.
const DefaultWorkers = 64

func buildOptions(log *slog.Logger, opts []Option) (options, bool) {
	o := options{workers: DefaultWorkers, plan: DefaultPlanOptions(), breaker: DefaultBreaker()}
	for _, f := range opts {
		f(&o)
	}
	if o.workers < 1 {
		o.workers = 1
	}
	own := false
	if o.conns == nil {
		o.conns = NewConns(log)
		own = true
	}
	return o, own
}

// Poller reads every device's points.
type Poller struct {
	devs     []*polled
	conns    *Conns
	ownConns bool
	clk      clock.Clock
	log      *slog.Logger
	workers  int
	breaker  Breaker
	mu       sync.Mutex // one Poll at a time
}

type polled struct {
	Device
	reads   []Read
	planErr error
	last    map[string]float64 // last good value per point
	// Circuit breaker state: consecutive failed polls, and when the device may be
	// tried again (zero while closed).
	fails     int
	openUntil time.Time
	backoff   time.Duration
}

// NewPoller prepares polling of devices: it plans each device's reads once. A device
// whose reads cannot be planned (no profile, bad options) reports the problem in every
// Reading.Err.
func NewPoller(devices []Device, clk clock.Clock, log *slog.Logger, opts ...Option) *Poller {
	if log == nil {
		log = slog.Default()
	}
	o, own := buildOptions(log, opts)
	p := &Poller{conns: o.conns, ownConns: own, clk: clk, log: log, workers: o.workers, breaker: o.breaker}
	for _, d := range devices {
		pd := &polled{Device: d, last: map[string]float64{}}
		switch {
		case d.Profile == nil:
			pd.planErr = fmt.Errorf("device %s: no profile", d.ID)
		default:
			pd.reads, pd.planErr = PlanReads(d.Profile.Points, o.plan)
			if pd.planErr != nil {
				pd.planErr = fmt.Errorf("device %s: %w", d.ID, pd.planErr)
			}
		}
		if _, err := d.unit(); err != nil && pd.planErr == nil {
			pd.planErr = err
		}
		o.conns.register(d.Endpoint, d.timeout())
		p.devs = append(p.devs, pd)
	}
	return p
}

// Poll reads all devices concurrently (at most the worker bound at once) and returns
// one Reading per device in the order given to NewPoller. Each request is bounded by its
// device's timeout, so a dead device delays only itself (and, for devices sharing its
// endpoint, those behind it on the same connection).
func (p *Poller) Poll(ctx context.Context) []Reading {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Reading, len(p.devs))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(p.workers, len(p.devs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				out[i] = p.pollDevice(ctx, p.devs[i])
			}
		}()
	}
	for i := range p.devs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return out
}

type readResult struct {
	regs []uint16
	err  error
}

func (p *Poller) pollDevice(ctx context.Context, d *polled) Reading {
	r := Reading{DeviceID: d.ID}
	if d.planErr != nil {
		r.Err = d.planErr
		r.Time = p.clk.Now()
		return r
	}
	unit, _ := d.unit()
	if !d.openUntil.IsZero() {
		if now := p.clk.Now(); now.Before(d.openUntil) {
			r.Time = now
			return p.staleReading(r, d, fmt.Errorf("device %s at %s unit %d: %w (retry at %s)", d.ID, d.Endpoint, unit, ErrCircuitOpen, d.openUntil.Format(time.RFC3339)))
		}
	}
	start := time.Now()
	results := make([]readResult, len(d.reads))
	err := ctx.Err()
	if err == nil {
		err = p.conns.with(ctx, d.Endpoint, unit, func(cl *modbus.ModbusClient) error {
			for i, rd := range d.reads {
				if err := ctx.Err(); err != nil {
					return err
				}
				regs, err := readBlock(cl, rd)
				if err != nil {
					if ex, ok := asException(err); ok {
						results[i].err = fmt.Errorf("read %s %d..%d: %w", rd.Table, rd.Address, rd.End()-1, ex)
						continue
					}
					return fmt.Errorf("read %s %d..%d: %w", rd.Table, rd.Address, rd.End()-1, err)
				}
				results[i].regs = regs
			}
			return nil
		})
	}
	r.Latency = time.Since(start)
	r.Time = p.clk.Now()
	if err != nil {
		p.tripped(d)
		p.log.Warn("fieldbus: device did not answer", "device", d.ID, "endpoint", d.Endpoint, "err", err, "failures", d.fails)
		return p.staleReading(r, d, fmt.Errorf("device %s at %s unit %d: %w", d.ID, d.Endpoint, unit, err))
	}
	if d.fails > 0 {
		p.log.Info("fieldbus: device answers again", "device", d.ID, "after_failures", d.fails)
	}
	d.fails, d.openUntil, d.backoff = 0, time.Time{}, 0
	values := make([]Value, len(d.Profile.Points))
	var errs []error
	for i, rd := range d.reads {
		for _, pi := range rd.Points {
			pt := &d.Profile.Points[pi]
			v := Value{Point: pt.Name, Unit: pt.Unit, Quality: Good}
			if results[i].err != nil {
				v.Err = results[i].err
			} else {
				off := int(pt.Address) - int(rd.Address)
				val, err := pt.Decode(results[i].regs[off : off+pt.Width()])
				if err != nil {
					v.Err = err
				} else {
					v.Value = val
					d.last[pt.Name] = val
				}
			}
			if v.Err != nil {
				v.Quality = Bad
				v.Value = d.last[pt.Name]
				v.Err = fmt.Errorf("device %s point %s: %w", d.ID, pt.Name, v.Err)
				errs = append(errs, v.Err)
			}
			values[pi] = v
		}
	}
	r.Values = values
	r.Err = errors.Join(errs...)
	return r
}

// staleReading reports the device's last good values as stale.
func (p *Poller) staleReading(r Reading, d *polled, err error) Reading {
	r.Stale = true
	r.Err = err
	for _, pt := range d.Profile.Points {
		if v, ok := d.last[pt.Name]; ok {
			r.Values = append(r.Values, Value{Point: pt.Name, Value: v, Unit: pt.Unit, Quality: Stale, Err: err})
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

// readBlock performs one planned read, returning bits as 0/1 registers.
func readBlock(cl *modbus.ModbusClient, rd Read) ([]uint16, error) {
	switch rd.Table {
	case Holding:
		return cl.ReadRegisters(rd.Address, rd.Count, modbus.HOLDING_REGISTER)
	case Input:
		return cl.ReadRegisters(rd.Address, rd.Count, modbus.INPUT_REGISTER)
	case Coil, Discrete:
		var bits []bool
		var err error
		if rd.Table == Coil {
			bits, err = cl.ReadCoils(rd.Address, rd.Count)
		} else {
			bits, err = cl.ReadDiscreteInputs(rd.Address, rd.Count)
		}
		if err != nil {
			return nil, err
		}
		regs := make([]uint16, len(bits))
		for i, b := range bits {
			if b {
				regs[i] = 1
			}
		}
		return regs, nil
	}
	return nil, fmt.Errorf("unknown register table %q", rd.Table)
}

// Close closes the poller's connections (unless they belong to a shared pool).
func (p *Poller) Close() error {
	if p.ownConns {
		return p.conns.Close()
	}
	return nil
}
