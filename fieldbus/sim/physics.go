package sim

import (
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/plant"
	"github.com/gridd/gridd/site"
)

// device is one simulated device: its physics (package plant) and what the wire
// adds to it.
type device struct {
	cfg  site.Device
	prof *fieldbus.Profile
	pd   *plant.Device

	fault Fault
	slow  time.Duration // FaultSlow delay of this device (0: the simulator's)
	// garbagePoint, if set, is the one point FaultGarbage garbles (all points when "").
	garbagePoint string

	// ev_charger: the user whose sessions it replays.
	timeline *sessionTimeline
	user     string

	// written holds values of writable points without physics (a profile's own
	// rw points beyond setpoint_kw and power_limit_kw).
	written map[string]float64
}

// seriesTrace is a bundled or file series as a plant.Trace: linear between the
// hours, times the device's sim.scale.
type seriesTrace struct {
	s     *series
	scale float64
	shift time.Duration // sim.shift: the series is read at t + shift
}

func (st seriesTrace) PowerKW(t time.Time) float64 { return st.s.at(t.Add(st.shift)) * st.scale }

func (st seriesTrace) NextKnot(t time.Time) time.Time { return t.Truncate(time.Hour).Add(time.Hour) }

// setpointKW is the setpoint in force on a battery or charger.
func (d *device) setpointKW() float64 {
	switch {
	case d.pd.Battery != nil:
		return d.pd.Battery.SetpointKW
	case d.pd.EV != nil:
		return d.pd.EV.SetpointKW
	}
	return 0
}

// limitKW is a PV plant's generation cap.
func (d *device) limitKW() float64 {
	if d.pd.PV != nil {
		return d.pd.PV.LimitKW
	}
	return 0
}

// advance integrates every device to t.
func (s *Sim) advance(t time.Time) { s.plant.Advance(t) }
