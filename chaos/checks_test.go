package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/storage"
)

// catcher collects the errors a check reports instead of failing the test.
type catcher struct {
	testing.TB
	errs []string
}

func (c *catcher) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}
func (c *catcher) Error(args ...any) { c.errs = append(c.errs, fmt.Sprint(args...)) }

// TestChecksCatchViolations plants every kind of violation in a database and proves
// that the invariant checks report each one.
func TestChecksCatchViolations(t *testing.T) {
	requireChaos(t)
	dsn := pgtest.FreshDatabase(t)
	st := openTimescale(t, dsn)
	ctx := t.Context()
	eps := make([]string, nDevices)
	for i := range eps {
		eps[i] = fmt.Sprintf("127.0.0.1:%d", 1502+i)
	}
	cfg, profiles := parseSite(t, siteYAML(eps, "*/15 * * * *", "15m", "6h"))
	t0 := chaosStart
	var ids []int64
	for i := range 2 {
		sc := &storage.Schedule{CreatedAt: t0.Add(time.Duration(i) * time.Minute), Start: t0, StepMinutes: 15, Steps: 4,
			Status: storage.StatusProposed, InputHash: "x", SolverStatus: "optimal",
			Setpoints: []storage.ScheduleSetpoint{{DeviceID: "bess", Step: 0, Time: t0, PowerKW: 150}}}
		id, err := st.InsertSchedule(ctx, sc)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetScheduleStatus(ctx, id, storage.StatusProposed, storage.StatusApproved, "user:x", "planted", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// An older proposal left behind, and the same step of schedule 1 written twice, the
	// second time beyond the battery's 100 kW rating.
	if _, err := st.InsertSchedule(ctx, &storage.Schedule{CreatedAt: t0.Add(-time.Hour), Start: t0, StepMinutes: 15, Steps: 4,
		Status: storage.StatusProposed, InputHash: "y", SolverStatus: "optimal"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{50, 150} {
		if _, err := st.RecordSetpointWrite(ctx, storage.SetpointWrite{Time: t0.Add(5 * time.Minute), ScheduleID: ids[0], DeviceID: "bess", Point: "setpoint_kw",
			RequestedKW: v, WrittenKW: v, ReadBackKW: v, Status: storage.WriteOK}); err != nil {
			t.Fatal(err)
		}
	}
	c := &catcher{TB: t}
	p := proof{}
	conn := connect(t, dsn)
	checkStoredWrites(c, conn, cfg, profiles, &p)
	checkSchedules(c, conn, &p, nil)
	all := strings.Join(c.errs, "\n")
	for _, want := range []string{"written 2 times", "outside [-100, 100]", "2 schedules approved at once", "proposed schedules are older", "proposal audited false"} {
		if !strings.Contains(all, want) {
			t.Errorf("the checks did not report %q; they reported:\n%s", want, all)
		}
	}
	if p.doubleStep != 1 || p.outOfLimits != 1 || p.approved != 2 || p.staleProposals != 1 || p.unaudited != 3 {
		t.Errorf("proof %+v: want 1 double step, 1 out of limits, 2 approved, 1 stale proposal, 3 unaudited", p)
	}
}
