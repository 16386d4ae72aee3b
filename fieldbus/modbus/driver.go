package modbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/simonvetter/modbus"

	"github.com/gridd/gridd/fieldbus"
)

// init registers the driver for every scheme of ParseEndpoint (Schemes).
func init() {
	for _, s := range Schemes() {
		fieldbus.Register(s, Driver{})
	}
}

// Driver is the fieldbus driver for Modbus over every transport of ParseEndpoint.
type Driver struct{}

// CheckEndpoint parses the endpoint (ParseEndpoint). The error says what is wrong
// without repeating the endpoint: site validation and CheckSite name the field and
// the value.
func (Driver) CheckEndpoint(endpoint string) error {
	_, err := ParseEndpoint(endpoint)
	return reason(endpoint, err)
}

// VerifyEndpoint parses the endpoint and, for TLS, loads its certificate files.
func (Driver) VerifyEndpoint(endpoint string) error {
	e, err := ParseEndpoint(endpoint)
	if err != nil {
		return reason(endpoint, err)
	}
	if e.Transport == TLS {
		if _, _, err := loadTLS(e); err != nil {
			return err
		}
	}
	return nil
}

// CheckProfile accepts Modbus register maps (protocol modbus) only.
func (Driver) CheckProfile(p *fieldbus.Profile) error {
	if p.Protocol != "" && p.Protocol != fieldbus.ProtocolModbus {
		return fmt.Errorf("profile %s is for protocol %s; a Modbus endpoint needs a register map (protocol modbus)", p.Name, p.Protocol)
	}
	return nil
}

// reasonError is a ParseEndpoint error without its leading endpoint value.
type reasonError struct {
	msg string
	err error
}

func (e *reasonError) Error() string { return e.msg }
func (e *reasonError) Unwrap() error { return e.err }

func reason(endpoint string, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, prefix := range []string{fmt.Sprintf("endpoint %q: ", endpoint), fmt.Sprintf("%q: ", endpoint)} {
		if strings.HasPrefix(msg, prefix) {
			return &reasonError{msg: msg[len(prefix):], err: err}
		}
	}
	return err
}

const (
	connsKey = "modbus.conns"
	planKey  = "modbus.plan"
)

// WithConns makes a fieldbus.Poller or Writer use a shared Modbus connection pool.
// The caller closes the pool; Poller.Close and Writer.Close leave it open.
func WithConns(c *Conns) fieldbus.Option { return fieldbus.WithResource(connsKey, c) }

// WithPlanOptions sets how a fieldbus.Poller merges Modbus reads (default
// DefaultPlanOptions()).
func WithPlanOptions(p PlanOptions) fieldbus.Option { return fieldbus.WithSetting(planKey, p) }

// Open plans the device's reads and registers its endpoint in the connection pool
// of env.Shared (one connection per endpoint, shared by the devices behind it).
func (Driver) Open(d fieldbus.Device, env fieldbus.Env) (fieldbus.Session, error) {
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	shared := env.Shared
	if shared == nil {
		shared = fieldbus.NewShared()
	}
	conns := shared.Get(connsKey, func() io.Closer { return NewConns(log) }).(*Conns)
	conns.register(d.Endpoint, d.RequestTimeout())
	if d.Profile == nil {
		return nil, errors.New("no profile")
	}
	if err := (Driver{}).CheckProfile(d.Profile); err != nil {
		return nil, err
	}
	opts := DefaultPlanOptions()
	if v, ok := env.Setting(planKey); ok {
		opts = v.(PlanOptions)
	}
	reads, err := PlanReads(d.Profile.Points, opts)
	if err != nil {
		return nil, err
	}
	if d.UnitID < 0 || d.UnitID > 255 {
		return nil, fmt.Errorf("unit_id %d out of range 0..255", d.UnitID)
	}
	return &session{dev: d, conns: conns, reads: reads, unit: uint8(d.UnitID)}, nil
}

type session struct {
	dev   fieldbus.Device
	conns *Conns
	reads []Read
	unit  uint8
}

// timeoutError marks the library's timeouts as fieldbus.ErrTimeout too; its text is
// the wrapped error's.
type timeoutError struct{ error }

func (e timeoutError) Unwrap() error        { return e.error }
func (e timeoutError) Is(target error) bool { return target == fieldbus.ErrTimeout }

func markTimeout(err error) error {
	if err != nil && errors.Is(err, ErrTimeout) {
		return timeoutError{err}
	}
	return err
}

// Read performs the planned reads not done yet (a.Next on), each retried on the same
// connection for SERVER DEVICE BUSY and ACKNOWLEDGE within the retry budget. An
// exception answer makes its points bad; any other error ends the attempt.
func (s *session) Read(ctx context.Context, a *fieldbus.ReadAttempt) error {
	pts := s.dev.Profile.Points
	err := s.conns.with(ctx, s.dev.Endpoint, s.unit, func(cl busClient) error {
		for ; a.Next < len(s.reads); a.Next++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			rd := s.reads[a.Next]
			regs, err := readRetrying(ctx, cl, rd, a.Attempt, a.Retry)
			if err != nil {
				if ex, ok := asException(err); ok {
					err := fmt.Errorf("read %s %d..%d: %w", rd.Table, rd.Address, rd.End()-1, ex)
					for _, pi := range rd.Points {
						a.Points[pi] = fieldbus.PointRead{Done: true, Err: err}
					}
					continue
				}
				return fmt.Errorf("read %s %d..%d: %w", rd.Table, rd.Address, rd.End()-1, err)
			}
			for _, pi := range rd.Points {
				pt := &pts[pi]
				off := int(pt.Address) - int(rd.Address)
				w := regs[off : off+pt.Width()]
				pr := fieldbus.PointRead{Done: true}
				if pt.Type == fieldbus.String {
					pr.Text, pr.Err = pt.DecodeText(w)
				} else if pr.Value, pr.Err = pt.Decode(w); pr.Err == nil && pt.HasText() {
					pr.Text = pt.Symbol(pr.Value)
				}
				a.Points[pi] = pr
			}
		}
		return nil
	})
	return markTimeout(err)
}

// readRetrying performs one read, retrying the transient exceptions SERVER DEVICE
// BUSY and ACKNOWLEDGE on the same connection within the retry budget left after
// attempt device-level attempts.
func readRetrying(ctx context.Context, cl busClient, rd Read, attempt int, retry fieldbus.Retry) ([]uint16, error) {
	backoff := retry.Backoff
	for {
		regs, err := readBlock(cl, rd)
		if err == nil || attempt >= retry.Attempts || !(errors.Is(err, ErrServerDeviceBusy) || errors.Is(err, ErrAcknowledge)) {
			return regs, err
		}
		if !fieldbus.Sleep(ctx, backoff) {
			return regs, err
		}
		attempt++
		backoff *= 2
	}
}

// Write encodes value, writes it and reads the registers back.
func (s *session) Write(ctx context.Context, pt *fieldbus.Point, value float64) (float64, error) {
	regs, err := pt.Encode(value)
	if err != nil {
		return 0, &fieldbus.WriteError{Stage: "encode", Err: err}
	}
	var back []uint16
	stage := "write"
	err = s.conns.with(ctx, s.dev.Endpoint, s.unit, func(cl busClient) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeBlock(cl, pt, regs); err != nil {
			return err
		}
		stage = "read-back"
		var err error
		back, err = readBlock(cl, Read{Table: pt.Register, Address: pt.Address, Count: uint16(pt.Width())})
		return err
	})
	if err != nil {
		if ex, ok := asException(err); ok {
			err = ex
		}
		return 0, &fieldbus.WriteError{Stage: stage, Err: markTimeout(err)}
	}
	rb, err := pt.DecodeUnchecked(back)
	if err != nil {
		return 0, &fieldbus.WriteError{Stage: "decode", Err: err}
	}
	return rb, nil
}

// Close does nothing: the connection belongs to the pool.
func (s *session) Close() error { return nil }

// readBlock performs one planned read, returning bits as 0/1 registers.
func readBlock(cl busClient, rd Read) ([]uint16, error) {
	switch rd.Table {
	case fieldbus.Holding:
		return cl.ReadRegisters(rd.Address, rd.Count, modbus.HOLDING_REGISTER)
	case fieldbus.Input:
		return cl.ReadRegisters(rd.Address, rd.Count, modbus.INPUT_REGISTER)
	case fieldbus.Coil, fieldbus.Discrete:
		var bits []bool
		var err error
		if rd.Table == fieldbus.Coil {
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

func writeBlock(cl busClient, pt *fieldbus.Point, regs []uint16) error {
	switch pt.Register {
	case fieldbus.Coil:
		return cl.WriteCoil(pt.Address, regs[0] != 0)
	case fieldbus.Holding:
		if len(regs) == 1 {
			return cl.WriteRegister(pt.Address, regs[0])
		}
		return cl.WriteRegisters(pt.Address, regs)
	}
	return fmt.Errorf("%s points cannot be written", pt.Register)
}
