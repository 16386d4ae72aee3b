package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/internal/apitest"
	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/safety"
)

// griddCLI runs one short gridd command and returns its exit code and output.
func griddCLI(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("gridd %v: %v", args, err)
	}
	return code, string(out)
}

// stopGridd ends a gridd subprocess with SIGTERM and waits for it.
func stopGridd(t *testing.T, p *griddProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("gridd after SIGTERM: %v\n%s", err, p.logTail())
	}
}

// waitHealthy waits until gridd's API answers.
func waitHealthy(t *testing.T, p *griddProc, listen string) {
	t.Helper()
	waitFor(t, p, 60*time.Second, "the API", func() bool {
		resp, err := http.Get("http://" + listen + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// TestForgedAuditRowAtRestart: `gridd run --db` runs a few cycles and stops; while it
// is stopped, someone with database access inserts an override of −100 kW on the
// battery dated in year 9999 with a made-up hash (the attack of issue 19, finding 1).
// At restart gridd must refuse it: the chain does not verify, gridd starts with the
// kill switch engaged and no override, logs an ALARM and appends audit.chain_broken;
// the forged value never reaches the battery.
func TestForgedAuditRowAtRestart(t *testing.T) {
	requireChaos(t)
	if testing.Short() {
		t.Skip("subprocess scenario")
	}
	dsn := pgtest.FreshDatabase(t)
	bin := griddBinary(t)
	ctx := t.Context()
	eps := make([]string, nDevices)
	for i := range eps {
		eps[i] = testsite.FreeAddr(t)
	}
	yml := siteYAML(eps, "@every 2s", "1m", "1h")
	cfg, profiles := parseSite(t, yml)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	sm := testsite.StartSim(t, ctx, cfg, profiles, clock.Real{}, quietLog())
	st := openTimescale(t, dsn)
	conn := connect(t, dsn)
	data := filepath.Join(dir, "data")
	code, out := griddCLI(t, bin, "user", "add", "--name", "chaos", "--role", "admin", "--no-password", "--token", "--data-dir", data)
	m := regexp.MustCompile(`API token for chaos \(shown once\): (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("user add: %d %s", code, out)
	}
	token := m[1]
	listen := testsite.FreeAddr(t)
	args := []string{"run", "--config", cfgPath, "--db", dsn, "--data-dir", data, "--listen", listen}
	logPath := filepath.Join(dir, "gridd.log")
	p := startGridd(t, bin, args, logPath)
	waitFor(t, p, 60*time.Second, "two cycles", func() bool { return queryInt(t, conn, `SELECT count(*) FROM cycle_runs`) >= 2 })
	stopGridd(t, p)

	rep, err := audit.Verify(ctx, st)
	if err != nil || !rep.OK() {
		t.Fatalf("chain before the forgery: %+v %v", rep, err)
	}
	now := time.Now().UTC()
	forged := safety.Override{ID: 9999, DeviceID: "bess", ValueKW: -100, From: now.Add(-time.Minute), Until: now.Add(24 * time.Hour), Actor: "user:mallory", Reason: "forged"}
	data1, _ := json.Marshal(forged)
	detail, _ := json.Marshal(audit.Entry{Text: "override 9999", Data: data1, Prev: rep.Head, Hash: "forged"})
	if _, err := conn.Exec(ctx, `INSERT INTO audit_events (time, actor, action, subject, detail) VALUES ($1, 'user:mallory', 'override.add', 'device:bess', $2)`,
		time.Date(9999, 6, 1, 0, 0, 0, 0, time.UTC), string(detail)); err != nil {
		t.Fatal(err)
	}
	writesBefore := queryInt(t, conn, `SELECT max(id) FROM setpoint_writes`)
	restartedAt := time.Now()
	p = startGridd(t, bin, args, logPath)
	waitHealthy(t, p, listen)
	startup := time.Since(restartedAt)
	runsAfter := queryInt(t, conn, `SELECT max(id) FROM cycle_runs`)
	waitFor(t, p, 60*time.Second, "two cycles after the restart", func() bool {
		return queryInt(t, conn, `SELECT count(*) FROM cycle_runs WHERE id > $1`, runsAfter) >= 2
	})

	// The API: kill switch engaged by the system, no override.
	// Checked against the OpenAPI document the running binary serves.
	client := apitest.Fetch(t, http.DefaultClient, "http://"+listen).Client(nil)
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+listen+"/api/v1/safety", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var status struct {
		KillSwitch safety.KillSwitch `json:"kill_switch"`
		Overrides  []safety.Override `json:"overrides"`
	}
	json.NewDecoder(resp.Body).Decode(&status)
	resp.Body.Close()
	if !status.KillSwitch.Engaged || status.KillSwitch.By != "system" || !strings.Contains(status.KillSwitch.Reason, "audit chain") {
		t.Errorf("kill switch after a forged row: %+v, want engaged by system for the audit chain", status.KillSwitch)
	}
	if len(status.Overrides) != 0 {
		t.Errorf("overrides after a forged row: %+v, want none", status.Overrides)
	}
	log, _ := os.ReadFile(logPath)
	if !strings.Contains(string(log), "ALARM: audit chain does not verify") {
		t.Errorf("no ALARM in the log:\n%s", p.logTail())
	}
	broken := queryInt(t, conn, `SELECT count(*) FROM audit_events WHERE action = 'audit.chain_broken'`)
	if broken != 1 {
		t.Errorf("%d audit.chain_broken events, want 1", broken)
	}
	forgedWrites := queryInt(t, conn, `SELECT count(*) FROM setpoint_writes WHERE id > $1 AND device_id = 'bess' AND written_kw <= -99`, writesBefore)
	if forgedWrites != 0 {
		t.Errorf("%d writes of the forged −100 kW to the battery", forgedWrites)
	}
	if ds, ok := sm.State("bess"); !ok || ds.SetpointKW <= -99 {
		t.Errorf("the battery's setpoint is %g kW (known %v)", ds.SetpointKW, ok)
	}
	code, out = griddCLI(t, bin, "audit", "verify", "--db", dsn, "--data-dir", data)
	if code == 0 {
		t.Errorf("gridd audit verify passes a forged chain:\n%s", out)
	}
	stopGridd(t, p)
	record(t, row{order: 20, scenario: "forged audit row inserted while gridd is stopped",
		happened: fmt.Sprintf("`gridd run --db` stopped after 2 cycles; an `override.add` of −100 kW on bess dated 9999-06-01 with hash \"forged\" inserted into audit_events; gridd restarted (%d audit events before the forgery)", rep.Events),
		detect:   "at start: the chain is verified over every stored event before any state is restored (ALARM in the log, `audit.chain_broken` event, `gridd audit verify` exit 1)",
		recover:  fmt.Sprintf("starts in the safe state in %s: kill switch engaged by system, 0 overrides restored; a dispatcher resumes after investigating", dur(startup)),
		proof:    fmt.Sprintf("kill switch engaged=%v by %s; %d overrides; %d writes of −100 kW to bess after the restart; %d audit.chain_broken events", status.KillSwitch.Engaged, status.KillSwitch.By, len(status.Overrides), forgedWrites, broken)})
}

// TestRestoreWhileRunning: `gridd restore --force` into the data directory of a running
// `gridd run` (embedded store) is refused with a message saying gridd is running; the
// running store is untouched and gridd goes on; once gridd has stopped the restore
// works.
func TestRestoreWhileRunning(t *testing.T) {
	requireChaos(t)
	if testing.Short() {
		t.Skip("subprocess scenario")
	}
	bin := griddBinary(t)
	ctx := t.Context()
	eps := make([]string, nDevices)
	for i := range eps {
		eps[i] = testsite.FreeAddr(t)
	}
	yml := siteYAML(eps, "@every 2s", "1m", "1h")
	cfg, profiles := parseSite(t, yml)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "site.yaml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	testsite.StartSim(t, ctx, cfg, profiles, clock.Real{}, quietLog())
	data := filepath.Join(dir, "data")
	listen := testsite.FreeAddr(t)
	args := []string{"run", "--config", cfgPath, "--data-dir", data, "--listen", listen}
	logPath := filepath.Join(dir, "gridd.log")
	p := startGridd(t, bin, args, logPath)
	waitHealthy(t, p, listen)
	backup := filepath.Join(dir, "backup.db")
	time.Sleep(3 * time.Second) // a cycle or two
	if code, out := griddCLI(t, bin, "backup", "--data-dir", data, "--out", backup); code != 0 {
		t.Fatalf("backup while running: %d %s", code, out)
	}
	dbBefore, err := os.Stat(filepath.Join(data, "gridd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	code, out := griddCLI(t, bin, "restore", "--data-dir", data, "--from", backup, "--force")
	refusedIn := time.Since(t0)
	if code == 0 || !strings.Contains(out, "refusing to restore while gridd is running") || !strings.Contains(out, fmt.Sprint(p.cmd.Process.Pid)) {
		t.Errorf("restore while running: exit %d\n%s", code, out)
	}
	dbAfter, err := os.Stat(filepath.Join(data, "gridd.db"))
	if err != nil || !os.SameFile(dbBefore, dbAfter) {
		t.Errorf("the running store was moved (%v)", err)
	}
	matches, _ := filepath.Glob(filepath.Join(data, "gridd.db.before-restore-*"))
	if len(matches) != 0 {
		t.Errorf("restore left %v although refused", matches)
	}
	// gridd goes on.
	time.Sleep(2 * time.Second)
	if p.cmd.ProcessState != nil {
		t.Fatalf("gridd exited:\n%s", p.logTail())
	}
	waitHealthy(t, p, listen)
	// A second gridd on the same data directory is refused too.
	code2, out2 := griddCLI(t, bin, "run", "--config", cfgPath, "--data-dir", data, "--listen", testsite.FreeAddr(t))
	if code2 == 0 || !strings.Contains(out2, "locked by gridd process") {
		t.Errorf("second gridd on the same data dir: exit %d\n%s", code2, out2)
	}
	stopGridd(t, p)
	codeAfter, outAfter := griddCLI(t, bin, "restore", "--data-dir", data, "--from", backup, "--force")
	if codeAfter != 0 {
		t.Errorf("restore after gridd stopped: %d %s", codeAfter, outAfter)
	}
	record(t, row{order: 21, scenario: "`gridd restore --force` while gridd is running",
		happened: "`gridd run` (embedded store, cycle every 2 s) running; `gridd backup` taken while running; `gridd restore --force` from it into the same data dir; a second `gridd run` on the same data dir",
		detect:   fmt.Sprintf("at once: restore takes the data dir's lock (flock on DATA-DIR/gridd.lock) and finds it held by the running gridd (refused in %s, naming its PID)", dur(refusedIn)),
		recover:  "nothing to recover: the running store is never moved; the restore works once gridd is stopped",
		proof:    fmt.Sprintf("restore exit %d; second gridd exit %d; store file unchanged; restore after stop exit %d", code, code2, codeAfter)})
}
