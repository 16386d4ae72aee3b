package modbus

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	gmodbus "github.com/goburrow/modbus"
	"github.com/goburrow/serial"
	"github.com/simonvetter/modbus"
)

// busClient is one open link to an endpoint, whatever its transport. The
// simonvetter client implements it directly (TCP, TLS, RTU-over-TCP, RTU); asciiClient
// adapts goburrow's Modbus ASCII client.
type busClient interface {
	Open() error
	Close() error
	SetUnitId(id uint8) error
	ReadRegisters(addr, quantity uint16, regType modbus.RegType) ([]uint16, error)
	ReadCoils(addr, quantity uint16) ([]bool, error)
	ReadDiscreteInputs(addr, quantity uint16) ([]bool, error)
	WriteCoil(addr uint16, value bool) error
	WriteRegister(addr, value uint16) error
	WriteRegisters(addr uint16, values []uint16) error
}

// newClient builds (but does not open) a client for the endpoint.
func newClient(e Endpoint, timeout time.Duration, log *slog.Logger) (busClient, error) {
	conf := &modbus.ClientConfiguration{
		Timeout: timeout,
		Logger:  slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	switch e.Transport {
	case TCP:
		conf.URL = "tcp://" + e.Addr
	case TLS:
		cert, pool, err := loadTLS(e)
		if err != nil {
			return nil, err
		}
		conf.URL, conf.TLSClientCert, conf.TLSRootCAs = "tcp+tls://"+e.Addr, &cert, pool
	case RTUOverTCP:
		conf.URL = "rtuovertcp://" + e.Addr
	case RTU:
		conf.URL = "rtu://" + e.Addr
		conf.Speed, conf.DataBits, conf.StopBits = uint(e.Baud), uint(e.DataBits), uint(e.StopBits)
		conf.Parity = map[string]uint{"N": modbus.PARITY_NONE, "E": modbus.PARITY_EVEN, "O": modbus.PARITY_ODD}[e.Parity]
	case ASCII:
		h := gmodbus.NewASCIIClientHandler(e.Addr)
		h.BaudRate, h.DataBits, h.Parity, h.StopBits, h.Timeout = e.Baud, e.DataBits, e.Parity, e.StopBits, timeout
		return &asciiClient{h: h, c: gmodbus.NewClient(h)}, nil
	default:
		return nil, fmt.Errorf("transport %q is not supported", e.Transport)
	}
	return modbus.NewClient(conf)
}

// loadTLS reads the client certificate, its key and the CA pool of a TLS endpoint.
func loadTLS(e Endpoint) (tls.Certificate, *x509.CertPool, error) {
	cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls client certificate %s / key %s: %w", e.CertFile, e.KeyFile, err)
	}
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("tls ca %s: no PEM certificate in the file", e.CAFile)
	}
	return cert, pool, nil
}

// asciiClient adapts goburrow's Modbus ASCII client to busClient. Exception
// responses become *ExceptionError and timeouts wrap ErrTimeout, as with the other
// transports.
type asciiClient struct {
	h *gmodbus.ASCIIClientHandler
	c gmodbus.Client
}

func (a *asciiClient) Open() error              { return a.h.Connect() }
func (a *asciiClient) Close() error             { return a.h.Close() }
func (a *asciiClient) SetUnitId(id uint8) error { a.h.SlaveId = id; return nil }

// asciiErr maps goburrow's errors to the package's.
func asciiErr(err error) error {
	var me *gmodbus.ModbusError
	if errors.As(err, &me) {
		for _, x := range exceptionCodes {
			if x.code == me.ExceptionCode {
				return &ExceptionError{Code: x.code, Name: x.name, Err: x.err}
			}
		}
		return fmt.Errorf("modbus exception 0x%02X", me.ExceptionCode)
	}
	var t interface{ Timeout() bool }
	if errors.Is(err, serial.ErrTimeout) || (errors.As(err, &t) && t.Timeout()) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return err
}

func (a *asciiClient) ReadRegisters(addr, quantity uint16, regType modbus.RegType) ([]uint16, error) {
	var b []byte
	var err error
	if regType == modbus.HOLDING_REGISTER {
		b, err = a.c.ReadHoldingRegisters(addr, quantity)
	} else {
		b, err = a.c.ReadInputRegisters(addr, quantity)
	}
	if err != nil {
		return nil, asciiErr(err)
	}
	if len(b) != 2*int(quantity) {
		return nil, fmt.Errorf("ascii: %d bytes for %d registers", len(b), quantity)
	}
	out := make([]uint16, quantity)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return out, nil
}

func bitsOf(b []byte, quantity uint16) ([]bool, error) {
	if len(b) < (int(quantity)+7)/8 {
		return nil, fmt.Errorf("ascii: %d bytes for %d bits", len(b), quantity)
	}
	out := make([]bool, quantity)
	for i := range out {
		out[i] = b[i/8]&(1<<(i%8)) != 0
	}
	return out, nil
}

func (a *asciiClient) ReadCoils(addr, quantity uint16) ([]bool, error) {
	b, err := a.c.ReadCoils(addr, quantity)
	if err != nil {
		return nil, asciiErr(err)
	}
	return bitsOf(b, quantity)
}

func (a *asciiClient) ReadDiscreteInputs(addr, quantity uint16) ([]bool, error) {
	b, err := a.c.ReadDiscreteInputs(addr, quantity)
	if err != nil {
		return nil, asciiErr(err)
	}
	return bitsOf(b, quantity)
}

func (a *asciiClient) WriteCoil(addr uint16, value bool) error {
	v := uint16(0)
	if value {
		v = 0xFF00
	}
	_, err := a.c.WriteSingleCoil(addr, v)
	return asciiErrOrNil(err)
}

func (a *asciiClient) WriteRegister(addr, value uint16) error {
	_, err := a.c.WriteSingleRegister(addr, value)
	return asciiErrOrNil(err)
}

func (a *asciiClient) WriteRegisters(addr uint16, values []uint16) error {
	b := make([]byte, 2*len(values))
	for i, v := range values {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	_, err := a.c.WriteMultipleRegisters(addr, uint16(len(values)), b)
	return asciiErrOrNil(err)
}

func asciiErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return asciiErr(err)
}
