package dispatch

import (
	"testing"
	"time"
)

func TestSiteTime(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	ref := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC) // 09:00 in Shanghai
	for _, tc := range []struct {
		name string
		loc  *time.Location
		t    time.Time
		want string
	}{
		{"same local day", sh, time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), "16:00 +08:00"},
		{"next local day, same UTC day", sh, time.Date(2026, 12, 7, 23, 30, 0, 0, time.UTC), "2026-12-08 07:30 +08:00"},
		{"UTC site", time.UTC, time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), "08:00 +00:00"},
		{"nil location is UTC", nil, time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC), "2026-12-06 08:00 +00:00"},
	} {
		if got := SiteTime(tc.loc, tc.t, ref); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLocalBinding(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	start := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC) // 08:00 in Shanghai
	for _, tc := range []struct{ in, want string }{
		{"grid import limit at step 32 (08:00)", "grid import limit at 16:00 +08:00"},
		{"node f1 limit at step 68 (17:00)", "node f1 limit at 2026-12-08 01:00 +08:00"},
		{"battery bess max_soc at step 4", "battery bess max_soc at 09:00 +08:00"},
		{"battery bess max_charge", "battery bess max_charge"},
	} {
		if got := localBinding(tc.in, start, 15, sh); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
