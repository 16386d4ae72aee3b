package iec104

import (
	"log/slog"
	"testing"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/iec104/apdu"
	"github.com/gridd/gridd/site"
)

// FuzzRTUASDU feeds arbitrary ASDUs from an RTU through the driver: decoded (or
// refused by the decoder), taken as the latest values, and read as a device's
// points. No panic; every point is either good within the profile's limits or bad
// with a reason.
func FuzzRTUASDU(f *testing.F) {
	for _, a := range []*apdu.ASDU{
		{Type: apdu.MMeNc1, Cause: apdu.CotSpontaneous, CA: 1, Objects: []apdu.Object{{IOA: 1001, Float: 12.5}}},
		{Type: apdu.MMeNb1, Cause: apdu.CotInrogen, CA: 1, Objects: []apdu.Object{{IOA: 1002, Float: -300}, {IOA: 1004, Float: 5000}}},
		{Type: apdu.MMeNa1, Cause: apdu.CotInrogen, CA: 1, Objects: []apdu.Object{{IOA: 1003, Float: 0.8, QDS: apdu.QDSNotTopical}}},
		{Type: apdu.MMeNc1, Cause: apdu.CotSpontaneous, CA: 1, Objects: []apdu.Object{{IOA: 1010, Float: 1, QDS: apdu.QDSInvalid}}},
		{Type: apdu.CIcNa1, Cause: apdu.CotActTerm, CA: 1, Objects: []apdu.Object{{QDS: 20}}},
	} {
		f.Add(a.Encode())
	}
	prof, err := fieldbus.BuiltinProfile("rtu104-feeder-meter")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := apdu.DecodeASDU(b)
		if err != nil {
			return
		}
		c := (&pool{m: map[string]*client{}}).get(Endpoint{Addr: "127.0.0.1:2404"}, apdu.LinkConfig{}, slog.Default())
		c.handle(a)
		s := &session{dev: fieldbus.Device{Device: site.Device{ID: "m", UnitID: 1}, Profile: prof}, c: c, ca: 1}
		for i := range prof.Points {
			pt := &prof.Points[i]
			v, err := s.value(pt)
			if err == nil && !pt.InLimits(v) {
				t.Fatalf("%s = %v good but outside %v..%v", pt.Name, v, pt.Min, pt.Max)
			}
		}
	})
}
