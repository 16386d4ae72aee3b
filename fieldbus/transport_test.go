package fieldbus_test

import (
	"context"
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
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/fieldbus/modbus"
	"github.com/gridd/gridd/fieldbus/sim"
	"github.com/gridd/gridd/site"
)

func TestParseEndpoint(t *testing.T) {
	good := []struct {
		in   string
		want modbus.Endpoint
	}{
		{"127.0.0.1:502", modbus.Endpoint{Transport: modbus.TCP, Addr: "127.0.0.1:502"}},
		{"[::1]:1502", modbus.Endpoint{Transport: modbus.TCP, Addr: "[::1]:1502"}},
		{"tcp://plc.local:502", modbus.Endpoint{Transport: modbus.TCP, Addr: "plc.local:502"}},
		{"tls://10.0.0.5:802?cert=c.pem&key=k.pem&ca=ca.pem", modbus.Endpoint{Transport: modbus.TLS, Addr: "10.0.0.5:802", CertFile: "c.pem", KeyFile: "k.pem", CAFile: "ca.pem"}},
		{"tcp+tls://[::1]:802?ca=/etc/ca.pem&cert=/etc/c.pem&key=/etc/k.pem", modbus.Endpoint{Transport: modbus.TLS, Addr: "[::1]:802", CertFile: "/etc/c.pem", KeyFile: "/etc/k.pem", CAFile: "/etc/ca.pem"}},
		{"rtuovertcp://gw:4001", modbus.Endpoint{Transport: modbus.RTUOverTCP, Addr: "gw:4001"}},
		{"rtu:///dev/ttyUSB0", modbus.Endpoint{Transport: modbus.RTU, Addr: "/dev/ttyUSB0", Baud: 19200, DataBits: 8, Parity: "E", StopBits: 1}},
		{"rtu:///dev/ttyUSB0?baud=9600&parity=N", modbus.Endpoint{Transport: modbus.RTU, Addr: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: "N", StopBits: 2}},
		{"rtu:///dev/ttyS1?parity=o&stop_bits=2", modbus.Endpoint{Transport: modbus.RTU, Addr: "/dev/ttyS1", Baud: 19200, DataBits: 8, Parity: "O", StopBits: 2}},
		{"ascii:///dev/ttyUSB1?baud=4800", modbus.Endpoint{Transport: modbus.ASCII, Addr: "/dev/ttyUSB1", Baud: 4800, DataBits: 7, Parity: "E", StopBits: 1}},
		{"ascii://COM3?data_bits=8&parity=N&stop_bits=1", modbus.Endpoint{Transport: modbus.ASCII, Addr: "COM3", Baud: 19200, DataBits: 8, Parity: "N", StopBits: 1}},
	}
	for _, tc := range good {
		t.Run(tc.in, func(t *testing.T) {
			got, err := modbus.ParseEndpoint(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			// The canonical form parses back to the same endpoint.
			again, err := modbus.ParseEndpoint(got.String())
			if err != nil || again != got {
				t.Fatalf("String() %q parses to %+v, %v", got.String(), again, err)
			}
		})
	}
	bad := []struct{ in, wantErr string }{
		{"", "empty"},
		{"127.0.0.1", "host:port"},
		{"127.0.0.1:0", "port"},
		{":502", "host is empty"},
		{"udp://1.2.3.4:502", `unknown scheme "udp"`},
		{"tls://1.2.3.4:802?cert=c.pem&key=k.pem", `"ca"`},
		{"tls://1.2.3.4:802?cert=c&key=k&ca=a&verify=no", `parameter "verify"`},
		{"tcp://1.2.3.4:502?baud=9600", `parameter "baud" is not known for tcp endpoints (it takes none)`},
		{"tcp://1.2.3.4:502/x", "no path"},
		{"rtuovertcp://gw", "host:port"},
		{"rtu://", "path is empty"},
		{"rtu:///dev/ttyUSB0?baud=fast", `baud "fast"`},
		{"rtu:///dev/ttyUSB0?parity=X", `parity "X"`},
		{"rtu:///dev/ttyUSB0?stop_bits=3", `stop_bits "3"`},
		{"rtu:///dev/ttyUSB0?data_bits=7", "RTU needs 8 data bits"},
		{"rtu:///dev/ttyUSB0?baud=9600&baud=19200", "given 2 times"},
		{"ascii:///dev/ttyUSB0?cert=x", `parameter "cert"`},
	}
	for _, tc := range bad {
		t.Run("bad "+tc.in, func(t *testing.T) {
			_, err := modbus.ParseEndpoint(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"127.0.0.1:502", "[::1]:502", "tls://h:802?cert=a&key=b&ca=c", "rtuovertcp://h:1",
		"rtu:///dev/ttyUSB0?baud=9600&parity=N", "ascii://COM1?data_bits=7", "tcp://%zz", "rtu://?baud=-1", "x://y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := modbus.ParseEndpoint(s)
		if err != nil {
			return
		}
		again, err := modbus.ParseEndpoint(e.String())
		if err != nil {
			t.Fatalf("%q parsed to %+v whose String %q does not parse: %v", s, e, e.String(), err)
		}
		if again != e {
			t.Fatalf("%q: round trip %+v != %+v", s, again, e)
		}
	})
}

// pki is a test CA with a server certificate for 127.0.0.1 and a client certificate,
// written as PEM files into a temporary directory.
type pki struct {
	dir                   string
	caFile                string
	clientCert, clientKey string
	server                sim.TLSServer
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	p := &pki{dir: dir, caFile: write("ca.pem", "CERTIFICATE", caDER)}
	cDER, cKey := issue(2, name+" client", x509.ExtKeyUsageClientAuth, nil)
	p.clientCert, p.clientKey = write("client.pem", "CERTIFICATE", cDER), write("client.key", "EC PRIVATE KEY", keyDER(cKey))
	sDER, sKey := issue(3, "127.0.0.1", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	p.server = sim.TLSServer{Cert: tls.Certificate{Certificate: [][]byte{sDER}, PrivateKey: sKey}, ClientCAs: pool}
	return p
}

// transportDevice is one bench-profile device (point k holds k) on endpoint.
func transportDevice(t *testing.T, endpoint string) (fieldbus.Device, []uint16) {
	t.Helper()
	devs, _, _, srvs, img := imageDevices(t, 1)
	srvs[0].Stop()
	d := devs[0]
	d.Endpoint = endpoint
	d.Timeout.D = 500 * time.Millisecond
	return d, img
}

// checkDevice polls d and writes a setpoint with read-back; it returns the first
// problem.
func checkDevice(d fieldbus.Device) error {
	p := fieldbus.NewPoller([]fieldbus.Device{d}, clock.NewSim(testStart), quiet, fieldbus.WithRetry(fieldbus.Retry{}))
	defer p.Close()
	r := p.Poll(context.Background())[0]
	if r.Stale || r.Err != nil {
		return fmt.Errorf("poll: stale %v: %w", r.Stale, r.Err)
	}
	for k, v := range r.Values {
		if v.Quality != fieldbus.Good || v.Value != float64(k) {
			return fmt.Errorf("point %s = %v (%s), want %d", v.Point, v.Value, v.Quality, k)
		}
	}
	w := fieldbus.NewWriter([]fieldbus.Device{d}, clock.NewSim(testStart), quiet)
	defer w.Close()
	res, err := w.Write(context.Background(), d.ID, "setpoint_kw", -42.5)
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if res.Mismatch || res.ReadBack != -42.5 {
		return fmt.Errorf("write read back %v (mismatch %v)", res.ReadBack, res.Mismatch)
	}
	// Put the value back for the next check against the same device.
	before, _ := r.Value("setpoint_kw")
	if _, err := w.Write(context.Background(), d.ID, "setpoint_kw", before.Value); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func tlsURL(scheme, addr string, p *pki) string {
	return fmt.Sprintf("%s://%s?cert=%s&key=%s&ca=%s", scheme, addr, p.clientCert, p.clientKey, p.caFile)
}

// TestTLS polls and writes over Modbus/TCP Security with certificates made in the
// test, and checks that the wrong client certificate, an untrusted server and a
// plain TCP client are all refused.
func TestTLS(t *testing.T) {
	good, rogue := newPKI(t, "site"), newPKI(t, "rogue")
	addr := freeAddr(t, "127.0.0.1")
	d, img := transportDevice(t, "")
	srv, err := sim.ServeRegistersTLS(addr, 1, 0, img, good.server, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	wrongCA := *good
	wrongCA.caFile = rogue.caFile
	wrongClient := *good
	wrongClient.clientCert, wrongClient.clientKey = rogue.clientCert, rogue.clientKey
	for _, tc := range []struct {
		name, endpoint string
		ok             bool
	}{
		{"tls", tlsURL("tls", addr, good), true},
		{"tcp+tls", tlsURL("tcp+tls", addr, good), true},
		{"client certificate from another CA", tlsURL("tls", addr, &wrongClient), false},
		{"server not trusted", tlsURL("tls", addr, &wrongCA), false},
		{"plain tcp to a tls server", addr, false},
		{"missing key file", fmt.Sprintf("tls://%s?cert=%s&key=%s&ca=%s", addr, good.clientCert, filepath.Join(good.dir, "nope.key"), good.caFile), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.Endpoint = tc.endpoint
			err := checkDevice(d)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok && err == nil {
				t.Fatal("polled and wrote without a valid TLS setup")
			}
		})
	}
}

// TestRTUOverTCP polls and writes a device behind an RTU-over-TCP gateway (the
// simulator's RTU framing server), and checks that exceptions keep their names.
func TestRTUOverTCP(t *testing.T) {
	addr := freeAddr(t, "127.0.0.1")
	d, img := transportDevice(t, "rtuovertcp://"+addr)
	srv, err := sim.ServeRegisters(d.Endpoint, 1, 0, img, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if err := checkDevice(d); err != nil {
		t.Fatal(err)
	}
	// A unit the gateway does not know answers GATEWAY TARGET DEVICE FAILED TO RESPOND.
	other := d
	other.ID, other.UnitID = "other", 9
	p := fieldbus.NewPoller([]fieldbus.Device{other}, clock.NewSim(testStart), quiet)
	defer p.Close()
	r := p.Poll(context.Background())[0]
	if !errors.Is(r.Err, modbus.ErrGWTargetFailedToRespond) || !strings.Contains(r.Err.Error(), "GATEWAY TARGET DEVICE FAILED TO RESPOND") {
		t.Fatalf("unknown unit: %v", r.Err)
	}
}

// TestSimRTUOverTCP serves a whole site with every device behind RTU-over-TCP
// endpoints and checks the polled values against the simulator's state.
func TestSimRTUOverTCP(t *testing.T) {
	cfg := testSite(t)
	for i := range cfg.Devices {
		cfg.Devices[i].Endpoint = "rtuovertcp://" + cfg.Devices[i].Endpoint
	}
	r := startRig(t, cfg)
	p := fieldbus.NewPoller(r.devices, r.clk, quiet)
	defer p.Close()
	r.clk.Advance(time.Hour)
	got := byID(p.Poll(context.Background()))
	for _, id := range []string{"bess", "pv", "ev1", "ev2"} {
		rd := got[id]
		if rd.Stale || rd.Err != nil {
			t.Fatalf("%s: %v", id, rd.Err)
		}
		s, _ := r.sim.State(id)
		near(t, id+" power", val(t, rd, "active_power_kw"), s.PowerKW, 0.01)
	}
}

// openPTY opens a pseudo-terminal pair: the master stands in for the device's end
// of a serial line, the returned path for the port gridd opens.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		m.Close()
		t.Skipf("unlock pty: %v", e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		m.Close()
		t.Skipf("pty number: %v", e)
	}
	return m, fmt.Sprintf("/dev/pts/%d", n)
}

// TestSerialOverPTY polls and writes over RTU (simonvetter) and ASCII (goburrow)
// serial framing through a pseudo-terminal pair, with the simulator's framing
// servers on the master side.
func TestSerialOverPTY(t *testing.T) {
	for _, tc := range []struct {
		scheme string
		serve  func(m *os.File, h *sim.Registers) error
	}{
		{"rtu", func(m *os.File, h *sim.Registers) error { return sim.ServeRTU(m, h) }},
		{"ascii", func(m *os.File, h *sim.Registers) error { return sim.ServeASCII(m, h) }},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			m, path := openPTY(t)
			d, img := transportDevice(t, tc.scheme+"://"+path+"?baud=115200&parity=N")
			h, err := sim.NewRegisters(1, 0, img)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.serve(m, h) }()
			defer func() {
				m.Close()
				<-done
			}()
			if err := checkDevice(d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSiteEndpoints runs URL endpoints through site validation and CheckSite: site
// asks the driver registry, so it accepts every Modbus transport's syntax and reports
// bad schemes and parameters; CheckSite also reports unreadable TLS files. Both name
// the device field and the value.
func TestSiteEndpoints(t *testing.T) {
	good := newPKI(t, "site")
	data, err := os.ReadFile("testdata/site.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.ReplaceAll(string(data), "%", "%%")
	base = strings.Replace(base, `"127.0.0.1:PORT_1"`, "%q", 1)
	for i := 2; i <= 6; i++ {
		base = strings.ReplaceAll(base, fmt.Sprintf("PORT_%d", i), fmt.Sprint(1500+i))
	}
	for _, tc := range []struct {
		endpoint string
		siteErr  string // from site.Parse
		checkErr string // from CheckSite
	}{
		{"127.0.0.1:502", "", ""},
		{"tcp://127.0.0.1:502", "", ""},
		{"rtuovertcp://[::1]:4001", "", ""},
		{"rtu:///dev/ttyUSB0?baud=9600&parity=N", "", ""},
		{"ascii:///dev/ttyUSB0", "", ""},
		{tlsURL("tls", "127.0.0.1:802", good), "", ""},
		{"udp://127.0.0.1:502", `unknown scheme "udp"`, ""},
		{"rtuovertcp://gw", "devices[0].endpoint", ""},
		{"rtu://?baud=9600", `devices[0].endpoint (device meter): "rtu://?baud=9600": serial device path is empty`, ""},
		{"rtu:///dev/ttyUSB0?baud=slow", `devices[0].endpoint (device meter): "rtu:///dev/ttyUSB0?baud=slow": baud "slow"`, ""},
		{"tls://127.0.0.1:802?cert=/nonexistent.pem&key=/nonexistent.key&ca=/nonexistent.pem", "", `devices[0].endpoint (device meter): "tls://127.0.0.1:802?cert=/nonexistent.pem&key=/nonexistent.key&ca=/nonexistent.pem": tls client certificate /nonexistent.pem`},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			cfg, err := site.Parse("testdata/site.yaml", []byte(fmt.Sprintf(base, tc.endpoint)))
			if tc.siteErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.siteErr) {
					t.Fatalf("site: err %v, want %q", err, tc.siteErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("site: %v", err)
			}
			_, err = fieldbus.CheckSite(cfg)
			switch {
			case tc.checkErr == "" && err != nil:
				t.Fatalf("CheckSite: %v", err)
			case tc.checkErr != "" && (err == nil || !strings.Contains(err.Error(), tc.checkErr)):
				t.Fatalf("CheckSite: err %v, want %q", err, tc.checkErr)
			}
		})
	}
}

// TestIPv6Transports runs TLS and RTU over TCP on the IPv6 loopback.
func TestIPv6Transports(t *testing.T) {
	good := newPKI(t, "site")
	d, img := transportDevice(t, "")
	tlsAddr := freeAddr(t, "::1")
	srv, err := sim.ServeRegistersTLS(tlsAddr, 1, 0, img, good.server, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	rtuAddr := "rtuovertcp://" + freeAddr(t, "::1")
	rsrv, err := sim.ServeRegisters(rtuAddr, 1, 0, img, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer rsrv.Stop()
	for _, ep := range []string{tlsURL("tls", tlsAddr, good), rtuAddr} {
		d.Endpoint = ep
		if err := checkDevice(d); err != nil {
			t.Errorf("%s: %v", ep, err)
		}
	}
}
