package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/simonvetter/modbus"
)

// ProbeSunSpec connects to an endpoint (host:port for Modbus TCP, IPv6 as
// [::1]:502, or any ParseEndpoint URL), addresses unit, and discovers its SunSpec models. Each request is bounded by
// timeout (DefaultTimeout if 0).
func ProbeSunSpec(ctx context.Context, endpoint string, unit uint8, timeout time.Duration, log *slog.Logger) (*SunSpecDevice, error) {
	if log == nil {
		log = slog.Default()
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if _, err := ParseEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	conns := NewConns(log)
	defer conns.Close()
	conns.register(endpoint, timeout)
	read := func(ctx context.Context, addr, count uint16) ([]uint16, error) {
		var out []uint16
		err := conns.with(ctx, endpoint, unit, func(cl busClient) error {
			var err error
			out, err = cl.ReadRegisters(addr, count, modbus.HOLDING_REGISTER)
			return err
		})
		if err != nil {
			if ex, ok := asException(err); ok {
				return nil, ex
			}
			return nil, err
		}
		return out, nil
	}
	dev, err := DiscoverSunSpec(ctx, read)
	if err != nil {
		return dev, fmt.Errorf("probe %s unit %d: %w", endpoint, unit, err)
	}
	return dev, nil
}
