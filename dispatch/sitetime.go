package dispatch

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// SiteTime formats t in loc with its UTC offset: "16:00 +08:00" when t falls on the
// same local day as ref, else with the date ("2026-12-08 07:30 +08:00"). Every time
// in an explanation is written this way, so a reader never has to guess the zone.
func SiteTime(loc *time.Location, t, ref time.Time) string {
	if loc == nil {
		loc = time.UTC
	}
	lt, lr := t.In(loc), ref.In(loc)
	if lt.YearDay() == lr.YearDay() && lt.Year() == lr.Year() {
		return lt.Format("15:04 -07:00")
	}
	return lt.Format("2006-01-02 15:04 -07:00")
}

// stepLabel matches the optimiser's "at step 36 (09:00)" (the step index and the
// step's clock time in the scenario's UTC zone) and "at step 37" (a state of charge at
// the start of step 37).
var stepLabel = regexp.MustCompile(`at step (\d+)(?: \(\d\d:\d\d\))?`)

// localBinding rewrites a binding constraint's "at step N (hh:mm)" or "at step N" to the step's
// start in the site's time zone with its offset ("at 16:00 +08:00").
func localBinding(b string, start time.Time, stepMinutes int, loc *time.Location) string {
	return stepLabel.ReplaceAllStringFunc(b, func(m string) string {
		k, err := strconv.Atoi(stepLabel.FindStringSubmatch(m)[1])
		if err != nil {
			return m
		}
		t := start.Add(time.Duration(k*stepMinutes) * time.Minute)
		return fmt.Sprintf("at %s", SiteTime(loc, t, start))
	})
}
