package fieldbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/gridd/gridd/clock"
)

// ErrNotWritable is returned for a point that is not access rw.
var ErrNotWritable = errors.New("point is not writable")

// ErrOutOfLimits is returned for a value outside a point's profile limits.
var ErrOutOfLimits = errors.New("value outside the profile limits")

// WriteResult reports one setpoint write.
type WriteResult struct {
	DeviceID, Point string
	// Requested is the value asked for; Written the value actually encoded (quantised
	// to the register's resolution); ReadBack what the device reported afterwards.
	Requested, Written, ReadBack float64
	// Mismatch is true when ReadBack differs from Written by more than half a step.
	Mismatch bool
	Time     time.Time
}

// Writer writes setpoints with read-back.
type Writer struct {
	devs     map[string]*Device
	conns    *Conns
	ownConns bool
	clk      clock.Clock
	log      *slog.Logger
}

// NewWriter prepares writing to devices.
func NewWriter(devices []Device, clk clock.Clock, log *slog.Logger, opts ...Option) *Writer {
	if log == nil {
		log = slog.Default()
	}
	o, own := buildOptions(log, opts)
	w := &Writer{devs: map[string]*Device{}, conns: o.conns, ownConns: own, clk: clk, log: log}
	for i := range devices {
		d := devices[i]
		w.devs[d.ID] = &d
		o.conns.register(d.Endpoint, d.timeout())
	}
	return w
}

// Write sets a writable point to value and reads it back. Only points marked rw are
// written, and only with values inside the profile limits: anything else is refused
// with an error naming device, point, value and limits, and nothing is sent. The value
// is quantised to the register's resolution (WriteResult.Written). Modbus exceptions
// come back wrapped in *ExceptionError (errors.Is works with ErrIllegalDataValue etc.).
// If the write succeeded but the read-back failed, the result carries Written and the
// error says so.
func (w *Writer) Write(ctx context.Context, deviceID, point string, value float64) (WriteResult, error) {
	res := WriteResult{DeviceID: deviceID, Point: point, Requested: value}
	d, ok := w.devs[deviceID]
	if !ok {
		return res, fmt.Errorf("write %s.%s: unknown device %q", deviceID, point, deviceID)
	}
	if d.Profile == nil {
		return res, fmt.Errorf("write %s.%s: device has no profile", deviceID, point)
	}
	pt, ok := d.Profile.Point(point)
	if !ok {
		return res, fmt.Errorf("write %s.%s: profile %s has no point %q", deviceID, point, d.Profile.Name, point)
	}
	if !pt.Writable() {
		return res, fmt.Errorf("write %s.%s = %s: %w (profile %s marks it access %s)", deviceID, point, fmtNum(value), ErrNotWritable, d.Profile.Name, pt.Access)
	}
	if !finite(value) {
		return res, fmt.Errorf("write %s.%s = %v: refused, not a finite number", deviceID, point, value)
	}
	limits := func(v float64) error {
		return fmt.Errorf("write %s.%s = %s %s: refused, %w %s..%s %s (profile %s)",
			deviceID, point, fmtNum(v), pt.Unit, ErrOutOfLimits, fmtNum(pt.Min), fmtNum(pt.Max), pt.Unit, d.Profile.Name)
	}
	if !pt.InLimits(value) {
		return res, limits(value)
	}
	written, err := pt.Quantize(value)
	if err != nil {
		return res, fmt.Errorf("write %s.%s = %s: %w", deviceID, point, fmtNum(value), err)
	}
	if !pt.InLimits(written) {
		return res, fmt.Errorf("%w (after quantising %s to the register's %g step)", limits(written), fmtNum(value), pt.Step())
	}
	regs, err := pt.Encode(written)
	if err != nil {
		return res, fmt.Errorf("write %s.%s = %s: %w", deviceID, point, fmtNum(value), err)
	}
	unit, err := d.unit()
	if err != nil {
		return res, err
	}
	var back []uint16
	var stage string
	err = w.conns.with(ctx, d.Endpoint, unit, func(cl busClient) error {
		if err := ctx.Err(); err != nil {
			stage = "write"
			return err
		}
		stage = "write"
		if err := writeBlock(cl, pt, regs); err != nil {
			return err
		}
		res.Written = written
		stage = "read-back"
		var err error
		back, err = readBlock(cl, Read{Table: pt.Register, Address: pt.Address, Count: uint16(pt.Width())})
		return err
	})
	res.Time = w.clk.Now()
	if err != nil {
		if ex, ok := asException(err); ok {
			err = ex
		}
		w.log.Warn("fieldbus: setpoint write failed", "device", deviceID, "point", point, "value", value, "stage", stage, "err", err)
		return res, fmt.Errorf("write %s.%s = %s at %s unit %d: %s: %w", deviceID, point, fmtNum(written), d.Endpoint, unit, stage, err)
	}
	rb, err := pt.decodeValue(back)
	if err != nil {
		return res, fmt.Errorf("write %s.%s = %s: read-back: %w", deviceID, point, fmtNum(written), err)
	}
	res.ReadBack = rb
	res.Mismatch = math.Abs(rb-written) > pt.Tolerance(written)
	lvl := slog.LevelInfo
	if res.Mismatch {
		lvl = slog.LevelWarn
	}
	w.log.Log(ctx, lvl, "fieldbus: setpoint written", "device", deviceID, "point", point,
		"requested", value, "written", written, "read_back", rb, "mismatch", res.Mismatch)
	return res, nil
}

func writeBlock(cl busClient, pt *Point, regs []uint16) error {
	switch pt.Register {
	case Coil:
		return cl.WriteCoil(pt.Address, regs[0] != 0)
	case Holding:
		if len(regs) == 1 {
			return cl.WriteRegister(pt.Address, regs[0])
		}
		return cl.WriteRegisters(pt.Address, regs)
	}
	return fmt.Errorf("%s points cannot be written", pt.Register)
}

// Close closes the writer's connections (unless they belong to a shared pool).
func (w *Writer) Close() error {
	if w.ownConns {
		return w.conns.Close()
	}
	return nil
}
