package sim

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/plant"
	"github.com/gridd/gridd/site"
)

// Fault is an injected misbehaviour of one simulated device.
type Fault int

// Faults.
const (
	// FaultNone: the device behaves.
	FaultNone Fault = iota
	// FaultNoAnswer: requests hang without a response until the fault is cleared (the
	// client times out); a request released by clearing the fault gets an exception
	// and is not applied.
	FaultNoAnswer
	// FaultSlow: every response is delayed by the slow delay (SetSlowDelay).
	FaultSlow
	// FaultException: every request gets a SERVER DEVICE FAILURE exception.
	FaultException
	// FaultGarbage: reads return 0xFFFF in every register (NaN for floats, extreme
	// integers) and 1 for every bit; writes behave.
	FaultGarbage
	// FaultIgnoreWrites: writes are acknowledged but not applied.
	FaultIgnoreWrites
)

var faultNames = map[Fault]string{
	FaultNone: "none", FaultNoAnswer: "no-answer", FaultSlow: "slow",
	FaultException: "exception", FaultGarbage: "garbage", FaultIgnoreWrites: "ignore-writes",
}

func (f Fault) String() string {
	if n, ok := faultNames[f]; ok {
		return n
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// DefaultSlowDelay is the response delay of FaultSlow.
const DefaultSlowDelay = 300 * time.Millisecond

// DeviceState is a simulated device's state at the sim clock's current time.
type DeviceState struct {
	ID   string
	Kind string
	Time time.Time
	// PowerKW is the active power at the device's connection (positive = drawn from
	// the bus). For a meter, the sum over what it measures.
	PowerKW float64
	// SetpointKW is the setpoint in force (bess, ev_charger).
	SetpointKW float64
	// PowerLimitKW is the PV generation cap.
	PowerLimitKW float64
	// AvailableKW is the PV generation before the cap.
	AvailableKW float64
	SoCPct      float64
	Connected   bool
	// SessionEnergyKWh is the net energy delivered to the vehicle this session.
	SessionEnergyKWh  float64
	SessionRequestKWh float64
	// Departure is the current session's plug-out time (zero when not connected).
	Departure time.Time
	// User is the EV user whose sessions the charger replays.
	User                  string
	ImportKWh, ExportKWh  float64
	VoltageV, FrequencyHz float64
	Fault                 Fault
}

// Sim serves every device of a site over Modbus TCP with simple physics.
type Sim struct {
	cfg *site.Config
	clk clock.Clock
	log *slog.Logger

	mu        sync.Mutex
	devs      []*device
	byID      map[string]*device
	plant     *plant.Plant
	slowDelay time.Duration
	faultCh   chan struct{} // closed and replaced whenever a fault changes
	stopped   chan struct{}
	started   bool
	servers   []*server
	tls       *TLSServer
}

// New builds the simulator for cfg. profiles maps device id to its resolved profile
// (as fieldbus.CheckSite returns). data holds the bundled series files (the repo's
// data/*.csv, at its root or under data/); "file:" series are read from disk
// relative to the config file. Only the files the configured devices use are read.
func New(cfg *site.Config, profiles map[string]*fieldbus.Profile, clk clock.Clock, data fs.FS, log *slog.Logger) (*Sim, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Sim{
		cfg:       cfg,
		clk:       clk,
		log:       log,
		byID:      map[string]*device{},
		slowDelay: DefaultSlowDelay,
		faultCh:   make(chan struct{}),
		stopped:   make(chan struct{}),
	}
	baseDir := "."
	if cfg.File != "" {
		baseDir = filepath.Dir(cfg.File)
	}
	file := cfg.File
	if file == "" {
		file = "site config"
	}
	ld := &dataLoader{data: data, baseDir: baseDir, series: map[string]*series{}}
	var errs []error
	var defaultUsers []*device
	for i := range cfg.Devices {
		c := cfg.Devices[i]
		fail := func(field string, value string, err error) {
			if value != "" {
				errs = append(errs, fmt.Errorf("%s: devices[%d].%s: %q: %w", file, i, field, value, err))
			} else {
				errs = append(errs, fmt.Errorf("%s: devices[%d].%s: %w", file, i, field, err))
			}
		}
		p := profiles[c.ID]
		if p == nil {
			fail("profile", c.Profile, fmt.Errorf("no resolved profile for device %s", c.ID))
			continue
		}
		d := &device{cfg: c, prof: p, written: map[string]float64{}}
		if err := s.initDevice(cfg, d, ld, fail); err != nil {
			continue
		}
		if c.Kind == site.KindEVCharger && d.timeline == nil && d.user == "" {
			defaultUsers = append(defaultUsers, d)
		}
		s.devs = append(s.devs, d)
		s.byID[c.ID] = d
	}
	if len(defaultUsers) > 0 {
		if err := s.assignDefaultUsers(defaultUsers, ld); err != nil {
			errs = append(errs, err)
		}
	}
	// Endpoints.
	byEP := map[string]*server{}
	for _, d := range s.devs {
		if strings.HasPrefix(d.cfg.Endpoint, site.OCPPScheme) {
			// An OCPP charger: its physics runs here, its protocol is served by the
			// OCPP station simulator (SetSetpoint, State).
			continue
		}
		srv := byEP[d.cfg.Endpoint]
		if srv == nil {
			srv = &server{sim: s, endpoint: d.cfg.Endpoint, units: map[uint8]*device{}}
			byEP[d.cfg.Endpoint] = srv
			s.servers = append(s.servers, srv)
		}
		if d.cfg.UnitID < 0 || d.cfg.UnitID > 255 {
			errs = append(errs, fmt.Errorf("%s: device %s: unit_id %d out of range", file, d.cfg.ID, d.cfg.UnitID))
			continue
		}
		u := uint8(d.cfg.UnitID)
		if other, dup := srv.units[u]; dup {
			errs = append(errs, fmt.Errorf("%s: device %s: unit %d at %s already used by %s", file, d.cfg.ID, u, d.cfg.Endpoint, other.cfg.ID))
			continue
		}
		srv.units[u] = d
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("sim: %w", errors.Join(errs...))
	}
	// The plant: meters measure every non-meter device on their node and below.
	pds := make([]*plant.Device, len(s.devs))
	for i, d := range s.devs {
		pds[i] = d.pd
		if d.timeline != nil {
			d.pd.EV.Sessions = d.timeline
		}
	}
	s.plant = plant.New(cfg, pds, clk.Now())
	return s, nil
}

// initDevice sets parameters and initial state from the config.
func (s *Sim) initDevice(cfg *site.Config, d *device, ld *dataLoader, fail func(string, string, error)) error {
	c := &d.cfg
	bad := errors.New("invalid")
	sim := c.Sim
	if sim == nil {
		sim = &site.DeviceSim{}
	}
	scale := sim.Scale
	if scale == 0 {
		scale = 1
	}
	if math.IsNaN(scale) || math.IsInf(scale, 0) {
		fail("sim.scale", fmt.Sprint(scale), errors.New("must be finite"))
		return bad
	}
	name := sim.Series
	var trace plant.Trace
	switch c.Kind {
	case site.KindPV:
		if name == "" {
			name = "konstanz:pv"
		}
	case site.KindLoad:
		if name == "" {
			name = "konstanz:load"
		}
	case site.KindEVCharger:
		if name == "" {
			name = SeriesTrondheim
		}
	default:
		if name != "" {
			fail("sim.series", name, fmt.Errorf("a %s device is not driven by a series", c.Kind))
			return bad
		}
	}
	switch c.Kind {
	case site.KindPV, site.KindLoad:
		var sr *series
		var err error
		if path, ok := strings.CutPrefix(name, "file:"); ok {
			sr, err = ld.file(path, sim.Column)
		} else if name == SeriesTrondheim {
			err = fmt.Errorf("session data only drives ev_charger devices")
		} else {
			sr, err = ld.bundled(name)
		}
		if err != nil {
			fail("sim.series", name, err)
			return bad
		}
		tr := seriesTrace{s: sr, scale: scale, shift: sim.Shift.D}
		if c.Kind == site.KindPV && name == "konstanz:pv" && c.PV != nil {
			tr.scale = scale * c.PV.CapacityKW
		}
		trace = tr
	}
	switch c.Kind {
	case site.KindBESS:
		b := c.BESS
		if b == nil {
			fail("bess", "", errors.New("is required to simulate a bess"))
			return bad
		}
		if b.CapacityKWh <= 0 {
			fail("bess.capacity_kwh", fmt.Sprint(b.CapacityKWh), errors.New("must be positive"))
			return bad
		}
	case site.KindPV:
		if c.PV == nil || c.PV.CapacityKW <= 0 {
			fail("pv.capacity_kw", "", errors.New("a positive capacity is required to simulate a pv device"))
			return bad
		}
	case site.KindEVCharger:
		if c.EV == nil {
			fail("ev_charger", "", errors.New("is required to simulate an ev_charger"))
			return bad
		}
		if name != SeriesTrondheim {
			fail("sim.series", name, fmt.Errorf("an ev_charger replays %q sessions", SeriesTrondheim))
			return bad
		}
		if sim.User != "" {
			ev, err := ld.sessions()
			if err != nil {
				fail("sim.series", name, err)
				return bad
			}
			src := ev.byUser[sim.User]
			if len(src) == 0 {
				fail("sim.user", sim.User, fmt.Errorf("no sessions for this user in %s", TrondheimFile))
				return bad
			}
			d.user = sim.User
			d.timeline = &sessionTimeline{src: src, cache: map[int][]evSession{}}
		}
	}
	pd, err := plant.NewDevice(cfg, c)
	if err != nil {
		fail("kind", c.Kind, err)
		return bad
	}
	pd.Trace = trace
	pd.Watchdog = d.prof.Watchdog
	if lp, ok := d.prof.Point("power_limit_kw"); ok && pd.PV != nil && lp.HasLimits && pd.PV.LimitKW > lp.Max {
		pd.PV.LimitKW = lp.Max
	}
	d.pd = pd
	return nil
}

// assignDefaultUsers gives the k-th charger without a user the k-th most active user
// not chosen explicitly by another charger.
func (s *Sim) assignDefaultUsers(devs []*device, ld *dataLoader) error {
	ev, err := ld.sessions()
	if err != nil {
		return fmt.Errorf("ev session data: %w", err)
	}
	taken := map[string]bool{}
	for _, d := range s.devs {
		if d.user != "" {
			taken[d.user] = true
		}
	}
	var users []string
	for _, u := range ev.usersByActivity() {
		if !taken[u] {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		return errors.New("ev session data: no users left to assign")
	}
	for k, d := range devs {
		u := users[k%len(users)]
		d.user = u
		d.timeline = &sessionTimeline{src: ev.byUser[u], cache: map[int][]evSession{}}
	}
	return nil
}

// SetTLS gives the simulator the server certificate for tls:// endpoints; call it
// before Start.
func (s *Sim) SetTLS(t TLSServer) {
	s.mu.Lock()
	s.tls = &t
	s.mu.Unlock()
}

// SetSlowDelay sets the response delay of FaultSlow.
func (s *Sim) SetSlowDelay(d time.Duration) {
	s.mu.Lock()
	s.slowDelay = d
	s.mu.Unlock()
}

// SetFault injects (or with FaultNone clears) a fault on one device.
func (s *Sim) SetFault(deviceID string, f Fault) error {
	if _, ok := faultNames[f]; !ok {
		return fmt.Errorf("sim: unknown fault %d", int(f))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byID[deviceID]
	if !ok {
		return fmt.Errorf("sim: unknown device %q", deviceID)
	}
	d.fault = f
	close(s.faultCh)
	s.faultCh = make(chan struct{})
	s.log.Info("sim: fault set", "device", deviceID, "fault", f.String())
	return nil
}

// SetSetpoint applies a setpoint to a battery or charger as a write of setpoint_kw
// would (for simulators of other protocols that drive this plant).
func (s *Sim) SetSetpoint(deviceID string, kw float64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byID[deviceID]
	if !ok {
		return fmt.Errorf("sim: unknown device %q", deviceID)
	}
	s.advance(s.clk.Now())
	now := s.clk.Now()
	d.pd.Command(now)
	switch {
	case d.pd.Battery != nil:
		d.pd.Battery.SetpointKW = kw
	case d.pd.EV != nil:
		d.pd.EV.SetpointKW, d.pd.EV.SetAt = kw, now
	default:
		return fmt.Errorf("sim: device %q takes no setpoint", deviceID)
	}
	return nil
}

// SetLoadScale multiplies a load's consumption by f from the clock's current time on
// (a load step, for tests of the real-time layer); f = 1 restores it.
func (s *Sim) SetLoadScale(deviceID string, f float64) error {
	if !(f > 0) || f > 100 {
		return fmt.Errorf("sim: load scale %v: want a factor in (0, 100]", f)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byID[deviceID]
	if !ok || d.cfg.Kind != site.KindLoad {
		return fmt.Errorf("sim: %q is not a simulated load", deviceID)
	}
	s.advance(s.clk.Now())
	d.pd.Scale = f
	return nil
}

// Devices lists the simulated device ids in config order.
func (s *Sim) Devices() []string {
	out := make([]string, len(s.devs))
	for i, d := range s.devs {
		out[i] = d.cfg.ID
	}
	return out
}

// State returns a device's state at the clock's current time.
func (s *Sim) State(deviceID string) (DeviceState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byID[deviceID]
	if !ok {
		return DeviceState{}, false
	}
	s.advance(s.clk.Now())
	t := s.plant.Now()
	st := DeviceState{
		ID:          d.cfg.ID,
		Kind:        d.cfg.Kind,
		Time:        t,
		PowerKW:     d.pd.PowerKW(t),
		SetpointKW:  d.setpointKW(),
		ImportKWh:   d.pd.ImportKWh,
		ExportKWh:   d.pd.ExportKWh,
		VoltageV:    voltage(t),
		FrequencyHz: frequency(t),
		Fault:       d.fault,
		User:        d.user,
	}
	if b := d.pd.Battery; b != nil {
		st.SoCPct = b.SoCPct()
	}
	if pv := d.pd.PV; pv != nil {
		st.PowerLimitKW = pv.LimitKW
		st.AvailableKW = math.Max(d.pd.AvailableKW(t), 0)
	}
	if c := d.pd.EV; c != nil {
		if ss, ok := c.Session(); ok {
			st.Connected = true
			st.SessionEnergyKWh = c.DeliveredKWh()
			st.SessionRequestKWh = ss.EnergyKWh
			st.Departure = ss.PlugOut
		}
	}
	return st, true
}

// voltage and frequency are nominal with a small deterministic wobble.
func voltage(t time.Time) float64 {
	x := float64(t.UnixNano()%int64(617*time.Second)) / float64(617*time.Second)
	return 400 * (1 + 0.002*math.Sin(2*math.Pi*x))
}

func frequency(t time.Time) float64 {
	x := float64(t.UnixNano()%int64(331*time.Second)) / float64(331*time.Second)
	return 50 + 0.01*math.Sin(2*math.Pi*x)
}

// pointValue is the engineering value a device reports for a semantic point at the
// current state time.
func (s *Sim) pointValue(d *device, name string) float64 {
	t := s.plant.Now()
	if v, ok := d.written[name]; ok {
		return v
	}
	pd := d.pd
	p := pd.PowerKW(t)
	ss, plugged := plant.Session{}, false
	if pd.EV != nil {
		ss, plugged = pd.EV.Session()
	}
	switch name {
	case "active_power_kw":
		return p
	case "reactive_power_kvar":
		if d.cfg.Kind == site.KindMeter {
			return 0.1 * p
		}
		return 0
	case "voltage_v":
		return voltage(t)
	case "current_a":
		return math.Abs(p) * 1000 / (math.Sqrt(3) * voltage(t))
	case "frequency_hz":
		return frequency(t)
	case "energy_import_kwh":
		return pd.ImportKWh
	case "energy_export_kwh":
		return pd.ExportKWh
	case "soc_pct":
		if pd.Battery != nil {
			return pd.Battery.SoCPct()
		}
	case "soh_pct":
		return 100
	case "capacity_kwh":
		if pd.Battery != nil {
			return pd.Battery.CapacityKWh
		}
	case "setpoint_kw":
		return d.setpointKW()
	case "power_limit_kw":
		return d.limitKW()
	case "max_charge_kw":
		switch {
		case pd.Battery != nil:
			return pd.Battery.MaxChargeKW
		case pd.EV != nil:
			return pd.EV.MaxChargeKW
		}
	case "max_discharge_kw":
		switch {
		case pd.Battery != nil:
			return pd.Battery.MaxDischargeKW
		case pd.EV != nil:
			return pd.EV.MaxDischargeKW
		}
	case "connected":
		if plugged {
			return 1
		}
	case "session_energy_kwh":
		if plugged {
			return pd.EV.DeliveredKWh()
		}
	case "session_energy_request_kwh":
		if plugged {
			return ss.EnergyKWh
		}
	case "session_departure_unix":
		if plugged {
			return float64(ss.PlugOut.Unix())
		}
	case "temperature_c":
		return 25
	case "heartbeat":
		return float64(t.Unix() % 32768)
	}
	return 0
}

// server is one Modbus TCP endpoint serving one or more unit ids.
type server struct {
	sim      *Sim
	endpoint string
	units    map[uint8]*device
	ms       stopper
}

// Start listens on every endpoint. It fails, naming the endpoint, if one cannot be
// bound (nothing is left listening then). The servers stop when ctx ends or on Stop.
func (s *Sim) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("sim: already started")
	}
	s.started = true
	s.mu.Unlock()
	s.mu.Lock()
	tlsSrv := s.tls
	s.mu.Unlock()
	for i, srv := range s.servers {
		var ms stopper
		var err error
		if isIEC104(srv.endpoint) {
			ms, err = listenRTU(srv, tlsSrv)
		} else {
			ms, err = listen(srv.endpoint, srv, tlsSrv, 256, s.log)
		}
		if err != nil {
			for _, o := range s.servers[:i] {
				_ = o.ms.Stop()
			}
			return fmt.Errorf("sim: listen on %s (devices %s): %w", srv.endpoint, strings.Join(srv.deviceIDs(), ", "), err)
		}
		srv.ms = ms
		s.log.Info("sim: serving", "endpoint", srv.endpoint, "devices", srv.deviceIDs())
	}
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.stopped:
		}
	}()
	return nil
}

func (srv *server) deviceIDs() []string {
	var ids []string
	for _, d := range srv.units {
		ids = append(ids, d.cfg.ID)
	}
	sort.Strings(ids)
	return ids
}

// Stop closes every endpoint and releases hanging requests. It is safe to call twice.
func (s *Sim) Stop() error {
	s.mu.Lock()
	select {
	case <-s.stopped:
		s.mu.Unlock()
		return nil
	default:
	}
	close(s.stopped)
	s.mu.Unlock()
	var errs []error
	for _, srv := range s.servers {
		if srv.ms != nil {
			if err := srv.ms.Stop(); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", srv.endpoint, err))
			}
		}
	}
	return errors.Join(errs...)
}
