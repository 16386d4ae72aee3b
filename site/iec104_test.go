package site

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// The iec104 section: defaults when fields are left out, and an error naming the
// field and the value for each bad one.
func TestIEC104Config(t *testing.T) {
	cfg, err := Parse("site.yaml", []byte(goodConfig+"iec104: {allow: [10.1.2.3]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.IEC104
	if x == nil || x.Listen != ":2404" || x.CommonAddress != 1 || x.LimitHold.D != 15*time.Minute || x.ClockSync != "refuse" || x.DeadbandKW != 1 || x.AllowPause {
		t.Fatalf("defaults %+v", x)
	}
	if cfg, err := Parse("site.yaml", []byte(goodConfig)); err != nil || cfg.IEC104 != nil {
		t.Fatalf("no iec104 section: %+v, %v", cfg.IEC104, err)
	}
	for _, tc := range []struct {
		name, section, path, value string
	}{
		{"no allow-list", "{listen: ':2404'}", "iec104.allow", "[]"},
		{"bad allow entry", "{allow: [10.0.0.0/33]}", "iec104.allow[0]", "10.0.0.0/33"},
		{"bad allow host name", "{allow: [127.0.0.1, scada.example]}", "iec104.allow[1]", "scada.example"},
		{"listen without port", "{listen: '127.0.0.1', allow: [127.0.0.1]}", "iec104.listen", "127.0.0.1"},
		{"listen port out of range", "{listen: ':70000', allow: [127.0.0.1]}", "iec104.listen", ":70000"},
		{"listen host name", "{listen: 'scada:2404', allow: [127.0.0.1]}", "iec104.listen", "scada:2404"},
		{"common address broadcast", "{common_address: 65535, allow: [127.0.0.1]}", "iec104.common_address", "65535"},
		{"common address negative", "{common_address: -1, allow: [127.0.0.1]}", "iec104.common_address", "-1"},
		{"limit hold too short", "{limit_hold: 10s, allow: [127.0.0.1]}", "iec104.limit_hold", "10s"},
		{"limit hold too long", "{limit_hold: 48h, allow: [127.0.0.1]}", "iec104.limit_hold", "48h0m0s"},
		{"clock sync word", "{clock_sync: maybe, allow: [127.0.0.1]}", "iec104.clock_sync", "maybe"},
		{"negative deadband", "{deadband_kw: -2, allow: [127.0.0.1]}", "iec104.deadband_kw", "-2"},
		{"NaN deadband", "{deadband_kw: .nan, allow: [127.0.0.1]}", "iec104.deadband_kw", "NaN"},
		{"cert without key", "{tls_cert: c.pem, allow: [127.0.0.1]}", "iec104.tls_cert", "c.pem"},
		{"client CA without cert", "{tls_client_ca: ca.pem, allow: [127.0.0.1]}", "iec104.tls_client_ca", "ca.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.yaml", []byte(goodConfig+"iec104: "+tc.section+"\n"))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T %v, want site.Errors", err, err)
			}
			for _, e := range errs {
				if e.Path == tc.path && e.Value == tc.value && strings.HasPrefix(e.Error(), "site.yaml:") {
					return
				}
			}
			t.Errorf("no error for %s=%q; got:\n%v", tc.path, tc.value, err)
		})
	}
}
