package site

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseCycle: cycle specs that crash the cron library (robfig/cron#554) or give a
// useless schedule are errors, never panics; good specs parse.
func TestParseCycle(t *testing.T) {
	cases := []struct {
		spec    string
		wantErr string // "" = ok
	}{
		{"*/15 * * * *", ""},
		{"@every 2s", ""},
		{"@hourly", ""},
		{"  @every 15m  ", ""},
		{"TZ=0", "time-zone prefix"},
		{"CRON_TZ=UTC", "time-zone prefix"},
		{"TZ=", "time-zone prefix"},
		{"TZ=UTC */5 * * * *", "time-zone prefix"},
		{"CRON_TZ=Europe/Berlin 0 * * * *", "time-zone prefix"},
		{"@every 0s", "at least 1s"},
		{"@every -1s", "at least 1s"},
		{"@every 1ns", "at least 1s"},
		{"@every 1500ms", "whole number of seconds"},
		{"@every", "@every"},
		{"@every soon", "@every"},
		{"0 0 30 2 *", "never fires"},
		{"", "empty"},
		{"every quarter", "expected"},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			sched, err := ParseCycle(tc.spec)
			if tc.wantErr == "" {
				if err != nil || sched == nil {
					t.Fatalf("ParseCycle(%q) = %v", tc.spec, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("ParseCycle(%q) error %v, want one containing %q", tc.spec, err, tc.wantErr)
			}
		})
	}
}

// TestConfigCycleRefused: the same specs in a site config are field errors naming
// site.cycle and the value (config check used to panic on "TZ=0").
func TestConfigCycleRefused(t *testing.T) {
	for _, spec := range []string{"TZ=0", "CRON_TZ=UTC", "TZ=", "@every 0s", "@every -1s", "0 0 30 2 *"} {
		t.Run(spec, func(t *testing.T) {
			yml := strings.Replace(goodConfig, `cycle: "*/15 * * * *"`, `cycle: "`+spec+`"`, 1)
			_, err := Parse("c.yaml", []byte(yml))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse: %v, want field errors", err)
			}
			if !strings.Contains(err.Error(), "site.cycle") || !strings.Contains(err.Error(), spec) {
				t.Fatalf("error %q does not name site.cycle and %q", err, spec)
			}
		})
	}
}

// FuzzParseCycle: any spec either parses into a schedule that fires after a given
// time, or is an error; it never panics.
func FuzzParseCycle(f *testing.F) {
	for _, s := range []string{"*/15 * * * *", "@every 2s", "TZ=0", "CRON_TZ=UTC", "TZ=", "@every 0s", "@every -1s", "0 0 30 2 *", "@daily", "1-5/2 0 * * MON-FRI"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		sched, err := ParseCycle(spec)
		if err != nil {
			return
		}
		from := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		if next := sched.Next(from); !next.After(from) {
			t.Fatalf("ParseCycle(%q) accepted a schedule whose next tick %v is not after %v", spec, next, from)
		}
	})
}

// TestSimStartStorable: sim.start must be a time gridd can store records at (the
// simulated clock starts there); year 0 or 10000 used to pass and fail at the first
// write.
func TestSimStartStorable(t *testing.T) {
	for _, tc := range []struct {
		start string
		ok    bool
	}{{"2019-06-03T00:00:00Z", true}, {"0000-01-01T00:00:00Z", false}, {"0001-01-01T00:00:00Z", false}, {"1969-12-31T23:00:00-02:00", true}} {
		yml := goodConfig + "sim: {start: \"" + tc.start + "\"}\n"
		_, err := Parse("s.yaml", []byte(yml))
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), "sim.start")) {
			t.Errorf("sim.start %s: %v, want ok=%v", tc.start, err, tc.ok)
		}
	}
}
