package site

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinCycleEvery is the shortest "@every" interval a cycle may have.
const MinCycleEvery = time.Second

// ParseCycle parses a site's cycle spec: a standard 5-field cron spec or a descriptor
// ("@hourly", "@every 15m"). It is the only place a cycle spec is parsed (validation,
// the real-time loop and simulated runs), and it never panics: a time-zone prefix
// ("TZ=…", "CRON_TZ=…", which the cron library mishandles, robfig/cron#554) is
// refused because the cycle always runs in site.timezone, an "@every" interval must be
// a whole number of seconds of at least MinCycleEvery, and a spec that never fires
// (such as "0 0 30 2 *") is refused.
func ParseCycle(spec string) (sched cron.Schedule, err error) {
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return nil, fmt.Errorf("empty spec")
	case strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ="):
		return nil, fmt.Errorf("a time-zone prefix is not allowed: the cycle runs in site.timezone")
	case strings.HasPrefix(s, "@every"):
		d, perr := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(s, "@every")))
		if perr != nil {
			return nil, fmt.Errorf("@every: %w", perr)
		}
		if d < MinCycleEvery || d%time.Second != 0 {
			return nil, fmt.Errorf("@every %s: want a whole number of seconds, at least %s", d, MinCycleEvery)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("not a cron spec (%v)", r)
		}
	}()
	sched, err = cron.ParseStandard(s)
	if err != nil {
		return nil, err
	}
	if sched.Next(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("never fires")
	}
	return sched, nil
}
