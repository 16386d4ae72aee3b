package sim

import (
	"time"

	"github.com/simonvetter/modbus"

	"github.com/gridd/gridd/fieldbus"
)

// unit finds the device addressed by a request and plays out its fault. It returns
// the device, its fault, and an error to answer with instead of serving.
func (srv *server) unit(id uint8) (*device, Fault, error) {
	s := srv.sim
	d, ok := srv.units[id]
	if !ok {
		return nil, FaultNone, modbus.ErrGWTargetFailedToRespond
	}
	for {
		s.mu.Lock()
		f, ch, delay := d.fault, s.faultCh, s.slowDelay
		if d.slow > 0 {
			delay = d.slow
		}
		s.mu.Unlock()
		switch f {
		case FaultNoAnswer:
			select {
			case <-ch:
				// The fault changed: the held request is answered with an
				// exception, never served late.
				s.mu.Lock()
				f = d.fault
				s.mu.Unlock()
				if f == FaultNoAnswer {
					continue
				}
				return nil, f, modbus.ErrServerDeviceFailure
			case <-s.stopped:
				return nil, f, modbus.ErrServerDeviceFailure
			}
		case FaultSlow:
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.stopped:
				t.Stop()
				return nil, f, modbus.ErrServerDeviceFailure
			}
		case FaultException:
			return nil, f, modbus.ErrServerDeviceFailure
		}
		return d, f, nil
	}
}

// readRegs serves a register read from the device's profile.
func (srv *server) readRegs(table fieldbus.RegisterTable, unit uint8, addr, qty uint16) ([]uint16, error) {
	d, f, err := srv.unit(unit)
	if err != nil {
		return nil, err
	}
	s := srv.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clk.Now())
	out := make([]uint16, qty)
	start, end := int(addr), int(addr)+int(qty)
	hit := false
	for i := range d.prof.Points {
		pt := &d.prof.Points[i]
		ps, pe := int(pt.Address), int(pt.Address)+pt.Width()
		if pt.Register != table || pe <= start || ps >= end {
			continue
		}
		hit = true
		var regs []uint16
		if f == FaultGarbage && (d.garbagePoint == "" || d.garbagePoint == pt.Name) {
			regs = make([]uint16, pt.Width())
			for k := range regs {
				regs[k] = 0xFFFF
				if table.IsBit() {
					regs[k] = 1
				}
			}
		} else if pt.Type == fieldbus.String {
			regs, err = pt.EncodeText(s.textValue(d, pt))
			if err != nil {
				s.log.Warn("sim: text does not fit the profile", "device", d.cfg.ID, "point", pt.Name, "err", err)
				return nil, modbus.ErrServerDeviceFailure
			}
		} else {
			v := s.pointValue(d, pt.Name)
			regs, err = pt.Encode(v)
			if err != nil {
				s.log.Warn("sim: value does not fit the profile", "device", d.cfg.ID, "point", pt.Name, "value", v, "err", err)
				return nil, modbus.ErrServerDeviceFailure
			}
		}
		for k, r := range regs {
			if a := ps + k; a >= start && a < end {
				out[a-start] = r
			}
		}
	}
	if !hit {
		return nil, modbus.ErrIllegalDataAddress
	}
	return out, nil
}

// writeRegs applies a register write: it must cover whole rw points only, and every
// value must lie inside the profile limits.
func (srv *server) writeRegs(table fieldbus.RegisterTable, unit uint8, addr uint16, args []uint16) error {
	d, f, err := srv.unit(unit)
	if err != nil {
		return err
	}
	start, end := int(addr), int(addr)+len(args)
	covered := 0
	type upd struct {
		pt *fieldbus.Point
		v  float64
	}
	var ups []upd
	for i := range d.prof.Points {
		pt := &d.prof.Points[i]
		ps, pe := int(pt.Address), int(pt.Address)+pt.Width()
		if pt.Register != table || pe <= start || ps >= end {
			continue
		}
		if !pt.Writable() || ps < start || pe > end {
			return modbus.ErrIllegalDataAddress
		}
		v, err := pt.Decode(args[ps-start : pe-start])
		if err != nil {
			return modbus.ErrIllegalDataValue
		}
		covered += pt.Width()
		ups = append(ups, upd{pt, v})
	}
	if covered != len(args) {
		return modbus.ErrIllegalDataAddress
	}
	if f == FaultIgnoreWrites {
		return nil
	}
	s := srv.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clk.Now())
	for _, u := range ups {
		s.apply(d, u.pt.Name, u.v)
	}
	return nil
}

// apply writes a value to a device's point (a command for its watchdog); s.mu is
// held and the plant advanced to now.
func (s *Sim) apply(d *device, name string, v float64) {
	now := s.clk.Now()
	d.pd.Command(now)
	switch {
	case name == "setpoint_kw" && d.pd.Battery != nil:
		d.pd.Battery.SetpointKW = v
	case name == "setpoint_kw" && d.pd.EV != nil:
		d.pd.EV.SetpointKW, d.pd.EV.SetAt = v, now
	case name == "power_limit_kw" && d.pd.PV != nil:
		d.pd.PV.LimitKW = v
	default:
		d.written[name] = v
	}
	s.log.Debug("sim: write", "device", d.cfg.ID, "point", name, "value", v)
}

// HandleCoils implements modbus.RequestHandler.
func (srv *server) HandleCoils(req *modbus.CoilsRequest) ([]bool, error) {
	if req.IsWrite {
		args := make([]uint16, len(req.Args))
		for i, b := range req.Args {
			if b {
				args[i] = 1
			}
		}
		return nil, srv.writeRegs(fieldbus.Coil, req.UnitId, req.Addr, args)
	}
	return srv.readBits(fieldbus.Coil, req.UnitId, req.Addr, req.Quantity)
}

// HandleDiscreteInputs implements modbus.RequestHandler.
func (srv *server) HandleDiscreteInputs(req *modbus.DiscreteInputsRequest) ([]bool, error) {
	return srv.readBits(fieldbus.Discrete, req.UnitId, req.Addr, req.Quantity)
}

// HandleHoldingRegisters implements modbus.RequestHandler.
func (srv *server) HandleHoldingRegisters(req *modbus.HoldingRegistersRequest) ([]uint16, error) {
	if req.IsWrite {
		return nil, srv.writeRegs(fieldbus.Holding, req.UnitId, req.Addr, req.Args)
	}
	return srv.readRegs(fieldbus.Holding, req.UnitId, req.Addr, req.Quantity)
}

// HandleInputRegisters implements modbus.RequestHandler.
func (srv *server) HandleInputRegisters(req *modbus.InputRegistersRequest) ([]uint16, error) {
	return srv.readRegs(fieldbus.Input, req.UnitId, req.Addr, req.Quantity)
}

func (srv *server) readBits(table fieldbus.RegisterTable, unit uint8, addr, qty uint16) ([]bool, error) {
	regs, err := srv.readRegs(table, unit, addr, qty)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(regs))
	for i, r := range regs {
		out[i] = r != 0
	}
	return out, nil
}

// textValue is what a simulated device reports in a string point, cut to the point's
// length.
func (s *Sim) textValue(d *device, pt *fieldbus.Point) string {
	var t string
	switch pt.Name {
	case "manufacturer":
		t = "gridd"
	case "model":
		t = d.prof.Name
	case "serial_number":
		t = d.cfg.ID
	case "firmware_version":
		t = "sim-1"
	}
	if len(t) > 2*pt.Length {
		t = t[:2*pt.Length]
	}
	return t
}
