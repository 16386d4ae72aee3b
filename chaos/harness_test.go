package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"

	"github.com/jackc/pgx/v5"
)

// chaosSite is the site every scenario dispatches: a meter, a building, a battery, a PV
// plant and two EV chargers, each behind its own Modbus TCP endpoint so that each can
// fail alone. EP0..EP5 are replaced by the endpoints; CYCLE, STEP and HORIZON by the
// cycle spec and the step and horizon lengths.
const chaosSite = `
site: {name: chaos, timezone: UTC, cycle: "CYCLE", step: STEP, horizon: HORIZON}
tariff:
  currency: GBP
  import:
    - {from: "00:00", to: "07:00", price_per_kwh: 0.12}
    - {from: "07:00", to: "16:00", price_per_kwh: 0.24}
    - {from: "16:00", to: "19:00", price_per_kwh: 0.38}
    - {from: "19:00", to: "24:00", price_per_kwh: 0.24}
  export_price_per_kwh: 0.05
grid: {import_limit_kw: 400, export_limit_kw: 150}
nodes:
  - {id: sub, parent: "", limit_kw: 400}
  - {id: fa, parent: sub, limit_kw: 300}
approval: {auto: true}
ev: {default_dwell: 8h, default_energy_kwh: 20, unmet_penalty_per_kwh: 1.0}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "EP0", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: fa, endpoint: "EP1", unit_id: 1, profile: "builtin:load-meter", sim: {series: "cambridge:b36"}}
  - id: bess
    kind: bess
    node: fa
    endpoint: "EP2"
    unit_id: 1
    profile: "builtin:bess"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 95, max_charge_kw: 100, max_discharge_kw: 100, charge_efficiency: 0.95, discharge_efficiency: 0.95, wear_cost_per_kwh: 0.02}
    sim: {initial_soc_pct: 50}
  - {id: pv, kind: pv, node: fa, endpoint: "EP3", unit_id: 1, profile: "builtin:pv-inverter", pv: {capacity_kw: 150, curtailable: true}, sim: {series: "konstanz:pv"}}
  - {id: ev-1, kind: ev_charger, node: fa, endpoint: "EP4", unit_id: 1, profile: "builtin:ev-charger", ev_charger: {max_charge_kw: 11, max_discharge_kw: 11, v2g_budget_kwh: 10}, sim: {series: trondheim, user: "Bl2-5"}}
  - {id: ev-2, kind: ev_charger, node: fa, endpoint: "EP5", unit_id: 1, profile: "builtin:ev-charger", ev_charger: {max_charge_kw: 11}, sim: {series: trondheim, user: "Bl2-2"}}
`

const nDevices = 6

// siteYAML renders chaosSite with the given endpoints and timing.
func siteYAML(endpoints []string, cycle, step, horizon string) string {
	pairs := []string{"CYCLE", cycle, "STEP", step, "HORIZON", horizon}
	for i, ep := range endpoints {
		pairs = append(pairs, "EP"+strconv.Itoa(i), ep)
	}
	return strings.NewReplacer(pairs...).Replace(chaosSite)
}

func parseSite(t testing.TB, yml string) (*site.Config, map[string]*fieldbus.Profile) {
	t.Helper()
	cfg, err := site.Parse("chaos.yaml", []byte(yml))
	if err != nil {
		t.Fatalf("chaos site: %v", err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatalf("chaos site profiles: %v", err)
	}
	return cfg, profiles
}

func quietLog() *slog.Logger {
	if os.Getenv("GRIDD_CHAOS_VERBOSE") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// proxy is a TCP relay in front of one simulated device. Kill closes its listener and
// every open connection (the device's host went away: connections are refused);
// Revive listens again on the same address.
type proxy struct {
	addr, upstream string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func newProxy(t testing.TB, upstream string) *proxy {
	t.Helper()
	p := &proxy{addr: testsite.FreeAddr(t), upstream: upstream, conns: map[net.Conn]struct{}{}}
	if err := p.Revive(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// Revive starts accepting connections again.
func (p *proxy) Revive() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after Kill
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("proxy %s: listen: %w", p.addr, err)
	}
	p.ln = ln
	go p.accept(ln)
	return nil
}

func (p *proxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // killed meanwhile
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(c, up)
		go pipe(up, c)
	}
}

// Kill refuses new connections and drops the open ones.
func (p *proxy) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// sampleKey identifies one telemetry row.
type sampleKey struct {
	at            int64 // UnixMicro
	device, point string
}

// countingPoller is the real fieldbus poller; it remembers what the last poll returned
// so that the harness knows how many telemetry rows each cycle must store.
type countingPoller struct {
	inner *fieldbus.Poller
	mu    sync.Mutex
	last  []fieldbus.Reading
}

func (p *countingPoller) Poll(ctx context.Context) []fieldbus.Reading {
	r := p.inner.Poll(ctx)
	p.mu.Lock()
	p.last = r
	p.mu.Unlock()
	return r
}

func (p *countingPoller) take() []fieldbus.Reading {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.last
	p.last = nil
	return r
}

// deviceWrite is one setpoint that went out on the wire (after the safety envelope).
type deviceWrite struct {
	At            time.Time
	Device, Point string
	Value         float64
	Err           error
}

// recordingWriter is the real fieldbus writer; it records every value sent to a device.
type recordingWriter struct {
	inner *fieldbus.Writer
	clk   clock.Clock
	mu    sync.Mutex
	log   []deviceWrite
}

func (w *recordingWriter) Write(ctx context.Context, deviceID, point string, value float64) (fieldbus.WriteResult, error) {
	res, err := w.inner.Write(ctx, deviceID, point, value)
	w.mu.Lock()
	w.log = append(w.log, deviceWrite{At: w.clk.Now(), Device: deviceID, Point: point, Value: value, Err: err})
	w.mu.Unlock()
	return res, err
}

func (w *recordingWriter) writes() []deviceWrite {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]deviceWrite(nil), w.log...)
}

// limits returns the range a setpoint of device d at point may take: the configured
// ratings, narrowed by the device's safety section, intersected with the profile's
// limits for the point.
func limits(cfg *site.Config, profiles map[string]*fieldbus.Profile, deviceID, point string) (lo, hi float64, err error) {
	d, ok := cfg.Device(deviceID)
	if !ok {
		return 0, 0, fmt.Errorf("unknown device %q", deviceID)
	}
	switch {
	case d.Kind == site.KindBESS && point == "setpoint_kw":
		lo, hi = -d.BESS.MaxDischargeKW, d.BESS.MaxChargeKW
	case d.Kind == site.KindEVCharger && point == "setpoint_kw":
		lo, hi = -d.EV.MaxDischargeKW, d.EV.MaxChargeKW
	case d.Kind == site.KindPV && point == "power_limit_kw":
		lo, hi = 0, d.PV.CapacityKW
	default:
		return 0, 0, fmt.Errorf("device %s (%s): no setpoint point %q", deviceID, d.Kind, point)
	}
	if d.Safety != nil && d.Safety.MinKW != nil {
		lo = math.Max(lo, *d.Safety.MinKW)
	}
	if d.Safety != nil && d.Safety.MaxKW != nil {
		hi = math.Min(hi, *d.Safety.MaxKW)
	}
	for _, pt := range profiles[deviceID].Points {
		if pt.Name == point && pt.HasLimits {
			lo, hi = math.Max(lo, pt.Min), math.Min(hi, pt.Max)
		}
	}
	return lo, hi, nil
}

// rig is one in-process gridd: the simulator behind per-device proxies, the real poller
// and writer, dispatch.Service on a simulated clock and a PostgreSQL store (optionally
// behind the spool).
type rig struct {
	t        *testing.T
	cfg      *site.Config // what gridd sees (endpoints are the proxies)
	profiles map[string]*fieldbus.Profile
	clk      *clock.Sim
	sim      *sim.Sim
	proxies  map[string]*proxy
	store    storage.Store
	dsn      string // the database, for the checks
	poller   *countingPoller
	writer   *recordingWriter
	svc      *dispatch.Service

	allow    map[string]bool // known issues this scenario may hit
	expected map[sampleKey]bool
	polls    int
	results  []*dispatch.CycleResult
	at       time.Time
}

var chaosStart = time.Date(2019, 6, 3, 6, 0, 0, 0, time.UTC)

// requireChaos skips the test unless GRIDD_CHAOS=1 (./scripts/chaos sets it): the suite
// takes minutes and stops its own database, so plain `go test ./...` leaves it out.
func requireChaos(t *testing.T) {
	t.Helper()
	if os.Getenv("GRIDD_CHAOS") != "1" {
		t.Skip("chaos suite: run ./scripts/chaos (or set GRIDD_CHAOS=1 with GRIDD_TEST_PG_DSN and GRIDD_TEST_PG_BIN)")
	}
}

// newRig builds a rig; store opens the store gridd uses given the database DSN.
func newRig(t *testing.T, dsn string, store func(t *testing.T, dsn string) storage.Store) *rig {
	t.Helper()
	requireChaos(t)
	ctx := t.Context()
	log := quietLog()
	simEPs, proxyEPs := make([]string, nDevices), make([]string, nDevices)
	for i := range simEPs {
		simEPs[i] = testsite.FreeAddr(t)
	}
	simCfg, simProfiles := parseSite(t, siteYAML(simEPs, "*/15 * * * *", "15m", "6h"))
	clk := clock.NewSim(chaosStart)
	sm := testsite.StartSim(t, ctx, simCfg, simProfiles, clk, log)
	proxies := map[string]*proxy{}
	for i, d := range simCfg.Devices {
		p := newProxy(t, simEPs[i])
		proxies[d.ID] = p
		proxyEPs[i] = p.addr
	}
	cfg, profiles := parseSite(t, siteYAML(proxyEPs, "*/15 * * * *", "15m", "6h"))
	devs := testsite.Devices(cfg, profiles)
	r := &rig{t: t, cfg: cfg, profiles: profiles, clk: clk, sim: sm, proxies: proxies, dsn: dsn, expected: map[sampleKey]bool{}, at: chaosStart}
	fp := fieldbus.NewPoller(devs, clk, log)
	fw := fieldbus.NewWriter(devs, clk, log)
	t.Cleanup(func() { fp.Close(); fw.Close() })
	r.poller = &countingPoller{inner: fp}
	r.writer = &recordingWriter{inner: fw, clk: clk}
	r.store = store(t, dsn)
	svc, err := dispatch.New(dispatch.Options{Config: cfg, Store: r.store, Poller: r.poller, Writer: r.writer, Clock: clk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r.svc = svc
	if err := r.svc.RegisterAssets(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// cycleOutcome is what one cycle did, as the harness saw it.
type cycleOutcome struct {
	res      *dispatch.CycleResult
	err      error
	wall     time.Duration
	readings []fieldbus.Reading
}

// lost reports whether device id gave nothing usable this cycle: stale, or no value of
// good quality.
func (o cycleOutcome) lost(id string) bool {
	for _, rd := range o.readings {
		if rd.DeviceID != id {
			continue
		}
		if rd.Stale {
			return true
		}
		for _, v := range rd.Values {
			if v.Quality == fieldbus.Good {
				return false
			}
		}
		return true
	}
	return true
}

// cycle runs one cycle at the rig's current cycle time and moves that time one step on.
func (r *rig) cycle() cycleOutcome {
	r.t.Helper()
	at := r.at
	r.clk.Set(at)
	t0 := time.Now()
	res, err := r.svc.RunCycle(r.t.Context(), at)
	o := cycleOutcome{res: res, err: err, wall: time.Since(t0)}
	r.polls++
	o.readings = r.poller.take()
	for _, rd := range o.readings {
		for _, v := range rd.Values {
			if math.IsNaN(v.Value) || math.IsInf(v.Value, 0) {
				continue
			}
			r.expected[sampleKey{at.UnixMicro(), rd.DeviceID, v.Point}] = true
		}
	}
	r.results = append(r.results, res)
	r.at = at.Add(r.cfg.Site.Step.D)
	return o
}

func (r *rig) cycles(n int) []cycleOutcome {
	out := make([]cycleOutcome, n)
	for i := range out {
		out[i] = r.cycle()
	}
	return out
}

// proof is what the invariant checks established.
type proof struct {
	polls, want, rows, distinct, missing, extra int
	deviceWrites, storedWrites                  int
	outOfLimits, doubleStep                     int
	approved, staleProposals, unaudited         int
	auditEvents                                 int
	auditOK                                     bool
	// known lists violations of a known, reported issue (see knownIssues).
	known []string
}

// knownIssues are invariant violations that the suite has found and that are reported
// but not yet fixed, by check name. They are logged and shown in the results table;
// with GRIDD_CHAOS_STRICT=1 they fail the test like any other violation.
var knownIssues = map[string]string{}

// violate fails the test, unless the violation is a known issue and the run is not strict.
func violate(t testing.TB, p *proof, allow map[string]bool, check, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if why, ok := knownIssues[check]; ok && allow[check] && os.Getenv("GRIDD_CHAOS_STRICT") != "1" {
		t.Logf("KNOWN ISSUE (%s): %s", why, msg)
		p.known = append(p.known, msg)
		return
	}
	t.Error(msg)
}

func (p proof) String() string {
	chain := "intact"
	if !p.auditOK {
		chain = "BROKEN"
	}
	known := ""
	for _, k := range p.known {
		known += "; KNOWN ISSUE: " + k
	}
	sent := ""
	if p.deviceWrites >= 0 {
		sent = fmt.Sprintf("%d setpoints sent, ", p.deviceWrites)
	}
	return fmt.Sprintf("telemetry %d rows = %d polled samples over %d polls (%d missing, %d duplicate); %s%d setpoint writes stored, %d outside limits, %d twice for one step; %d approved, %d stale proposals, %d unaudited changes; audit chain of %d events %s",
		p.rows, p.want, p.polls, p.missing, p.rows-p.distinct, sent, p.storedWrites, p.outOfLimits, p.doubleStep, p.approved, p.staleProposals, p.unaudited, p.auditEvents, chain) + known
}

// connect opens a plain connection to the rig's database for the checks.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	var conn *pgx.Conn
	var err error
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err = pgx.Connect(context.Background(), dsn)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("connect for checks: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// check proves the invariants over everything the rig did and fails the test on any
// violation.
func (r *rig) check() proof {
	r.t.Helper()
	t := r.t
	conn := connect(t, r.dsn)
	p := proof{polls: r.polls, want: len(r.expected)}

	// Telemetry: the stored keys are exactly the polled ones, besides the root meter's
	// demand-interval averages, which must sit on interval boundaries, one each.
	var avgRows, avgOff int
	if err := conn.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE extract(epoch FROM time)::bigint % $1 <> 0)
		FROM telemetry WHERE point = $2`, int64(r.cfg.Tariff.DemandIntervalD()/time.Second), site.PointImportAvgKW).Scan(&avgRows, &avgOff); err != nil {
		t.Fatal(err)
	}
	if avgOff > 0 {
		t.Errorf("%d of %d demand-interval averages are not on an interval boundary", avgOff, avgRows)
	}
	stored := map[sampleKey]bool{}
	rows, err := conn.Query(t.Context(), `SELECT time, device_id, point FROM telemetry WHERE point <> $1`, site.PointImportAvgKW)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var at time.Time
		var k sampleKey
		if err := rows.Scan(&at, &k.device, &k.point); err != nil {
			t.Fatal(err)
		}
		k.at = at.UnixMicro()
		p.rows++
		stored[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	p.distinct = len(stored)
	for k := range r.expected {
		if !stored[k] {
			p.missing++
		}
	}
	for k := range stored {
		if !r.expected[k] {
			p.extra++
		}
	}
	if p.missing > 0 || p.extra > 0 || p.rows != p.distinct || p.rows != len(r.expected) {
		t.Errorf("telemetry: %d rows, %d distinct, want %d polled samples; %d missing, %d unexpected", p.rows, p.distinct, len(r.expected), p.missing, p.extra)
	}

	// Setpoints on the wire: within limits.
	wire := r.writer.writes()
	p.deviceWrites = len(wire)
	for _, w := range wire {
		lo, hi, err := limits(r.cfg, r.profiles, w.Device, w.Point)
		if err != nil || w.Value < lo-1e-9 || w.Value > hi+1e-9 || math.IsNaN(w.Value) {
			p.outOfLimits++
			t.Errorf("setpoint %s.%s = %g at %s outside [%g, %g] (%v)", w.Device, w.Point, w.Value, w.At.Format(time.RFC3339), lo, hi, err)
		}
	}
	dbWrites := checkStoredWrites(t, conn, r.cfg, r.profiles, &p)
	// A write made while the database was down is kept as a setpoint.unrecorded audit
	// event (carried by the spool) instead of a setpoint_writes row.
	var unrecorded int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM audit_events WHERE action = 'setpoint.unrecorded'`).Scan(&unrecorded); err != nil {
		t.Fatal(err)
	}
	dbWrites += unrecorded
	// Every write that reached the wire is stored (a stored write may have failed before
	// reaching the wire only if the guard refused it, which is not counted on the wire).
	if dbWrites < p.deviceWrites {
		t.Errorf("%d setpoints went out on the wire but only %d are stored", p.deviceWrites, dbWrites)
	}
	checkSchedules(t, conn, &p, r.allow)
	checkAudit(t, r.store, &p)
	return p
}

// checkStoredWrites checks the setpoint_writes table: no (schedule, device, step) written
// twice, no written value outside the limits. It returns the number of stored writes
// that reached a device (status ok or mismatch, or failed with a transport error).
func checkStoredWrites(t testing.TB, conn *pgx.Conn, cfg *site.Config, profiles map[string]*fieldbus.Profile, p *proof) int {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT w.schedule_id, w.device_id, floor(extract(epoch FROM (w.time - s.start_time)) / 60 / s.step_minutes)::int AS step, count(*)
		FROM setpoint_writes w JOIN schedules s ON s.id = w.schedule_id
		GROUP BY 1, 2, 3 HAVING count(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var dev string
		var step, n int
		if err := rows.Scan(&id, &dev, &step, &n); err != nil {
			t.Fatal(err)
		}
		p.doubleStep++
		t.Errorf("schedule %d step %d: %s written %d times", id, step, dev, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = conn.Query(ctx, `SELECT device_id, point, written_kw, status FROM setpoint_writes`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var dev, point, status string
		var v float64
		if err := rows.Scan(&dev, &point, &v, &status); err != nil {
			t.Fatal(err)
		}
		n++
		p.storedWrites++
		if status == string(storage.WriteFailed) {
			continue // nothing was written
		}
		lo, hi, err := limits(cfg, profiles, dev, point)
		if err != nil || v < lo-1e-9 || v > hi+1e-9 {
			p.outOfLimits++
			t.Errorf("stored write %s.%s = %g outside [%g, %g] (%v)", dev, point, v, lo, hi, err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkSchedules: at most one approved schedule; no proposal created before the newest
// approved one; every schedule's proposal and every state change audited.
func checkSchedules(t testing.TB, conn *pgx.Conn, p *proof, allow map[string]bool) {
	t.Helper()
	ctx := context.Background()
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schedules WHERE status = 'approved'`).Scan(&p.approved); err != nil {
		t.Fatal(err)
	}
	if p.approved > 1 {
		violate(t, p, allow, "approved", "%d schedules approved at once, want at most one in force", p.approved)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schedules s
		WHERE s.status = 'proposed' AND s.created_at < (SELECT max(created_at) FROM schedules WHERE status = 'approved')`).Scan(&p.staleProposals); err != nil {
		t.Fatal(err)
	}
	if p.staleProposals > 0 {
		t.Errorf("%d proposed schedules are older than the approved one", p.staleProposals)
	}
	// The audit action each final state needs (a superseded schedule was proposed, and
	// either approved then superseded, or superseded while proposed).
	rows, err := conn.Query(ctx, `SELECT s.id, s.status,
			EXISTS (SELECT 1 FROM audit_events a WHERE a.subject = 'schedule:' || s.id AND a.action = 'schedule.propose'),
			EXISTS (SELECT 1 FROM audit_events a WHERE a.subject = 'schedule:' || s.id AND a.action = CASE s.status
				WHEN 'approved' THEN 'schedule.approve' WHEN 'rejected' THEN 'schedule.reject'
				WHEN 'expired' THEN 'schedule.expire' WHEN 'superseded' THEN 'schedule.supersede' ELSE 'schedule.propose' END),
			s.approver = '' OR s.status IN ('proposed', 'expired') OR EXISTS (SELECT 1 FROM audit_events a WHERE a.subject = 'schedule:' || s.id AND a.action IN ('schedule.approve', 'schedule.reject', 'schedule.supersede'))
		FROM schedules s ORDER BY s.id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var status string
		var proposed, final, decided bool
		if err := rows.Scan(&id, &status, &proposed, &final, &decided); err != nil {
			t.Fatal(err)
		}
		if !proposed || !final || !decided {
			p.unaudited++
			violate(t, p, allow, "unaudited", "schedule %d (%s): proposal audited %v, change to %s audited %v, decision audited %v", id, status, proposed, status, final, decided)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

func checkAudit(t testing.TB, st storage.Store, p *proof) {
	t.Helper()
	rep, err := audit.Verify(context.Background(), st)
	if err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	p.auditEvents = rep.Events
	p.auditOK = rep.OK()
	if !rep.OK() {
		t.Errorf("audit chain broken: %+v", rep.Problems)
	}
}

// openTimescale opens the PostgreSQL store and closes it when the test ends.
func openTimescale(t *testing.T, dsn string) *timescale.Store {
	t.Helper()
	st, err := timescale.Open(t.Context(), dsn, quietLog())
	if err != nil {
		t.Fatalf("open PostgreSQL store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
