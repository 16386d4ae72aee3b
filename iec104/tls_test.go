package iec104_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gridd/gridd/internal/iec104test"
)

// writeCert writes a PEM certificate and key signed by parent (self-signed when nil)
// and returns them with the tls.Certificate.
func writeCert(t *testing.T, dir, name string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (string, string, *x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: isCA, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cp, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cp, kp, cert, key, pair
}

// With tls_cert, tls_key and tls_client_ca the station speaks TLS and refuses a
// master without a certificate from the CA (audited); a master with one is served.
func TestTLSWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	caPath, _, ca, caKey, _ := writeCert(t, dir, "ca", true, nil, nil)
	certPath, keyPath, _, _, _ := writeCert(t, dir, "station", false, ca, caKey)
	_, _, _, _, master := writeCert(t, dir, "master", false, ca, caKey)
	r := startRig(t, false, "refuse", 20*time.Millisecond, "  tls_cert: "+certPath+"\n  tls_key: "+keyPath+"\n  tls_client_ca: "+caPath+"\n")
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	// Plain TCP gets no IEC 104 answer.
	plain, err := iec104test.Dial(t, r.addr, "")
	if err != nil {
		t.Fatal(err)
	}
	plain.C.Write([]byte{0x68, 4, 7, 0, 0, 0})
	if !closed(plain.C) {
		t.Fatal("plain TCP master served by a TLS station")
	}
	// TLS without a client certificate is refused.
	if c, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: roots}); err == nil {
		c.Write([]byte{0x68, 4, 7, 0, 0, 0})
		if !closed(c) {
			t.Fatal("master without a client certificate served")
		}
		c.Close()
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(r.audits(t, "iec104.refuse")) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ev := r.audits(t, "iec104.refuse"); len(ev) < 2 {
		t.Fatalf("refused TLS handshakes audited %v, want 2", ev)
	}
	// A master with a certificate from the CA is served.
	c, err := tls.Dial("tcp", r.addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{master}})
	if err != nil {
		t.Fatal(err)
	}
	m := iec104test.New(t, c)
	m.StartDT()
	m.SendI(iec104test.GI(7))
	if a := m.Reply(100, 7); a.Neg {
		t.Fatal("GI refused over TLS")
	}
	m.Reply(100, 10)
	if _, ok := m.Points[1001]; !ok {
		t.Fatal("no 1001 over TLS")
	}
}
