package replay

import (
	"path/filepath"
	"testing"
	"time"

	// The demo config's OCPP chargers pass site validation once the driver is
	// registered, as in gridd.
	_ "github.com/gridd/gridd/fieldbus/ocpp"
	"github.com/gridd/gridd/site"
)

func demoConfig(t testing.TB) *site.Config {
	t.Helper()
	cfg, err := site.Load(filepath.Join("..", "configs", "demo-site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func demoHistory(t testing.TB, cfg *site.Config, from, to time.Time) *History {
	t.Helper()
	h, err := LoadHistory(cfg, filepath.Join("..", "data"), nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return h
}
