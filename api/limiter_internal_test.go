package api

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"
)

// TestLimiterBounded: failed logins under ever new keys do not grow the table past
// the sweep size once their window has passed; keys inside the window are kept.
func TestLimiterBounded(t *testing.T) {
	l := &limiter{max: 5, window: time.Minute, fails: map[string][]time.Time{}}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3*limiterSweepAt; i++ {
		l.fail(fmt.Sprintf("user:%d", i), t0.Add(time.Duration(i)*time.Second))
	}
	// Keys younger than the window (60 s, one per second) must all be kept.
	if n := l.size(); n > limiterSweepAt+60 || n < 60 {
		t.Fatalf("limiter holds %d keys, want at most %d and at least the 60 in the window", n, limiterSweepAt+60)
	}
	last := fmt.Sprintf("user:%d", 3*limiterSweepAt-1)
	if l.blocked(last, t0.Add(time.Duration(3*limiterSweepAt)*time.Second)) != 0 {
		t.Fatal("one failure blocked the key")
	}
}

func TestLimitAddr(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:3::1]:443", "2001:db8:1:3::/64"},
		{"[::ffff:192.0.2.7]:1", "192.0.2.7"},
		{"garbage", "garbage"},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = tc.remote
		if got := limitAddr(r); got != tc.want {
			t.Errorf("limitAddr(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}

// TestEmptyTokenNeverAuthenticates: "Authorization: Bearer " with nothing after it
// does not match even an account file that holds the SHA-256 of the empty string.
func TestEmptyTokenNeverAuthenticates(t *testing.T) {
	u := NewUsers()
	empty := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" // SHA-256("")
	u.users["eve"] = &User{Name: "eve", Role: RoleAdmin, Tokens: []Token{{ID: "t", SHA256: empty}}}
	for _, h := range []string{"Bearer ", "Bearer    ", "bearer \t"} {
		tok, ok := bearer(h)
		if !ok {
			continue
		}
		if _, ok := u.ByToken(tok); ok {
			t.Errorf("header %q authenticated", h)
		}
	}
	if _, ok := u.ByToken(""); ok {
		t.Error("empty token authenticated")
	}
}
