//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/district/dnats"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/internal/natstest"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/storage/sqlite"
)

// griddProc is the test binary re-executed as `gridd ARGS...` (TestHelperGridd): a
// real gridd process with its stdout kept line by line.
type griddProc struct {
	name   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	out    *lineBuffer
	done   chan struct{}
}

// lineBuffer keeps what a process printed, line by line.
type lineBuffer struct {
	mu      sync.Mutex
	partial string
	lines   []string
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.partial + string(p)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		b.lines = append(b.lines, s[:i])
		s = s[i+1:]
	}
	b.partial = s
	return len(p), nil
}

func (b *lineBuffer) Lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.lines...)
}

func startGriddProc(t *testing.T, name string, args ...string) *griddProc {
	t.Helper()
	p := &griddProc{name: name, stderr: &syncBuffer{}, out: &lineBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], append([]string{"-test.run=^TestHelperGridd$", "--"}, args...)...)
	p.cmd.Env = append(os.Environ(), "GRIDD_HELPER_PROCESS=1")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.stderr
	// The child dies with the test process, even when a timeout skips the cleanup.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr (tail):\n%s", p.name, strings.Join(p.out.Lines(), "\n"), p.name, tail(p.stderr.String(), 4000))
		}
	})
	return p
}

// kill ends the process with SIGKILL: no goodbye to NATS, no clean shutdown.
func (p *griddProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// waitLine returns the n-th line (from 1) of stdout that contains sub, waiting up to
// timeout for it; it fails the test if the process exits or time runs out first.
func (p *griddProc) waitLine(t *testing.T, sub string, n int, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		k := 0
		for _, l := range p.out.Lines() {
			if strings.Contains(l, sub) {
				if k++; k == n {
					return l
				}
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before printing %q (#%d)", p.name, sub, n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q (#%d) within %s", p.name, sub, n, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// clusterSite is one site of the district test: a meter, a building load (a
// constant series from load.csv, scaled per site) and a battery whose profile has a
// 3 s command watchdog. The tariff (TARIFF) is dear for the three hours from now and
// cheap three hours later; the battery must end the day at 80 %, so every site
// discharges now and recharges in the same cheap hours, where the shared
// transformer binds.
const clusterSite = `
site: {name: NAME, timezone: UTC, cycle: "0 * * * *", step: 60m, horizon: 24h}
tariff:
  import: [TARIFF]
  export_price_per_kwh: 0.01
grid: {import_limit_kw: 300, export_limit_kw: 100}
nodes: [{id: sub, parent: "", limit_kw: 300}]
approval: {auto: true}
control: {interval: 1s}
devices:
  - {id: meter, kind: meter, node: sub, endpoint: "ADDR1", unit_id: 1, profile: "builtin:substation-meter"}
  - {id: building, kind: load, node: sub, endpoint: "ADDR1", unit_id: 2, profile: "builtin:load-meter", sim: {series: "file:load.csv", column: load_kw, scale: SCALE}}
  - id: bess
    kind: bess
    node: sub
    endpoint: "ADDR2"
    profile: "BESSPROFILE"
    bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 50, max_discharge_kw: 50, terminal_soc_pct: 80}
    sim: {initial_soc_pct: 80}
`

// clusterTariff prices the hours from now's: 0.40 for three hours, 0.30, then 0.10
// for three hours from the sixth, 0.30 for the rest of the day (UTC bands).
func clusterTariff(now time.Time) string {
	price := make([]float64, 24)
	for h := range price {
		switch d := (h - now.UTC().Hour() + 24) % 24; {
		case d < 3:
			price[h] = 0.40
		case d >= 6 && d < 9:
			price[h] = 0.10
		default:
			price[h] = 0.30
		}
	}
	var bands []string
	for h := 0; h < 24; {
		e := h
		for e < 24 && price[e] == price[h] {
			e++
		}
		bands = append(bands, fmt.Sprintf(`{from: "%02d:00", to: "%02d:00", price_per_kwh: %.2f}`, h, e, price[h]))
		h = e
	}
	return strings.Join(bands, ", ")
}

// districtState is the part of `gridd coordinate --listen`'s /api/v1/district the
// test reads.
type districtState struct {
	Sites []struct {
		ID         string `json:"id"`
		Registered bool   `json:"registered"`
		Excluded   bool   `json:"excluded"`
	} `json:"sites"`
	Nodes     []district.Limit `json:"nodes"`
	Last      *district.Result `json:"last"`
	Cycles    int64            `json:"cycles"`
	Published int              `json:"published"`
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestDistrictProcessesOnNATSCluster runs a district as separate gridd processes on
// a three-node cluster of Debian's nats-server on loopback: three `gridd run
// --district` sites, each dispatching its own simulated devices (served over Modbus
// by this test process), and a `gridd coordinate` process. While the second
// coordination is in progress (a solve request to the victim site is on the wire)
// one site process (frozen as the cycle starts, so it never answers it) and the
// NATS node leading the telemetry stream are killed (SIGKILL). The coordination finishes without the site, capped from its last known
// plan; every shared limit holds; the stream holds every message the coordinator
// says it published; the surviving sites' audit logs hold every cycle's caps. The
// dead site's battery falls back to 0 kW by its own command watchdog (read over
// Modbus); restarted on the same data directory, the site has its last district
// caps restored from its audit log, registers again and answers the next cycle,
// whose caps replace the restored ones.
func TestDistrictProcessesOnNATSCluster(t *testing.T) {
	bin := natstest.Bin(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const distID, nSites = "cl", 3
	nodes, urls := natstest.StartCluster(t, bin)
	nodeURL := strings.Split(urls, ",")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

	// The test's own view of the district: the stream, the bucket, the solve requests.
	nc, err := dnats.Connect(urls, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var bus *dnats.Bus
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		octx, ocancel := context.WithTimeout(ctx, 3*time.Second)
		bus, err = dnats.Open(octx, nc, distID, 3)
		ocancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("district stream on the cluster: %v", err)
		}
	}

	dir := t.TempDir()
	csv := "timestamp_utc,load_kw\n2019-01-01T00:00:00Z,40\n2019-12-31T23:00:00Z,40\n"
	if err := os.WriteFile(filepath.Join(dir, "load.csv"), []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	profile := testsite.WatchdogProfile(t, "bess", "3s")
	tariff := clusterTariff(time.Now())
	type siteRun struct {
		id, cfgPath, dataDir, token, api string
		args                             []string
		watch                            *fieldbus.Poller
		proc                             *griddProc
	}
	sites := make([]*siteRun, nSites)
	for i := range sites {
		s := &siteRun{id: fmt.Sprintf("site-%d", i), dataDir: filepath.Join(dir, fmt.Sprintf("data-%d", i))}
		yml := strings.NewReplacer("NAME", s.id, "TARIFF", tariff, "SCALE", fmt.Sprint([]float64{1, 1.25, 0.75}[i]),
			"ADDR1", testsite.FreeAddr(t), "ADDR2", testsite.FreeAddr(t), "BESSPROFILE", profile).Replace(clusterSite)
		s.cfgPath = filepath.Join(dir, s.id+".yaml")
		if err := os.WriteFile(s.cfgPath, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, profiles, err := loadSite(s.cfgPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		sm, err := startSim(ctx, cfg, profiles, clock.Real{}, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sm.Stop() })
		// An independent Modbus client reads what the devices do.
		s.watch = fieldbus.NewPoller(testsite.Devices(cfg, profiles), clock.Real{}, log)
		t.Cleanup(func() { s.watch.Close() })
		// A viewer's API token, to read the site's limits as an operator would.
		code, out, errOut := runCLI(t, "user", "add", "--name", "viewer", "--role", "viewer", "--no-password", "--token", "--data-dir", s.dataDir)
		_, tok, ok := strings.Cut(out, "(shown once): ")
		if code != 0 || !ok {
			t.Fatalf("user add: exit %d\n%s\n%s", code, out, errOut)
		}
		s.token = strings.TrimSpace(tok)
		// Each site prefers its own NATS node and fails over to the others.
		order := append([]string{nodeURL[i]}, nodeURL...)
		s.args = []string{"run", "--config", s.cfgPath, "--data-dir", s.dataDir, "--listen", "127.0.0.1:0",
			"--district", distID, "--district-site", s.id, "--nats", strings.Join(order, ","), "--nats-replicas", "3"}
		sites[i] = s
	}
	startSite := func(s *siteRun, name string) {
		s.proc = startGriddProc(t, name, s.args...)
	}
	waitSite := func(s *siteRun) {
		l := s.proc.waitLine(t, "console and API at http://", 1, 90*time.Second)
		s.api = strings.TrimSuffix(l[strings.Index(l, "http://"):], "/")
		s.proc.waitLine(t, "taking part in district", 1, 30*time.Second)
		s.proc.waitLine(t, "all 3 devices answered", 1, 90*time.Second)
	}
	for _, s := range sites {
		startSite(s, "gridd run "+s.id)
	}
	for _, s := range sites {
		waitSite(s)
	}
	victim := sites[0]
	bessSetpoint := func(s *siteRun) float64 { return testsite.Read(t, s.watch, "bess", "active_power_kw") }
	if p := bessSetpoint(victim); math.Abs(p) < 1 {
		t.Fatalf("%s's battery runs at %.1f kW before the kill; the test needs it working", victim.id, p)
	}

	// The district: one transformer over the three sites, below their summed
	// recharging in the cheap hours.
	var refs []string
	for _, s := range sites {
		refs = append(refs, fmt.Sprintf("{id: %s, config: %s}", s.id, s.cfgPath))
	}
	dyml := fmt.Sprintf(`district: {id: %s, time_zone: UTC, step_minutes: 60, horizon_steps: 24}
sites: [%s]
nodes: [{id: tx, limit_kw: 220, sites: [site-0, site-1, site-2]}]
coordination: {cycle: 15m, time_budget: 30s, round_timeout: 8s, max_rounds: 8, gap_pct: 0.01}
`, distID, strings.Join(refs, ", "))
	dfile := filepath.Join(dir, "district.yaml")
	if err := os.WriteFile(dfile, []byte(dyml), 0o600); err != nil {
		t.Fatal(err)
	}
	// Solve requests to the victim, as they cross the wire.
	reqs := make(chan district.Request, 64)
	sub, err := nc.Subscribe("gridd.district."+distID+".solve."+victim.id, func(m *nats.Msg) {
		var r district.Request
		if json.Unmarshal(m.Data, &r) == nil {
			select {
			case reqs <- r:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	co := startGriddProc(t, "gridd coordinate", "coordinate", "--config", dfile, "--nats", urls, "--nats-replicas", "3",
		"--wait", "30s", "--listen", "127.0.0.1:0")
	l := co.waitLine(t, "state as JSON at http://", 1, 30*time.Second)
	stateURL := strings.TrimSuffix(l[strings.Index(l, "state as JSON at ")+len("state as JSON at "):], ")")
	state := func() districtState {
		var st districtState
		getJSON(t, stateURL, "", &st)
		return st
	}
	checkCaps := func(st districtState, what string) {
		t.Helper()
		if st.Last == nil || len(st.Last.CapsKW) != nSites {
			t.Fatalf("%s: no caps in the district state: %+v", what, st)
		}
		if ex, where := district.Check(st.Last.CapsKW, st.Nodes); ex > 1e-9 {
			t.Fatalf("%s: caps break a shared limit: %s", what, where)
		}
	}

	// Cycle 1: every site answers.
	if line := co.waitLine(t, "district "+distID+" ", 1, 90*time.Second); !strings.Contains(line, "3/3 sites answered") {
		t.Fatalf("cycle 1: %s", line)
	}
	st1 := state()
	checkCaps(st1, "cycle 1")
	if len(st1.Last.Rounds) < 2 {
		t.Logf("cycle 1 took %d round(s): the transformer hardly binds", len(st1.Last.Rounds))
	}

	// Cycle 2, started at once: mid-cycle, the victim's process and the NATS node
	// leading the stream die. The victim is frozen (SIGSTOP) before the cycle starts
	// and killed once its first request of the cycle is on the wire, so it dies
	// holding a request it never answers: its last known plan is cycle 1's.
	sinfo, err := bus.Stream.Info(ctx)
	if err != nil || sinfo.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	var leader *natstest.Node
	for _, n := range nodes {
		if n.Name == sinfo.Cluster.Leader {
			leader = n
		}
	}
	if leader == nil {
		t.Fatalf("stream leader %q is not one of the nodes", sinfo.Cluster.Leader)
	}
	if err := victim.proc.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	if err := co.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for killed := false; !killed; {
		select {
		case r := <-reqs:
			if r.Cycle == 2 {
				victim.proc.kill()
				leader.Kill()
				killed = true
				t.Logf("killed %s (its round %d request on the wire) and NATS node %s (stream leader)", victim.id, r.Round, leader.Name)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("no solve request of cycle 2 reached the victim")
		}
	}
	// The dead site's own safety: nothing keeps its battery's command watchdog
	// alive any more, and the device falls back to 0 kW (what its profile
	// configures) while the coordination goes on.
	var p float64
	for deadline := stoppedAt.Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if p = bessSetpoint(victim); p == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's battery still at %.1f kW 10 s after its gridd stopped (watchdog 3 s)", victim.id, p)
		}
	}
	t.Logf("%s's battery at 0 kW %.1f s after its gridd stopped", victim.id, time.Since(stoppedAt).Seconds())

	line := co.waitLine(t, "district "+distID+" ", 2, 60*time.Second)
	if !strings.Contains(line, "2/3 sites answered") || !strings.Contains(line, "excluded: "+victim.id) {
		t.Fatalf("cycle 2: %s", line)
	}
	st2 := state()
	checkCaps(st2, "cycle 2")
	// Capped from its last known plan: no more than its cycle-1 cap (the horizon
	// may have moved on by a step between the cycles).
	off := int(st2.Last.Start.Sub(st1.Last.Start) / time.Hour)
	for k, v := range st2.Last.CapsKW[0] {
		if k+off < len(st1.Last.CapsKW[0]) && v > st1.Last.CapsKW[0][k+off]+1e-6 {
			t.Errorf("dead site's cap at step %d: %.3f kW above its cycle-1 cap %.3f kW", k, v, st1.Last.CapsKW[0][k+off])
		}
	}
	if !st2.Sites[0].Excluded || st2.Sites[1].Excluded || st2.Sites[2].Excluded {
		t.Errorf("district state sites %+v: want only %s excluded", st2.Sites, victim.id)
	}

	// The node comes back; the site restarts on the same data directory.
	leader.Start(t)
	restartAt := time.Now().UTC()
	startSite(victim, "gridd run "+victim.id+" (restarted)")
	waitSite(victim)
	// It dispatches its battery again.
	if p := bessSetpoint(victim); math.Abs(p) < 1 {
		t.Errorf("the restarted %s runs its battery at %.1f kW, want its plan's discharge again", victim.id, p)
	}
	// Its last district caps (cycle 1's: it died before cycle 2's) are restored from
	// its audit log and in force, as an operator reads them from its API.
	var lim struct {
		Limits []dispatch.ExternalLimit `json:"limits"`
	}
	getJSON(t, victim.api+"/api/v1/limits", victim.token, &lim)
	var restored *dispatch.ExternalLimit
	for i, x := range lim.Limits {
		if x.Source == dispatch.LimitSourceDistrict {
			restored = &lim.Limits[i]
		}
	}
	if restored == nil || !strings.Contains(restored.Reason, "cycle 1:") || len(restored.ImportStepsKW) != len(st1.Last.CapsKW[0]) {
		t.Fatalf("after the restart the site's limits are %+v, want cycle 1's district caps", lim.Limits)
	}
	for k, v := range restored.ImportStepsKW {
		if math.Abs(v-math.Min(st1.Last.CapsKW[0][k], 300)) > 1e-9 {
			t.Fatalf("restored district cap %.3f kW at step %d, cycle 1 sent %.3f", v, k, st1.Last.CapsKW[0][k])
		}
	}
	// It registers again once the dead instance's entry has expired.
	for deadline := time.Now().Add(40 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		e, err := bus.KV.Get(ctx, "site."+victim.id)
		var reg dnats.Registration
		if err == nil && json.Unmarshal(e.Value(), &reg) == nil && reg.Started.After(restartAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted site did not register: %v", err)
		}
	}

	// Cycle 3: the restarted site answers.
	if err := co.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if line := co.waitLine(t, "district "+distID+" ", 3, 60*time.Second); !strings.Contains(line, "3/3 sites answered") || strings.Contains(line, "excluded") {
		t.Fatalf("cycle 3 (after the restart): %s", line)
	}
	st3 := state()
	checkCaps(st3, "cycle 3")
	for k := 1; k <= 3; k++ {
		t.Logf("cycle %d: %s", k, co.waitLine(t, "district "+distID+" ", k, time.Second))
	}
	// Cycle 3's caps replaced the restored ones.
	getJSON(t, victim.api+"/api/v1/limits", victim.token, &lim)
	var dl []dispatch.ExternalLimit
	for _, x := range lim.Limits {
		if x.Source == dispatch.LimitSourceDistrict {
			dl = append(dl, x)
		}
	}
	if len(dl) != 1 || !strings.Contains(dl[0].Reason, "cycle 3:") {
		t.Errorf("after cycle 3 the site holds district limits %+v, want cycle 3's alone", dl)
	}

	// No telemetry lost: the three-replica stream holds every message the
	// coordinator had acknowledged, one result and one plan per site each cycle.
	if st3.Cycles != 3 {
		t.Errorf("coordinator reports %d cycles, want 3", st3.Cycles)
	}
	counts := map[string]uint64{}
	var total uint64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		ictx, icancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := bus.Stream.Info(ictx, jetstream.WithSubjectFilter(dnats.TelemetrySubject(distID, ">")))
		icancel()
		if err == nil {
			total = info.State.Msgs
			for subj, n := range info.State.Subjects {
				counts[strings.TrimPrefix(subj, dnats.TelemetrySubject(distID, ""))] = n
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream info: %v", err)
		}
	}
	if int(total) != st3.Published || counts["result"] != 3 || counts["event"] < 1 {
		t.Errorf("the stream holds %d messages %v; the coordinator published %d", total, counts, st3.Published)
	}
	for _, s := range sites {
		if counts["plan."+s.id] != 3 {
			t.Errorf("the stream holds %d plans of %s, want 3", counts["plan."+s.id], s.id)
		}
	}

	// No audit event lost: every site's chain verifies; the survivors hold every
	// cycle's caps, the restarted site cycle 1's and cycle 3's.
	for i, s := range sites {
		want := []int{1, 2, 3}
		if i == 0 {
			want = []int{1, 3}
		}
		st, err := sqlite.Open(ctx, s.dataDir)
		if err != nil {
			t.Fatal(err)
		}
		evs, rep, err := audit.Read(ctx, st)
		st.Close()
		if err != nil || !rep.OK() {
			t.Fatalf("%s: audit log: %v %+v", s.id, err, rep)
		}
		got := map[int]int{}
		for _, ev := range evs {
			text := audit.Text(ev.Detail)
			if ev.Action != "limit.set" || !strings.Contains(text, "from district") {
				continue
			}
			for c := 1; c <= 3; c++ {
				if strings.Contains(text, fmt.Sprintf("district %s cycle %d:", distID, c)) {
					got[c]++
				}
			}
		}
		// One caps message a cycle, or two when the site's caps rise (the
		// coordinator sends the cuts first, then the raises).
		for _, c := range want {
			if got[c] < 1 || got[c] > 2 {
				t.Errorf("%s: audit log holds %d district caps of cycle %d, want 1 or 2 (%v)", s.id, got[c], c, got)
			}
		}
		for c, k := range got {
			if !slices.Contains(want, c) && k > 0 {
				t.Errorf("%s: audit log holds district caps of cycle %d, which it should not have received (%v)", s.id, c, got)
			}
		}
	}
}
