package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/spool"
)

// TestConfigCheckCycleSpecs: `gridd config check` reports a bad cycle spec as an
// error naming site.cycle (it used to panic on "TZ=0", robfig/cron#554, and pass
// "@every 0s").
func TestConfigCheckCycleSpecs(t *testing.T) {
	demo, err := os.ReadFile("../../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"TZ=0", "CRON_TZ=UTC", "TZ=", "@every 0s", "@every -1s"} {
		t.Run(spec, func(t *testing.T) {
			yml := strings.Replace(string(demo), `cycle: "*/15 * * * *"`, `cycle: "`+spec+`"`, 1)
			if yml == string(demo) {
				t.Fatal("demo config has no cycle line to replace")
			}
			path := filepath.Join(t.TempDir(), "site.yaml")
			if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "config", "check", path)
			if code != 1 || !strings.Contains(errOut, "site.cycle") || strings.Contains(out, ": ok") {
				t.Fatalf("config check exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
		})
	}
}

// TestDataFilePermissions: what gridd writes — the embedded store and its WAL, a
// backup, a restored store, the accounts file — is 0600 in 0700 directories it
// creates, and an accounts file left 0644 is tightened when read.
func TestDataFilePermissions(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, "data")
	if code, out, errOut := runCLI(t, "demo", "--cycles", "1", "--data-dir", data, "--start", "2019-06-03T06:00:00Z"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "user", "add", "--name", "ann", "--role", "viewer", "--data-dir", data); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	backup := filepath.Join(root, "backup.db")
	if code, out, errOut := runCLI(t, "backup", "--data-dir", data, "--out", backup); code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errOut)
	}
	restored := filepath.Join(root, "restored")
	if code, out, errOut := runCLI(t, "restore", "--data-dir", restored, "--from", backup); code != 0 {
		t.Fatalf("restore: %d %s %s", code, out, errOut)
	}
	want := map[string]os.FileMode{
		data: 0o700, restored: 0o700,
		filepath.Join(data, "gridd.db"): 0o600, filepath.Join(data, "gridd.db-wal"): 0o600,
		filepath.Join(data, "users.json"): 0o600, backup: 0o600, filepath.Join(restored, "gridd.db"): 0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			if strings.HasSuffix(path, "-wal") && os.IsNotExist(err) {
				continue // checkpointed away at close
			}
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
	users := filepath.Join(data, "users.json")
	os.Chmod(users, 0o644)
	if code, out, errOut := runCLI(t, "user", "list", "--data-dir", data); code != 0 {
		t.Fatalf("user list: %d %s %s", code, out, errOut)
	}
	if fi, _ := os.Stat(users); fi.Mode().Perm() != 0o600 {
		t.Errorf("users.json left %v after reading, want 0600", fi.Mode().Perm())
	}
}

// TestRestoreRefusedWhileRunning: while a gridd holds the data directory (its lock),
// gridd restore --force and a second gridd on the same directory are refused with a
// message saying why; once it is released, restore works.
func TestRestoreRefusedWhileRunning(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, out, errOut := runCLI(t, "demo", "--cycles", "1", "--data-dir", data, "--start", "2019-06-03T06:00:00Z"); code != 0 {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if code, out, errOut := runCLI(t, "backup", "--data-dir", data, "--out", backup); code != 0 {
		t.Fatalf("backup: %d %s %s", code, out, errOut)
	}
	lock, err := storage.LockDir(data) // what a running gridd holds
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"restore --force", []string{"restore", "--data-dir", data, "--from", backup, "--force"}, "refusing to restore while gridd is running"},
		{"second demo", []string{"demo", "--cycles", "1", "--data-dir", data, "--start", "2019-06-03T06:00:00Z"}, "another gridd"},
	}
	for _, tc := range cases {
		code, out, errOut := runCLI(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, strconv.Itoa(os.Getpid())) {
			t.Errorf("%s while locked: exit %d\nstdout: %s\nstderr: %s", tc.name, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "gridd.db")); err != nil {
		t.Fatalf("store moved although the restore was refused: %v", err)
	}
	lock.Unlock()
	if code, out, errOut := runCLI(t, "restore", "--data-dir", data, "--from", backup, "--force"); code != 0 {
		t.Fatalf("restore after gridd stopped: %d %s %s", code, out, errOut)
	}
}

// TestAuditVerifyDBLeavesSpoolAlone: gridd audit verify --db reads the database
// directly; it never opens (or creates) the running gridd's spool in the data dir.
func TestAuditVerifyDBLeavesSpoolAlone(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	data := filepath.Join(t.TempDir(), "data")
	if code, out, errOut := runCLI(t, "audit", "verify", "--db", dsn, "--data-dir", data); code != 0 {
		t.Fatalf("audit verify: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(data, "spool")); !os.IsNotExist(err) {
		t.Fatalf("audit verify created or opened the spool: %v", err)
	}
}

// TestUserRevokeDelete: gridd user revoke removes one token (by the ID printed with it)
// or all of them, gridd user delete removes the account; bad arguments are usage
// errors.
func TestUserRevokeDelete(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, api.UsersFile)
	var ids []string
	for range 3 {
		code, out, errOut := runCLI(t, "user", "add", "--data-dir", dir, "--name", "ann", "--role", "viewer", "--no-password", "--token")
		if code != 0 {
			t.Fatalf("user add: %d %s", code, errOut)
		}
		m := regexp.MustCompile(`token id (\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no token id printed: %s", out)
		}
		ids = append(ids, m[1])
	}
	tokens := func() int {
		u, err := api.OpenUsers(file)
		if err != nil {
			t.Fatal(err)
		}
		x, ok := u.Get("ann")
		if !ok {
			return -1
		}
		return len(x.Tokens)
	}
	steps := []struct {
		args   []string
		code   int
		tokens int
	}{
		{[]string{"revoke", "--name", "ann", "--token-id", ids[1]}, 0, 2},
		{[]string{"revoke", "--name", "ann", "--token-id", ids[1]}, 1, 2}, // already gone
		{[]string{"revoke", "--name", "ann"}, 2, 2},
		{[]string{"revoke", "--name", "ann", "--all"}, 0, 0},
		{[]string{"delete", "--name", "nobody"}, 1, 0},
		{[]string{"delete", "--name", "ann"}, 0, -1},
	}
	for i, st := range steps {
		code, _, errOut := runCLI(t, append(append([]string{"user"}, st.args...), "--data-dir", dir)...)
		if code != st.code || tokens() != st.tokens {
			t.Fatalf("step %d %v: exit %d (want %d), %d tokens (want %d); %s", i, st.args, code, st.code, tokens(), st.tokens, errOut)
		}
	}
}

// TestSpoolSizeFlag: --spool-size is parsed and bounded (a bad value is a usage error
// naming it), needs --db, and sets the bound of the spool gridd run opens.
func TestSpoolSizeFlag(t *testing.T) {
	cfg := filepath.Join("..", "..", "configs", "demo-site.yaml")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--config", cfg, "--spool-size", "12"}, "between 1MiB and 1TiB"},
		{[]string{"run", "--config", cfg, "--spool-size", "lots"}, `spool size "lots"`},
		{[]string{"run", "--config", cfg, "--data-dir", t.TempDir(), "--spool-size", "2MiB"}, "--spool-size needs --db"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want an error and %q", tc.args, code, errOut, tc.want)
		}
	}
	dsn := pgtest.FreshDatabase(t)
	st, _, err := openStoreWith(t.Context(), dsn, t.TempDir(), 0, 3<<20, newLogger(io.Discard, false))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sp, ok := st.(*spool.Store)
	if !ok || sp.MaxBytes() != 3<<20 {
		t.Fatalf("store %T with bound %v, want the spool with 3 MiB", st, sp.MaxBytes())
	}
}

// TestDemoStartStorable: demo --start outside the times gridd stores is a usage error
// naming the flag (it used to start and fail at the first write).
func TestDemoStartStorable(t *testing.T) {
	for _, start := range []string{"0000-06-01T00:00:00Z", "0001-01-01T00:00:00Z"} {
		code, _, errOut := runCLI(t, "demo", "--cycles", "1", "--start", start, "--data-dir", t.TempDir())
		if code != 2 || !strings.Contains(errOut, "--start") {
			t.Errorf("demo --start %s: exit %d, %s", start, code, errOut)
		}
	}
}
