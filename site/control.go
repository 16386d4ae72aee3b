package site

import (
	"time"
)

// Control configures the real-time layer that holds the plan's intent between
// cycles (see package control and dispatch.Service.ControlTick).
type Control struct {
	// Disabled turns the real-time layer off: setpoints are then written only by the
	// cycle, approvals, overrides and the kill switch.
	Disabled bool `yaml:"disabled"`
	// Interval between corrections; default 2s. It must be at least the slowest
	// device's request timeout (a correction polls every device) and short enough to
	// keep every command watchdog alive.
	Interval Duration `yaml:"interval"`
	// DeadbandKW: a corrected setpoint is written only when it moves at least this
	// far from the value in force; default 0.5.
	DeadbandKW float64 `yaml:"deadband_kw"`
}

// DefaultControlInterval is control.interval when the config leaves it out.
const DefaultControlInterval = 2 * time.Second

func (c *Config) applyControlDefaults() {
	if c.Control.Interval.D == 0 {
		c.Control.Interval.D = DefaultControlInterval
	}
	if c.Control.DeadbandKW == 0 {
		c.Control.DeadbandKW = 0.5
	}
}

func (c *Config) validateControl(v *validator) {
	ct := &c.Control
	if ct.Interval.D < 100*time.Millisecond || ct.Interval.D > c.Site.Step.D && c.Site.Step.D > 0 {
		v.add("control.interval", ct.Interval.D.String(), "must be between 100ms and the step (%s)", c.Site.Step.D)
	} else {
		// A correction polls every device: the interval must leave room for the
		// slowest device's request.
		for _, d := range c.Devices {
			if d.Timeout.D > ct.Interval.D {
				v.add("control.interval", ct.Interval.D.String(), "is below the poll time of device %s (timeout %s): a correction could not read it before the next one starts", d.ID, d.Timeout.D)
				break
			}
		}
	}
	if v.finite("control.deadband_kw", ct.DeadbandKW) && (ct.DeadbandKW < 0 || ct.DeadbandKW > 1000) {
		v.add("control.deadband_kw", fmtF(ct.DeadbandKW), "must be in [0, 1000]")
	}
}
