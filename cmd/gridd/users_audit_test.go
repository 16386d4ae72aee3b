package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

func TestUserCommand(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args     []string
		wantErr  bool
		wantOut  string
		wantUser string
		wantRole api.Role
	}{
		{[]string{"add", "--data-dir", dir, "--name", "ann", "--role", "dispatcher", "--token"}, false, "API token for ann", "ann", api.RoleDispatcher},
		{[]string{"add", "--data-dir", dir, "--name", "op", "--role", "operator", "--operator", "chargeco", "--no-password"}, false, "user op (operator) saved", "op", api.RoleOperator},
		{[]string{"add", "--data-dir", dir, "--name", "bad", "--role", "superuser"}, true, "", "", ""},
		{[]string{"add", "--data-dir", dir, "--name", "op2", "--role", "operator"}, true, "", "", ""},
		{[]string{"add", "--data-dir", dir, "--name", "short", "--role", "viewer", "--password", "abc"}, true, "", "", ""},
		{[]string{"add", "--data-dir", dir, "--role", "viewer"}, true, "", "", ""},
		{[]string{"list", "--data-dir", dir}, false, "ann\tdispatcher\tpassword=true\ttokens=1", "", ""},
		{[]string{"frob"}, true, "", "", ""},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		err := cmdUser(tc.args, &out, &errb)
		if (err != nil) != tc.wantErr {
			t.Fatalf("gridd user %v: err %v, want error %v\n%s%s", tc.args, err, tc.wantErr, out.String(), errb.String())
		}
		if !strings.Contains(out.String(), tc.wantOut) {
			t.Errorf("gridd user %v: output %q lacks %q", tc.args, out.String(), tc.wantOut)
		}
		if tc.wantUser != "" {
			users, err := api.OpenUsers(filepath.Join(dir, api.UsersFile))
			if err != nil {
				t.Fatal(err)
			}
			u, ok := users.Get(tc.wantUser)
			if !ok || u.Role != tc.wantRole {
				t.Errorf("stored user %+v", u)
			}
			if strings.Contains(tc.args[len(tc.args)-1], "--token") {
				tok := strings.TrimSpace(out.String()[strings.LastIndex(out.String(), ": ")+2:])
				if got, ok := users.ByToken(tok); !ok || got.Name != "ann" {
					t.Errorf("printed token does not authenticate ann")
				}
				pw := strings.TrimSpace(strings.SplitN(strings.SplitN(out.String(), "password for ann: ", 2)[1], "\n", 2)[0])
				if _, ok := users.CheckPassword("ann", pw); !ok {
					t.Errorf("printed password %q does not log ann in", pw)
				}
				if strings.Contains(u.PasswordHash, pw) || !strings.HasPrefix(u.PasswordHash, "$2") {
					t.Errorf("password not stored as a bcrypt hash: %q", u.PasswordHash)
				}
			}
		}
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(st)
	for i := 0; i < 4; i++ {
		if _, err := l.Append(ctx, storage.AuditEvent{Time: time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC), Actor: "user:ann", Action: "schedule.approve", Subject: "schedule:1"}, "ok", nil); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	var out, errb bytes.Buffer
	if err := cmdAudit(ctx, []string{"verify", "--data-dir", dir}, &out, &errb); err != nil || !strings.Contains(out.String(), "audit chain intact") {
		t.Fatalf("intact: %v\n%s%s", err, out.String(), errb.String())
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"DROP TRIGGER audit_events_no_update", "UPDATE audit_events SET actor = 'user:mallory' WHERE id = 2"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	out.Reset()
	err = cmdAudit(ctx, []string{"verify", "--data-dir", dir}, &out, &errb)
	if err == nil || !strings.Contains(out.String(), "event 2:") {
		t.Fatalf("tampered log passed: %v\n%s", err, out.String())
	}
	if err := cmdAudit(ctx, []string{"check"}, &out, &errb); err == nil {
		t.Fatal("unknown audit subcommand accepted")
	}
}
