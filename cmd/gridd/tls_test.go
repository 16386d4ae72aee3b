package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeHTTPWithTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gridd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)

	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("request arrived without TLS")
		}
		io.WriteString(w, "ok")
	})
	log := newLogger(io.Discard, false)
	addr, stop, err := serveHTTP("127.0.0.1:0", h, log, certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || resp.TLS == nil {
		t.Fatalf("TLS request: %d %q", resp.StatusCode, body)
	}
	// Plain HTTP to the TLS listener gets no API answer: Go's server answers the
	// first bytes of a plain request with a fixed 400 and closes the connection.
	resp, err = (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("plain HTTP to the TLS port: %v, want Go's fixed 400 answer", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(b) == "ok" || !strings.Contains(string(b), "HTTPS server") {
		t.Fatalf("plain HTTP to the TLS port: %d %q, want 400 \"Client sent an HTTP request to an HTTPS server\"", resp.StatusCode, b)
	}
	for _, files := range [][2]string{{certFile, ""}, {"", keyFile}, {keyFile, certFile}, {filepath.Join(dir, "missing.pem"), keyFile}} {
		if _, stop, err := serveHTTP("127.0.0.1:0", h, log, files[0], files[1]); err == nil {
			stop()
			t.Errorf("serveHTTP accepted cert %q key %q", files[0], files[1])
		}
	}
}
