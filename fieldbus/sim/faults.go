package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// FaultSetting is one device's fault in a fault spec.
type FaultSetting struct {
	Device string
	Fault  Fault
	// Delay is the response delay of a slow device (0: the simulator's slow delay).
	Delay time.Duration
	// Point limits a garbage fault to one point ("": every point).
	Point string
}

// ParseFault returns the fault named s: none, no-answer, slow, exception, garbage or
// ignore-writes.
func ParseFault(s string) (Fault, error) {
	for f, name := range faultNames {
		if name == s {
			return f, nil
		}
	}
	names := make([]string, 0, len(faultNames))
	for _, n := range faultNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return FaultNone, fmt.Errorf("unknown fault %q (want one of %s)", s, strings.Join(names, ", "))
}

// ParseFaults reads a fault spec, a comma-separated list of DEVICE=FAULT, where a slow
// fault may carry its delay and a garbage fault the one point it garbles:
// "pv=no-answer,load=slow:250ms,bess=garbage:soc_pct". Each device may appear once.
func ParseFaults(spec string) ([]FaultSetting, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	var out []FaultSetting
	seen := map[string]bool{}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		id, fault, ok := strings.Cut(item, "=")
		if !ok || id == "" || fault == "" {
			return nil, fmt.Errorf("fault %q: want DEVICE=FAULT (e.g. pv=no-answer or load=slow:250ms)", item)
		}
		if seen[id] {
			return nil, fmt.Errorf("fault %q: device %s given twice", item, id)
		}
		seen[id] = true
		fs := FaultSetting{Device: id}
		name, delay, hasDelay := strings.Cut(fault, ":")
		f, err := ParseFault(name)
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w", item, err)
		}
		fs.Fault = f
		if hasDelay && f == FaultGarbage {
			if delay == "" {
				return nil, fmt.Errorf("fault %q: garbage: want a point name after the colon", item)
			}
			fs.Point = delay
		} else if hasDelay {
			if f != FaultSlow {
				return nil, fmt.Errorf("fault %q: only slow takes a delay (and garbage a point)", item)
			}
			d, err := time.ParseDuration(delay)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("fault %q: delay %q: want a positive duration such as 250ms", item, delay)
			}
			fs.Delay = d
		}
		out = append(out, fs)
	}
	return out, nil
}

// ApplyFaults sets every fault of a parsed spec. An unknown device is an error and
// nothing is changed.
func (s *Sim) ApplyFaults(settings []FaultSetting) error {
	s.mu.Lock()
	for _, fs := range settings {
		d, ok := s.byID[fs.Device]
		if !ok {
			s.mu.Unlock()
			return fmt.Errorf("sim: fault for unknown device %q (have %s)", fs.Device, strings.Join(s.Devices(), ", "))
		}
		if _, has := d.prof.Point(fs.Point); fs.Point != "" && !has {
			s.mu.Unlock()
			return fmt.Errorf("sim: fault for device %s: its profile has no point %q", fs.Device, fs.Point)
		}
	}
	for _, fs := range settings {
		s.byID[fs.Device].slow = fs.Delay
		s.byID[fs.Device].garbagePoint = fs.Point
	}
	s.mu.Unlock()
	for _, fs := range settings {
		if err := s.SetFault(fs.Device, fs.Fault); err != nil {
			return err
		}
	}
	return nil
}
