package chaos

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/pgtest"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// fault is one way a set of devices fails.
type fault struct {
	order    int
	name     string
	victims  []string
	inject   func(r *rig) error
	clear    func(r *rig) error
	describe string
	// detect reports whether a cycle shows the fault on device id; default: lost.
	detect func(o cycleOutcome, id string) bool
}

// flagged reports whether any value of device id was marked bad or stale.
func flagged(o cycleOutcome, id string) bool {
	for _, rd := range o.readings {
		if rd.DeviceID != id {
			continue
		}
		if rd.Stale {
			return true
		}
		for _, v := range rd.Values {
			if v.Quality != fieldbus.Good {
				return true
			}
		}
	}
	return false
}

// goodValues counts the values of device id stored with good quality.
func goodValues(o cycleOutcome, id string) (good, all int) {
	for _, rd := range o.readings {
		if rd.DeviceID != id {
			continue
		}
		for _, v := range rd.Values {
			all++
			if v.Quality == fieldbus.Good {
				good++
			}
		}
	}
	return good, all
}

func simFault(f sim.Fault, ids ...string) (inject, clear func(r *rig) error) {
	set := func(to sim.Fault) func(r *rig) error {
		return func(r *rig) error {
			for _, id := range ids {
				if err := r.sim.SetFault(id, to); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return set(f), set(sim.FaultNone)
}

func killFault(ids ...string) (inject, clear func(r *rig) error) {
	return func(r *rig) error {
			for _, id := range ids {
				r.proxies[id].Kill()
			}
			return nil
		}, func(r *rig) error {
			for _, id := range ids {
				if err := r.proxies[id].Revive(); err != nil {
					return err
				}
			}
			return nil
		}
}

const (
	warmCycles   = 3
	outageCycles = 3
	maxCycles    = 8 // to detect or to recover, before the scenario counts as stuck
	afterCycles  = 2
)

// TestDeviceFaults: a device killed (its host refuses connections), hung (no answer),
// returning garbage, and half of the devices lost at once. The site must keep
// dispatching the healthy devices, detect the fault in the first cycle, and be back to
// normal (every device polled, every controllable device written and read back) soon
// after the fault clears.
func TestDeviceFaults(t *testing.T) {
	requireChaos(t)
	hungIn, hungOut := simFault(sim.FaultNoAnswer, "bess")
	garbIn, garbOut := simFault(sim.FaultGarbage, "pv")
	killIn, killOut := killFault("bess")
	half := []string{"building", "bess", "ev-1"}
	halfIn, halfOut := killFault(half...)
	for _, f := range []fault{
		{1, "device killed", []string{"bess"}, killIn, killOut, "the battery's host refuses connections (open ones dropped) for 3 cycles", nil},
		{2, "device hung", []string{"bess"}, hungIn, hungOut, "the battery accepts requests and never answers for 3 cycles", nil},
		{3, "device returns garbage", []string{"pv"}, garbIn, garbOut, "the PV inverter answers every read with 0xFFFF registers for 3 cycles", flagged},
		{4, "half of the devices lost", half, halfIn, halfOut, "building meter, battery and one EV charger (3 of 6) refuse connections for 3 cycles", nil},
	} {
		t.Run(strings.ReplaceAll(f.name, " ", "-"), func(t *testing.T) {
			r := newRig(t, pgtest.FreshDatabase(t), func(t *testing.T, dsn string) storage.Store { return openTimescale(t, dsn) })
			runFault(t, r, f)
		})
	}
}

func controllable(cfg *site.Config, id string) bool {
	d, ok := cfg.Device(id)
	return ok && (d.Kind == site.KindBESS || d.Kind == site.KindPV || d.Kind == site.KindEVCharger)
}

func runFault(t *testing.T, r *rig, f fault) {
	for i, o := range r.cycles(warmCycles) {
		if o.err != nil || o.res.Schedule == nil || o.res.Schedule.Status != storage.StatusApproved || len(o.res.StaleDevices) > 0 {
			t.Fatalf("warm-up cycle %d: err %v, stale %v, run error %q, schedule %+v", i, o.err, o.res.StaleDevices, o.res.Run.Error, o.res.Schedule)
		}
	}
	victim := map[string]bool{}
	for _, v := range f.victims {
		victim[v] = true
	}
	if err := f.inject(r); err != nil {
		t.Fatal(err)
	}
	faultAt := time.Now()
	var detectWall time.Duration
	detected, dispatched, healthyWritten, healthyWanted := -1, 0, 0, 0
	var maxWall time.Duration
	detect := f.detect
	if detect == nil {
		detect = cycleOutcome.lost
	}
	goodDuring, allDuring := 0, 0
	for i := range outageCycles {
		o := r.cycle()
		maxWall = max(maxWall, o.wall)
		all := true
		for _, v := range f.victims {
			all = all && detect(o, v)
			g, n := goodValues(o, v)
			goodDuring, allDuring = goodDuring+g, allDuring+n
		}
		if all && detected < 0 {
			detected, detectWall = i+1, time.Since(faultAt)
		}
		if o.res != nil && o.res.Schedule != nil {
			dispatched++
		}
		for _, d := range r.cfg.Devices {
			if victim[d.ID] || !controllable(r.cfg, d.ID) || o.lost(d.ID) {
				continue
			}
			for _, w := range o.res.Writes {
				if w.DeviceID == d.ID {
					healthyWanted++
					if w.Status == storage.WriteOK {
						healthyWritten++
					}
				}
			}
		}
	}
	if detected < 0 {
		t.Errorf("%s: not detected in %d cycles", f.name, outageCycles)
	}
	if dispatched != outageCycles {
		t.Errorf("%s: %d of %d cycles made a schedule during the fault", f.name, dispatched, outageCycles)
	}
	if healthyWritten != healthyWanted {
		t.Errorf("%s: %d of %d writes to healthy devices succeeded during the fault", f.name, healthyWritten, healthyWanted)
	}
	if err := f.clear(r); err != nil {
		t.Fatal(err)
	}
	clearedAt := time.Now()
	recovered := -1
	var recoverWall time.Duration
	for i := range maxCycles {
		o := r.cycle()
		ok := o.err == nil && o.res.Schedule != nil
		for _, v := range f.victims {
			ok = ok && !o.lost(v)
			if controllable(r.cfg, v) {
				// A written device must be written again and read back; a device the plan
				// leaves alone (an idle charger) is recovered once it is polled.
				for _, w := range o.res.Writes {
					if w.DeviceID == v && w.Status != storage.WriteOK {
						ok = false
					}
				}
			}
		}
		if ok {
			recovered, recoverWall = i+1, time.Since(clearedAt)
			break
		}
	}
	if recovered < 0 {
		t.Errorf("%s: not recovered %d cycles after the fault cleared", f.name, maxCycles)
	}
	r.cycles(afterCycles)
	p := r.check()
	var lostEvents, backEvents int64
	conn := connect(t, r.dsn)
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FILTER (WHERE detail LIKE '%→ lost%'), count(*) FILTER (WHERE detail LIKE '%lost →%')
		FROM audit_events WHERE action = 'device.comms' AND subject = ANY($1)`, subjects(f.victims)).Scan(&lostEvents, &backEvents); err != nil {
		t.Fatal(err)
	}
	happened := fmt.Sprintf("%s. %d of the faulty devices' %d values were stored as good, the rest as stale/bad; %d comms-lost and %d comms-restored audit events; a schedule was made in %d/%d fault cycles; %d/%d writes to healthy devices read back; slowest fault cycle %s",
		f.describe, goodDuring, allDuring, lostEvents, backEvents, dispatched, outageCycles, healthyWritten, healthyWanted, dur(maxWall))
	if f.detect == nil && goodDuring > 0 {
		t.Errorf("%s: %d values of a lost device stored as good", f.name, goodDuring)
	}
	record(t, row{order: f.order, scenario: f.name, happened: happened,
		detect:  fmt.Sprintf("cycle %d after the fault (%s wall)", detected, dur(detectWall)),
		recover: fmt.Sprintf("cycle %d after it cleared (%s wall)", recovered, dur(recoverWall)),
		proof:   p.String()})
}

func subjects(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "device:" + id
	}
	return out
}
