package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/storage"
)

// TestCycleLineInSiteTime: the cycle line shows the site's local time with its
// offset, not UTC and not an ambiguous zone abbreviation.
func TestCycleLineInSiteTime(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 9, 58, 0, 0, time.UTC)
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{sh, "cycle 2026-12-07 17:58 +08:00: 18 devices (1 stale)"},
		{time.UTC, "cycle 2026-12-07 09:58 +00:00: 18 devices (1 stale)"},
	} {
		var b bytes.Buffer
		printCycle(&b, &dispatch.CycleResult{At: at, Run: storage.CycleRun{Devices: 18, StaleDevices: 1}}, tc.loc)
		if !strings.HasPrefix(b.String(), tc.want) {
			t.Errorf("%s: %q, want prefix %q", tc.loc, b.String(), tc.want)
		}
	}
}
