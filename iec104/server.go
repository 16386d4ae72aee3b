package iec104

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/site"
	"github.com/gridd/gridd/storage"
)

// Controller is what the server needs to act on commands (*dispatch.Service).
type Controller interface {
	Station
	SetLimit(ctx context.Context, l dispatch.ExternalLimit) (dispatch.ExternalLimit, *dispatch.TickResult, error)
	EndLimit(ctx context.Context, id int64, actor, reason string) error
	Limits(ctx context.Context, at time.Time) []dispatch.ExternalLimit
	Pause(ctx context.Context, actor, reason string) error
	Resume(ctx context.Context, actor, reason string) ([]storage.SetpointWrite, error)
	Audit(ctx context.Context, actor, action, subject, text string, data any) error
	Clock() clock.Clock
}

// Protocol timers and windows (IEC 60870-5-104 §5.5 defaults).
const (
	defaultK  = 12
	defaultW  = 8
	defaultT1 = 15 * time.Second
	defaultT2 = 10 * time.Second
	defaultT3 = 20 * time.Second
	// selectTimeout is how long a select (select-before-operate) waits for its execute.
	selectTimeout = 30 * time.Second
	outQueue      = 512
)

// Options configure a Server.
type Options struct {
	Config *site.Config // with an IEC104 section
	Logger *slog.Logger
	// Scan is how often the point table is read for spontaneous sends; default a
	// quarter of control.interval, between 50 ms and 1 s.
	Scan time.Duration
	// T1, T2, T3 override the protocol timers (tests).
	T1, T2, T3 time.Duration
}

// Server is the IEC 104 controlled station.
type Server struct {
	ctl   Controller
	cfg   *site.IEC104
	ca    uint16
	allow []*net.IPNet
	tls   *tls.Config
	log   *slog.Logger
	tab   *table
	scan  time.Duration
	t1    time.Duration
	t2    time.Duration
	t3    time.Duration
	ln    net.Listener
	wg    sync.WaitGroup

	mu      sync.Mutex
	conns   map[*conn]bool
	last    map[uint32]Point // as last sent spontaneously (or read at start)
	held    map[string]int64 // import_limit_kw / export_limit_kw -> the limit it set last
	refused map[string]time.Time
	limitMu sync.Mutex // one limit command at a time
}

// New builds a server for the site config's iec104 section.
func New(ctl Controller, opt Options) (*Server, error) {
	if opt.Config == nil || opt.Config.IEC104 == nil {
		return nil, errors.New("iec104: the site config has no iec104 section")
	}
	x := opt.Config.IEC104
	s := &Server{ctl: ctl, cfg: x, ca: uint16(x.CommonAddress), log: opt.Logger, tab: newTable(opt.Config),
		scan: opt.Scan, t1: opt.T1, t2: opt.T2, t3: opt.T3,
		conns: map[*conn]bool{}, last: map[uint32]Point{}, held: map[string]int64{}, refused: map[string]time.Time{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.scan <= 0 {
		s.scan = min(max(opt.Config.Control.Interval.D/4, 50*time.Millisecond), time.Second)
	}
	for p, d := range map[*time.Duration]time.Duration{&s.t1: defaultT1, &s.t2: defaultT2, &s.t3: defaultT3} {
		if *p <= 0 {
			*p = d
		}
	}
	for i, a := range x.Allow {
		if ip := net.ParseIP(a); ip != nil {
			bits := 8 * len(ip.To16())
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 32
			}
			s.allow = append(s.allow, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(a)
		if err != nil {
			return nil, fmt.Errorf("iec104.allow[%d]: %q: %w", i, a, err)
		}
		s.allow = append(s.allow, n)
	}
	if x.TLSCert != "" {
		rel := func(p string) string {
			if filepath.IsAbs(p) || opt.Config.File == "" {
				return p
			}
			return filepath.Join(filepath.Dir(opt.Config.File), p)
		}
		cert, err := tls.LoadX509KeyPair(rel(x.TLSCert), rel(x.TLSKey))
		if err != nil {
			return nil, fmt.Errorf("iec104.tls_cert: %q: %w", x.TLSCert, err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if x.TLSClientCA != "" {
			pem, err := os.ReadFile(rel(x.TLSClientCA))
			if err != nil {
				return nil, fmt.Errorf("iec104.tls_client_ca: %q: %w", x.TLSClientCA, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("iec104.tls_client_ca: %q: no PEM certificate in it", x.TLSClientCA)
			}
			s.tls.ClientCAs, s.tls.ClientAuth = pool, tls.RequireAndVerifyClientCert
		}
	}
	return s, nil
}

// Start listens on iec104.listen and serves until ctx ends; it returns the address
// it listens on. Limits this station set before a restart (restored by the dispatch
// service) are adopted, so a repeated command refreshes them.
func (s *Server) Start(ctx context.Context) (net.Addr, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("iec104.listen: %q: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	now := s.ctl.Clock().Now()
	for _, l := range s.ctl.Limits(ctx, now) {
		if l.Source != dispatch.LimitSourceIEC104 {
			continue
		}
		if l.ImportKW != nil {
			s.held[site.IEC104ImportLimitKW] = max(s.held[site.IEC104ImportLimitKW], l.ID)
		}
		if l.ExportKW != nil {
			s.held[site.IEC104ExportLimitKW] = max(s.held[site.IEC104ExportLimitKW], l.ID)
		}
	}
	for _, p := range s.read(ctx) {
		s.last[p.IOA] = p
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-ctx.Done()
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.close()
		}
		s.mu.Unlock()
	}()
	go func() {
		defer s.wg.Done()
		s.scanLoop(ctx)
	}()
	go s.acceptLoop(ctx)
	s.log.Info("iec104 station listening", "addr", ln.Addr().String(), "common_address", s.ca, "tls", s.tls != nil)
	return ln.Addr(), nil
}

// Wait waits for the server's goroutines after its context ended.
func (s *Server) Wait() { s.wg.Wait() }

func (s *Server) read(ctx context.Context) []Point {
	return s.tab.read(ctx, s.ctl, s.limitInForce, s.ctl.Clock().Now())
}

func (s *Server) limitInForce(ctx context.Context, at time.Time) bool {
	for _, l := range s.ctl.Limits(ctx, at) {
		if !at.Before(l.From) {
			return true
		}
	}
	return false
}

func (s *Server) allowed(ip net.IP) bool {
	for _, n := range s.allow {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) acceptLoop(ctx context.Context) {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Warn("iec104 accept", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
		ip := net.ParseIP(host)
		if ip == nil || !s.allowed(ip) {
			s.refuse(ctx, host)
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(ctx, nc, host)
		}()
	}
}

// refuse logs a master not on the allow-list and audits it (at most once a minute
// per address, so a scan cannot flood the audit log).
func (s *Server) refuse(ctx context.Context, host string) {
	s.log.Warn("iec104: master not on iec104.allow refused", "master", host)
	s.mu.Lock()
	now := time.Now()
	recent := now.Sub(s.refused[host]) < time.Minute
	if !recent {
		s.refused[host] = now
	}
	s.mu.Unlock()
	if !recent {
		s.audit(ctx, host, "iec104.refuse", "connection", fmt.Sprintf("master %s is not on iec104.allow: connection closed", host), nil)
	}
}

func (s *Server) audit(ctx context.Context, host, action, subject, text string, data any) {
	if err := s.ctl.Audit(ctx, "iec104:"+host, action, subject, text, data); err != nil {
		s.log.Error("iec104 audit", "action", action, "err", err)
	}
}

func (s *Server) serve(ctx context.Context, nc net.Conn, host string) {
	if s.tls != nil {
		tc := tls.Server(nc, s.tls)
		hctx, cancel := context.WithTimeout(ctx, s.t1)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			nc.Close()
			s.log.Warn("iec104 TLS handshake", "master", host, "err", err)
			s.audit(ctx, host, "iec104.refuse", "connection", fmt.Sprintf("TLS handshake with %s failed: %v", host, err), nil)
			return
		}
		nc = tc
	}
	c := newConn(s, nc, host)
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	s.log.Info("iec104 master connected", "master", host)
	err := c.run(ctx)
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.close()
	if err != nil && ctx.Err() == nil {
		s.log.Warn("iec104 connection closed", "master", host, "err", err)
		if errors.Is(err, ErrFrame) || errors.Is(err, errProtocol) {
			s.audit(ctx, host, "iec104.protocol", "connection", fmt.Sprintf("connection from %s closed: %v", host, err), nil)
		}
	}
}

// scanLoop reads the point table every s.scan and sends what moved past the
// deadband (or changed state or quality) to every started connection.
func (s *Server) scanLoop(ctx context.Context) {
	t := time.NewTicker(s.scan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.scanOnce(ctx)
	}
}

func (s *Server) scanOnce(ctx context.Context) {
	now := s.ctl.Clock().Now()
	pts := s.tab.read(ctx, s.ctl, s.limitInForce, now)
	// Spontaneous objects by type: measured and single, with and without time tag.
	var meas, bins, measNT, binsNT []Object
	s.mu.Lock()
	for i, p := range pts {
		sp := s.tab.specs[i]
		old, seen := s.last[p.IOA]
		changed := !seen || old.Good != p.Good
		if !changed {
			if p.Binary {
				changed = old.Value != p.Value
			} else {
				changed = math.Abs(old.Value-p.Value) >= sp.deadband && (sp.deadband > 0 || old.Value != p.Value)
			}
		}
		if !changed {
			continue
		}
		s.last[p.IOA] = p
		o := p.object()
		switch {
		case p.Binary && sp.timeTag:
			o.Time, o.HasTime = now, true
			bins = append(bins, o)
		case p.Binary:
			binsNT = append(binsNT, o)
		case sp.timeTag:
			o.Time, o.HasTime = now, true
			meas = append(meas, o)
		default:
			measNT = append(measNT, o)
		}
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if len(meas)+len(bins)+len(measNT)+len(binsNT) == 0 {
		return
	}
	asdus := s.chunk(MMeTf1, CotSpontaneous, meas)
	asdus = append(asdus, s.chunk(MMeNc1, CotSpontaneous, measNT)...)
	asdus = append(asdus, s.chunk(MSpTb1, CotSpontaneous, bins)...)
	asdus = append(asdus, s.chunk(MSpNa1, CotSpontaneous, binsNT)...)
	for _, c := range conns {
		if !c.isStarted() {
			continue
		}
		for _, a := range asdus {
			if c.link.Send(a) != nil {
				break // closed, or closed now for not keeping up
			}
		}
	}
}

// object turns a point into an information object (quality IV when not good).
func (p Point) object() Object {
	o := Object{IOA: p.IOA, Float: float32(p.Value)}
	if p.Binary {
		o.QDS = byte(p.Value) & 1
	}
	if !p.Good {
		o.QDS |= qdsInvalid
	}
	return o
}

// chunk packs objects of type t into as few ASDUs as fit.
func (s *Server) chunk(t byte, cause byte, objs []Object) [][]byte {
	var out [][]byte
	n := maxObjects(t)
	for len(objs) > 0 {
		k := min(n, len(objs))
		a := &ASDU{Type: t, Cause: cause, CA: s.ca, Objects: objs[:k]}
		out = append(out, a.Encode())
		objs = objs[k:]
	}
	return out
}
