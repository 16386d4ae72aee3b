package ocpp

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	ocpp16 "github.com/lorenzodonini/ocpp-go/ocpp1.6"
	ocpp2 "github.com/lorenzodonini/ocpp-go/ocpp2.0.1"
	"github.com/lorenzodonini/ocpp-go/ocppj"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/site"
)

// Options configure a CSMS.
type Options struct {
	// Config is the site's ocpp section (with defaults applied).
	Config *site.OCPP
	// BaseDir resolves relative TLS file paths (the config file's directory).
	BaseDir string
	Clock   clock.Clock
	Log     *slog.Logger
}

// CSMS is gridd's central system: the WebSocket server stations connect to, the
// OCPP 2.0.1 and 1.6 stacks (lorenzodonini/ocpp-go) behind it, and what each
// station last reported. The fieldbus driver reads and writes through it.
type CSMS struct {
	cfg *site.OCPP
	clk clock.Clock
	log *slog.Logger
	srv *wsServer
	v2  ocpp2.CSMS
	v16 ocpp16.CentralSystem

	auditMu sync.RWMutex
	auditFn auditFunc

	mu       sync.Mutex
	stations map[string]*station
	closed   bool
	wg       sync.WaitGroup
	stop     chan struct{}
}

// station is one configured station's state as gridd knows it.
type station struct {
	cfg site.OCPPStation

	mu       sync.Mutex
	proto    string // "" while disconnected
	conns    int    // connections so far
	booted   chan struct{}
	evses    map[int]*evse
	updated  chan struct{} // closed and replaced on every meter update
	lastSeen time.Time

	callMu sync.Mutex // one CSMS-initiated exchange at a time
}

// evse is one EVSE (1.6: connector) of a station.
type evse struct {
	status  string
	plugged bool

	inTx      bool
	txID      string // 2.0.1 transactionId, 1.6 transactionId as text
	tx16      int
	txStartWh float64
	txStartOK bool

	powerW, energyWh, socPct    float64
	hasPower, hasEnergy, hasSoC bool
	meterSeq                    uint64 // every meter update
	mvSeq                       uint64 // MeterValues messages
	meterAt                     time.Time
	departure                   time.Time
	requestWh                   float64
	limitKW                     float64
	hasLimit                    bool
}

// New builds the CSMS; Start listens.
func New(opts Options) (*CSMS, error) {
	if opts.Config == nil {
		return nil, errors.New("ocpp: no ocpp config")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	c := &CSMS{cfg: opts.Config, clk: opts.Clock, log: opts.Log, stations: map[string]*station{}, stop: make(chan struct{})}
	c.auditFn = func(action, subject, text string) {
		c.log.Info("ocpp: audit", "action", action, "subject", subject, "text", text)
	}
	for _, s := range c.cfg.Stations {
		c.stations[s.ID] = &station{cfg: s, evses: map[int]*evse{}, updated: make(chan struct{}), booted: make(chan struct{})}
	}
	var tlsCfg *tls.Config
	if c.cfg.TLSCert != "" {
		cert, key := c.cfg.TLSCert, c.cfg.TLSKey
		if !filepath.IsAbs(cert) {
			cert = filepath.Join(opts.BaseDir, cert)
		}
		if !filepath.IsAbs(key) {
			key = filepath.Join(opts.BaseDir, key)
		}
		kp, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("ocpp.tls_cert %s / ocpp.tls_key %s: %w", cert, key, err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}}
	}
	c.srv = newWSServer(c.cfg, tlsCfg, c.log, c.audit)
	ep2, ep16 := endpoints(c.srv.facades[Proto201], c.srv.facades[Proto16])
	c.srv.facades[Proto201].known = func(action string) bool { _, ok := ep2.GetProfileForFeature(action); return ok }
	c.srv.facades[Proto16].known = func(action string) bool { _, ok := ep16.GetProfileForFeature(action); return ok }
	c.v2 = ocpp2.NewCSMS(ep2, c.srv.facades[Proto201])
	c.v16 = ocpp16.NewCentralSystem(ep16, c.srv.facades[Proto16])
	h2 := &handler201{c: c}
	c.v2.SetProvisioningHandler(h2)
	c.v2.SetAvailabilityHandler(h2)
	c.v2.SetMeterHandler(h2)
	c.v2.SetTransactionsHandler(h2)
	c.v2.SetAuthorizationHandler(h2)
	c.v2.SetSmartChargingHandler(h2)
	c.v2.SetNewChargingStationHandler(func(cs ocpp2.ChargingStationConnection) { c.connected(cs.ID(), Proto201) })
	c.v2.SetChargingStationDisconnectedHandler(func(cs ocpp2.ChargingStationConnection) { c.disconnected(cs.ID(), Proto201) })
	h16 := &handler16{c: c}
	c.v16.SetCoreHandler(h16)
	c.v16.SetNewChargePointHandler(func(cp ocpp16.ChargePointConnection) { c.connected(cp.ID(), Proto16) })
	c.v16.SetChargePointDisconnectedHandler(func(cp ocpp16.ChargePointConnection) { c.disconnected(cp.ID(), Proto16) })
	return c, nil
}

// SetAudit makes fn record the CSMS's audit events (refused connections, connects,
// disconnects, safe limits). Until it is set they are only logged.
func (c *CSMS) SetAudit(fn func(action, subject, text string)) {
	c.auditMu.Lock()
	c.auditFn = fn
	c.auditMu.Unlock()
}

func (c *CSMS) audit() auditFunc {
	c.auditMu.RLock()
	defer c.auditMu.RUnlock()
	return c.auditFn
}

// Start listens on the ocpp.listen address and returns the bound address.
func (c *CSMS) Start() (string, error) {
	c.v2.Start(0, "")  // wires the library's handlers to the facade; does not listen
	c.v16.Start(0, "") // likewise
	return c.srv.start(c.cfg.Listen)
}

// Close stops the server and closes every connection.
func (c *CSMS) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.stop)
	c.mu.Unlock()
	// Disconnects caused by stopping are logged, not audited: the store may be
	// closing too.
	c.SetAudit(func(action, subject, text string) {
		c.log.Info("ocpp: "+action, "subject", subject, "text", text)
	})
	c.srv.stop()
	c.v2.Stop()
	c.v16.Stop()
	c.wg.Wait()
	return nil
}

func (c *CSMS) station(id string) *station {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stations[id]
}

// Connected reports whether the station has an open connection, and its protocol.
func (c *CSMS) Connected(id string) (string, bool) {
	st := c.station(id)
	if st == nil {
		return "", false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.proto, st.proto != ""
}

func (st *station) evse(id int) *evse {
	e := st.evses[id]
	if e == nil {
		e = &evse{}
		st.evses[id] = e
	}
	return e
}

func (c *CSMS) connected(id, proto string) {
	st := c.station(id)
	if st == nil {
		return
	}
	st.mu.Lock()
	st.proto = proto
	st.conns++
	st.lastSeen = c.clk.Now()
	st.booted = make(chan struct{})
	booted, conn := st.booted, st.conns
	st.mu.Unlock()
	c.log.Info("ocpp: station connected", "station", id, "protocol", proto)
	c.audit()("ocpp.connect", "station:"+id, "station connected over "+proto)
	// The safe limit goes out once the station has booted (or after a grace period
	// for a station that resumes without a BootNotification).
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-booted:
			// Let the BootNotification's answer go out first.
			time.Sleep(200 * time.Millisecond)
		case <-time.After(3 * time.Second):
		case <-c.stop:
			return
		}
		st.mu.Lock()
		current := st.conns == conn && st.proto != ""
		st.mu.Unlock()
		if current { // not for a connection that is gone or replaced
			c.setSafeLimit(id)
		}
	}()
}

func (c *CSMS) disconnected(id, proto string) {
	st := c.station(id)
	if st == nil {
		return
	}
	st.mu.Lock()
	if st.proto == proto {
		st.proto = ""
	}
	st.mu.Unlock()
	if conn := c.srv.conn(id); conn != nil {
		return // replaced by a newer connection
	}
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed { // gridd is stopping: not a comms loss
		c.log.Info("ocpp: station disconnected as gridd stops", "station", id)
		return
	}
	c.log.Warn("ocpp: station disconnected", "station", id)
	c.audit()("ocpp.disconnect", "station:"+id, "station disconnected: comms lost until it reconnects")
}

func (c *CSMS) booted(id string) {
	st := c.station(id)
	if st == nil {
		return
	}
	st.mu.Lock()
	select {
	case <-st.booted:
	default:
		close(st.booted)
	}
	st.lastSeen = c.clk.Now()
	st.mu.Unlock()
}

// setSafeLimit sets the station-wide TxDefaultProfile at stack level 0 with
// ocpp.safe_limit_kw per EVSE and no end: what applies once gridd's own profiles
// expire.
func (c *CSMS) setSafeLimit(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.CallTimeout.D)
	defer cancel()
	p := profile{id: safeProfileID, stackLevel: 0, purpose: purposeTxDefault, limitKW: c.cfg.SafeLimitKW}
	err := c.setProfile(ctx, id, 0, p)
	if err != nil {
		c.log.Warn("ocpp: safe limit not set", "station", id, "err", err)
		c.audit()("ocpp.safe_limit", "station:"+id, fmt.Sprintf("TxDefaultProfile %.2f kW NOT set on connect: %v", c.cfg.SafeLimitKW, err))
		return
	}
	c.audit()("ocpp.safe_limit", "station:"+id, fmt.Sprintf("TxDefaultProfile %.2f kW per EVSE set on connect (applies once gridd's profiles expire)", c.cfg.SafeLimitKW))
}

// Profile ids gridd uses (a profile with the same id replaces the earlier one).
const (
	safeProfileID = 9000
	// per EVSE: 9000 + 10*evse + 1 (TxDefault) / + 2 (Tx)
)

type purpose int

const (
	purposeTxDefault purpose = iota
	purposeTx
)

func (p purpose) String() string {
	if p == purposeTx {
		return "TxProfile"
	}
	return "TxDefaultProfile"
}

type profile struct {
	id, stackLevel int
	purpose        purpose
	txID           string
	tx16           int
	limitKW        float64
	validTo        time.Time // zero: no end
}

// toUnit converts kW to the station's charging-rate unit.
func toUnit(cfg site.OCPPStation, kw float64) float64 {
	if cfg.ChargingRateUnit == "A" {
		return math.Round(kw*1000/(cfg.VoltageV*float64(cfg.Phases))*10) / 10
	}
	return math.Round(kw * 1000)
}

// fromUnit converts a limit in the station's unit to kW.
func fromUnit(cfg site.OCPPStation, v float64) float64 {
	if cfg.ChargingRateUnit == "A" {
		return v * cfg.VoltageV * float64(cfg.Phases) / 1000
	}
	return v / 1000
}

// RejectedError is a station's refusal of a request.
type RejectedError struct {
	Action, Status string
}

func (e *RejectedError) Error() string { return e.Action + ": station answered " + e.Status }

// exchange sends one CSMS-initiated request on gridd's own call path (not the
// library's request dispatcher, which serialises every station's requests through
// one goroutine and deadlocks under many concurrent requests): the request is
// validated with the library's rules, sent as a CALL, and the answer decoded into
// the library's response type and validated too.
func exchange[Resp any](ctx context.Context, c *CSMS, st *station, action string, req any) (*Resp, error) {
	if err := ocppj.Validate.Struct(req); err != nil {
		return nil, fmt.Errorf("%s: request invalid: %w", action, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout.D)
	defer cancel()
	raw, err := c.srv.call(ctx, st.cfg.ID, action, req)
	if err != nil {
		return nil, err
	}
	var resp Resp
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("%s: undecodable answer: %w", action, err)
	}
	if err := ocppj.Validate.Struct(&resp); err != nil {
		return nil, fmt.Errorf("%s: invalid answer: %w", action, err)
	}
	return &resp, nil
}

// setProfile sends SetChargingProfile for evseID (0: the whole station).
func (c *CSMS) setProfile(ctx context.Context, id string, evseID int, p profile) error {
	st := c.station(id)
	if st == nil {
		return fmt.Errorf("unknown station %q", id)
	}
	st.mu.Lock()
	proto := st.proto
	st.mu.Unlock()
	st.callMu.Lock()
	defer st.callMu.Unlock()
	switch proto {
	case Proto201:
		return c.setProfile201(ctx, st, evseID, p)
	case Proto16:
		return c.setProfile16(ctx, st, evseID, p)
	}
	return ErrNotConnected
}

// compositeKW asks the station for its composite schedule on evseID and returns
// the limit in force now in kW, and the limit in the station's unit.
func (c *CSMS) compositeKW(ctx context.Context, id string, evseID int) (float64, float64, error) {
	st := c.station(id)
	if st == nil {
		return 0, 0, fmt.Errorf("unknown station %q", id)
	}
	st.mu.Lock()
	proto := st.proto
	st.mu.Unlock()
	st.callMu.Lock()
	defer st.callMu.Unlock()
	var v float64
	var err error
	switch proto {
	case Proto201:
		v, err = c.composite201(ctx, st, evseID)
	case Proto16:
		v, err = c.composite16(ctx, st, evseID)
	default:
		return 0, 0, ErrNotConnected
	}
	if err != nil {
		return 0, 0, err
	}
	return fromUnit(st.cfg, v), v, nil
}

// triggerMeter asks the station for fresh MeterValues of evseID.
func (c *CSMS) triggerMeter(ctx context.Context, id string, evseID int) error {
	st := c.station(id)
	if st == nil {
		return fmt.Errorf("unknown station %q", id)
	}
	st.mu.Lock()
	proto := st.proto
	st.mu.Unlock()
	st.callMu.Lock()
	defer st.callMu.Unlock()
	// The MeterValues asked for (and a transaction event it may bring) are not
	// the station's own calls: they do not count against its rate.
	c.srv.grant(id, 2)
	switch proto {
	case Proto201:
		return c.trigger201(ctx, st, evseID)
	case Proto16:
		return c.trigger16(ctx, st, evseID)
	}
	return ErrNotConnected
}

// meterUpdate applies one meter reading of an EVSE and wakes readers.
func (c *CSMS) meterUpdate(id string, evseID int, fn func(e *evse)) {
	st := c.station(id)
	if st == nil {
		return
	}
	st.mu.Lock()
	e := st.evse(evseID)
	fn(e)
	e.meterSeq++
	e.meterAt = c.clk.Now()
	st.lastSeen = e.meterAt
	close(st.updated)
	st.updated = make(chan struct{})
	st.mu.Unlock()
}

// update applies a non-meter change of an EVSE (status, transaction, needs).
func (c *CSMS) update(id string, evseID int, fn func(e *evse)) {
	st := c.station(id)
	if st == nil {
		return
	}
	st.mu.Lock()
	fn(st.evse(evseID))
	st.lastSeen = c.clk.Now()
	st.mu.Unlock()
}

// sample is one measured value in base units (W, Wh, %).
type sample struct {
	measurand, phase string
	value            float64
}

// applySamples folds samples into an EVSE: totals win over per-phase sums;
// import minus export is the power drawn from the site bus.
func applySamples(e *evse, ss []sample) {
	totals := map[string]float64{}
	phases := map[string]float64{}
	hasTotal := map[string]bool{}
	hasPhase := map[string]bool{}
	for _, s := range ss {
		m := s.measurand
		if m == "" {
			m = "Energy.Active.Import.Register"
		}
		switch s.phase {
		case "":
			totals[m] = s.value
			hasTotal[m] = true
		case "L1", "L2", "L3", "L1-N", "L2-N", "L3-N":
			phases[m] += s.value
			hasPhase[m] = true
		}
	}
	get := func(m string) (float64, bool) {
		if hasTotal[m] {
			return totals[m], true
		}
		return phases[m], hasPhase[m]
	}
	imp, okI := get("Power.Active.Import")
	exp, okE := get("Power.Active.Export")
	if okI || okE {
		e.powerW, e.hasPower = imp-exp, true
	}
	if v, ok := get("Energy.Active.Import.Register"); ok {
		e.energyWh, e.hasEnergy = v, true
		if e.inTx && !e.txStartOK {
			e.txStartWh, e.txStartOK = v, true
		}
	}
	if v, ok := hasTotal["SoC"], hasTotal["SoC"]; ok && v {
		e.socPct, e.hasSoC = totals["SoC"], true
	}
}

// scale converts a value with a unit to W, Wh or %.
func scale(v float64, unit string, multiplier int) float64 {
	switch strings.ToLower(unit) {
	case "kw", "kwh":
		v *= 1000
	}
	if multiplier != 0 {
		v *= math.Pow10(multiplier)
	}
	return v
}

// Stations lists the configured station ids, sorted.
func (c *CSMS) Stations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.stations))
	for id := range c.stations {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// EVSEState is what gridd last heard from one EVSE (1.6: connector) of a station.
type EVSEState struct {
	Status                 string
	Plugged, InTransaction bool
	TransactionID          string
	PowerKW, EnergyKWh     float64
	HasPower, HasEnergy    bool
	// MeterValues counts the MeterValues messages taken from the EVSE.
	MeterValues uint64
}

// EVSE returns what gridd last heard from an EVSE (false: nothing yet).
func (c *CSMS) EVSE(stationID string, evseID int) (EVSEState, bool) {
	st := c.station(stationID)
	if st == nil {
		return EVSEState{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	e := st.evses[evseID]
	if e == nil {
		return EVSEState{}, false
	}
	return EVSEState{Status: e.status, Plugged: e.plugged, InTransaction: e.inTx, TransactionID: e.txID,
		PowerKW: e.powerW / 1000, EnergyKWh: e.energyWh / 1000, HasPower: e.hasPower, HasEnergy: e.hasEnergy, MeterValues: e.mvSeq}, true
}
