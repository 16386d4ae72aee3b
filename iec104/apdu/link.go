package apdu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrProtocol marks a link closed for breaking the protocol (sequence numbers, I
// frames before STARTDT, a peer that does not acknowledge or keep up).
var ErrProtocol = errors.New("iec104: protocol error")

// ErrClosed is returned by Send and StartDT on a closed link.
var ErrClosed = errors.New("iec104: link closed")

// LinkConfig holds the protocol's windows and timers (IEC 60870-5-104 §5.5); zero
// fields take the standard's defaults.
type LinkConfig struct {
	K, W       int
	T1, T2, T3 time.Duration
	// Queue is how many ASDUs may wait to be sent (default 512); Send fails when it
	// is full.
	Queue int
}

// Standard defaults.
const (
	DefaultK  = 12
	DefaultW  = 8
	DefaultT1 = 15 * time.Second
	DefaultT2 = 10 * time.Second
	DefaultT3 = 20 * time.Second
	seqMod    = 1 << 15
)

func (c LinkConfig) withDefaults() LinkConfig {
	if c.K <= 0 {
		c.K = DefaultK
	}
	if c.W <= 0 {
		c.W = DefaultW
	}
	if c.T1 <= 0 {
		c.T1 = DefaultT1
	}
	if c.T2 <= 0 {
		c.T2 = DefaultT2
	}
	if c.T3 <= 0 {
		c.T3 = DefaultT3
	}
	if c.Queue <= 0 {
		c.Queue = 512
	}
	return c
}

// Link is one end of an IEC 104 connection: the APCI (sequence numbers, the k and
// w windows, t1-t3, STARTDT/STOPDT/TESTFR) over a net.Conn, for either role. The
// controlled station (server) answers STARTDT and STOPDT; the controlling station
// (client) sends STARTDT with StartDT. ASDUs received in I frames go to the handler
// given to Run; Send queues ASDUs to go out in I frames within the window.
type Link struct {
	nc     net.Conn
	cfg    LinkConfig
	server bool
	out    chan []byte
	done   chan struct{}
	once   sync.Once
	wmu    sync.Mutex // serialises writes to nc

	mu       sync.Mutex
	cond     *sync.Cond
	err      error
	started  bool
	startCon chan struct{}
	vs, vr   uint16
	ack      uint16
	unacked  int
	ackTimer *time.Timer
}

// NewLink wraps nc; server selects the controlled-station role.
func NewLink(nc net.Conn, cfg LinkConfig, server bool) *Link {
	cfg = cfg.withDefaults()
	l := &Link{nc: nc, cfg: cfg, server: server, out: make(chan []byte, cfg.Queue), done: make(chan struct{}), startCon: make(chan struct{}, 1)}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Done is closed when the link closes.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err is why the link closed (nil while open).
func (l *Link) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Started reports whether data transfer is started (STARTDT confirmed or answered).
func (l *Link) Started() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.started
}

// Close closes the link.
func (l *Link) Close() error {
	l.fail(ErrClosed)
	return nil
}

func (l *Link) fail(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.once.Do(func() {
		close(l.done)
		l.nc.Close()
		l.mu.Lock()
		if l.ackTimer != nil {
			l.ackTimer.Stop()
		}
		l.cond.Broadcast()
		l.mu.Unlock()
	})
}

func (l *Link) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Send queues an ASDU. It fails when the link is closed or the queue is full (the
// peer does not keep up); the link is then closed.
func (l *Link) Send(asdu []byte) error {
	select {
	case <-l.done:
		return ErrClosed
	default:
	}
	select {
	case l.out <- asdu:
		return nil
	case <-l.done:
		return ErrClosed
	default:
		err := fmt.Errorf("%w: peer does not keep up: send queue full", ErrProtocol)
		l.fail(err)
		return err
	}
}

// StartDT sends STARTDT act and waits for its confirmation (controlling station).
func (l *Link) StartDT(ctx context.Context) error {
	if err := l.write(UFrame(UStartDTAct)); err != nil {
		return err
	}
	t := time.NewTimer(l.cfg.T1)
	defer t.Stop()
	select {
	case <-l.startCon:
		return nil
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		err := fmt.Errorf("%w: no STARTDT con within t1 (%s)", ErrProtocol, l.cfg.T1)
		l.fail(err)
		return err
	}
}

func (l *Link) write(b []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.nc.SetWriteDeadline(time.Now().Add(l.cfg.T1)); err != nil {
		return err
	}
	_, err := l.nc.Write(b)
	return err
}

// writeSeq writes the frame build returns; build runs under l.mu while the write
// lock is held, so frames leave in the order of their sequence numbers.
func (l *Link) writeSeq(build func() []byte) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	b := build()
	l.mu.Unlock()
	if b == nil {
		return nil
	}
	if err := l.nc.SetWriteDeadline(time.Now().Add(l.cfg.T1)); err != nil {
		return err
	}
	_, err := l.nc.Write(b)
	return err
}

func (l *Link) ackNow() error {
	return l.writeSeq(func() []byte {
		if l.unacked == 0 {
			return nil
		}
		l.unacked = 0
		return SFrame(l.vr)
	})
}

// Run serves the link until it closes: it reads frames, passes each received ASDU
// to handle (in this goroutine), and sends queued ASDUs. It returns why the link
// closed.
func (l *Link) Run(handle func(*ASDU)) error {
	go l.sender()
	err := l.receive(handle)
	l.fail(err)
	return l.Err()
}

func (l *Link) sender() {
	for {
		var asdu []byte
		select {
		case <-l.done:
			return
		case asdu = <-l.out:
		}
		l.mu.Lock()
		deadline := time.Now().Add(l.cfg.T1)
		var t *time.Timer
		for (l.vs-l.ack+seqMod)%seqMod >= uint16(l.cfg.K) && !l.closed() {
			if time.Now().After(deadline) {
				l.mu.Unlock()
				l.fail(fmt.Errorf("%w: no acknowledgement within t1 (%s)", ErrProtocol, l.cfg.T1))
				return
			}
			if t == nil {
				t = time.AfterFunc(l.cfg.T1, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
			}
			l.cond.Wait()
		}
		if t != nil {
			t.Stop()
		}
		closed := l.closed()
		l.mu.Unlock()
		if closed {
			return
		}
		if err := l.writeSeq(func() []byte {
			f := IFrame(l.vs, l.vr, asdu)
			l.vs = (l.vs + 1) % seqMod
			l.unacked = 0
			return f
		}); err != nil {
			l.fail(err)
			return
		}
	}
}

func (l *Link) receive(handle func(*ASDU)) error {
	br := bufio.NewReader(l.nc)
	buf := make([]byte, 2+MaxAPDULen)
	testing := false
	for {
		wait := l.cfg.T3
		if testing {
			wait = l.cfg.T1
		}
		if err := l.nc.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return err
		}
		b, err := ReadFrame(br, buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if testing {
				return fmt.Errorf("%w: no answer to TESTFR within t1 (%s)", ErrProtocol, l.cfg.T1)
			}
			testing = true
			if err := l.write(UFrame(UTestFRAct)); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		testing = false
		a, err := Decode(b)
		if err != nil {
			return err
		}
		switch a.Kind {
		case FrameU:
			if err := l.handleU(a.UFunc); err != nil {
				return err
			}
		case FrameS:
			if err := l.acknowledge(a.RecvSeq); err != nil {
				return err
			}
		case FrameI:
			if err := l.receiveI(a); err != nil {
				return err
			}
			l.mu.Lock()
			full := l.unacked >= l.cfg.W
			l.mu.Unlock()
			if full {
				if err := l.ackNow(); err != nil {
					return err
				}
			}
			handle(a.ASDU)
		}
	}
}

func (l *Link) handleU(f byte) error {
	var reply byte
	l.mu.Lock()
	switch f {
	case UStartDTAct:
		if l.server {
			l.started, reply = true, UStartDTCon
		}
	case UStopDTAct:
		if l.server {
			l.started, reply = false, UStopDTCon
		}
	case UStartDTCon:
		if !l.server {
			l.started = true
			select {
			case l.startCon <- struct{}{}:
			default:
			}
		}
	case UTestFRAct:
		reply = UTestFRCon
	}
	l.mu.Unlock()
	if reply == 0 {
		return nil
	}
	return l.write(UFrame(reply))
}

// acknowledge takes the peer's N(R): every I frame before it is acknowledged.
func (l *Link) acknowledge(nr uint16) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	outstanding := (l.vs - l.ack + seqMod) % seqMod
	if (nr-l.ack+seqMod)%seqMod > outstanding {
		return fmt.Errorf("%w: N(R) %d acknowledges frames not sent (next %d)", ErrProtocol, nr, l.vs)
	}
	l.ack = nr
	l.cond.Broadcast()
	return nil
}

func (l *Link) receiveI(a APDU) error {
	if err := l.acknowledge(a.RecvSeq); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.started {
		return fmt.Errorf("%w: I frame before STARTDT", ErrProtocol)
	}
	if a.SendSeq != l.vr {
		return fmt.Errorf("%w: N(S) %d, expected %d", ErrProtocol, a.SendSeq, l.vr)
	}
	l.vr = (l.vr + 1) % seqMod
	l.unacked++
	if l.unacked == 1 {
		if l.ackTimer != nil {
			l.ackTimer.Stop()
		}
		l.ackTimer = time.AfterFunc(l.cfg.T2, func() { _ = l.ackNow() })
	}
	return nil
}
