package audit_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/sqlite"
)

var t0 = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)

// fill writes a chained log of n events into a fresh embedded store and returns its directory.
func fill(t *testing.T, n int) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A legacy event from before the chain.
	if _, err := st.AppendAudit(ctx, storage.AuditEvent{Time: t0, Actor: "system", Action: "legacy", Detail: "plain text"}); err != nil {
		t.Fatal(err)
	}
	l := audit.New(st)
	for i := 0; i < n; i++ {
		// Times deliberately not monotonic: the chain follows append order.
		at := t0.Add(time.Duration((i*7)%5) * time.Minute)
		if _, err := l.Append(ctx, storage.AuditEvent{Time: at, Actor: "user:ann", Action: "schedule.approve", Subject: "schedule:1"}, "checked the plan", map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func verify(t *testing.T, dir string) *audit.Report {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := audit.Verify(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tamper edits the database file directly, as an attacker with file access would.
func tamper(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range append([]string{"DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"}, stmts...) {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestChainIntact(t *testing.T) {
	dir := fill(t, 6)
	r := verify(t, dir)
	if !r.OK() || r.Events != 7 || r.Legacy != 1 || r.Chained != 6 || len(r.Head) != 64 {
		t.Fatalf("intact log: %+v", r)
	}
	// A second Log on the same store continues the chain.
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.New(st).Append(ctx, storage.AuditEvent{Time: t0, Actor: "system", Action: "x"}, "after restart", nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if r2 := verify(t, dir); !r2.OK() || r2.Chained != 7 || r2.Head == r.Head {
		t.Fatalf("after restart: %+v", r2)
	}
}

func TestTamperDetected(t *testing.T) {
	cases := []struct {
		name   string
		stmt   string
		wantID int64
		want   string
	}{
		{"actor edited", `UPDATE audit_events SET actor = 'user:mallory' WHERE id = 3`, 3, "edited"},
		{"action edited", `UPDATE audit_events SET action = 'schedule.reject' WHERE id = 4`, 4, "edited"},
		{"time edited", `UPDATE audit_events SET time_us = time_us + 1 WHERE id = 2`, 2, "edited"},
		{"text edited inside detail", `UPDATE audit_events SET detail = replace(detail, 'checked the plan', 'did not check') WHERE id = 5`, 5, "edited"},
		{"detail replaced by plain text", `UPDATE audit_events SET detail = 'nothing to see' WHERE id = 5`, 5, "not chained"},
		{"event deleted", `DELETE FROM audit_events WHERE id = 4`, 5, "removed or inserted"},
		{"legacy event rewritten after chain", `INSERT INTO audit_events (time_us, actor, action, subject, detail) SELECT time_us, 'system', 'forged', '', 'plain' FROM audit_events WHERE id = 2`, 8, "not chained"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := fill(t, 6)
			if r := verify(t, dir); !r.OK() {
				t.Fatalf("log broken before tampering: %+v", r)
			}
			tamper(t, dir, tc.stmt)
			r := verify(t, dir)
			if r.OK() {
				t.Fatalf("tampering not detected: %+v", r)
			}
			found := false
			for _, p := range r.Problems {
				if p.ID == tc.wantID && strings.Contains(p.Msg, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("want a problem at event %d mentioning %q, got %+v", tc.wantID, tc.want, r.Problems)
			}
		})
	}
}

func TestParseAndText(t *testing.T) {
	if _, ok := audit.Parse("plain"); ok {
		t.Error("plain text parsed as chained")
	}
	if audit.Text("plain") != "plain" {
		t.Error("Text of legacy detail")
	}
	if _, ok := audit.Parse(`{"text":"x"}`); ok {
		t.Error("detail without hash parsed as chained")
	}
}
