package ocpp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus/ocpp"
)

// startCSMS starts a CSMS for the interop site's stations (CP1, CP2) and records its
// audit events.
func startCSMS(t *testing.T, edit func(string) string) (*ocpp.CSMS, string, *auditLog) {
	t.Helper()
	y := interopSite
	if edit != nil {
		y = edit(y)
	}
	cfg, _ := loadTestSite(t, y)
	c, err := ocpp.New(ocpp.Options{Config: cfg.OCPP, BaseDir: t.TempDir(), Clock: clock.Real{}, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a := &auditLog{}
	c.SetAudit(a.add)
	addr, err := c.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, addr, a
}

func dial(addr, path, user, pw string, protos ...string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if user != "" || pw != "" {
		r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
		r.SetBasicAuth(user, pw)
		h.Set("Authorization", r.Header.Get("Authorization"))
	}
	d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: 3 * time.Second}
	return d.Dial("ws://"+addr+path, h)
}

// TestRefusedAtUpgrade: unknown station, wrong password, a user that is not the
// station, no credentials, an unsupported subprotocol and a bad path are refused with
// the right HTTP status before any WebSocket exists, each with an audit event, and
// the station is never seen as connected.
func TestRefusedAtUpgrade(t *testing.T) {
	c, addr, audit := startCSMS(t, nil)
	for _, tc := range []struct {
		name, path, user, pw string
		protos               []string
		status               int
		audit                string
	}{
		{"unknown station", "/ocpp/NOPE", "NOPE", "whatever1", []string{"ocpp2.0.1"}, 401, "unknown station"},
		{"wrong password", "/ocpp/CP1", "CP1", "wrong-password", []string{"ocpp2.0.1"}, 401, "wrong password"},
		{"user is not the station", "/ocpp/CP1", "CP2", passwords["CP2"], []string{"ocpp2.0.1"}, 401, "is not the station id"},
		{"no credentials", "/ocpp/CP1", "", "", []string{"ocpp2.0.1"}, 401, "no basic-auth credentials"},
		{"unsupported subprotocol", "/ocpp/CP1", "CP1", passwords["CP1"], []string{"ocpp2.1", "ocpp1.5"}, 400, "no supported subprotocol"},
		{"no subprotocol", "/ocpp/CP1", "CP1", passwords["CP1"], nil, 400, "no supported subprotocol"},
		{"bad station id", "/ocpp/a%20b", "a b", "x", []string{"ocpp1.6"}, 404, "is not a station id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := audit.count("ocpp.refused")
			conn, resp, err := dial(addr, tc.path, tc.user, tc.pw, tc.protos...)
			if err == nil {
				conn.Close()
				t.Fatal("connection accepted")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("refused with %v (%v), want HTTP %d", resp, err, tc.status)
			}
			if audit.count("ocpp.refused") != before+1 || !strings.Contains(audit.evs[len(audit.evs)-1], tc.audit) {
				t.Fatalf("audit %v, want one more ocpp.refused mentioning %q", audit.evs, tc.audit)
			}
		})
	}
	for _, p := range []string{"/ocpp/", "/ocpp/CP1/extra", "/other/CP1"} {
		if _, resp, err := dial(addr, p, "CP1", passwords["CP1"], "ocpp2.0.1"); err == nil || resp == nil || resp.StatusCode != 404 {
			t.Fatalf("%s: %v %v, want 404", p, resp, err)
		}
	}
	for _, id := range []string{"CP1", "CP2"} {
		if _, ok := c.Connected(id); ok {
			t.Fatalf("%s connected after refusals", id)
		}
	}
	if n := audit.count("ocpp.connect"); n != 0 {
		t.Fatalf("%d connects audited", n)
	}
}

// waitAudit waits briefly for an audit event with prefix.
func waitAudit(t *testing.T, a *auditLog, prefix string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for a.count(prefix) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no audit event %q: %v", prefix, a.evs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closeCode reads until the connection closes and returns the close code.
func closeCode(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code
			}
			t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

// TestRefusedFrames: an oversized frame closes the connection with 1009, a binary
// frame with 1003, malformed frames get a CALLERROR, a flood of calls is answered
// with CALLERRORs beyond the rate and then closed with 1008; each is audited, and
// nothing from a refused frame reaches the station's state.
func TestRefusedFrames(t *testing.T) {
	c, addr, audit := startCSMS(t, func(y string) string {
		return strings.Replace(y, "call_timeout: 5s", "call_timeout: 5s\n  max_frame_bytes: 4096\n  calls_per_second: 5", 1)
	})
	open := func(proto string) *websocket.Conn {
		t.Helper()
		conn, _, err := dial(addr, "/ocpp/CP1", "CP1", passwords["CP1"], proto)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	read := func(conn *websocket.Conn) string {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if strings.HasPrefix(string(b), "[2,") {
				continue // gridd's own calls (the safe limit) are not what this test reads
			}
			return string(b)
		}
	}

	t.Run("oversized", func(t *testing.T) {
		conn := open("ocpp2.0.1")
		big := fmt.Sprintf(`[2,"m1","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":99000,"measurand":"Power.Active.Import","unitOfMeasure":{"unit":"W"}}]}],"pad":"%s"}]`, strings.Repeat("x", 5000))
		if err := conn.WriteMessage(websocket.TextMessage, []byte(big)); err != nil {
			t.Fatal(err)
		}
		if code := closeCode(t, conn); code != websocket.CloseMessageTooBig {
			t.Fatalf("close %d, want 1009", code)
		}
		waitAudit(t, audit, "ocpp.refused station:CP1 frame over")
		if audit.count("ocpp.refused station:CP1 frame over") != 1 {
			t.Fatalf("audit: %v", audit.evs)
		}
		if e, ok := c.EVSE("CP1", 1); ok && (e.HasPower || e.MeterValues != 0) {
			t.Fatalf("the oversized MeterValues reached the station's state: %+v", e)
		}
	})

	t.Run("binary", func(t *testing.T) {
		conn := open("ocpp1.6")
		if err := conn.WriteMessage(websocket.BinaryMessage, []byte{0x92, 2}); err != nil {
			t.Fatal(err)
		}
		if code := closeCode(t, conn); code != websocket.CloseUnsupportedData {
			t.Fatalf("close %d, want 1003", code)
		}
		waitAudit(t, audit, "ocpp.refused station:CP1 binary frame")
	})

	t.Run("malformed", func(t *testing.T) {
		conn := open("ocpp1.6")
		for _, tc := range []struct{ frame, want string }{
			{`{"not":"an array"}`, `[4,"-1","GenericError",`},
			{`[2,"m2"]`, `[4,"-1","GenericError",`},
			{`[9,"m3","Heartbeat",{}]`, `[4,"m3","MessageTypeNotSupported",`},
			{`[2,"m4","Heartbeat","not an object"]`, `[4,"m4","FormationViolation",`},
			{`[2,"m5","NoSuchThing",{}]`, `[4,"m5","NotImplemented",`},
			{`[2,"m6","StatusNotification",{"connectorId":"one"}]`, `[4,"m6",`},
		} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(tc.frame)); err != nil {
				t.Fatal(err)
			}
			if got := read(conn); !strings.HasPrefix(got, tc.want) {
				t.Fatalf("%s answered %s, want %s...", tc.frame, got, tc.want)
			}
		}
		// Still up: a good call is answered.
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`[2,"ok1","Heartbeat",{}]`)); err != nil {
			t.Fatal(err)
		}
		if got := read(conn); !strings.HasPrefix(got, `[3,"ok1",`) {
			t.Fatalf("heartbeat after bad frames: %s", got)
		}
	})

	t.Run("flood", func(t *testing.T) {
		conn := open("ocpp2.0.1")
		before, _ := c.EVSE("CP1", 1)
		meter := func(i int) []byte {
			return []byte(fmt.Sprintf(`[2,"f%d","MeterValues",{"evseId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":%d,"measurand":"Power.Active.Import"}]}]}]`, i, 1000+i))
		}
		// The burst (twice calls_per_second) is answered.
		for i := 0; i < 10; i++ {
			if err := conn.WriteMessage(websocket.TextMessage, meter(i)); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 10; i++ {
			if got := read(conn); !strings.HasPrefix(got, "[3,") {
				t.Fatalf("call %d of the burst answered %s", i, got)
			}
		}
		// The flood beyond it is refused, then the connection is closed.
		const flood = 190
		for i := 10; i < 10+flood; i++ {
			if err := conn.WriteMessage(websocket.TextMessage, meter(i)); err != nil {
				break
			}
		}
		refused, closed := 0, 0
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed = ce.Code
				}
				break
			}
			if strings.HasPrefix(string(b), "[4,") && strings.Contains(string(b), "rate limit") {
				refused++
			}
		}
		if refused < 20 || closed != websocket.ClosePolicyViolation {
			t.Fatalf("flood: %d refused, close %d; want the calls beyond the rate refused, then 1008", refused, closed)
		}
		// No refused call reached the station's state.
		after, _ := c.EVSE("CP1", 1)
		if taken := int(after.MeterValues - before.MeterValues); taken < 10 || taken+refused > 10+flood {
			t.Fatalf("%d MeterValues taken with %d of %d refused", taken, refused, 10+flood)
		}
		waitAudit(t, audit, "ocpp.refused station:CP1 sustained call flood")
		if audit.count("ocpp.refused station:CP1 call rate") != 1 || audit.count("ocpp.refused station:CP1 sustained call flood") != 1 {
			t.Fatalf("audit: %v", audit.evs)
		}
	})
}

// TestTLSProfile2: with tls_cert/tls_key the server speaks only wss (Security
// Profile 2), still with basic auth.
func TestTLSProfile2(t *testing.T) {
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gridd-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, addr, _ := startCSMS(t, func(y string) string {
		return strings.Replace(y, "listen: 127.0.0.1:0", "listen: 127.0.0.1:0\n  tls_cert: "+certFile+"\n  tls_key: "+keyFile, 1)
	})
	if _, _, err := dial(addr, "/ocpp/CP1", "CP1", passwords["CP1"], "ocpp2.0.1"); err == nil {
		t.Fatal("plain ws accepted by a TLS server")
	}
	pool := x509.NewCertPool()
	pool.AddCert(tmpl)
	cert, _ := x509.ParseCertificate(der)
	pool.AddCert(cert)
	h := http.Header{}
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth("CP1", passwords["CP1"])
	h.Set("Authorization", r.Header.Get("Authorization"))
	d := websocket.Dialer{Subprotocols: []string{"ocpp2.0.1"}, TLSClientConfig: &tls.Config{RootCAs: pool}}
	conn, _, err := d.Dial("wss://"+addr+"/ocpp/CP1", h)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		if proto, ok := c.Connected("CP1"); ok && proto == "ocpp2.0.1" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("wss station not connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
