package chaos

import (
	"context"
	"fmt"
	"github.com/gridd/gridd/internal/pgtest"
	"testing"
	"time"

	"github.com/gridd/gridd/storage"
	"github.com/gridd/gridd/storage/spool"
)

const dbOutageCycles = 5

// TestDatabaseOutage stops PostgreSQL for 5 cycles while gridd keeps polling through
// the spool (as `gridd run --db` does), restarts it, and proves that every poll's
// telemetry and every audit event arrived exactly once.
func TestDatabaseOutage(t *testing.T) {
	requireChaos(t)
	pg := pgtest.NewCluster(t)
	var sp *spool.Store
	r := newRig(t, pg.DSN(), func(t *testing.T, dsn string) storage.Store {
		inner := openTimescale(t, dsn)
		var err error
		sp, err = spool.New(inner, t.TempDir(), spool.Options{Log: quietLog(), WriteTimeout: 3 * time.Second, RetryInterval: 250 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { sp.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done; sp.Close() })
		return sp
	})
	for i, o := range r.cycles(warmCycles) {
		if o.err != nil || o.res.Schedule == nil || o.res.Schedule.Status != storage.StatusApproved {
			t.Fatalf("warm-up cycle %d: err %v, run error %q, schedule %+v", i, o.err, o.res.Run.Error, o.res.Schedule)
		}
	}
	// During the outage the approved schedule found in force before it keeps applying
	// (dispatch caches it); each device must end the outage at the last value written to
	// it, or at its pre-outage setpoint if nothing was written.
	held := map[string]float64{}
	for _, id := range []string{"bess", "ev-1", "ev-2"} {
		st, _ := r.sim.State(id)
		held[id] = st.SetpointKW
	}
	pg.Stop()
	stoppedAt := time.Now()
	var detectWall, maxWall time.Duration
	detected, failedCycles, schedules, writes := -1, 0, 0, 0
	var firstErr string
	for i := range dbOutageCycles {
		o := r.cycle()
		maxWall = max(maxWall, o.wall)
		if o.err != nil {
			failedCycles++
		}
		if o.res != nil {
			if o.res.Run.Error != "" && detected < 0 {
				detected, detectWall, firstErr = i+1, time.Since(stoppedAt), o.res.Run.Error
			}
			if o.res.Schedule != nil {
				schedules++
			}
			writes += len(o.res.Writes)
			for _, w := range o.res.Writes {
				if _, ok := held[w.DeviceID]; ok && w.Status == storage.WriteOK {
					held[w.DeviceID] = w.WrittenKW
				}
			}
		}
	}
	pending := sp.Stats().PendingRecords
	for id, v := range held {
		if st, _ := r.sim.State(id); st.SetpointKW != v {
			t.Errorf("%s: setpoint %g kW at the end of the outage, want the last value written, %g kW", id, st.SetpointKW, v)
		}
	}
	if detected < 0 {
		t.Errorf("the outage was not reported in any cycle")
	}
	if failedCycles > 0 {
		t.Errorf("%d of %d outage cycles failed to take their telemetry", failedCycles, dbOutageCycles)
	}
	if pending == 0 {
		t.Errorf("nothing was spooled during the outage")
	}
	pg.Start()
	startedAt := time.Now()
	recovered := -1
	var recoverWall time.Duration
	for i := range maxCycles {
		o := r.cycle()
		if o.err == nil && o.res.Schedule != nil && o.res.Run.Error == "" {
			recovered = i + 1
			break
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for sp.Stats().PendingRecords > 0 {
		if err := sp.Flush(t.Context()); err != nil && time.Now().After(deadline) {
			t.Fatalf("flush after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recoverWall = time.Since(startedAt)
	if recovered < 0 {
		t.Errorf("no clean cycle within %d cycles of the restart", maxCycles)
	}
	r.cycles(afterCycles)
	p := r.check()
	st := sp.Stats()
	if st.Refused != 0 || st.Rejected != 0 || st.Flushed != st.Spooled {
		t.Errorf("spool stats %+v: want every spooled record flushed, none refused or rejected", st)
	}
	var runs int
	if err := connect(t, pg.DSN()).QueryRow(t.Context(), `SELECT count(*) FROM cycle_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	happened := fmt.Sprintf("PostgreSQL stopped (pg_ctl stop -m fast) for %d cycles. Every cycle polled; telemetry and audit went to the spool (%d records pending at the end of the outage, %d spooled and flushed in all, 0 refused); no new schedule could be made, %d schedules; the schedule in force before the outage kept applying from dispatch's cache, %d writes during the outage, recorded in the audit log through the spool (the simulated devices hold the last value written, checked; first error: %.90q); %d of %d cycle-run records stored (cycle runs are not spooled); slowest outage cycle %s",
		dbOutageCycles, pending, st.Flushed, schedules, writes, firstErr, runs, r.polls, dur(maxWall))
	record(t, row{order: 5, scenario: "database stopped for 5 cycles", happened: happened,
		detect:  fmt.Sprintf("cycle %d of the outage (%s wall)", detected, dur(detectWall)),
		recover: fmt.Sprintf("cycle %d after the restart; spool drained %s after the restart", recovered, dur(recoverWall)),
		proof:   p.String()})
}
