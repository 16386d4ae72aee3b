package safety

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gridd/gridd/site"
)

// Tolerance is how far a written value may lie outside the envelope because of the
// register's resolution (kW).
const Tolerance = 0.05

// Limits is one device's static envelope.
type Limits struct {
	DeviceID string
	Kind     string
	// Point is the setpoint the envelope governs: "setpoint_kw" (sign convention) or
	// "power_limit_kw" (a PV generation cap, non-negative).
	Point string
	MinKW float64
	MaxKW float64
	// RampKWPerMin bounds the change against the last written value; 0 = no limit.
	// Safe actions (ZeroKW, the comms-loss action, the safe state) are exempt.
	RampKWPerMin float64
	// Battery SoC interlocks (percent); all zero for other kinds.
	MinSoCPct, MaxSoCPct float64
	SoCGuardPct          float64
	ReserveSoCPct        float64
	// CommsLoss is the action once the device is lost: site.SafeHold, SafeLastSafe or SafeZero.
	CommsLoss string
	// ZeroKW is the value that stops the device's influence for the zero action: 0 for a
	// setpoint (no power); for a PV cap 0 (no generation).
	ZeroKW float64
}

// FromSite derives every controllable device's limits from the site config.
func FromSite(cfg *site.Config) []Limits {
	var out []Limits
	for i := range cfg.Devices {
		d := &cfg.Devices[i]
		if d.Kind != site.KindBESS && d.Kind != site.KindPV && d.Kind != site.KindEVCharger {
			continue
		}
		lo, hi := d.RatedRangeKW()
		l := Limits{DeviceID: d.ID, Kind: d.Kind, Point: "setpoint_kw", MinKW: lo, MaxKW: hi}
		if d.Kind == site.KindPV {
			l.Point = "power_limit_kw"
		}
		l.CommsLoss = defaultCommsLoss(d.Kind)
		if a, ok := cfg.Safety.CommsLoss[d.Kind]; ok && a != "" {
			l.CommsLoss = a
		}
		if d.BESS != nil {
			l.MinSoCPct, l.MaxSoCPct = d.BESS.MinSoCPct, d.BESS.MaxSoCPct
		}
		if s := d.Safety; s != nil {
			if s.MinKW != nil {
				l.MinKW = *s.MinKW
			}
			if s.MaxKW != nil {
				l.MaxKW = *s.MaxKW
			}
			l.RampKWPerMin = s.RampKWPerMin
			l.SoCGuardPct = s.SoCGuardPct
			if s.CommsLoss != "" {
				l.CommsLoss = s.CommsLoss
			}
		}
		l.ReserveSoCPct = cfg.ReserveSoCPct(d)
		l.ZeroKW = clamp(0, l.MinKW, l.MaxKW)
		out = append(out, l)
	}
	return out
}

func defaultCommsLoss(kind string) string {
	if kind == site.KindPV {
		return site.SafeHold
	}
	return site.SafeZero
}

// Validate checks the limits and names the first bad field.
func (l Limits) Validate() error {
	bad := func(field string, v any, msg string) error {
		return fmt.Errorf("safety limits of %q: %s = %v: %s", l.DeviceID, field, v, msg)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"min_kw", l.MinKW}, {"max_kw", l.MaxKW}, {"ramp_kw_per_min", l.RampKWPerMin}, {"soc_guard_pct", l.SoCGuardPct}, {"reserve_soc_pct", l.ReserveSoCPct}, {"zero_kw", l.ZeroKW}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return bad(f.name, f.v, "must be finite")
		}
	}
	switch {
	case l.DeviceID == "":
		return bad("device_id", `""`, "is required")
	case l.MinKW > l.MaxKW:
		return bad("min_kw", l.MinKW, fmt.Sprintf("is above max_kw %g", l.MaxKW))
	case l.RampKWPerMin < 0:
		return bad("ramp_kw_per_min", l.RampKWPerMin, "must not be negative")
	case l.SoCGuardPct < 0 || l.ReserveSoCPct < 0:
		return bad("soc_guard_pct/reserve_soc_pct", fmt.Sprintf("%g/%g", l.SoCGuardPct, l.ReserveSoCPct), "must not be negative")
	case l.CommsLoss != site.SafeHold && l.CommsLoss != site.SafeLastSafe && l.CommsLoss != site.SafeZero:
		return bad("comms_loss", strconv.Quote(l.CommsLoss), "want hold, last_safe or zero")
	case l.ZeroKW < l.MinKW || l.ZeroKW > l.MaxKW:
		return bad("zero_kw", l.ZeroKW, fmt.Sprintf("must be inside [%g, %g]", l.MinKW, l.MaxKW))
	}
	return nil
}

// Comms states of a device.
type CommsState string

const (
	CommsOnline  CommsState = "online"  // the last poll succeeded
	CommsSuspect CommsState = "suspect" // polls failed, fewer than the loss threshold
	CommsLost    CommsState = "lost"    // the comms-loss action applies
	// CommsNotFollowing: the device answers polls but its read-back did not match the
	// value written CommsLossAfter times in a row (it ignores or overrides gridd's
	// writes). Writes go on, so a matching read-back brings it back online.
	CommsNotFollowing CommsState = "not_following"
)

// Transition reports a comms state change.
type Transition struct {
	DeviceID string
	From, To CommsState
	Missed   int
}

type devState struct {
	lastKW     float64
	hasLast    bool
	lastAt     time.Time
	lastSafeKW float64
	hasSafe    bool
	socPct     float64
	hasSoC     bool
	measuredKW float64
	hasMeas    bool
	missed     int
	mismatches int // consecutive writes whose read-back did not match
	comms      CommsState
}

// Override is a manual setpoint lease: from From until Until the device is driven to
// ValueKW (still inside the envelope) instead of the plan.
type Override struct {
	ID       int64     `json:"id"`
	DeviceID string    `json:"device_id"`
	ValueKW  float64   `json:"value_kw"`
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Actor    string    `json:"actor"`
	Reason   string    `json:"reason"`
}

// Envelope is the safety envelope of one site. It is safe for concurrent use.
type Envelope struct {
	mu          sync.Mutex
	limits      map[string]Limits
	state       map[string]*devState
	lossAfter   int
	paused      bool
	pausedBy    string
	pausedWhy   string
	pausedAt    time.Time
	overrides   map[int64]Override
	nextLeaseID int64
	firstStep   time.Duration
}

// Options configure an Envelope.
type Options struct {
	// CommsLossAfter is the number of consecutive failed polls after which a device is
	// lost; default 2.
	CommsLossAfter int
	// Paused starts with the kill switch engaged.
	Paused bool
	// FirstStep is the interval the ramp limit allows from the measured power before
	// anything was written; default 15m.
	FirstStep time.Duration
}

// New returns an envelope for the given devices.
func New(limits []Limits, o Options) (*Envelope, error) {
	if o.CommsLossAfter == 0 {
		o.CommsLossAfter = 2
	}
	if o.CommsLossAfter < 1 {
		return nil, fmt.Errorf("safety: comms_loss_after = %d: must be at least 1", o.CommsLossAfter)
	}
	if o.FirstStep <= 0 {
		o.FirstStep = 15 * time.Minute
	}
	e := &Envelope{limits: map[string]Limits{}, state: map[string]*devState{}, lossAfter: o.CommsLossAfter, overrides: map[int64]Override{}, firstStep: o.FirstStep}
	for _, l := range limits {
		if err := l.Validate(); err != nil {
			return nil, err
		}
		if _, dup := e.limits[l.DeviceID]; dup {
			return nil, fmt.Errorf("safety: device %q listed twice", l.DeviceID)
		}
		e.limits[l.DeviceID] = l
		e.state[l.DeviceID] = &devState{comms: CommsOnline}
	}
	if o.Paused {
		e.paused, e.pausedBy, e.pausedWhy = true, "config", "safety.paused is set in the site config"
	}
	return e, nil
}

// ErrUnknownDevice is returned for a device the envelope does not govern.
var ErrUnknownDevice = errors.New("device has no safety envelope")

// Limits returns a device's static limits.
func (e *Envelope) Limits(deviceID string) (Limits, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.limits[deviceID]
	return l, ok
}

// Observe feeds one poll result: ok is whether the device answered; socPct and
// powerKW are its measured SoC and active power when known (nil otherwise). It
// returns the comms transition, if any.
func (e *Envelope) Observe(deviceID string, ok bool, socPct, powerKW *float64) *Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, known := e.state[deviceID]
	if !known {
		return nil
	}
	from := st.comms
	if ok {
		st.missed = 0
		st.comms = CommsOnline
		if st.mismatches >= e.lossAfter {
			st.comms = CommsNotFollowing
		}
		if socPct != nil && finite(*socPct) {
			st.socPct, st.hasSoC = *socPct, true
		}
		if powerKW != nil && finite(*powerKW) {
			st.measuredKW, st.hasMeas = *powerKW, true
		}
	} else {
		st.missed++
		if st.missed >= e.lossAfter {
			st.comms = CommsLost
		} else {
			st.comms = CommsSuspect
		}
	}
	if st.comms == from {
		return nil
	}
	return &Transition{DeviceID: deviceID, From: from, To: st.comms, Missed: st.missed}
}

// Comms returns a device's comms state.
func (e *Envelope) Comms(deviceID string) CommsState {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.state[deviceID]; ok {
		return st.comms
	}
	return CommsOnline
}

// Written records that value was written to the device and read back at time at.
// Only read-back-confirmed values become the ramp reference and the last safe value.
func (e *Envelope) Written(deviceID string, valueKW float64, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.state[deviceID]
	if !ok || !finite(valueKW) {
		return
	}
	st.lastKW, st.hasLast, st.lastAt = valueKW, true, at
	st.lastSafeKW, st.hasSafe = valueKW, true
	st.mismatches = 0
}

// WriteMismatch records that a value written to the device did not read back. After
// CommsLossAfter mismatches in a row an online device becomes CommsNotFollowing; the
// transition is returned (nil if none). A matching read-back (Written) clears the count
// and the next successful poll brings the device back online.
func (e *Envelope) WriteMismatch(deviceID string) *Transition {
	e.mu.Lock()
	defer e.mu.Unlock()
	st, ok := e.state[deviceID]
	if !ok {
		return nil
	}
	st.mismatches++
	if st.mismatches < e.lossAfter || st.comms != CommsOnline {
		return nil
	}
	st.comms = CommsNotFollowing
	return &Transition{DeviceID: deviceID, From: CommsOnline, To: CommsNotFollowing, Missed: st.mismatches}
}

// Source says where a requested value came from.
type Source string

const (
	SourceSchedule  Source = "schedule"
	SourceOverride  Source = "override"
	SourceCommsLoss Source = "comms_loss"
	SourceSafeState Source = "safe_state"
)

// Decision is the envelope's verdict on one requested setpoint.
type Decision struct {
	DeviceID    string  `json:"device_id"`
	Point       string  `json:"point"`
	Source      Source  `json:"source"`
	RequestedKW float64 `json:"requested_kw"`
	ValueKW     float64 `json:"value_kw"`
	// Write is false when nothing may be written (kill switch, comms hold).
	Write   bool     `json:"write"`
	Clamped bool     `json:"clamped"`
	Reasons []string `json:"reasons,omitempty"`
}

// band returns the interlock range [lo, hi] (static limits and SoC interlocks) and why
// it is narrower than the static range.
func (e *Envelope) band(l Limits, st *devState) (lo, hi float64, why []string) {
	lo, hi = l.MinKW, l.MaxKW
	if l.Kind != site.KindBESS || !st.hasSoC {
		return lo, hi, nil
	}
	soc := st.socPct
	if l.ReserveSoCPct > 0 && soc <= l.ReserveSoCPct && lo < 0 {
		lo = math.Min(0, hi)
		why = append(why, fmt.Sprintf("reserve interlock: SoC %.1f%% at or below reserve %.1f%%, no discharge", soc, l.ReserveSoCPct))
	} else if soc <= l.MinSoCPct+l.SoCGuardPct && lo < 0 {
		lo = math.Min(0, hi)
		why = append(why, fmt.Sprintf("SoC guard: SoC %.1f%% within %.1f%% of min %.1f%%, no discharge", soc, l.SoCGuardPct, l.MinSoCPct))
	}
	if l.MaxSoCPct > 0 && soc >= l.MaxSoCPct-l.SoCGuardPct && hi > 0 {
		hi = math.Max(0, lo)
		why = append(why, fmt.Sprintf("SoC guard: SoC %.1f%% within %.1f%% of max %.1f%%, no charge", soc, l.SoCGuardPct, l.MaxSoCPct))
	}
	return lo, hi, why
}

// reference is the value the ramp limit counts from: the last value written and read
// back, else the measured power (setpoint devices), else zero.
func reference(l Limits, st *devState) float64 {
	switch {
	case st.hasLast:
		return st.lastKW
	case st.hasMeas && l.Point == "setpoint_kw":
		return st.measuredKW
	case l.Point == "power_limit_kw":
		return l.MaxKW
	}
	return 0
}

// allowed returns the range a value written at time at must lie in, and the reasons
// for every narrowing.
func (e *Envelope) allowed(l Limits, st *devState, at time.Time) (lo, hi float64, why []string) {
	lo, hi, why = e.band(l, st)
	if l.RampKWPerMin <= 0 {
		return lo, hi, why
	}
	ref := reference(l, st)
	mins := e.firstStep.Minutes() // nothing written yet: one step of ramp from the reference
	if st.hasLast {
		mins = at.Sub(st.lastAt).Minutes()
		if mins < 0 {
			mins = 0
		}
	}
	r := l.RampKWPerMin * mins
	rlo, rhi := math.Max(lo, ref-r), math.Min(hi, ref+r)
	if rlo > rhi {
		// The interlock wins over the ramp: move toward the band as far as needed.
		v := clamp(ref, lo, hi)
		return v, v, append(why, fmt.Sprintf("interlock overrides ramp limit %.3g kW/min from %.1f kW", l.RampKWPerMin, ref))
	}
	if rlo > lo || rhi < hi {
		why = append(why, fmt.Sprintf("ramp limit %.3g kW/min over %.0f min from %.1f kW: [%.1f, %.1f] kW", l.RampKWPerMin, mins, ref, rlo, rhi))
	}
	return rlo, rhi, why
}

// Limit decides what to write for a requested value at time at. It never returns a
// value outside the device's envelope.
func (e *Envelope) Limit(deviceID string, requestedKW float64, src Source, at time.Time) (Decision, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.limits[deviceID]
	if !ok {
		return Decision{}, fmt.Errorf("safety: %q: %w", deviceID, ErrUnknownDevice)
	}
	st := e.state[deviceID]
	d := Decision{DeviceID: deviceID, Point: l.Point, Source: src, RequestedKW: requestedKW}
	if !finite(requestedKW) {
		return d, fmt.Errorf("safety: %s requested %v kW: not a finite number", deviceID, requestedKW)
	}
	if e.paused && src == SourceSchedule {
		d.Reasons = []string{fmt.Sprintf("kill switch engaged by %s: %s", e.pausedBy, e.pausedWhy)}
		return d, nil
	}
	lo, hi, why := e.allowed(l, st, at)
	if safeSource(src) && requestedKW == l.ZeroKW {
		// A safe action (the comms-loss or safe-state zero) is never held back by the
		// ramp limit: stopping a device must always be possible. The interlock band
		// still applies, and Check admits the same value (see there).
		lo, hi, why = e.band(l, st)
	}
	v := clamp(requestedKW, lo, hi)
	d.ValueKW, d.Write = v, true
	if math.Abs(v-requestedKW) > 1e-9 {
		d.Clamped = true
		d.Reasons = append([]string{fmt.Sprintf("requested %.2f kW, allowed [%.2f, %.2f] kW", requestedKW, lo, hi)}, why...)
	}
	return d, nil
}

// CommsAction returns what to do for a device that is lost: for hold, Write is false;
// for last_safe the last value written and read back (if none, nothing is written);
// for zero the device's zero value. ok is false when the device is not lost.
func (e *Envelope) CommsAction(deviceID string, at time.Time) (Decision, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, known := e.limits[deviceID]
	st := e.state[deviceID]
	if !known || st.comms != CommsLost {
		return Decision{}, false
	}
	d := Decision{DeviceID: deviceID, Point: l.Point, Source: SourceCommsLoss}
	switch l.CommsLoss {
	case site.SafeHold:
		d.Reasons = []string{fmt.Sprintf("comms lost after %d failed polls: hold, nothing written", st.missed)}
	case site.SafeLastSafe:
		if st.hasSafe {
			d.RequestedKW, d.ValueKW, d.Write = st.lastSafeKW, st.lastSafeKW, true
			d.Reasons = []string{fmt.Sprintf("comms lost after %d failed polls: last safe value %.2f kW", st.missed, st.lastSafeKW)}
		} else {
			d.Reasons = []string{fmt.Sprintf("comms lost after %d failed polls: no last safe value, hold", st.missed)}
		}
	case site.SafeZero:
		d.RequestedKW, d.ValueKW, d.Write = l.ZeroKW, l.ZeroKW, true
		d.Reasons = []string{fmt.Sprintf("comms lost after %d failed polls: zero", st.missed)}
	}
	return d, true
}

// Check returns an error if value is outside the device's envelope at time at
// (including Tolerance for register resolution).
func (e *Envelope) Check(deviceID, point string, value float64, at time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.limits[deviceID]
	if !ok {
		return fmt.Errorf("safety: write %s.%s = %g: %w", deviceID, point, value, ErrUnknownDevice)
	}
	if point != l.Point {
		return fmt.Errorf("safety: write %s.%s = %g: the envelope governs point %s only", deviceID, point, value, l.Point)
	}
	if !finite(value) {
		return fmt.Errorf("safety: write %s.%s = %v: not a finite number", deviceID, point, value)
	}
	lo, hi, why := e.allowed(l, e.state[deviceID], at)
	if blo, bhi, _ := e.band(l, e.state[deviceID]); math.Abs(value-l.ZeroKW) <= Tolerance && value >= blo-Tolerance && value <= bhi+Tolerance {
		// The device's zero (the comms-loss and kill-switch safe action) is exempt
		// from the ramp limit, never from the static limits and interlocks.
		return nil
	}
	if value < lo-Tolerance || value > hi+Tolerance {
		return fmt.Errorf("safety: write %s.%s = %g: %w [%g, %g] (%v)", deviceID, point, value, ErrOutside, lo, hi, why)
	}
	return nil
}

// safeSource reports whether a requested value is a safe action, exempt from the ramp
// limit: the comms-loss action of a lost device or the site's safe state when no
// approved schedule covers the step.
func safeSource(src Source) bool { return src == SourceCommsLoss || src == SourceSafeState }

// ErrOutside is returned by Check (and Guard) for a value outside the envelope.
var ErrOutside = errors.New("outside the safety envelope")

// Pause engages the kill switch: automated (schedule) writes stop until Resume. It
// reports whether it engaged it: pausing again while paused keeps the first pause's
// actor, reason and time.
func (e *Envelope) Pause(actor, reason string, at time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.paused {
		return false // the first pause's actor, reason and time stand until a resume
	}
	e.paused, e.pausedBy, e.pausedWhy, e.pausedAt = true, actor, reason, at
	return true
}

// Resume releases the kill switch. It reports whether it was engaged.
func (e *Envelope) Resume() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	was := e.paused
	e.paused, e.pausedBy, e.pausedWhy = false, "", ""
	return was
}

// KillSwitch is the kill switch state.
type KillSwitch struct {
	Engaged bool      `json:"engaged"`
	By      string    `json:"by,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since,omitempty"`
}

// KillSwitch returns the kill switch state.
func (e *Envelope) KillSwitch() KillSwitch {
	e.mu.Lock()
	defer e.mu.Unlock()
	return KillSwitch{e.paused, e.pausedBy, e.pausedWhy, e.pausedAt}
}

// AddOverride validates and stores a lease and returns it with its ID. The value must
// be inside the device's static limits.
func (e *Envelope) AddOverride(o Override) (Override, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.limits[o.DeviceID]
	switch {
	case !ok:
		return o, fmt.Errorf("device_id: %q: %w", o.DeviceID, ErrUnknownDevice)
	case !finite(o.ValueKW) || o.ValueKW < l.MinKW || o.ValueKW > l.MaxKW:
		return o, fmt.Errorf("value_kw: %g is outside the device's limits [%g, %g]", o.ValueKW, l.MinKW, l.MaxKW)
	case !o.Until.After(o.From):
		return o, fmt.Errorf("until: %s must be after from %s", o.Until.Format(time.RFC3339), o.From.Format(time.RFC3339))
	case o.Actor == "":
		return o, errors.New("actor: is required")
	}
	e.nextLeaseID++
	o.ID = e.nextLeaseID
	e.overrides[o.ID] = o
	return o, nil
}

// CancelOverride ends a lease early.
func (e *Envelope) CancelOverride(id int64) (Override, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.overrides[id]
	delete(e.overrides, id)
	return o, ok
}

// Expire removes the leases that ended at or before at and returns them.
func (e *Envelope) Expire(at time.Time) []Override {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Override
	for id, o := range e.overrides {
		if !at.Before(o.Until) {
			out = append(out, o)
			delete(e.overrides, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ActiveOverride returns the lease in force for a device at time at (the newest if
// several overlap).
func (e *Envelope) ActiveOverride(deviceID string, at time.Time) (Override, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var best Override
	found := false
	for _, o := range e.overrides {
		if o.DeviceID == deviceID && !at.Before(o.From) && at.Before(o.Until) && (!found || o.ID > best.ID) {
			best, found = o, true
		}
	}
	return best, found
}

// Overrides returns every stored lease ordered by ID.
func (e *Envelope) Overrides() []Override {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Override, 0, len(e.overrides))
	for _, o := range e.overrides {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// DeviceStatus is one device's envelope state for display.
type DeviceStatus struct {
	DeviceID   string     `json:"device_id"`
	Point      string     `json:"point"`
	MinKW      float64    `json:"min_kw"`
	MaxKW      float64    `json:"max_kw"`
	AllowedLo  float64    `json:"allowed_min_kw"`
	AllowedHi  float64    `json:"allowed_max_kw"`
	Comms      CommsState `json:"comms"`
	Missed     int        `json:"missed_polls"`
	Mismatches int        `json:"write_mismatches"`
	LastKW     *float64   `json:"last_written_kw,omitempty"`
	SoCPct     *float64   `json:"soc_pct,omitempty"`
	Interlocks []string   `json:"interlocks,omitempty"`
}

// Status returns every device's state at time at, ordered by device ID.
func (e *Envelope) Status(at time.Time) []DeviceStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]DeviceStatus, 0, len(e.limits))
	for id, l := range e.limits {
		st := e.state[id]
		lo, hi, why := e.allowed(l, st, at)
		ds := DeviceStatus{DeviceID: id, Point: l.Point, MinKW: l.MinKW, MaxKW: l.MaxKW, AllowedLo: lo, AllowedHi: hi, Comms: st.comms, Missed: st.missed, Mismatches: st.mismatches, Interlocks: why}
		if st.hasLast {
			v := st.lastKW
			ds.LastKW = &v
		}
		if st.hasSoC {
			v := st.socPct
			ds.SoCPct = &v
		}
		out = append(out, ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DeviceID < out[j].DeviceID })
	return out
}

// StaticViolation reports whether value is outside the device's static limits
// (min/max kW), for checking whole plans; "" if inside.
func (e *Envelope) StaticViolation(deviceID string, value float64) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, ok := e.limits[deviceID]
	if !ok {
		return ""
	}
	if value < l.MinKW-Tolerance || value > l.MaxKW+Tolerance {
		return fmt.Sprintf("%s %.2f kW outside [%.2f, %.2f] kW", deviceID, value, l.MinKW, l.MaxKW)
	}
	return ""
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// RestoreOverride puts back a lease kept elsewhere (e.g. read from the audit log at
// start), keeping its ID. It is validated like AddOverride.
func (e *Envelope) RestoreOverride(o Override) error {
	id := o.ID
	if id <= 0 {
		return fmt.Errorf("id: %d must be positive", id)
	}
	if _, err := e.AddOverride(o); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.overrides, e.nextLeaseID)
	o.ID = id
	e.overrides[id] = o
	if e.nextLeaseID < id {
		e.nextLeaseID = id
	}
	return nil
}

// Allowed returns the range a value written to the device at time at must lie in
// (ratings, safety range, SoC interlocks and ramp), as Limit and Check apply it. ok is
// false for a device the envelope does not govern.
func (e *Envelope) Allowed(deviceID string, at time.Time) (lo, hi float64, ok bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l, known := e.limits[deviceID]
	if !known {
		return 0, 0, false
	}
	lo, hi, _ = e.allowed(l, e.state[deviceID], at)
	return lo, hi, true
}
