package modbus

import (
	"github.com/gridd/gridd/fieldbus"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/simonvetter/modbus"
)

// DefaultTimeout applies to a device whose config sets no timeout.
const DefaultTimeout = fieldbus.DefaultTimeout

// Modbus exception errors, as returned (wrapped) by fieldbus.Poller and
// fieldbus.Writer for Modbus devices.
// Test with errors.Is.
var (
	ErrIllegalFunction         error = modbus.ErrIllegalFunction
	ErrIllegalDataAddress      error = modbus.ErrIllegalDataAddress
	ErrIllegalDataValue        error = modbus.ErrIllegalDataValue
	ErrServerDeviceFailure     error = modbus.ErrServerDeviceFailure
	ErrAcknowledge             error = modbus.ErrAcknowledge
	ErrServerDeviceBusy        error = modbus.ErrServerDeviceBusy
	ErrMemoryParityError       error = modbus.ErrMemoryParityError
	ErrGWPathUnavailable       error = modbus.ErrGWPathUnavailable
	ErrGWTargetFailedToRespond error = modbus.ErrGWTargetFailedToRespond
	// ErrTimeout is a request the device did not answer in time. The driver's errors
	// for it also match fieldbus.ErrTimeout.
	ErrTimeout error = modbus.ErrRequestTimedOut
)

var exceptionCodes = []struct {
	err  error
	code uint8
	name string
}{
	{modbus.ErrIllegalFunction, 0x01, "ILLEGAL FUNCTION"},
	{modbus.ErrIllegalDataAddress, 0x02, "ILLEGAL DATA ADDRESS"},
	{modbus.ErrIllegalDataValue, 0x03, "ILLEGAL DATA VALUE"},
	{modbus.ErrServerDeviceFailure, 0x04, "SERVER DEVICE FAILURE"},
	{modbus.ErrAcknowledge, 0x05, "ACKNOWLEDGE"},
	{modbus.ErrServerDeviceBusy, 0x06, "SERVER DEVICE BUSY"},
	{modbus.ErrMemoryParityError, 0x08, "MEMORY PARITY ERROR"},
	{modbus.ErrGWPathUnavailable, 0x0A, "GATEWAY PATH UNAVAILABLE"},
	{modbus.ErrGWTargetFailedToRespond, 0x0B, "GATEWAY TARGET DEVICE FAILED TO RESPOND"},
}

// ExceptionError is a Modbus exception response. It unwraps to the matching
// Err* value above.
type ExceptionError struct {
	Code uint8
	Name string
	Err  error
}

func (e *ExceptionError) Error() string {
	return fmt.Sprintf("modbus exception 0x%02X %s", e.Code, e.Name)
}

func (e *ExceptionError) Unwrap() error { return e.Err }

// asException returns err as an *ExceptionError if it is a Modbus exception response.
func asException(err error) (*ExceptionError, bool) {
	var ee *ExceptionError
	if errors.As(err, &ee) {
		return ee, true
	}
	for _, x := range exceptionCodes {
		if errors.Is(err, x.err) {
			return &ExceptionError{Code: x.code, Name: x.name, Err: x.err}, true
		}
	}
	return nil, false
}

// Conns is a pool of Modbus TCP connections: one per endpoint (host:port). Devices
// that share an endpoint (a gateway with several unit ids) share its connection; their
// requests are serialised and the unit id switched under the endpoint's lock. A
// connection that fails (anything but a Modbus exception response) is closed and
// reopened on next use. A fieldbus.Poller and Writer may share one pool (WithConns,
// or fieldbus.WithShared).
type Conns struct {
	log    *slog.Logger
	mu     sync.Mutex
	eps    map[string]*endpoint
	closed bool
}

type endpoint struct {
	addr     string
	ep       Endpoint
	parseErr error
	sem      chan struct{} // one holder at a time
	timeout  time.Duration // largest timeout of the devices behind it
	client   busClient
	dial     *dialing // a connect that outlived its timeout, still in flight
}

type dialing struct {
	done   chan struct{}
	client busClient
	err    error
}

// NewConns returns an empty pool.
func NewConns(log *slog.Logger) *Conns {
	if log == nil {
		log = slog.Default()
	}
	return &Conns{log: log, eps: map[string]*endpoint{}}
}

// register makes sure the endpoint exists and its request timeout covers timeout.
func (c *Conns) register(addr string, timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ep, ok := c.eps[addr]
	if !ok {
		ep = &endpoint{addr: addr, sem: make(chan struct{}, 1), timeout: timeout}
		ep.ep, ep.parseErr = ParseEndpoint(addr)
		c.eps[addr] = ep
		return
	}
	if timeout > ep.timeout {
		// The request timeout is fixed per client: reopen with the longer one.
		ep.sem <- struct{}{}
		ep.timeout = timeout
		if ep.client != nil {
			ep.client.Close()
			ep.client = nil
		}
		<-ep.sem
	}
}

func (c *Conns) endpoint(addr string) (*endpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("connection pool is closed")
	}
	ep, ok := c.eps[addr]
	if !ok {
		return nil, fmt.Errorf("endpoint %s is not registered", addr)
	}
	return ep, nil
}

// with runs fn with exclusive use of the endpoint's client, addressed to unit.
func (c *Conns) with(ctx context.Context, addr string, unit uint8, fn func(busClient) error) error {
	ep, err := c.endpoint(addr)
	if err != nil {
		return err
	}
	if ep.parseErr != nil {
		return ep.parseErr
	}
	select {
	case ep.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", addr, ctx.Err())
	}
	defer func() { <-ep.sem }()
	cl, err := c.open(ctx, ep)
	if err != nil {
		return err
	}
	if err := cl.SetUnitId(unit); err != nil {
		return err
	}
	err = fn(cl)
	if err != nil {
		if _, ok := asException(err); !ok {
			c.log.Debug("fieldbus: closing connection after error", "endpoint", addr, "err", err)
			cl.Close()
			ep.client = nil
		}
	}
	return err
}

// open returns the endpoint's client, connecting if needed. A connect is given the
// endpoint's timeout; if it takes longer it is left to finish in the background and
// picked up by a later call. The caller holds ep.sem.
func (c *Conns) open(ctx context.Context, ep *endpoint) (busClient, error) {
	if ep.client != nil {
		return ep.client, nil
	}
	d := ep.dial
	if d == nil {
		cl, err := newClient(ep.ep, ep.timeout, c.log)
		if err != nil {
			return nil, fmt.Errorf("connect %s: %w", ep.addr, err)
		}
		d = &dialing{done: make(chan struct{}), client: cl}
		go func() {
			d.err = cl.Open()
			close(d.done)
		}()
	}
	timer := time.NewTimer(ep.timeout)
	defer timer.Stop()
	select {
	case <-d.done:
		ep.dial = nil
		if d.err != nil {
			return nil, fmt.Errorf("connect %s: %w", ep.addr, d.err)
		}
		ep.client = d.client
		return ep.client, nil
	case <-timer.C:
		ep.dial = d
		return nil, fmt.Errorf("connect %s: %w after %v", ep.addr, ErrTimeout, ep.timeout)
	case <-ctx.Done():
		ep.dial = d
		return nil, fmt.Errorf("connect %s: %w", ep.addr, ctx.Err())
	}
}

// Close closes every connection. Using the pool afterwards fails.
func (c *Conns) Close() error {
	c.mu.Lock()
	c.closed = true
	eps := c.eps
	c.mu.Unlock()
	var errs []error
	for _, ep := range eps {
		ep.sem <- struct{}{}
		if ep.client != nil {
			if err := ep.client.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", ep.addr, err))
			}
			ep.client = nil
		}
		if d := ep.dial; d != nil {
			go func() {
				<-d.done
				if d.err == nil {
					d.client.Close()
				}
			}()
			ep.dial = nil
		}
		<-ep.sem
	}
	return errors.Join(errs...)
}
