package modbus

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Transport is how gridd talks to a device.
type Transport string

// Transports. See ParseEndpoint for the endpoint syntax of each.
const (
	// TCP is Modbus TCP (MBAP framing over TCP).
	TCP Transport = "tcp"
	// TLS is Modbus/TCP Security: MBAP over TLS 1.2+ with a client certificate.
	TLS Transport = "tls"
	// RTUOverTCP is RTU framing (unit id, PDU, CRC) over a TCP stream, as spoken by
	// many serial-to-Ethernet gateways in "transparent" mode.
	RTUOverTCP Transport = "rtuovertcp"
	// RTU is Modbus RTU over a serial line.
	RTU Transport = "rtu"
	// ASCII is Modbus ASCII over a serial line.
	ASCII Transport = "ascii"
)

// schemes maps each URL scheme of an endpoint to its transport: the one list of
// Modbus schemes, registered with the fieldbus driver registry (driver.go).
var schemes = map[string]Transport{
	"tcp": TCP, "tls": TLS, "tcp+tls": TLS, "rtuovertcp": RTUOverTCP, "rtu": RTU, "ascii": ASCII,
}

// Schemes lists the endpoint schemes of the Modbus driver, sorted: "" (plain
// host:port, Modbus TCP) first.
func Schemes() []string {
	out := []string{""}
	for k := range schemes {
		out = append(out, k)
	}
	sort.Strings(out[1:])
	return out
}

// Endpoint is a parsed device endpoint.
type Endpoint struct {
	Transport Transport
	// Addr is host:port for network transports, the device path for serial ones.
	Addr string
	// Serial line settings (RTU, ASCII): baud rate, data bits, parity N/E/O, stop bits.
	Baud, DataBits, StopBits int
	Parity                   string
	// TLS files (PEM): the client certificate and key, and the CA (or pinned server
	// certificate) that authenticates the server.
	CertFile, KeyFile, CAFile string
}

// IsSerial reports whether the endpoint is a serial line.
func (e Endpoint) IsSerial() bool { return e.Transport == RTU || e.Transport == ASCII }

// String is the canonical form of the endpoint: plain host:port for Modbus TCP,
// otherwise the URL form with its settings in a fixed order.
func (e Endpoint) String() string {
	if e.Transport == TCP {
		return e.Addr
	}
	q := url.Values{}
	switch {
	case e.Transport == TLS:
		q.Set("cert", e.CertFile)
		q.Set("key", e.KeyFile)
		q.Set("ca", e.CAFile)
	case e.IsSerial():
		q.Set("baud", strconv.Itoa(e.Baud))
		q.Set("data_bits", strconv.Itoa(e.DataBits))
		q.Set("parity", e.Parity)
		q.Set("stop_bits", strconv.Itoa(e.StopBits))
	}
	s := string(e.Transport) + "://" + e.Addr
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// ParseEndpoint parses a device endpoint:
//
//	host:port                        Modbus TCP (IPv6 as [::1]:502); also tcp://host:port
//	tls://host:port?cert=C&key=K&ca=A  Modbus/TCP Security; tcp+tls:// is the same
//	rtuovertcp://host:port           RTU framing over TCP
//	rtu:///dev/ttyUSB0?baud=19200&parity=N&data_bits=8&stop_bits=2
//	ascii:///dev/ttyUSB0?baud=9600&parity=E&data_bits=7&stop_bits=1
//
// TLS needs all three files (PEM): the client certificate and its key (Modbus/TCP
// Security authenticates the client by certificate) and the CA that signed the
// server's certificate, or the server's own certificate to pin it. The server
// certificate must name the host of the endpoint. Relative paths are taken from the
// directory gridd runs in.
//
// Serial settings default to 19200 baud, 8 data bits, even parity and 1 stop bit
// for RTU (the Modbus serial line default; parity N defaults to 2 stop bits) and
// 7 data bits for ASCII. Unknown schemes, parameters and values are errors that name
// the parameter and the bad value.
func ParseEndpoint(s string) (Endpoint, error) {
	if s == "" {
		return Endpoint{}, errors.New("endpoint is empty (want host:port or a URL such as tls://host:port?...)")
	}
	if !strings.Contains(s, "://") {
		if err := checkHostPort(s); err != nil {
			return Endpoint{}, err
		}
		return Endpoint{Transport: TCP, Addr: s}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	var e Endpoint
	t, ok := schemes[u.Scheme]
	if !ok {
		return Endpoint{}, fmt.Errorf("endpoint %q: unknown scheme %q (want %s)", s, u.Scheme, strings.Join(Schemes()[1:], ", "))
	}
	e.Transport = t
	if u.User != nil || u.Fragment != "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: user info and fragments are not allowed", s)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: query: %w", s, err)
	}
	allowed := map[string]bool{}
	switch {
	case e.Transport == TLS:
		allowed = map[string]bool{"cert": true, "key": true, "ca": true}
	case e.IsSerial():
		allowed = map[string]bool{"baud": true, "parity": true, "data_bits": true, "stop_bits": true}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !allowed[k] {
			return Endpoint{}, fmt.Errorf("endpoint %q: parameter %q is not known for %s endpoints%s", s, k, e.Transport, knownParams(allowed))
		}
		if len(q[k]) != 1 {
			return Endpoint{}, fmt.Errorf("endpoint %q: parameter %q given %d times", s, k, len(q[k]))
		}
	}
	if e.IsSerial() {
		e.Addr = u.Host + u.Path
		if u.Host == "" && u.Opaque != "" {
			e.Addr = u.Opaque
		}
		if e.Addr == "" {
			return Endpoint{}, fmt.Errorf("endpoint %q: serial device path is empty (want e.g. %s:///dev/ttyUSB0)", s, e.Transport)
		}
		if strings.IndexFunc(e.Addr, unicode.IsControl) >= 0 {
			return Endpoint{}, fmt.Errorf("endpoint %q: serial device path %q contains a control character", s, e.Addr)
		}
		return e, e.parseSerial(s, q)
	}
	if u.Path != "" || u.Opaque != "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: want %s://host:port with no path", s, u.Scheme)
	}
	if err := checkHostPort(u.Host); err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	e.Addr = u.Host
	if e.Transport == TLS {
		e.CertFile, e.KeyFile, e.CAFile = q.Get("cert"), q.Get("key"), q.Get("ca")
		for _, f := range []struct{ name, v string }{{"cert", e.CertFile}, {"key", e.KeyFile}, {"ca", e.CAFile}} {
			if f.v == "" {
				return Endpoint{}, fmt.Errorf("endpoint %q: parameter %q (a PEM file) is required for TLS", s, f.name)
			}
		}
	}
	return e, nil
}

func knownParams(m map[string]bool) string {
	if len(m) == 0 {
		return " (it takes none)"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return " (want " + strings.Join(ks, ", ") + ")"
}

func (e *Endpoint) parseSerial(s string, q url.Values) error {
	e.Baud, e.Parity, e.DataBits = 19200, "E", 8
	if e.Transport == ASCII {
		e.DataBits = 7
	}
	num := func(key string, dst *int, ok func(int) bool, want string) error {
		v := q.Get(key)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || !ok(n) {
			return fmt.Errorf("endpoint %q: %s %q: want %s", s, key, v, want)
		}
		*dst = n
		return nil
	}
	if err := num("baud", &e.Baud, func(n int) bool { return n >= 50 && n <= 4000000 }, "a baud rate in 50..4000000"); err != nil {
		return err
	}
	if err := num("data_bits", &e.DataBits, func(n int) bool { return n == 7 || n == 8 }, "7 or 8"); err != nil {
		return err
	}
	if v := q.Get("parity"); v != "" {
		switch p := strings.ToUpper(v); p {
		case "N", "E", "O":
			e.Parity = p
		default:
			return fmt.Errorf("endpoint %q: parity %q: want N, E or O", s, v)
		}
	}
	if e.Parity == "N" {
		e.StopBits = 2
	} else {
		e.StopBits = 1
	}
	if err := num("stop_bits", &e.StopBits, func(n int) bool { return n == 1 || n == 2 }, "1 or 2"); err != nil {
		return err
	}
	if e.Transport == RTU && e.DataBits != 8 {
		return fmt.Errorf("endpoint %q: data_bits %d: RTU needs 8 data bits", s, e.DataBits)
	}
	return nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port (IPv6 as [::1]:502): %w", err)
	}
	if host == "" {
		return fmt.Errorf("%q: host is empty", s)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port %q must be in 1..65535", s, port)
	}
	return nil
}
