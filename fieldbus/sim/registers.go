package sim

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/simonvetter/modbus"

	fbmodbus "github.com/gridd/gridd/fieldbus/modbus"
)

// Registers serves a fixed image of holding registers (for example a SunSpec map
// from modbus.EncodeSunSpec) for one unit id over Modbus TCP, TLS or RTU over TCP. Input registers read
// the same image. Reads outside the image get ILLEGAL DATA ADDRESS, another unit id
// GATEWAY TARGET DEVICE FAILED TO RESPOND; writes inside the image are applied.
type Registers struct {
	unit uint8
	base uint16
	mu   sync.Mutex
	regs []uint16
	ms   stopper
}

// ServeRegisters listens on endpoint (host:port for Modbus TCP, or
// rtuovertcp://host:port) and serves regs starting at base.
func ServeRegisters(endpoint string, unit uint8, base uint16, regs []uint16, log *slog.Logger) (*Registers, error) {
	e, err := fbmodbus.ParseEndpoint(endpoint)
	if err != nil {
		return nil, fmt.Errorf("sim: serve registers: %w", err)
	}
	return serveRegisters(e, unit, base, regs, nil, log)
}

// ServeRegistersTLS is ServeRegisters over Modbus/TCP Security on addr (host:port):
// clients must present a certificate that chains to t.ClientCAs.
func ServeRegistersTLS(addr string, unit uint8, base uint16, regs []uint16, t TLSServer, log *slog.Logger) (*Registers, error) {
	return serveRegisters(fbmodbus.Endpoint{Transport: fbmodbus.TLS, Addr: addr}, unit, base, regs, &t, log)
}

func serveRegisters(e fbmodbus.Endpoint, unit uint8, base uint16, regs []uint16, t *TLSServer, log *slog.Logger) (*Registers, error) {
	endpoint := e.String()
	if log == nil {
		log = slog.Default()
	}
	if int(base)+len(regs) > 65536 {
		return nil, fmt.Errorf("sim: %d registers from %d run past 65535", len(regs), base)
	}
	r := &Registers{unit: unit, base: base, regs: append([]uint16(nil), regs...)}
	ms, err := listenOn(e, r, t, 64, log)
	if err != nil {
		return nil, fmt.Errorf("sim: serve registers on %s: %w", endpoint, err)
	}
	r.ms = ms
	return r, nil
}

// NewRegisters returns the handler without listening anywhere, to be served with
// ServeRTU or ServeASCII (for example on a pseudo-terminal standing in for a serial
// line).
func NewRegisters(unit uint8, base uint16, regs []uint16) (*Registers, error) {
	if int(base)+len(regs) > 65536 {
		return nil, fmt.Errorf("sim: %d registers from %d run past 65535", len(regs), base)
	}
	return &Registers{unit: unit, base: base, regs: append([]uint16(nil), regs...)}, nil
}

// Stop closes the endpoint (nothing for a handler from NewRegisters).
func (r *Registers) Stop() error {
	if r.ms == nil {
		return nil
	}
	return r.ms.Stop()
}

func (r *Registers) span(unit uint8, addr, qty uint16) (int, error) {
	if unit != r.unit {
		return 0, modbus.ErrGWTargetFailedToRespond
	}
	start := int(addr) - int(r.base)
	if start < 0 || start+int(qty) > len(r.regs) {
		return 0, modbus.ErrIllegalDataAddress
	}
	return start, nil
}

func (r *Registers) serve(unit uint8, addr, qty uint16, write bool, args []uint16) ([]uint16, error) {
	start, err := r.span(unit, addr, qty)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if write {
		copy(r.regs[start:], args)
		return nil, nil
	}
	return append([]uint16(nil), r.regs[start:start+int(qty)]...), nil
}

// HandleCoils implements modbus.RequestHandler: there are no coils.
func (r *Registers) HandleCoils(*modbus.CoilsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalDataAddress
}

// HandleDiscreteInputs implements modbus.RequestHandler: there are no discrete inputs.
func (r *Registers) HandleDiscreteInputs(*modbus.DiscreteInputsRequest) ([]bool, error) {
	return nil, modbus.ErrIllegalDataAddress
}

// HandleHoldingRegisters implements modbus.RequestHandler.
func (r *Registers) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	return r.serve(req.UnitId, req.Addr, req.Quantity, req.IsWrite, req.Args)
}

// HandleInputRegisters implements modbus.RequestHandler.
func (r *Registers) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return r.serve(req.UnitId, req.Addr, req.Quantity, false, nil)
}
