package spool

import (
	"fmt"
	"github.com/gridd/gridd/internal/pgtest"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/timescale"

	"github.com/jackc/pgx/v5"
)

// TestPostgresOutage stops the database mid-run for several cycles, keeps polling, restarts it,
// and checks that every poll's telemetry is stored exactly once.
func TestPostgresOutage(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.NewCluster(t)
	inner, err := timescale.Open(ctx, pg.DSN(), quiet())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := open(t, inner, t.TempDir(), Options{WriteTimeout: 5 * time.Second})
	defer s.Close()

	const before, during, after = 4, 8, 4
	c := 0
	poll := func(n int) {
		t.Helper()
		for range n {
			if err := s.WriteTelemetry(ctx, cycle(c)); err != nil {
				t.Fatalf("cycle %d: WriteTelemetry: %v", c, err)
			}
			if _, err := s.AppendAudit(ctx, storage.AuditEvent{Time: t0.Add(time.Duration(c) * time.Minute), Actor: "system", Action: "cycle", Subject: fmt.Sprint(c)}); err != nil {
				t.Fatalf("cycle %d: AppendAudit: %v", c, err)
			}
			c++
		}
	}
	poll(before)
	if st := s.Stats(); st.Spooled != 0 {
		t.Fatalf("with the database up, %d records were spooled", st.Spooled)
	}
	pg.Stop()
	poll(during)
	if st := s.Stats(); st.PendingRecords < 2*during {
		t.Fatalf("during the outage %d records pending, want at least %d", st.PendingRecords, 2*during)
	}
	pg.Start()
	poll(after)
	// The pool may need a moment to replace its dead connections.
	deadline := time.Now().Add(20 * time.Second)
	for s.Stats().PendingRecords > 0 {
		if err := s.Flush(ctx); err != nil && time.Now().After(deadline) {
			t.Fatalf("Flush after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	checkComplete(t, inner, c)

	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, keys int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (time, device_id, point)) FROM telemetry`).Scan(&rows, &keys); err != nil {
		t.Fatal(err)
	}
	if want := c * len(cycle(0)); rows != want || keys != want {
		t.Fatalf("telemetry has %d rows with %d distinct keys, want %d polls x %d samples = %d", rows, keys, c, len(cycle(0)), want)
	}
	checkAudit(t, inner, c)
	if st := s.Stats(); st.Spooled < int64(2*during) || st.Flushed != st.Spooled || st.Refused != 0 {
		t.Fatalf("stats %+v: want every spooled record flushed and none refused", st)
	}
}
