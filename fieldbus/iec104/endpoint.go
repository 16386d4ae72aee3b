package iec104

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Schemes of the driver.
const (
	Scheme    = "iec104"
	SchemeTLS = "iec104+tls"
)

// DefaultPort is the IEC 104 port.
const DefaultPort = 2404

// Endpoint is a parsed iec104:// or iec104+tls:// endpoint.
type Endpoint struct {
	TLS  bool
	Addr string // host:port
	// TLS files (PEM): the CA (or pinned certificate) that authenticates the RTU, and
	// the optional client certificate and key.
	CAFile, CertFile, KeyFile string
}

// ParseEndpoint parses iec104://host[:port] and iec104+tls://host[:port]?ca=A[&cert=C&key=K].
func ParseEndpoint(s string) (Endpoint, error) {
	var e Endpoint
	scheme, rest, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		return e, errors.New("want iec104://host:port or iec104+tls://host:port?ca=FILE")
	case scheme == SchemeTLS:
		e.TLS = true
	case scheme != Scheme:
		return e, fmt.Errorf("scheme %q is not %s or %s", scheme, Scheme, SchemeTLS)
	}
	hostport, query, _ := strings.Cut(rest, "?")
	if strings.ContainsAny(hostport, "/#@") {
		return e, fmt.Errorf("%q: want host:port, without path or user", hostport)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), strconv.Itoa(DefaultPort)
		if strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return e, fmt.Errorf("%q: want host:port", hostport)
		}
	}
	if host == "" {
		return e, errors.New("host is empty")
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '%' || r == '_') {
			return e, fmt.Errorf("host %q: character %q", host, r)
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return e, fmt.Errorf("port %q: want 1..65535", port)
	}
	e.Addr = net.JoinHostPort(host, strconv.Itoa(p))
	q, err := url.ParseQuery(query)
	if err != nil {
		return e, fmt.Errorf("query %q: %w", query, err)
	}
	for k, v := range q {
		if len(v) != 1 {
			return e, fmt.Errorf("setting %s given %d times", k, len(v))
		}
		switch k {
		case "ca", "cert", "key":
			if !e.TLS {
				return e, fmt.Errorf("setting %s is for %s:// endpoints", k, SchemeTLS)
			}
		default:
			return e, fmt.Errorf("unknown setting %q (iec104+tls:// takes ca, cert and key)", k)
		}
	}
	if e.TLS {
		e.CAFile, e.CertFile, e.KeyFile = q.Get("ca"), q.Get("cert"), q.Get("key")
		if e.CAFile == "" {
			return e, errors.New("ca is missing: the CA (or pinned certificate) that authenticates the RTU")
		}
		if (e.CertFile == "") != (e.KeyFile == "") {
			return e, errors.New("cert and key go together")
		}
	}
	return e, nil
}

// String is the canonical form.
func (e Endpoint) String() string {
	if !e.TLS {
		return Scheme + "://" + e.Addr
	}
	q := url.Values{}
	q.Set("ca", e.CAFile)
	if e.CertFile != "" {
		q.Set("cert", e.CertFile)
		q.Set("key", e.KeyFile)
	}
	return SchemeTLS + "://" + e.Addr + "?" + q.Encode()
}

// tlsConfig loads the endpoint's TLS files.
func (e Endpoint) tlsConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(e.CAFile)
	if err != nil {
		return nil, fmt.Errorf("tls ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls ca %s: no PEM certificate in the file", e.CAFile)
	}
	host, _, _ := net.SplitHostPort(e.Addr)
	c := &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}
	if e.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate %s / key %s: %w", e.CertFile, e.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
