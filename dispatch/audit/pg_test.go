package audit_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gridd/gridd/dispatch/audit"
	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"
)

// TestChainOnPostgres: the chain survives PostgreSQL's round trip (times, text with
// every kind of character, structured data) and an edit there is detected too.
func TestChainOnPostgres(t *testing.T) {
	dsn := pgtest.FreshDatabase(t)
	ctx := context.Background()
	st, err := timescale.Open(ctx, dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l := audit.New(st)
	texts := []string{"plain", `quotes " and \ and <tags> & ampersands`, "ünïcödé ⚡ 50 kW", "line\nbreak\ttab"}
	for i, text := range texts {
		at := time.Date(2024, 5, 1, 9, 0, 0, 123456789, time.UTC).Add(time.Duration(i) * time.Second)
		if _, err := l.Append(ctx, storage.AuditEvent{Time: at, Actor: "user:ann", Action: "schedule.approve", Subject: "schedule:7"}, text, map[string]any{"kw": 50.25, "note": "<ok>"}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := audit.Verify(ctx, st)
	if err != nil || !rep.OK() || rep.Chained != len(texts) {
		t.Fatalf("intact chain on PostgreSQL: %+v %v", rep, err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		"ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change",
		"UPDATE audit_events SET subject = 'schedule:8' WHERE id = (SELECT min(id) + 1 FROM audit_events)",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	rep, err = audit.Verify(ctx, st)
	if err != nil || rep.OK() || !strings.Contains(rep.Problems[0].Msg, "edited") {
		t.Fatalf("edit on PostgreSQL not detected: %+v %v", rep, err)
	}
}
