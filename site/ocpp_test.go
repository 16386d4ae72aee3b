package site

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const goodHash = "$2a$04$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0"

// The ocpp section: defaults when fields are left out, and an error naming the field
// and the value for each bad one, including ocpp:// devices that name no station.
func TestOCPPConfig(t *testing.T) {
	if len(goodHash) != 60 {
		t.Fatalf("test hash has %d characters", len(goodHash))
	}
	cfg, err := Parse("site.yaml", []byte(goodConfig+"ocpp: {stations: [{id: CS-1, password_hash: '"+goodHash+"'}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.OCPP
	if x == nil || x.Listen != ":9000" || x.MaxFrameBytes != 65536 || x.CallsPerSecond != 10 || x.CallTimeout.D != 10*time.Second ||
		x.ProfileValidFor.D != 30*time.Minute || x.SafeLimitKW != 0 {
		t.Fatalf("defaults %+v", x)
	}
	if s, ok := x.Station("CS-1"); !ok || s.ChargingRateUnit != "W" || s.VoltageV != 230 || s.Phases != 3 {
		t.Fatalf("station defaults %+v %v", s, ok)
	}
	st := func(extra string) string {
		return "{stations: [{id: CS-1, password_hash: '" + goodHash + "'" + extra + "}]"
	}
	for _, tc := range []struct {
		name, section, path, value string
	}{
		{"listen without port", st("") + ", listen: '127.0.0.1'}", "ocpp.listen", "127.0.0.1"},
		{"listen host name", st("") + ", listen: 'csms:9000'}", "ocpp.listen", "csms:9000"},
		{"cert without key", st("") + ", tls_cert: c.pem}", "ocpp.tls_cert", "c.pem"},
		{"negative safe limit", st("") + ", safe_limit_kw: -1}", "ocpp.safe_limit_kw", "-1"},
		{"tiny frames", st("") + ", max_frame_bytes: 100}", "ocpp.max_frame_bytes", "100"},
		{"zero rate", st("") + ", calls_per_second: -1}", "ocpp.calls_per_second", "-1"},
		{"short call timeout", st("") + ", call_timeout: 10ms}", "ocpp.call_timeout", "10ms"},
		{"long validity", st("") + ", profile_valid_for: 48h}", "ocpp.profile_valid_for", "48h0m0s"},
		{"bad station id", "{stations: [{id: 'a:b', password_hash: '" + goodHash + "'}]}", "ocpp.stations[0].id", "a:b"},
		{"duplicate station", "{stations: [{id: A, password_hash: '" + goodHash + "'}, {id: A, password_hash: '" + goodHash + "'}]}", "ocpp.stations[1].id", "A"},
		{"plain password", "{stations: [{id: A, password_hash: 'secret-password'}]}", "ocpp.stations[0].password_hash", "secr…"},
		{"unit", st(", charging_rate_unit: kW") + "}", "ocpp.stations[0].charging_rate_unit", "kW"},
		{"voltage", st(", voltage_v: 12") + "}", "ocpp.stations[0].voltage_v", "12"},
		{"phases", st(", phases: 4") + "}", "ocpp.stations[0].phases", "4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.yaml", []byte(goodConfig+"ocpp: "+tc.section+"\n"))
			checkPathValue(t, err, tc.path, tc.value)
		})
	}
	// A charger on a station that is not configured, without an ocpp section, or a
	// device of another kind on an ocpp:// endpoint.
	dev := func(kind, ep string) string {
		return "  - {id: ev, kind: " + kind + ", node: f1, endpoint: '" + ep + "', profile: 'builtin:ocpp-ev-charger', ev_charger: {max_charge_kw: 11}}\n"
	}
	section := "ocpp: {stations: [{id: CS-1, password_hash: '" + goodHash + "'}]}\n"
	for _, tc := range []struct{ name, cfg, value, want string }{
		{"no section", goodConfig + dev("ev_charger", "ocpp://CS-1"), "ocpp://CS-1", "needs an ocpp section"},
		{"unknown station", goodConfig + dev("ev_charger", "ocpp://CS-9/2") + section, "ocpp://CS-9/2", "not in ocpp.stations"},
		{"not a charger", goodConfig + dev("load", "ocpp://CS-1") + section, "ocpp://CS-1", "ev_charger devices only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("site.yaml", []byte(tc.cfg))
			checkPathValue(t, err, "devices[2].endpoint", tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v does not say %q", err, tc.want)
			}
		})
	}
	if _, err := Parse("site.yaml", []byte(goodConfig+dev("ev_charger", "ocpp://CS-1/1")+section)); err != nil {
		t.Fatalf("charger on a configured station: %v", err)
	}
}

func checkPathValue(t *testing.T, err error, path, value string) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T %v, want site.Errors", err, err)
	}
	for _, e := range errs {
		if e.Path == path && e.Value == value && strings.HasPrefix(e.Error(), "site.yaml: ") {
			return
		}
	}
	t.Errorf("no error for %s=%q; got:\n%v", path, value, err)
}
