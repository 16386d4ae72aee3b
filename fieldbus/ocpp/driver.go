package ocpp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/site"
)

// Scheme is the endpoint scheme the driver registers: ocpp://STATION-ID[/EVSE-ID].
const Scheme = "ocpp"

func init() { fieldbus.Register(Scheme, Driver{}) }

// resourceKey is where the CSMS sits in the drivers' shared resources.
const resourceKey = "ocpp.csms"

// WithCSMS makes a Poller or Writer serve ocpp:// devices through c (the caller
// starts and closes it).
func WithCSMS(c *CSMS) fieldbus.Option { return fieldbus.WithResource(resourceKey, c) }

// ErrNoCSMS is an ocpp:// device in a program that runs no CSMS.
var ErrNoCSMS = errors.New("no OCPP CSMS is running (the config needs an ocpp section)")

// Endpoint is a parsed ocpp:// endpoint.
type Endpoint struct {
	Station string
	// EVSE is the EVSE (1.6: connector) id, 1 when the endpoint names none.
	EVSE int
}

// ParseEndpoint parses ocpp://STATION-ID or ocpp://STATION-ID/EVSE-ID.
func ParseEndpoint(endpoint string) (Endpoint, error) {
	rest, ok := strings.CutPrefix(endpoint, Scheme+"://")
	if !ok {
		return Endpoint{}, fmt.Errorf("endpoint %q: want ocpp://STATION-ID or ocpp://STATION-ID/EVSE-ID", endpoint)
	}
	id, ev, hasEV := strings.Cut(rest, "/")
	if !site.ValidOCPPStationID(id) {
		return Endpoint{}, fmt.Errorf("endpoint %q: station id %q: want 1 to 48 letters, digits, '-', '_' or '.'", endpoint, id)
	}
	e := Endpoint{Station: id, EVSE: 1}
	if hasEV {
		n, err := strconv.Atoi(ev)
		if err != nil || n < 1 || n > 999 {
			return Endpoint{}, fmt.Errorf("endpoint %q: EVSE id %q: want a number from 1 to 999", endpoint, ev)
		}
		e.EVSE = n
	}
	return e, nil
}

// Driver serves ocpp:// endpoints through the CSMS given with WithCSMS.
type Driver struct{}

// CheckEndpoint checks the endpoint's syntax.
func (Driver) CheckEndpoint(endpoint string) error {
	_, err := ParseEndpoint(endpoint)
	return err
}

// VerifyEndpoint is CheckEndpoint: an ocpp:// endpoint refers to nothing on disk.
func (d Driver) VerifyEndpoint(endpoint string) error { return d.CheckEndpoint(endpoint) }

// noCSMS is the placeholder resource when no CSMS was given.
type noCSMS struct{}

func (noCSMS) Close() error { return nil }

// Open binds a charger to its station.
func (Driver) Open(d fieldbus.Device, env fieldbus.Env) (fieldbus.Session, error) {
	ep, err := ParseEndpoint(d.Endpoint)
	if err != nil {
		return nil, err
	}
	if d.Profile == nil {
		return nil, errors.New("no profile")
	}
	if d.Kind != site.KindEVCharger {
		return nil, fmt.Errorf("OCPP serves ev_charger devices, not %s", d.Kind)
	}
	if d.EV != nil && d.EV.MaxDischargeKW > 0 {
		return nil, fmt.Errorf("ev_charger.max_discharge_kw %g: OCPP 1.6/2.0.1 profiles cannot discharge (V2G stays on Modbus chargers)", d.EV.MaxDischargeKW)
	}
	c, _ := env.Shared.Get(resourceKey, func() io.Closer { return noCSMS{} }).(*CSMS)
	if c == nil {
		return nil, ErrNoCSMS
	}
	if c.station(ep.Station) == nil {
		return nil, fmt.Errorf("station %q is not in ocpp.stations", ep.Station)
	}
	// A watchdog (kept alive by the real-time layer) bounds validTo tighter than
	// ocpp.profile_valid_for (which the cycle's rewrite of every setpoint renews).
	validFor := c.cfg.ProfileValidFor.D
	if d.Profile.Watchdog > 0 {
		validFor = d.Profile.Watchdog
	}
	if validFor <= 0 {
		validFor = site.DefaultOCPPProfileValid
	}
	return &session{c: c, ep: ep, dev: d, validFor: validFor}, nil
}

// maxCacheAge is how old values may be when the station refuses TriggerMessage.
const maxCacheAge = 2 * time.Minute

type session struct {
	c        *CSMS
	ep       Endpoint
	dev      fieldbus.Device
	validFor time.Duration
}

// Status codes of the status point.
const (
	StatusUnknown = iota
	StatusAvailable
	StatusOccupied
	StatusCharging
	StatusReserved
	StatusUnavailable
	StatusFaulted
)

func statusCode(e *evse) float64 {
	switch e.status {
	case "Available":
		return StatusAvailable
	case "Occupied", "Preparing", "SuspendedEV", "SuspendedEVSE", "Finishing":
		if e.inTx && e.powerW > 0 {
			return StatusCharging
		}
		return StatusOccupied
	case "Charging":
		return StatusCharging
	case "Reserved":
		return StatusReserved
	case "Unavailable":
		return StatusUnavailable
	case "Faulted":
		return StatusFaulted
	}
	return StatusUnknown
}

func (s *session) Read(ctx context.Context, a *fieldbus.ReadAttempt) error {
	// The device's timeout bounds the whole read: the trigger and the MeterValues
	// it asks for.
	ctx, cancel := context.WithTimeout(ctx, s.dev.RequestTimeout())
	defer cancel()
	st := s.c.station(s.ep.Station)
	st.mu.Lock()
	proto := st.proto
	var seq uint64
	if e := st.evses[s.ep.EVSE]; e != nil {
		seq = e.mvSeq
	}
	st.mu.Unlock()
	if proto == "" {
		return fmt.Errorf("%w: %s", ErrNotConnected, s.ep.Station)
	}
	err := s.c.triggerMeter(ctx, s.ep.Station, s.ep.EVSE)
	var rej *RejectedError
	switch {
	case err == nil:
		// Wait for the MeterValues the trigger asked for.
		for {
			st.mu.Lock()
			e := st.evses[s.ep.EVSE]
			fresh := e != nil && e.mvSeq > seq
			ch := st.updated
			st.mu.Unlock()
			if fresh {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				return fmt.Errorf("%w: no MeterValues from %s after TriggerMessage", fieldbus.ErrTimeout, s.ep.Station)
			}
		}
	case errors.As(err, &rej):
		// The station will not be asked: its latest unprompted values serve while young.
		st.mu.Lock()
		e := st.evses[s.ep.EVSE]
		young := e != nil && e.meterSeq > 0 && s.c.clk.Now().Sub(e.meterAt) <= maxCacheAge
		st.mu.Unlock()
		if !young {
			return fmt.Errorf("%s: %w, and no MeterValues in the last %s", s.ep.Station, err, maxCacheAge)
		}
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s: %w", fieldbus.ErrTimeout, s.ep.Station, err)
	default:
		return err
	}
	st.mu.Lock()
	e := *st.evse(s.ep.EVSE)
	st.mu.Unlock()
	for i := range s.dev.Profile.Points {
		pt := &s.dev.Profile.Points[i]
		pr := fieldbus.PointRead{Done: true}
		switch pt.Name {
		case "connected":
			if e.plugged {
				pr.Value = 1
			}
		case "active_power_kw":
			if e.hasPower {
				pr.Value = e.powerW / 1000
			} else {
				pr.Err = fmt.Errorf("%w: the station sends no Power.Active.Import", fieldbus.ErrDecode)
			}
		case "session_energy_kwh":
			if e.inTx && e.txStartOK && e.hasEnergy {
				pr.Value = (e.energyWh - e.txStartWh) / 1000
			}
		case "session_energy_request_kwh":
			pr.Value = e.requestWh / 1000
		case "session_departure_unix":
			if !e.departure.IsZero() {
				pr.Value = float64(e.departure.Unix())
			}
		case "soc_pct":
			if e.hasSoC {
				pr.Value = e.socPct
			} else {
				pr.Err = fmt.Errorf("%w: the station sends no SoC", fieldbus.ErrDecode)
			}
		case "status":
			pr.Value = statusCode(&e)
		case "setpoint_kw":
			pr.Value = e.limitKW
		case "max_charge_kw":
			if s.dev.EV != nil {
				pr.Value = s.dev.EV.MaxChargeKW
			}
		case "max_discharge_kw":
			pr.Value = 0
		case "energy_import_kwh":
			if e.hasEnergy {
				pr.Value = e.energyWh / 1000
			}
		default:
			pr.Err = fmt.Errorf("%w: %s is not reported over OCPP", fieldbus.ErrDecode, pt.Name)
		}
		if pr.Err == nil && (math.IsNaN(pr.Value) || math.IsInf(pr.Value, 0)) {
			pr.Err, pr.Value = fmt.Errorf("%w: %s is not a finite number", fieldbus.ErrDecode, pt.Name), 0
		}
		if pr.Err == nil && pt.HasLimits && (pr.Value < pt.Min || pr.Value > pt.Max) {
			pr.Err = fmt.Errorf("%w: %v %s outside the profile limits", fieldbus.ErrDecode, pr.Value, pt.Unit)
		}
		a.Points[i] = pr
	}
	return nil
}

func (s *session) Write(ctx context.Context, pt *fieldbus.Point, value float64) (float64, error) {
	if pt.Name != "setpoint_kw" {
		return 0, &fieldbus.WriteError{Stage: "encode", Err: fmt.Errorf("%s: only setpoint_kw is written over OCPP", pt.Name)}
	}
	if value < 0 {
		return 0, &fieldbus.WriteError{Stage: "encode", Err: fmt.Errorf("%v kW: OCPP 1.6/2.0.1 charging profiles cannot discharge (V2G stays on Modbus chargers)", value)}
	}
	st := s.c.station(s.ep.Station)
	st.mu.Lock()
	proto := st.proto
	e := *st.evse(s.ep.EVSE)
	st.mu.Unlock()
	if proto == "" {
		return 0, &fieldbus.WriteError{Stage: "write", Err: fmt.Errorf("%w: %s", ErrNotConnected, s.ep.Station)}
	}
	p := profile{stackLevel: 1, limitKW: value, validTo: s.c.clk.Now().Add(s.validFor).Truncate(time.Second)}
	if e.inTx {
		p.id, p.purpose, p.txID, p.tx16 = safeProfileID+10*s.ep.EVSE+2, purposeTx, e.txID, e.tx16
	} else {
		p.id, p.purpose = safeProfileID+10*s.ep.EVSE+1, purposeTxDefault
	}
	if err := s.c.setProfile(ctx, s.ep.Station, s.ep.EVSE, p); err != nil {
		return 0, &fieldbus.WriteError{Stage: "write", Err: err}
	}
	kw, raw, err := s.c.compositeKW(ctx, s.ep.Station, s.ep.EVSE)
	if err != nil {
		return 0, &fieldbus.WriteError{Stage: "read-back", Err: err}
	}
	// Compare in the station's own unit and resolution: a read-back equal to what was
	// sent is the value written.
	sent := toUnit(st.cfg, value)
	tol := 0.5
	if st.cfg.ChargingRateUnit == "A" {
		tol = 0.05
	}
	if math.Abs(raw-sent) <= tol {
		kw = value
	}
	s.c.update(s.ep.Station, s.ep.EVSE, func(e *evse) { e.limitKW, e.hasLimit = kw, true })
	return kw, nil
}

func (s *session) Close() error { return nil }
