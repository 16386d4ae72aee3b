package scengen

import (
	"math"
	"testing"
	"testing/fstest"
)

// FuzzReadHourly: any CSV text gives an error or hourly series of equal
// length whose values are finite or NaN (an empty field); never a panic.
func FuzzReadHourly(f *testing.F) {
	f.Add("timestamp_utc,a,b\n2019-01-01T00:00:00Z,1.5,\n2019-01-01T01:00:00Z,,2\n")
	f.Add("timestamp_utc,a,b\n2019-01-01T00:00:00Z,1,2\n2019-01-01T03:00:00Z,1,2\n")
	f.Add("timestamp_utc,b\n")
	f.Add("a,b\nx,y\n")
	f.Add("timestamp_utc,a,b\n2019-01-01T00:00:00Z,1e400,NaN\n")
	f.Add("timestamp_utc,a,b\n2019-01-01T00:00:00Z,Inf,-inf\n")
	f.Fuzz(func(t *testing.T, text string) {
		fsys := fstest.MapFS{"f.csv": {Data: []byte(text)}}
		out, err := readHourly(fsys, "f.csv", "a", "b")
		if err != nil {
			return
		}
		if len(out) != 2 || len(out[0].v) != len(out[1].v) {
			t.Fatalf("series lengths differ: %d columns", len(out))
		}
		// Values are finite, or NaN for an empty field.
		for _, s := range out {
			for i, x := range s.v {
				if math.IsInf(x, 0) {
					t.Fatalf("value %d is %v", i, x)
				}
			}
		}
	})
}

// FuzzReadSessions: any session file gives an error or sessions with a
// positive duration and a non-negative energy.
func FuzzReadSessions(f *testing.F) {
	f.Add("session_id,plugin_utc,plugout_utc,energy_kwh\n1,2019-01-02T07:39:00Z,2019-01-03T08:11:00Z,28.11\n")
	f.Add("session_id,plugin_utc,plugout_utc,energy_kwh\n1,2019-01-02T07:39:00Z,2019-01-02T07:39:00Z,3\n")
	f.Add("plugin_utc,plugout_utc,energy_kwh\nx,y,z\n")
	f.Add("energy_kwh\n1\n")
	f.Fuzz(func(t *testing.T, text string) {
		fsys := fstest.MapFS{EVFile: {Data: []byte(text)}}
		ss, err := readSessions(fsys)
		if err != nil {
			return
		}
		for _, s := range ss {
			if s.duration <= 0 || !(s.energy >= 0) || math.IsInf(s.energy, 0) {
				t.Fatalf("session %+v kept", s)
			}
		}
	})
}
