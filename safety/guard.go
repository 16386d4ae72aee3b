package safety

import (
	"context"
	"time"

	"github.com/gridd/gridd/fieldbus"
)

// Writer is what Guard wraps: a fieldbus writer with read-back.
type Writer interface {
	Write(ctx context.Context, deviceID, point string, value float64) (fieldbus.WriteResult, error)
}

// Guard refuses any write outside the envelope and records confirmed writes in it.
type Guard struct {
	Env   *Envelope
	Inner Writer
	// Now returns the time writes are checked at.
	Now func() time.Time
}

// Write checks value against the envelope, writes it, and on a matching read-back
// records it as the device's last written value.
func (g *Guard) Write(ctx context.Context, deviceID, point string, value float64) (fieldbus.WriteResult, error) {
	at := g.Now()
	if err := g.Env.Check(deviceID, point, value, at); err != nil {
		return fieldbus.WriteResult{DeviceID: deviceID, Point: point, Requested: value}, err
	}
	res, err := g.Inner.Write(ctx, deviceID, point, value)
	if err == nil && !res.Mismatch {
		g.Env.Written(deviceID, res.Written, at)
	}
	return res, err
}
