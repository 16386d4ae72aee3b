package fieldbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
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

// Writer writes setpoints with read-back through the driver registered for each
// device's endpoint scheme.
type Writer struct {
	devs      map[string]*written
	shared    *Shared
	ownShared bool
	clk       clock.Clock
	log       *slog.Logger
	metrics   atomic.Pointer[writeMetrics]
}

type written struct {
	Device
	sess    Session
	openErr error
	mu      sync.Mutex // one write at a time per session
}

// NewWriter prepares writing to devices: it opens each device with the driver of its
// endpoint's scheme. A device that cannot be opened refuses every write with the
// reason.
func NewWriter(devices []Device, clk clock.Clock, log *slog.Logger, opts ...Option) *Writer {
	if log == nil {
		log = slog.Default()
	}
	o, own := buildOptions(opts)
	w := &Writer{devs: map[string]*written{}, shared: o.shared, ownShared: own, clk: clk, log: log}
	env := o.env(clk, log)
	for i := range devices {
		d := &written{Device: devices[i]}
		if d.Profile != nil {
			d.sess, d.openErr = open(d.Device, env)
		}
		w.devs[d.ID] = d
	}
	return w
}

// Write sets a writable point to value and reads it back. Only points marked rw are
// written, and only with values inside the profile limits: anything else is refused
// with an error naming device, point, value and limits, and nothing is sent. The value
// is quantised to the point's resolution (WriteResult.Written). Protocol errors come
// back wrapped (Modbus exceptions as *modbus.ExceptionError; errors.Is works with
// modbus.ErrIllegalDataValue etc.). If the write succeeded but the read-back failed,
// the result carries Written and the error says so.
func (w *Writer) Write(ctx context.Context, deviceID, point string, value float64) (res WriteResult, err error) {
	defer func() { w.metrics.Load().observe(deviceID, res, err) }()
	return w.write(ctx, deviceID, point, value)
}

func (w *Writer) write(ctx context.Context, deviceID, point string, value float64) (WriteResult, error) {
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
	if d.openErr != nil {
		return res, fmt.Errorf("write %s.%s = %s: device %s: %w", deviceID, point, fmtNum(value), deviceID, d.openErr)
	}
	d.mu.Lock()
	rb, err := d.sess.Write(ctx, pt, written)
	d.mu.Unlock()
	res.Time = w.clk.Now()
	if err != nil {
		stage, cause := "write", err
		var we *WriteError
		if errors.As(err, &we) {
			stage, cause = we.Stage, we.Err
		}
		switch stage {
		case "encode":
			return res, fmt.Errorf("write %s.%s = %s: %w", deviceID, point, fmtNum(value), cause)
		case "decode":
			res.Written = written
			return res, fmt.Errorf("write %s.%s = %s: read-back: %w", deviceID, point, fmtNum(written), cause)
		case "read-back":
			res.Written = written
		}
		w.log.Warn("fieldbus: setpoint write failed", "device", deviceID, "point", point, "value", value, "stage", stage, "err", cause)
		return res, fmt.Errorf("write %s.%s = %s at %s unit %d: %s: %w", deviceID, point, fmtNum(written), d.Endpoint, d.UnitID, stage, cause)
	}
	res.Written = written
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

// Close closes the devices' sessions and the writer's shared resources (unless they
// were given by WithShared).
func (w *Writer) Close() error {
	var errs []error
	for _, d := range w.devs {
		if d.sess != nil {
			errs = append(errs, d.sess.Close())
		}
	}
	if w.ownShared {
		errs = append(errs, w.shared.Close())
	}
	return errors.Join(errs...)
}
