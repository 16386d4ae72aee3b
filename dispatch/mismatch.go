package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/gridd/gridd/storage"
)

// writeMismatch raises the alarm for a write whose read-back did not match: an error
// log, a device.write_mismatch audit event, and the device's comms state, which turns
// not_following after repeated mismatches (safety.Envelope.WriteMismatch), audited
// like every comms transition.
func (s *Service) writeMismatch(ctx context.Context, at time.Time, w storage.SetpointWrite) {
	s.log.Error("ALARM: device did not take the written setpoint", "device", w.DeviceID, "point", w.Point, "written", w.WrittenKW, "read_back", w.ReadBackKW)
	s.auditData(ctx, at, "system", "device.write_mismatch", "device:"+w.DeviceID,
		fmt.Sprintf("%s.%s: wrote %g, read back %g", w.DeviceID, w.Point, w.WrittenKW, w.ReadBackKW), w)
	s.raiseAlarm(ctx, at, "write.mismatch:"+w.DeviceID, SeverityWarning, "device:"+w.DeviceID,
		fmt.Sprintf("%s did not take its setpoint: wrote %g, read back %g", w.DeviceID, w.WrittenKW, w.ReadBackKW))
	if tr := s.env.WriteMismatch(w.DeviceID); tr != nil {
		text := fmt.Sprintf("comms %s → %s after %d write mismatches in a row: the device does not follow its setpoints", tr.From, tr.To, tr.Missed)
		s.auditData(ctx, at, "system", "device.comms", "device:"+w.DeviceID, text, tr)
		s.raiseAlarm(ctx, at, "control.not_following:"+w.DeviceID, SeverityCritical, "device:"+w.DeviceID, w.DeviceID+" "+text)
	}
}

// writeFollowed clears the write alarms of a device whose write read back as written.
func (s *Service) writeFollowed(ctx context.Context, at time.Time, id string) {
	s.clearAlarm(ctx, at, "write.mismatch:"+id, id+" took its setpoint")
	s.clearAlarm(ctx, at, "control.not_following:"+id, id+" follows its setpoints again")
}
