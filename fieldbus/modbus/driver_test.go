package modbus

import (
	"strings"
	"testing"

	"github.com/gridd/gridd/fieldbus"
)

// TestRegisteredSchemes: every scheme ParseEndpoint knows is registered for this
// driver, and the registry sends nothing else here.
func TestRegisteredSchemes(t *testing.T) {
	want := map[string]string{
		"":           "127.0.0.1:502",
		"tcp":        "tcp://127.0.0.1:502",
		"tls":        "tls://127.0.0.1:802?cert=c.pem&key=k.pem&ca=ca.pem",
		"tcp+tls":    "tcp+tls://127.0.0.1:802?cert=c.pem&key=k.pem&ca=ca.pem",
		"rtuovertcp": "rtuovertcp://127.0.0.1:4001",
		"rtu":        "rtu:///dev/ttyUSB0",
		"ascii":      "ascii:///dev/ttyUSB0",
	}
	got := Schemes()
	if len(got) != len(want) {
		t.Fatalf("Schemes() = %q, want the %d of %v", got, len(want), want)
	}
	for _, s := range got {
		ep, ok := want[s]
		if !ok {
			t.Errorf("scheme %q is not expected", s)
			continue
		}
		d, err := fieldbus.Lookup(ep)
		if err != nil {
			t.Errorf("%s: %v", ep, err)
		} else if _, mine := d.(Driver); !mine {
			t.Errorf("%s: served by %T", ep, d)
		}
		if err := fieldbus.CheckEndpoint(ep); err != nil {
			t.Errorf("CheckEndpoint(%s): %v", ep, err)
		}
	}
	if err := fieldbus.VerifyEndpoint(want["tls"]); err == nil || !strings.Contains(err.Error(), "c.pem") {
		t.Errorf("VerifyEndpoint does not load the TLS files: %v", err)
	}
}
