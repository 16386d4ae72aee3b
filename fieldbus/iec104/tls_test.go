package iec104_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/internal/testsite"
	"github.com/gridd/gridd/site"
)

// issue writes a certificate (and key) signed by ca (self-signed when nil).
func issue(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (string, string, *x509.Certificate, *ecdsa.PrivateKey, tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA: ca == nil, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	if ca == nil {
		ca, caKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cp, kp := filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(cp, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kp, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cp, kp, cert, key, pair
}

// iec104+tls:// (IEC 62351-3) against a simulated RTU that requires client
// certificates: with gridd's certificate the battery is read; a second endpoint
// without one is refused at the handshake and its device stays stale.
func TestRTUOverTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, _, ca, caKey, _ := issue(t, dir, "ca", nil, nil)
	_, _, _, _, server := issue(t, dir, "rtu", ca, caKey)
	certFile, keyFile, _, _, _ := issue(t, dir, "gridd", ca, caKey)
	port := testsite.FreePort(t)
	yml := fmt.Sprintf(`
site: {name: rtutls, timezone: UTC}
tariff: {import: [{from: "00:00", to: "24:00", price_per_kwh: 0.2}], export_price_per_kwh: 0.05}
grid: {import_limit_kw: 500, export_limit_kw: 200}
nodes: [{id: sub, parent: "", limit_kw: 500}]
devices:
  - {id: bess, kind: bess, node: sub, endpoint: "iec104+tls://127.0.0.1:%d?ca=%s&cert=%s&key=%s", unit_id: 2, profile: "builtin:rtu104-bess",
     bess: {capacity_kwh: 200, min_soc_pct: 10, max_soc_pct: 90, max_charge_kw: 100, max_discharge_kw: 100}, sim: {initial_soc_pct: 42}}
`, port, caFile, certFile, keyFile)
	cfg, err := site.Parse("rtutls.yaml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := fieldbus.CheckSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	sm, err := sim.New(cfg, profiles, clock.Real{}, testsite.Data(t), log)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	sm.SetTLS(sim.TLSServer{Cert: server, ClientCAs: pool})
	if err := sm.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sm.Stop() })

	devs := testsite.Devices(cfg, profiles)
	noCert := devs[0]
	noCert.ID = "bess-nocert"
	noCert.Endpoint = fmt.Sprintf("iec104+tls://127.0.0.1:%d?ca=%s", port, caFile)
	p := fieldbus.NewPoller(append(devs, noCert), clock.Real{}, log, fieldbus.WithBreaker(fieldbus.Breaker{}), fieldbus.WithRetry(fieldbus.Retry{}))
	t.Cleanup(func() { p.Close() })
	r := &rig{poller: p}
	if soc := good(t, r.reading(t, "bess"), "soc_pct"); soc < 41 || soc > 43 {
		t.Fatalf("SoC over TLS %v, want about 42", soc)
	}
	if rd := r.reading(t, "bess-nocert"); !rd.Stale || rd.Err == nil || !strings.Contains(rd.Err.Error(), "link down") {
		t.Fatalf("without a client certificate: stale %v err %v", rd.Stale, rd.Err)
	}
}
