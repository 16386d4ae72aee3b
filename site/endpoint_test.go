package site_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gridd/gridd/fieldbus"
	// The site tests check endpoints the way gridd does: through the fieldbus driver
	// registry, with the Modbus driver registered.
	_ "github.com/gridd/gridd/fieldbus/iec104"
	_ "github.com/gridd/gridd/fieldbus/modbus"
	_ "github.com/gridd/gridd/fieldbus/ocpp"
	"github.com/gridd/gridd/site"
)

// TestEndpointCheckHook: site validates endpoints with the check the registry
// installs, and reports its verdict under the device's endpoint field with the value.
func TestEndpointCheckHook(t *testing.T) {
	data, err := os.ReadFile("../configs/demo-site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const ep = "endpoint: 127.0.0.1:15022"
	if !strings.Contains(string(data), ep) {
		t.Fatalf("demo config lacks %q", ep)
	}
	cfg := strings.Replace(string(data), ep, `endpoint: "abc://x"`, 1)
	for _, tc := range []struct {
		name  string
		check func(string) error
		want  string // "" = accepted
	}{
		{"registry", fieldbus.CheckEndpoint, `devices[4].endpoint (device bess-1): "abc://x": unknown scheme "abc"`},
		{"another check", func(s string) error {
			if strings.HasPrefix(s, "abc://") {
				return errors.New("abc is not spoken here")
			}
			return nil
		}, `devices[4].endpoint (device bess-1): "abc://x": abc is not spoken here`},
		{"accepting check", func(string) error { return nil }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			site.SetEndpointCheck(tc.check)
			defer site.SetEndpointCheck(fieldbus.CheckEndpoint)
			_, err := site.Parse("demo.yaml", []byte(cfg))
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
