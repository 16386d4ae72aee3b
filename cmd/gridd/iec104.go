package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/iec104"
	"github.com/gridd/gridd/site"
)

// startIEC104 starts the IEC 104 controlled station when the config has an iec104
// section; it stops when ctx ends. The demo (moveIfBusy) moves a busy listen port to
// a free one on the same host, as it does the simulator's Modbus ports.
func startIEC104(ctx context.Context, cfg *site.Config, svc *dispatch.Service, log *slog.Logger, stdout io.Writer, prefix string, moveIfBusy bool) error {
	if cfg.IEC104 == nil {
		return nil
	}
	if moveIfBusy {
		if ln, err := net.Listen("tcp", cfg.IEC104.Listen); err != nil {
			host, _, _ := net.SplitHostPort(cfg.IEC104.Listen)
			log.Warn("iec104.listen busy: using a free port", "listen", cfg.IEC104.Listen, "err", err)
			cfg.IEC104.Listen = net.JoinHostPort(host, "0")
		} else {
			ln.Close()
		}
	}
	srv, err := iec104.New(svc, iec104.Options{Config: cfg, Logger: log})
	if err != nil {
		return err
	}
	addr, err := srv.Start(ctx)
	if err != nil {
		return err
	}
	scheme := "tcp"
	if cfg.IEC104.TLSCert != "" {
		scheme = "tls"
	}
	fmt.Fprintf(stdout, "%s: IEC 104 station (common address %d) at %s://%s for %v\n", prefix, cfg.IEC104.CommonAddress, scheme, addr, cfg.IEC104.Allow)
	return nil
}
