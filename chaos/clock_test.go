package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
)

// TestClockJumps moves the clock 6 h forward (past the horizon of the schedule in
// force), then back by 1 h 53 min (to a time between cycles already run, as an NTP
// step correction would), and proves the invariants after each jump.
func TestClockJumps(t *testing.T) {
	requireChaos(t)
	for _, jc := range []struct {
		order int
		name  string
		jump  time.Duration
	}{
		{6, "clock jumps forward 6 h", 6 * time.Hour},
		{7, "clock jumps back 1 h 53 min", -(time.Hour + 53*time.Minute)},
	} {
		t.Run(fmt.Sprintf("%+v", jc.jump), func(t *testing.T) {
			r := newRig(t, pgtest.FreshDatabase(t), func(t *testing.T, dsn string) storage.Store { return openTimescale(t, dsn) })
			for i, o := range r.cycles(warmCycles + 5) {
				if o.err != nil || o.res.Schedule == nil || o.res.Schedule.Status != storage.StatusApproved {
					t.Fatalf("warm-up cycle %d: err %v, run error %q, schedule %+v", i, o.err, o.res.Run.Error, o.res.Schedule)
				}
			}
			before := r.at.Add(-r.cfg.Site.Step.D)
			r.at = r.at.Add(jc.jump - r.cfg.Site.Step.D)
			next := r.at
			if jc.jump < 0 {
				r.allow = map[string]bool{"approved": true}
			}
			first := r.cycle()
			inForce := "none"
			if first.res != nil && first.res.Schedule != nil {
				inForce = fmt.Sprintf("schedule %d (%s)", first.res.Schedule.ID, first.res.Schedule.Status)
			}
			written := 0
			for _, w := range first.res.Writes {
				if w.Status == storage.WriteOK {
					written++
				}
			}
			recovered := -1
			if first.err == nil && first.res.Schedule != nil && first.res.Schedule.Status == storage.StatusApproved && first.res.Run.Error == "" {
				recovered = 0
			}
			for i := range maxCycles {
				if recovered >= 0 {
					break
				}
				o := r.cycle()
				if o.err == nil && o.res.Schedule != nil && o.res.Schedule.Status == storage.StatusApproved && o.res.Run.Error == "" {
					recovered = i + 1
				}
			}
			if recovered < 0 {
				t.Errorf("no approved schedule within %d cycles of the jump", maxCycles)
			}
			r.cycles(afterCycles)
			p := r.check()
			errText := "none"
			if first.res != nil && first.res.Run.Error != "" {
				errText = fmt.Sprintf("%q", first.res.Run.Error)
			}
			happened := fmt.Sprintf("cycle at %s, next at %s. First cycle after the jump: new proposal %s, %d setpoints written and read back, cycle error %s",
				before.Format("15:04"), next.Format("15:04"), inForce, written, errText)
			record(t, row{order: jc.order, scenario: jc.name, happened: happened,
				detect:  "not needed: every cycle works from the clock's time",
				recover: recoverText(recovered, first.wall),
				proof:   p.String()})
		})
	}
}

func recoverText(extra int, wall time.Duration) string {
	if extra == 0 {
		return fmt.Sprintf("immediate: the first cycle after the jump made and approved a schedule (%s wall)", dur(wall))
	}
	return fmt.Sprintf("%d cycles after the first one after the jump", extra)
}
