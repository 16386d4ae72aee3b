package sim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/fieldbus"
	fbiec104 "github.com/gridd/gridd/fieldbus/iec104"
	"github.com/gridd/gridd/iec104/apdu"
)

// RTUScan is how often a simulated IEC 104 RTU reads its points for spontaneous
// sends.
var RTUScan = 50 * time.Millisecond

// isIEC104 reports whether an endpoint is served as an IEC 104 RTU.
func isIEC104(endpoint string) bool {
	return strings.HasPrefix(endpoint, fbiec104.Scheme+"://") || strings.HasPrefix(endpoint, fbiec104.SchemeTLS+"://")
}

// rtu is a simulated substation RTU: an IEC 60870-5-104 controlled station serving
// the devices of one endpoint, one common address (unit_id) each. It answers
// STARTDT, general interrogation (every point, untimed types, cause 20) and the
// commands of rw points (ACTCON, ACTTERM; a value outside the profile limits or to an
// unknown IOA is refused negatively), and sends every point that moves by more than
// half its step, or changes quality, spontaneously with a time tag. Faults: no-answer
// drops the connections and refuses new ones; garbage sends values with IV set;
// exception refuses commands; ignore-writes confirms them without effect.
type rtu struct {
	srv  *server
	ln   net.Listener
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once

	mu    sync.Mutex
	links map[*apdu.Link]bool
	last  map[uint32]sent // (CA<<24 | IOA) -> as last sent
}

type sent struct {
	value float32
	qds   byte
}

// listenRTU serves an iec104:// endpoint, or an iec104+tls:// one with the
// simulator's server certificate (SetTLS; masters must present a certificate signed
// by its ClientCAs when set).
func listenRTU(srv *server, t *TLSServer) (*rtu, error) {
	ep, err := fbiec104.ParseEndpoint(srv.endpoint)
	if err != nil {
		return nil, err
	}
	if ep.TLS && t == nil {
		return nil, errors.New("an iec104+tls endpoint needs the simulator's server certificate (sim.TLSServer)")
	}
	ln, err := net.Listen("tcp", ep.Addr)
	if err != nil {
		return nil, err
	}
	if ep.TLS {
		c := &tls.Config{Certificates: []tls.Certificate{t.Cert}, MinVersion: tls.VersionTLS12}
		if t.ClientCAs != nil {
			c.ClientCAs, c.ClientAuth = t.ClientCAs, tls.RequireAndVerifyClientCert
		}
		ln = tls.NewListener(ln, c)
	}
	r := &rtu{srv: srv, ln: ln, stop: make(chan struct{}), links: map[*apdu.Link]bool{}, last: map[uint32]sent{}}
	r.wg.Add(2)
	go r.accept()
	go r.scan()
	return r, nil
}

// Stop closes the listener and every connection.
func (r *rtu) Stop() error {
	r.once.Do(func() {
		close(r.stop)
		r.ln.Close()
		r.dropAll()
		r.wg.Wait()
	})
	return nil
}

func (r *rtu) dropAll() {
	r.mu.Lock()
	for l := range r.links {
		l.Close()
	}
	r.mu.Unlock()
}

// silent reports whether a device of the RTU has FaultNoAnswer.
func (r *rtu) silent() bool {
	s := r.srv.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range r.srv.units {
		if d.fault == FaultNoAnswer {
			return true
		}
	}
	return false
}

func (r *rtu) accept() {
	defer r.wg.Done()
	for {
		nc, err := r.ln.Accept()
		if err != nil {
			return
		}
		if r.silent() {
			nc.Close()
			continue
		}
		l := apdu.NewLink(nc, apdu.LinkConfig{}, true)
		r.mu.Lock()
		r.links[l] = true
		r.mu.Unlock()
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			_ = l.Run(func(a *apdu.ASDU) { r.handle(l, a) })
			r.mu.Lock()
			delete(r.links, l)
			r.mu.Unlock()
		}()
	}
}

// object reads one point as the RTU sends it; s.mu is held.
func (r *rtu) object(d *device, pt *fieldbus.Point, f Fault) apdu.Object {
	o := apdu.Object{IOA: pt.IEC104.IOA}
	v, err := pt.IEC104Value(r.srv.sim.pointValue(d, pt.Name))
	if err != nil || f == FaultGarbage && (d.garbagePoint == "" || d.garbagePoint == pt.Name) {
		o.QDS = apdu.QDSInvalid
		return o
	}
	switch pt.IEC104.Type {
	case apdu.MSpNa1:
		o.QDS |= byte(v) & 1
	case apdu.MDpNa1:
		o.QDS |= 1 + byte(v)&1 // off 1, on 2
	default:
		o.Float = v
	}
	return o
}

// points reads every point of the devices with common address ca (all for
// 0xFFFF), grouped by CA and type.
func (r *rtu) points(ca uint16, timed bool) map[uint16]map[byte][]apdu.Object {
	s := r.srv.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clk.Now())
	now := s.clk.Now()
	out := map[uint16]map[byte][]apdu.Object{}
	for unit, d := range r.srv.units {
		c := uint16(unit)
		if ca != 0xFFFF && ca != c {
			continue
		}
		if out[c] == nil {
			out[c] = map[byte][]apdu.Object{}
		}
		for i := range d.prof.Points {
			pt := &d.prof.Points[i]
			if pt.IEC104 == nil {
				continue
			}
			o := r.object(d, pt, d.fault)
			t := pt.IEC104.Type
			if timed {
				o.Time, o.HasTime = now, true
				switch t {
				case apdu.MSpNa1:
					t = apdu.MSpTb1
				case apdu.MDpNa1:
					t = apdu.MDpTb1
				case apdu.MMeNa1:
					t = apdu.MMeTd1
				case apdu.MMeNb1:
					t = apdu.MMeTe1
				case apdu.MMeNc1:
					t = apdu.MMeTf1
				}
			}
			out[c][t] = append(out[c][t], o)
		}
	}
	return out
}

func chunks(ca uint16, t, cause byte, objs []apdu.Object) [][]byte {
	var out [][]byte
	n := apdu.MaxObjects(t)
	for len(objs) > 0 {
		k := min(n, len(objs))
		a := &apdu.ASDU{Type: t, Cause: cause, CA: ca, Objects: objs[:k]}
		out = append(out, a.Encode())
		objs = objs[k:]
	}
	return out
}

func (r *rtu) reply(l *apdu.Link, a *apdu.ASDU, cause byte, negative bool) {
	c := *a
	c.Cause, c.Negative = cause, negative
	_ = l.Send(c.Encode())
}

// handle answers one ASDU from the controlling station.
func (r *rtu) handle(l *apdu.Link, a *apdu.ASDU) {
	if a.Cause != apdu.CotAct {
		r.reply(l, a, apdu.CotUnknownCause, true)
		return
	}
	if _, known := r.srv.units[uint8(a.CA)]; (a.CA > 255 || !known) && !(a.Type == apdu.CIcNa1 && a.CA == 0xFFFF) {
		r.reply(l, a, apdu.CotUnknownCA, true)
		return
	}
	switch a.Type {
	case apdu.CIcNa1:
		r.reply(l, a, apdu.CotActCon, false)
		for ca, byType := range r.points(a.CA, false) {
			for t, objs := range byType {
				for _, b := range chunks(ca, t, apdu.CotInrogen, objs) {
					_ = l.Send(b)
				}
			}
		}
		r.reply(l, a, apdu.CotActTerm, false)
	case apdu.CScNa1, apdu.CSeNa1, apdu.CSeNb1, apdu.CSeNc1:
		if err := r.command(a); err != nil {
			r.srv.sim.log.Debug("sim: iec104 command refused", "endpoint", r.srv.endpoint, "err", err)
			cause := byte(apdu.CotActCon)
			if errors.Is(err, errUnknownIOA) {
				cause = apdu.CotUnknownIOA
			}
			r.reply(l, a, cause, true)
			return
		}
		r.reply(l, a, apdu.CotActCon, false)
		r.reply(l, a, apdu.CotActTerm, false)
	default:
		r.reply(l, a, apdu.CotUnknownType, true)
	}
}

var errUnknownIOA = errors.New("no command at this IOA")

// command applies a command to the rw point it addresses.
func (r *rtu) command(a *apdu.ASDU) error {
	if len(a.Objects) != 1 {
		return fmt.Errorf("%d objects in a command", len(a.Objects))
	}
	o := a.Objects[0]
	if o.QDS&0x80 != 0 {
		return errors.New("select-before-operate is not simulated")
	}
	d := r.srv.units[uint8(a.CA)]
	var pt *fieldbus.Point
	for i := range d.prof.Points {
		p := &d.prof.Points[i]
		if p.IEC104 != nil && p.IEC104.CommandIOA == o.IOA && p.IEC104.Command == a.Type {
			pt = p
		}
	}
	if pt == nil {
		return fmt.Errorf("%w: %s IOA %d", errUnknownIOA, apdu.TypeNames[a.Type], o.IOA)
	}
	raw := float64(o.Float)
	if a.Type == apdu.CScNa1 {
		raw = float64(o.QDS & 1)
	}
	v, err := pt.IEC104Raw(raw)
	if err != nil {
		return err
	}
	s := r.srv.sim
	s.mu.Lock()
	defer s.mu.Unlock()
	switch d.fault {
	case FaultException:
		return errors.New("device failure (fault exception)")
	case FaultIgnoreWrites:
		return nil
	}
	s.advance(s.clk.Now())
	s.apply(d, pt.Name, v)
	return nil
}

// scan sends what moved spontaneously to every started connection.
func (r *rtu) scan() {
	defer r.wg.Done()
	t := time.NewTicker(RTUScan)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		if r.silent() {
			r.dropAll()
			continue
		}
		r.scanOnce()
	}
}

func (r *rtu) scanOnce() {
	pts := r.points(0xFFFF, true)
	var frames [][]byte
	r.mu.Lock()
	for ca, byType := range pts {
		for t, objs := range byType {
			var moved []apdu.Object
			for _, o := range objs {
				k := uint32(ca)<<24 | o.IOA
				old, seen := r.last[k]
				step := 0.0 // half a step of the element: 1 for floats and scaled values, 1/32768 normalised
				if pt := r.srv.units[uint8(ca)].pointAt(o.IOA); pt != nil && pt.Type != fieldbus.Bool {
					step = 0.5
					if pt.IEC104.Type == apdu.MMeNa1 {
						step /= 32768
					}
				}
				if seen && old.qds == o.QDS && math.Abs(float64(old.value-o.Float)) <= step {
					continue
				}
				r.last[k] = sent{o.Float, o.QDS}
				moved = append(moved, o)
			}
			frames = append(frames, chunks(ca, t, apdu.CotSpontaneous, moved)...)
		}
	}
	links := make([]*apdu.Link, 0, len(r.links))
	for l := range r.links {
		if l.Started() {
			links = append(links, l)
		}
	}
	r.mu.Unlock()
	for _, l := range links {
		for _, f := range frames {
			if l.Send(f) != nil {
				break
			}
		}
	}
}

// pointAt finds the point monitored at ioa.
func (d *device) pointAt(ioa uint32) *fieldbus.Point {
	for i := range d.prof.Points {
		if p := &d.prof.Points[i]; p.IEC104 != nil && p.IEC104.IOA == ioa {
			return p
		}
	}
	return nil
}
