package iec104

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"github.com/gridd/gridd/fieldbus"
	"github.com/gridd/gridd/iec104/apdu"
)

func init() {
	fieldbus.Register(Scheme, Driver{})
	fieldbus.Register(SchemeTLS, Driver{})
}

// Driver is the fieldbus driver for iec104:// and iec104+tls:// endpoints.
type Driver struct{}

// CheckEndpoint parses the endpoint.
func (Driver) CheckEndpoint(endpoint string) error {
	_, err := ParseEndpoint(endpoint)
	return err
}

// VerifyEndpoint parses the endpoint and loads its TLS files.
func (Driver) VerifyEndpoint(endpoint string) error {
	e, err := ParseEndpoint(endpoint)
	if err != nil {
		return err
	}
	if e.TLS {
		_, err = e.tlsConfig()
	}
	return err
}

// CheckProfile accepts protocol iec104 profiles (IOA maps) only.
func (Driver) CheckProfile(p *fieldbus.Profile) error {
	if p.Protocol != fieldbus.ProtocolIEC104 {
		proto := p.Protocol
		if proto == "" {
			proto = fieldbus.ProtocolModbus
		}
		return fmt.Errorf("profile %s is for protocol %s; an IEC 104 endpoint needs a protocol iec104 profile (IOAs)", p.Name, proto)
	}
	return nil
}

const (
	connsKey = "iec104.conns"
	linkKey  = "iec104.link"
)

// Backoff of reconnection attempts.
const (
	MinBackoff = 500 * time.Millisecond
	MaxBackoff = 30 * time.Second
)

// WithLinkConfig sets the link's windows and timers (default the standard's).
func WithLinkConfig(c apdu.LinkConfig) fieldbus.Option { return fieldbus.WithSetting(linkKey, c) }

// Open checks the device's profile and common address; the connection is made on
// the first read or write.
func (Driver) Open(d fieldbus.Device, env fieldbus.Env) (fieldbus.Session, error) {
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	if d.Profile == nil {
		return nil, errors.New("no profile")
	}
	if err := (Driver{}).CheckProfile(d.Profile); err != nil {
		return nil, err
	}
	if d.UnitID < 1 || d.UnitID > 65534 {
		return nil, fmt.Errorf("unit_id %d (the ASDU common address) out of range 1..65534", d.UnitID)
	}
	ep, err := ParseEndpoint(d.Endpoint)
	if err != nil {
		return nil, err
	}
	var lc apdu.LinkConfig
	if v, ok := env.Setting(linkKey); ok {
		lc = v.(apdu.LinkConfig)
	}
	shared := env.Shared
	if shared == nil {
		shared = fieldbus.NewShared()
	}
	p := shared.Get(connsKey, func() io.Closer { return &pool{m: map[string]*client{}} }).(*pool)
	c := p.get(ep, lc, log)
	c.addCA(uint16(d.UnitID))
	return &session{dev: d, c: c, ca: uint16(d.UnitID)}, nil
}

// pool holds one client per endpoint.
type pool struct {
	mu sync.Mutex
	m  map[string]*client
}

func (p *pool) get(ep Endpoint, lc apdu.LinkConfig, log *slog.Logger) *client {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := ep.String()
	c := p.m[k]
	if c == nil {
		c = &client{ep: ep, lc: lc, log: log, values: map[key]entry{}, cas: map[uint16]bool{}, gi: map[uint16]bool{},
			waiters: map[key]chan *apdu.ASDU{}, changed: make(chan struct{}), stop: make(chan struct{}), lastErr: errors.New("not connected yet")}
		p.m[k] = c
	}
	return c
}

// Close stops every client.
func (p *pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.m {
		c.close()
	}
	return nil
}

type key struct {
	ca  uint16
	ioa uint32
}

// entry is the latest value of one IOA.
type entry struct {
	typ   byte // as received (time-tagged or not)
	value float32
	qds   byte
}

// client is the controlling station's connection to one endpoint.
type client struct {
	ep  Endpoint
	lc  apdu.LinkConfig
	log *slog.Logger

	once sync.Once
	stop chan struct{}
	wg   sync.WaitGroup

	mu         sync.Mutex
	link       *apdu.Link // nil while down
	connecting bool       // a connection attempt is under way
	lastErr    error
	values     map[key]entry
	cas        map[uint16]bool // common addresses of the devices
	gi         map[uint16]bool // interrogation of the CA finished on this connection
	waiters    map[key]chan *apdu.ASDU
	changed    chan struct{} // closed and replaced on every change
	closed     bool
}

// addCA adds a device's common address; one added while the link is up is
// interrogated at once.
func (c *client) addCA(ca uint16) {
	c.mu.Lock()
	added := !c.cas[ca]
	c.cas[ca] = true
	l := c.link
	c.mu.Unlock()
	if added && l != nil {
		gi := &apdu.ASDU{Type: apdu.CIcNa1, Cause: apdu.CotAct, CA: ca, Objects: []apdu.Object{{IOA: 0, QDS: 20}}}
		_ = l.Send(gi.Encode())
	}
}

// start runs the connection loop (once).
func (c *client) start() {
	c.once.Do(func() {
		c.mu.Lock()
		c.connecting = true
		c.mu.Unlock()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.loop()
		}()
	})
}

func (c *client) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.stop)
	l := c.link
	c.mu.Unlock()
	if l != nil {
		l.Close()
	}
	c.wg.Wait()
}

// notify wakes everything waiting for a change; c.mu is held.
func (c *client) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// loop connects, interrogates and serves the link until it drops, then reconnects
// with a backoff.
func (c *client) loop() {
	backoff := MinBackoff
	for {
		c.mu.Lock()
		c.connecting = true
		c.mu.Unlock()
		established, err := c.connectOnce()
		c.mu.Lock()
		c.connecting = false
		c.link = nil
		c.gi = map[uint16]bool{}
		c.lastErr = err
		c.notify()
		c.mu.Unlock()
		if established {
			backoff = MinBackoff
		}
		select {
		case <-c.stop: // closing: the link went down because gridd is stopping
			c.log.Info("iec104 link closed", "endpoint", c.ep.String())
			return
		default:
		}
		c.log.Warn("iec104 link down", "endpoint", c.ep.String(), "err", err, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-c.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if !established {
			backoff = min(backoff*2, MaxBackoff)
		}
	}
}

// connectOnce makes one connection and serves it until it drops; established says
// whether STARTDT was confirmed.
func (c *client) connectOnce() (bool, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	lc := c.lc
	t1 := lc.T1
	if t1 <= 0 {
		t1 = apdu.DefaultT1
	}
	d := net.Dialer{Timeout: t1}
	nc, err := d.DialContext(ctx, "tcp", c.ep.Addr)
	if err != nil {
		return false, fmt.Errorf("connect %s: %w", c.ep.Addr, err)
	}
	if c.ep.TLS {
		cfg, err := c.ep.tlsConfig()
		if err != nil {
			nc.Close()
			return false, err
		}
		tc := tls.Client(nc, cfg)
		hctx, hcancel := context.WithTimeout(ctx, t1)
		err = tc.HandshakeContext(hctx)
		hcancel()
		if err != nil {
			nc.Close()
			return false, fmt.Errorf("TLS handshake with %s: %w", c.ep.Addr, err)
		}
		nc = tc
	}
	l := apdu.NewLink(nc, lc, false)
	done := make(chan error, 1)
	go func() { done <- l.Run(c.handle) }()
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	if err := l.StartDT(ctx); err != nil {
		l.Close()
		if lerr := <-done; lerr != nil {
			c.log.Debug("iec104 link closed before STARTDT con", "endpoint", c.ep.String(), "err", lerr)
		}
		return false, fmt.Errorf("STARTDT with %s: %w", c.ep.Addr, err)
	}
	c.mu.Lock()
	c.link = l
	c.connecting = false
	c.lastErr = nil
	cas := make([]uint16, 0, len(c.cas))
	for ca := range c.cas {
		cas = append(cas, ca)
	}
	c.mu.Unlock()
	c.log.Info("iec104 link up", "endpoint", c.ep.String())
	for _, ca := range cas {
		gi := &apdu.ASDU{Type: apdu.CIcNa1, Cause: apdu.CotAct, CA: ca, Objects: []apdu.Object{{IOA: 0, QDS: 20}}}
		if err := l.Send(gi.Encode()); err != nil {
			break
		}
	}
	err = <-done
	return true, err
}

// handle takes one ASDU from the RTU.
func (c *client) handle(a *apdu.ASDU) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch t := apdu.Untimed(a.Type); t {
	case apdu.MSpNa1, apdu.MDpNa1, apdu.MMeNa1, apdu.MMeNb1, apdu.MMeNc1:
		for _, o := range a.Objects {
			c.values[key{a.CA, o.IOA}] = entry{typ: a.Type, value: o.Float, qds: o.QDS}
		}
		c.notify()
	case apdu.CIcNa1:
		if a.Cause == apdu.CotActTerm || a.Negative {
			c.gi[a.CA] = true
			if a.Negative {
				c.log.Warn("iec104: general interrogation refused", "endpoint", c.ep.String(), "common_address", a.CA, "cause", a.Cause)
			}
			c.notify()
		}
	case apdu.CScNa1, apdu.CSeNa1, apdu.CSeNb1, apdu.CSeNc1:
		if len(a.Objects) == 1 {
			if w, ok := c.waiters[key{a.CA, a.Objects[0].IOA}]; ok {
				select {
				case w <- a:
				default:
				}
			}
		}
	}
}

// ready waits until the link is up and the device's common address interrogated,
// or the deadline passes; while the link is down between connection attempts it
// fails at once.
func (c *client) ready(ctx context.Context, ca uint16, timeout time.Duration) (*apdu.Link, error) {
	c.start()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		c.mu.Lock()
		l, done, ch, lastErr, connecting := c.link, c.gi[ca], c.changed, c.lastErr, c.connecting
		c.mu.Unlock()
		if l != nil && done {
			return l, nil
		}
		if l == nil && !connecting {
			// Down and waiting out the reconnection backoff: fail at once rather
			// than hold up the poll (the device is reported stale).
			return nil, fmt.Errorf("iec104 %s: link down: %w", c.ep.Addr, lastErr)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
			if l == nil {
				return nil, fmt.Errorf("iec104 %s: link down: %w", c.ep.Addr, lastErr)
			}
			return nil, fmt.Errorf("%w: iec104 %s common address %d: interrogation not finished within %s", fieldbus.ErrTimeout, c.ep.Addr, ca, timeout)
		}
	}
}

type session struct {
	dev fieldbus.Device
	c   *client
	ca  uint16
}

// Read fills the points from the latest values the RTU sent.
func (s *session) Read(ctx context.Context, a *fieldbus.ReadAttempt) error {
	if _, err := s.c.ready(ctx, s.ca, s.dev.RequestTimeout()); err != nil {
		return err
	}
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	for i := range s.dev.Profile.Points {
		pt := &s.dev.Profile.Points[i]
		v, err := s.value(pt)
		a.Points[i] = fieldbus.PointRead{Done: true, Value: v, Err: err}
	}
	return nil
}

// value decodes the latest value of a point; s.c.mu is held.
func (s *session) value(pt *fieldbus.Point) (float64, error) {
	addr := pt.IEC104
	e, ok := s.c.values[key{s.ca, addr.IOA}]
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: IOA %d: no value received from common address %d", fieldbus.ErrDecode, addr.IOA, s.ca)
	case apdu.Untimed(e.typ) != addr.Type:
		return 0, fmt.Errorf("%w: IOA %d sent as %s, the profile says %s", fieldbus.ErrDecode, addr.IOA, apdu.TypeNames[e.typ], apdu.TypeNames[addr.Type])
	case e.qds&apdu.QDSInvalid != 0:
		return 0, fmt.Errorf("%w: IOA %d invalid (IV)", fieldbus.ErrDecode, addr.IOA)
	case e.qds&apdu.QDSNotTopical != 0:
		return 0, fmt.Errorf("%w: IOA %d not topical (NT)", fieldbus.ErrDecode, addr.IOA)
	}
	raw := float64(e.value)
	switch addr.Type {
	case apdu.MSpNa1:
		raw = float64(e.qds & 1)
	case apdu.MDpNa1:
		switch e.qds & 3 {
		case 1:
			raw = 0
		case 2:
			raw = 1
		default:
			return 0, fmt.Errorf("%w: IOA %d double point indeterminate (%d)", fieldbus.ErrDecode, addr.IOA, e.qds&3)
		}
	default:
		if e.qds&apdu.QDSOverflow != 0 {
			return 0, fmt.Errorf("%w: IOA %d overflow (OV)", fieldbus.ErrDecode, addr.IOA)
		}
	}
	return pt.IEC104Raw(raw)
}

// Write sends the point's command, waits for its confirmation and reads the
// monitored value back.
func (s *session) Write(ctx context.Context, pt *fieldbus.Point, value float64) (float64, error) {
	addr := pt.IEC104
	if addr == nil || addr.Command == 0 {
		return 0, &fieldbus.WriteError{Stage: "encode", Err: fmt.Errorf("point %s has no command in profile %s", pt.Name, s.dev.Profile.Name)}
	}
	f, err := pt.IEC104Command(value)
	if err != nil {
		return 0, &fieldbus.WriteError{Stage: "encode", Err: err}
	}
	timeout := s.dev.RequestTimeout()
	deadline := time.Now().Add(timeout)
	l, err := s.c.ready(ctx, s.ca, timeout)
	if err != nil {
		return 0, &fieldbus.WriteError{Stage: "write", Err: err}
	}
	o := apdu.Object{IOA: addr.CommandIOA, Float: f}
	if addr.Command == apdu.CScNa1 {
		o.QDS, o.Float = byte(f)&1, 0
	}
	cmd := &apdu.ASDU{Type: addr.Command, Cause: apdu.CotAct, CA: s.ca, Objects: []apdu.Object{o}}
	k := key{s.ca, addr.CommandIOA}
	w := make(chan *apdu.ASDU, 4)
	s.c.mu.Lock()
	s.c.waiters[k] = w
	s.c.mu.Unlock()
	defer func() {
		s.c.mu.Lock()
		delete(s.c.waiters, k)
		s.c.mu.Unlock()
	}()
	if err := l.Send(cmd.Encode()); err != nil {
		return 0, &fieldbus.WriteError{Stage: "write", Err: err}
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for confirmed := false; !confirmed; {
		select {
		case r := <-w:
			switch {
			case r.Cause == apdu.CotActCon && r.Negative:
				return 0, &fieldbus.WriteError{Stage: "write", Err: fmt.Errorf("%s IOA %d refused by the RTU (negative confirmation)", apdu.TypeNames[addr.Command], addr.CommandIOA)}
			case r.Cause == apdu.CotActCon:
				confirmed = true
			case r.Negative:
				return 0, &fieldbus.WriteError{Stage: "write", Err: fmt.Errorf("%s IOA %d refused by the RTU (cause %d)", apdu.TypeNames[addr.Command], addr.CommandIOA, r.Cause)}
			}
		case <-l.Done():
			return 0, &fieldbus.WriteError{Stage: "write", Err: fmt.Errorf("iec104 %s: link lost before the confirmation: %w", s.c.ep.Addr, l.Err())}
		case <-ctx.Done():
			return 0, &fieldbus.WriteError{Stage: "write", Err: ctx.Err()}
		case <-t.C:
			return 0, &fieldbus.WriteError{Stage: "write", Err: fmt.Errorf("%w: no confirmation of %s IOA %d within %s", fieldbus.ErrTimeout, apdu.TypeNames[addr.Command], addr.CommandIOA, timeout)}
		}
	}
	// Read-back: the monitored value, once it reflects the command.
	for {
		s.c.mu.Lock()
		v, err := s.value(pt)
		ch := s.c.changed
		s.c.mu.Unlock()
		if err == nil && math.Abs(v-value) <= pt.Tolerance(value) {
			return v, nil
		}
		select {
		case <-ch:
			continue
		case <-ctx.Done():
		case <-t.C:
		case <-l.Done():
			err = fmt.Errorf("link lost: %w", l.Err())
		}
		if err != nil {
			return 0, &fieldbus.WriteError{Stage: "read-back", Err: err}
		}
		return v, nil
	}
}

func (s *session) Close() error { return nil }
