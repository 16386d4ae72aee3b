package sim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/simonvetter/modbus"

	fbmodbus "github.com/gridd/gridd/fieldbus/modbus"
)

// TLSServer is the server side of Modbus/TCP Security: the server's certificate and
// the CAs that client certificates must chain to.
type TLSServer struct {
	Cert      tls.Certificate
	ClientCAs *x509.CertPool
}

type stopper interface{ Stop() error }

// listen serves h on a device endpoint (modbus.ParseEndpoint syntax): Modbus TCP,
// Modbus/TCP Security (needs t) or RTU over TCP. Serial endpoints have no network
// side: serve them with ServeRTU or ServeASCII on a (pseudo-)terminal.
func listen(endpoint string, h modbus.RequestHandler, t *TLSServer, maxClients uint, log *slog.Logger) (stopper, error) {
	e, err := fbmodbus.ParseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	return listenOn(e, h, t, maxClients, log)
}

func listenOn(e fbmodbus.Endpoint, h modbus.RequestHandler, t *TLSServer, maxClients uint, log *slog.Logger) (stopper, error) {
	conf := &modbus.ServerConfiguration{
		Timeout:    5 * time.Minute,
		MaxClients: maxClients,
		Logger:     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	switch e.Transport {
	case fbmodbus.TCP:
		conf.URL = "tcp://" + e.Addr
	case fbmodbus.TLS:
		if t == nil {
			return nil, errors.New("a TLS endpoint needs the simulator's server certificate (sim.TLSServer)")
		}
		cert := t.Cert
		conf.URL, conf.TLSServerCert, conf.TLSClientCAs = "tcp+tls://"+e.Addr, &cert, t.ClientCAs
	case fbmodbus.RTUOverTCP:
		return ListenRTUOverTCP(e.Addr, h, log)
	default:
		return nil, fmt.Errorf("%s endpoints are serial lines and cannot be served over the network (use ServeRTU or ServeASCII on a terminal)", e.Transport)
	}
	ms, err := modbus.NewServer(conf, h)
	if err == nil {
		err = ms.Start()
	}
	if err != nil {
		return nil, err
	}
	return ms, nil
}
