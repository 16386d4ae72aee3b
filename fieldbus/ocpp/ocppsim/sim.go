// Package ocppsim simulates OCPP 2.0.1 charging stations for gridd sim, gridd demo
// and tests: each station connects to a CSMS with the charging-station side of
// lorenzodonini/ocpp-go, reports what a plant (fieldbus/sim's physics, replaying the
// bundled charging sessions) measures, opens and closes transactions as vehicles come
// and go, and honours the charging profiles it is sent (TxProfile over
// TxDefaultProfile, EVSE over station-wide, higher stack level first, until validTo)
// by setting the plant's charger setpoint. Faults: disconnect, reject-profile,
// ignore-profile and slow answers.
package ocppsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lorenzodonini/ocpp-go/ocpp"
	ocpp2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/availability"
	meter201 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1/meter"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/provisioning"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/remotecontrol"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/smartcharging"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/transactions"
	"github.com/lorenzodonini/ocpp-go/ocpp2.0.1/types"
	"github.com/lorenzodonini/ocpp-go/ws"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

// Plant is the physics behind the stations (fieldbus/sim.Sim).
type Plant interface {
	State(deviceID string) (sim.DeviceState, bool)
	SetSetpoint(deviceID string, kw float64) error
}

// Fault is an injected misbehaviour of one simulated station.
type Fault int

// Faults.
const (
	FaultNone Fault = iota
	// FaultDisconnect drops the connection; clearing the fault reconnects.
	FaultDisconnect
	// FaultRejectProfile answers SetChargingProfile with Rejected.
	FaultRejectProfile
	// FaultIgnoreProfile accepts profiles but does not apply them.
	FaultIgnoreProfile
	// FaultSlow delays every answer by the slow delay.
	FaultSlow
)

var faultNames = map[string]Fault{"none": FaultNone, "disconnect": FaultDisconnect, "reject-profile": FaultRejectProfile,
	"ignore-profile": FaultIgnoreProfile, "slow": FaultSlow}

// ParseFault parses a fault name.
func ParseFault(s string) (Fault, error) {
	if f, ok := faultNames[s]; ok {
		return f, nil
	}
	names := make([]string, 0, len(faultNames))
	for n := range faultNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown OCPP station fault %q (want one of %s)", s, strings.Join(names, ", "))
}

// Options configure the simulated stations.
type Options struct {
	// URL is the CSMS's base URL (ws://HOST:PORT/ocpp); a station connects to URL/ID.
	URL string
	// Password returns a station's basic-auth password.
	Password func(stationID string) string
	Clock    clock.Clock
	Log      *slog.Logger
	// SlowDelay is FaultSlow's delay (default 2s).
	SlowDelay time.Duration
	// MeterEvery is how often stations send MeterValues unprompted (0: only when
	// triggered).
	MeterEvery time.Duration
}

// Sim runs the OCPP stations of a site config.
type Sim struct {
	opts     Options
	plant    Plant
	stations map[string]*Station
	ids      []string
	wg       sync.WaitGroup
	stop     chan struct{}
}

// Station is one simulated charging station.
type Station struct {
	s     *Sim
	ID    string
	cfg   site.OCPPStation
	evses map[int]string // EVSE id -> device id

	mu       sync.Mutex
	cs       ocpp2.ChargingStation
	fault    Fault
	profiles map[profKey]prof
	tx       map[int]*tx
	applied  map[int]float64 // EVSE -> kW applied to the plant
	txSeq    int
	seq      int
	syncMu   sync.Mutex
	// sendMu orders sends against stops: the library panics on a request sent
	// to a client it has stopped (a send on its closed channel), and a report
	// goroutine may still hold a client that a reconnect or Stop retires.
	sendMu  sync.RWMutex
	retired map[ocpp2.ChargingStation]bool
}

type profKey struct {
	evse    int
	purpose types.ChargingProfilePurposeType
	id      int
}

type prof struct {
	stack   int
	limit   float64 // in the station's unit
	validTo time.Time
	txID    string
}

type tx struct {
	id string
}

// New prepares stations for every ocpp:// charger of cfg.
func New(cfg *site.Config, plant Plant, opts Options) (*Sim, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.SlowDelay == 0 {
		opts.SlowDelay = 2 * time.Second
	}
	s := &Sim{opts: opts, plant: plant, stations: map[string]*Station{}, stop: make(chan struct{})}
	for _, d := range cfg.Devices {
		rest, ok := strings.CutPrefix(d.Endpoint, site.OCPPScheme)
		if !ok {
			continue
		}
		id, evs, has := strings.Cut(rest, "/")
		evse := 1
		if has {
			n, err := strconv.Atoi(evs)
			if err != nil {
				return nil, fmt.Errorf("ocppsim: device %s: endpoint %q: bad EVSE id", d.ID, d.Endpoint)
			}
			evse = n
		}
		st := s.stations[id]
		if st == nil {
			sc, ok := cfg.OCPP.Station(id)
			if !ok {
				return nil, fmt.Errorf("ocppsim: device %s: station %q is not in ocpp.stations", d.ID, id)
			}
			st = &Station{s: s, ID: id, cfg: sc, evses: map[int]string{}, profiles: map[profKey]prof{}, tx: map[int]*tx{}, applied: map[int]float64{}}
			s.stations[id] = st
			s.ids = append(s.ids, id)
		}
		st.evses[evse] = d.ID
	}
	return s, nil
}

// Stations lists the simulated station ids in config order.
func (s *Sim) Stations() []string { return append([]string(nil), s.ids...) }

// Station returns a simulated station.
func (s *Sim) Station(id string) *Station { return s.stations[id] }

// Start connects every station (they retry until the CSMS answers) and runs their
// unprompted reports until ctx ends or Stop.
func (s *Sim) Start(ctx context.Context) error {
	for _, id := range s.ids {
		st := s.stations[id]
		if err := st.connect(); err != nil {
			s.opts.Log.Warn("ocppsim: station not connected", "station", id, "err", err)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				s.Stop()
				return
			case <-s.stop:
				return
			case <-tick.C:
			}
			periodic := s.opts.MeterEvery > 0 && time.Since(last) >= s.opts.MeterEvery
			if periodic {
				last = time.Now()
			}
			for _, id := range s.ids {
				st := s.stations[id]
				if !st.connected() {
					st.mu.Lock()
					f := st.fault
					st.mu.Unlock()
					if f != FaultDisconnect {
						_ = st.connect()
					}
					continue
				}
				go st.sync(periodic)
			}
		}
	}()
	return nil
}

// Stop disconnects every station.
func (s *Sim) Stop() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	for _, id := range s.ids {
		s.stations[id].disconnect()
	}
}

// SetFault injects (or with FaultNone clears) a fault on a station.
func (s *Sim) SetFault(stationID string, f Fault) error {
	st := s.stations[stationID]
	if st == nil {
		return fmt.Errorf("ocppsim: unknown station %q", stationID)
	}
	st.mu.Lock()
	prev := st.fault
	st.fault = f
	st.mu.Unlock()
	switch {
	case f == FaultDisconnect:
		st.disconnect()
	case prev == FaultDisconnect:
		return st.connect()
	}
	return nil
}

// AppliedKW returns the limit a station applies to an EVSE's device (false: none).
func (s *Sim) AppliedKW(deviceID string) (float64, bool) {
	for _, st := range s.stations {
		st.mu.Lock()
		for ev, d := range st.evses {
			if d == deviceID {
				v, ok := st.applied[ev]
				st.mu.Unlock()
				return v, ok
			}
		}
		st.mu.Unlock()
	}
	return 0, false
}

func (st *Station) connected() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cs != nil && st.cs.IsConnected()
}

func (st *Station) disconnect() {
	st.mu.Lock()
	cs := st.cs
	st.cs = nil
	st.mu.Unlock()
	if cs != nil {
		st.retire(cs)
	}
}

// retire stops a client so that no request is sent to it from then on.
func (st *Station) retire(cs ocpp2.ChargingStation) {
	st.sendMu.Lock()
	defer st.sendMu.Unlock()
	if st.retired == nil {
		st.retired = map[ocpp2.ChargingStation]bool{}
	}
	st.retired[cs] = true
	cs.Stop()
}

func (st *Station) connect() error {
	st.mu.Lock()
	if st.cs != nil {
		old := st.cs
		st.cs = nil
		st.mu.Unlock()
		st.retire(old)
		st.mu.Lock()
	}
	st.mu.Unlock()
	wsc := ws.NewClient()
	pw := ""
	if st.s.opts.Password != nil {
		pw = st.s.opts.Password(st.ID)
	}
	wsc.SetBasicAuth(st.ID, pw)
	cs := ocpp2.NewChargingStation(st.ID, nil, wsc)
	h := &handler{st: st}
	cs.SetSmartChargingHandler(h)
	cs.SetRemoteControlHandler(h)
	// The library's synchronous requests must not overlap: every call of this
	// station, boot included, goes under syncMu.
	st.syncMu.Lock()
	defer st.syncMu.Unlock()
	if err := cs.Start(st.s.opts.URL); err != nil {
		return err
	}
	st.mu.Lock()
	st.cs = cs
	st.mu.Unlock()
	if err := st.call(cs, provisioning.NewBootNotificationRequest(provisioning.BootReasonPowerUp, "gridd-sim", "gridd")); err != nil {
		return fmt.Errorf("BootNotification: %w", err)
	}
	for ev := range st.evses {
		_ = st.call(cs, availability.NewStatusNotificationRequest(types.NewDateTime(st.s.opts.Clock.Now()), availability.ConnectorStatusAvailable, ev, 1))
	}
	// Transactions and charging profiles survive a reconnect, as in a real station.
	go st.sync(true)
	return nil
}

// callTimeout bounds a station's own request.
const callTimeout = 10 * time.Second

// call sends one request and waits (bounded) for its answer. The library's
// synchronous calls wait forever for a request that was in flight when the
// connection stopped; this one does not.
func (st *Station) call(cs ocpp2.ChargingStation, req ocpp.Request) error {
	ch := make(chan error, 1)
	st.sendMu.RLock()
	if st.retired[cs] {
		st.sendMu.RUnlock()
		return fmt.Errorf("%s: the connection was closed", req.GetFeatureName())
	}
	err := cs.SendRequestAsync(req, func(_ ocpp.Response, err error) { ch <- err })
	st.sendMu.RUnlock()
	if err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-time.After(callTimeout):
		return fmt.Errorf("%s: no answer in %s", req.GetFeatureName(), callTimeout)
	}
}

func (st *Station) client() ocpp2.ChargingStation {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.cs
}

// sync opens and closes transactions as the plant's vehicles come and go, applies
// the profiles in force, and sends MeterValues when meter is set.
func (st *Station) sync(meter bool) {
	if !meter {
		if !st.syncMu.TryLock() {
			return // a sync is under way
		}
	} else {
		st.syncMu.Lock()
	}
	defer st.syncMu.Unlock()
	cs := st.client()
	if cs == nil {
		return
	}
	now := st.s.opts.Clock.Now()
	evs := make([]int, 0, len(st.evses))
	for ev := range st.evses {
		evs = append(evs, ev)
	}
	sort.Ints(evs)
	for _, ev := range evs {
		dev := st.evses[ev]
		ds, ok := st.s.plant.State(dev)
		if !ok {
			continue
		}
		st.mu.Lock()
		cur := st.tx[ev]
		st.mu.Unlock()
		energy := []types.MeterValue{{Timestamp: *types.NewDateTime(now), SampledValue: []types.SampledValue{
			{Value: math.Round(ds.ImportKWh * 1000), Measurand: types.MeasurandEnergyActiveImportRegister},
		}}}
		switch {
		case ds.Connected && cur == nil:
			st.mu.Lock()
			st.txSeq++
			t := &tx{id: fmt.Sprintf("%s-%d-%d", st.ID, ev, st.txSeq)}
			st.tx[ev] = t
			st.seq++
			seq := st.seq
			st.mu.Unlock()
			_ = st.call(cs, availability.NewStatusNotificationRequest(types.NewDateTime(now), availability.ConnectorStatusOccupied, ev, 1))
			te := transactions.NewTransactionEventRequest(transactions.TransactionEventStarted, types.NewDateTime(now), transactions.TriggerReasonCablePluggedIn, seq,
				transactions.Transaction{TransactionID: t.id, ChargingState: transactions.ChargingStateCharging})
			te.Evse, te.MeterValue = &types.EVSE{ID: ev}, energy
			_ = st.call(cs, te)
			needs := smartcharging.ChargingNeeds{RequestedEnergyTransfer: smartcharging.EnergyTransferModeAC3Phase,
				ACChargingParameters: &smartcharging.ACChargingParameters{EnergyAmount: int(math.Round(ds.SessionRequestKWh * 1000)), EVMinCurrent: 6, EVMaxCurrent: 32, EVMaxVoltage: 400}}
			if !ds.Departure.IsZero() {
				needs.DepartureTime = types.NewDateTime(ds.Departure)
			}
			if err := st.call(cs, smartcharging.NewNotifyEVChargingNeedsRequest(ev, needs)); err != nil {
				st.s.opts.Log.Warn("ocppsim: NotifyEVChargingNeeds", "station", st.ID, "err", err)
			}
		case !ds.Connected && cur != nil:
			st.mu.Lock()
			delete(st.tx, ev)
			st.seq++
			seq := st.seq
			st.mu.Unlock()
			te := transactions.NewTransactionEventRequest(transactions.TransactionEventEnded, types.NewDateTime(now), transactions.TriggerReasonEVCommunicationLost, seq,
				transactions.Transaction{TransactionID: cur.id, ChargingState: transactions.ChargingStateIdle, StoppedReason: transactions.ReasonEVDisconnected})
			te.Evse, te.MeterValue = &types.EVSE{ID: ev}, energy
			_ = st.call(cs, te)
			_ = st.call(cs, availability.NewStatusNotificationRequest(types.NewDateTime(now), availability.ConnectorStatusAvailable, ev, 1))
		}
		st.apply(ev, now)
		if meter {
			ds, _ = st.s.plant.State(dev)
			power := math.Max(ds.PowerKW, 0) * 1000
			_ = st.call(cs, meter201.NewMeterValuesRequest(ev, []types.MeterValue{{Timestamp: *types.NewDateTime(now), SampledValue: []types.SampledValue{
				{Value: math.Round(power), Measurand: types.MeasurandPowerActiveImport},
				{Value: math.Round(ds.ImportKWh * 1000), Measurand: types.MeasurandEnergyActiveImportRegister},
			}}}))
		}
	}
}

// limit is the composite limit of an EVSE now, in the station's unit (false: none).
func (st *Station) limit(ev int, now time.Time) (float64, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := st.tx[ev]
	best := func(purpose types.ChargingProfilePurposeType, evse int) (prof, bool) {
		var b prof
		found := false
		for k, p := range st.profiles {
			if k.evse != evse || k.purpose != purpose || (!p.validTo.IsZero() && !now.Before(p.validTo)) {
				continue
			}
			if purpose == types.ChargingProfilePurposeTxProfile && (cur == nil || p.txID != cur.id) {
				continue
			}
			if !found || p.stack > b.stack {
				b, found = p, true
			}
		}
		return b, found
	}
	if p, ok := best(types.ChargingProfilePurposeTxProfile, ev); ok {
		return p.limit, true
	}
	if p, ok := best(types.ChargingProfilePurposeTxDefaultProfile, ev); ok {
		return p.limit, true
	}
	if p, ok := best(types.ChargingProfilePurposeTxDefaultProfile, 0); ok {
		return p.limit, true
	}
	return 0, false
}

func (st *Station) toKW(v float64) float64 {
	if st.cfg.ChargingRateUnit == "A" {
		return v * st.cfg.VoltageV * float64(st.cfg.Phases) / 1000
	}
	return v / 1000
}

// apply sets the plant's setpoint to the composite limit (the charger's rating
// without one).
func (st *Station) apply(ev int, now time.Time) {
	dev := st.evses[ev]
	lim, ok := st.limit(ev, now)
	kw := math.Inf(1)
	if ok {
		kw = st.toKW(lim)
	}
	ds, _ := st.s.plant.State(dev)
	_ = ds
	st.mu.Lock()
	prev, had := st.applied[ev]
	if !ok {
		delete(st.applied, ev)
	} else {
		st.applied[ev] = kw
	}
	st.mu.Unlock()
	if had && ok && prev == kw {
		return
	}
	if !ok {
		kw = 1e6 // no limit: the charger's own rating caps it
	}
	if err := st.s.plant.SetSetpoint(dev, kw); err != nil {
		st.s.opts.Log.Warn("ocppsim: setpoint", "device", dev, "err", err)
	}
}

func (st *Station) slow() {
	st.mu.Lock()
	f := st.fault
	st.mu.Unlock()
	if f == FaultSlow {
		time.Sleep(st.s.opts.SlowDelay)
	}
}

type handler struct{ st *Station }

var errNotSupported = errors.New("not supported by the simulated station")

func (h *handler) OnClearChargingProfile(*smartcharging.ClearChargingProfileRequest) (*smartcharging.ClearChargingProfileResponse, error) {
	return &smartcharging.ClearChargingProfileResponse{Status: smartcharging.ClearChargingProfileStatusUnknown}, nil
}

func (h *handler) OnGetChargingProfiles(*smartcharging.GetChargingProfilesRequest) (*smartcharging.GetChargingProfilesResponse, error) {
	return nil, errNotSupported
}

func (h *handler) OnGetCompositeSchedule(r *smartcharging.GetCompositeScheduleRequest) (*smartcharging.GetCompositeScheduleResponse, error) {
	st := h.st
	st.slow()
	now := st.s.opts.Clock.Now()
	lim, ok := st.limit(r.EvseID, now)
	if !ok {
		return &smartcharging.GetCompositeScheduleResponse{Status: smartcharging.GetCompositeScheduleStatusRejected, EvseID: r.EvseID}, nil
	}
	d := r.Duration
	return &smartcharging.GetCompositeScheduleResponse{Status: smartcharging.GetCompositeScheduleStatusAccepted, EvseID: r.EvseID,
		Schedule: &smartcharging.CompositeSchedule{StartDateTime: types.NewDateTime(now), ChargingSchedule: &types.ChargingSchedule{
			Duration: &d, ChargingRateUnit: types.ChargingRateUnitType(st.cfg.ChargingRateUnit),
			ChargingSchedulePeriod: []types.ChargingSchedulePeriod{{StartPeriod: 0, Limit: lim}}}}}, nil
}

func (h *handler) OnSetChargingProfile(r *smartcharging.SetChargingProfileRequest) (*smartcharging.SetChargingProfileResponse, error) {
	st := h.st
	st.slow()
	st.mu.Lock()
	f := st.fault
	st.mu.Unlock()
	cp := r.ChargingProfile
	if f == FaultRejectProfile || len(cp.ChargingSchedule) == 0 || len(cp.ChargingSchedule[0].ChargingSchedulePeriod) == 0 ||
		string(cp.ChargingSchedule[0].ChargingRateUnit) != st.cfg.ChargingRateUnit {
		return &smartcharging.SetChargingProfileResponse{Status: smartcharging.ChargingProfileStatusRejected}, nil
	}
	if f == FaultIgnoreProfile {
		return &smartcharging.SetChargingProfileResponse{Status: smartcharging.ChargingProfileStatusAccepted}, nil
	}
	p := prof{stack: cp.StackLevel, limit: cp.ChargingSchedule[0].ChargingSchedulePeriod[0].Limit, txID: cp.TransactionID}
	if cp.ValidTo != nil {
		p.validTo = cp.ValidTo.Time
	}
	st.mu.Lock()
	for k := range st.profiles {
		if k.id == cp.ID {
			delete(st.profiles, k)
		}
	}
	st.profiles[profKey{evse: r.EvseID, purpose: cp.ChargingProfilePurpose, id: cp.ID}] = p
	st.mu.Unlock()
	now := st.s.opts.Clock.Now()
	if r.EvseID == 0 {
		for ev := range st.evses {
			st.apply(ev, now)
		}
	} else if _, ok := st.evses[r.EvseID]; ok {
		st.apply(r.EvseID, now)
	}
	return &smartcharging.SetChargingProfileResponse{Status: smartcharging.ChargingProfileStatusAccepted}, nil
}

func (h *handler) OnRequestStartTransaction(*remotecontrol.RequestStartTransactionRequest) (*remotecontrol.RequestStartTransactionResponse, error) {
	return nil, errNotSupported
}

func (h *handler) OnRequestStopTransaction(*remotecontrol.RequestStopTransactionRequest) (*remotecontrol.RequestStopTransactionResponse, error) {
	return nil, errNotSupported
}

func (h *handler) OnTriggerMessage(r *remotecontrol.TriggerMessageRequest) (*remotecontrol.TriggerMessageResponse, error) {
	h.st.slow()
	if r.RequestedMessage != remotecontrol.MessageTriggerMeterValues {
		return &remotecontrol.TriggerMessageResponse{Status: remotecontrol.TriggerMessageStatusNotImplemented}, nil
	}
	go h.st.sync(true)
	return &remotecontrol.TriggerMessageResponse{Status: remotecontrol.TriggerMessageStatusAccepted}, nil
}

func (h *handler) OnUnlockConnector(*remotecontrol.UnlockConnectorRequest) (*remotecontrol.UnlockConnectorResponse, error) {
	return nil, errNotSupported
}
