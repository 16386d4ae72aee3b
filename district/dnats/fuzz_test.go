package dnats

import (
	"math"
	"testing"

	"github.com/gridd/gridd/district"
)

// FuzzSiteMessages feeds arbitrary bytes to the site's decoders of the
// coordinator's requests and caps: never a panic; caps it accepts are finite,
// non-negative and for this site.
func FuzzSiteMessages(f *testing.F) {
	f.Add([]byte(`{"district":"d","cycle":1,"site":"s","start":"2026-01-01T00:00:00Z","step_minutes":15,"cap_kw":[1,2],"reason":"x"}`))
	f.Add([]byte(`{"district":"d","cycle":1,"round":0,"site":"s","start":"2026-01-01T00:00:00Z","step_minutes":15,"steps":2,"price_per_kwh":[0,1]}`))
	f.Add([]byte(`{"cap_kw":[-1]}`))
	f.Add([]byte(`{} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req district.Request
		_ = decodeStrict(data, &req)
		var c Caps
		if decodeStrict(data, &c) != nil {
			return
		}
		if checkCaps(c, "s", "d") != nil {
			return
		}
		if c.Site != "s" || c.District != "d" || len(c.CapKW) == 0 {
			t.Fatalf("accepted caps %+v", c)
		}
		for _, v := range c.CapKW {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("accepted cap %v", v)
			}
		}
	})
}
