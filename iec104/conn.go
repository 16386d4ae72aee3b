package iec104

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// errProtocol marks a connection closed for breaking the protocol (sequence numbers,
// I frames before STARTDT, a master that does not keep up).
var errProtocol = errors.New("iec104: protocol error")

const seqMod = 1 << 15

// conn is one master's connection.
type conn struct {
	s    *Server
	nc   net.Conn
	host string
	out  chan []byte
	done chan struct{}
	once sync.Once
	wmu  sync.Mutex // serialises writes to nc

	mu        sync.Mutex
	cond      *sync.Cond
	err       error
	started   bool
	vs, vr    uint16 // next send / expected receive sequence number
	ack       uint16 // oldest I frame the master has not acknowledged
	unacked   int    // I frames received and not yet acknowledged
	ackTimer  *time.Timer
	selection map[uint32]selection
}

// selection is a select (of select-before-operate) waiting for its execute.
type selection struct {
	typ   byte
	value float32
	qual  byte
	until time.Time
}

func newConn(s *Server, nc net.Conn, host string) *conn {
	c := &conn{s: s, nc: nc, host: host, out: make(chan []byte, outQueue), done: make(chan struct{}), selection: map[uint32]selection{}}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
		c.mu.Lock()
		if c.ackTimer != nil {
			c.ackTimer.Stop()
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	})
}

// fail closes the connection with err.
func (c *conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.close()
}

func (c *conn) pendingAcks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unacked
}

func (c *conn) isStarted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.started
}

// send queues an ASDU, waiting while the queue is full.
func (c *conn) send(asdu []byte) {
	select {
	case c.out <- asdu:
	case <-c.done:
	}
}

// trySend queues an ASDU unless the queue is full.
func (c *conn) trySend(asdu []byte) bool {
	select {
	case c.out <- asdu:
		return true
	case <-c.done:
		return true
	default:
		return false
	}
}

// writeSeq writes the frame build returns; build runs under c.mu while the write
// lock is held, so frames leave in the order of the sequence numbers they carry.
func (c *conn) writeSeq(build func() []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	b := build()
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.t1)); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	return err
}

// ackNow sends an S frame acknowledging every I frame received, if any is pending.
func (c *conn) ackNow() error {
	return c.writeSeq(func() []byte {
		if c.unacked == 0 {
			return nil
		}
		c.unacked = 0
		return sFrame(c.vr)
	})
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.s.t1)); err != nil {
		return err
	}
	_, err := c.nc.Write(b)
	return err
}

// run serves the connection until it closes.
func (c *conn) run(ctx context.Context) error {
	go c.sender()
	err := c.receive(ctx)
	c.close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return err
}

// sender writes queued ASDUs as I frames within the window of k unacknowledged
// frames; a master that acknowledges nothing for t1 loses the connection.
func (c *conn) sender() {
	for {
		var asdu []byte
		select {
		case <-c.done:
			return
		case asdu = <-c.out:
		}
		c.mu.Lock()
		deadline := time.Now().Add(c.s.t1)
		var t *time.Timer
		for (c.vs-c.ack+seqMod)%seqMod >= defaultK && c.err == nil && !c.closed() {
			if time.Now().After(deadline) {
				c.mu.Unlock()
				c.fail(fmt.Errorf("%w: no acknowledgement within t1 (%s)", errProtocol, c.s.t1))
				return
			}
			if t == nil {
				t = time.AfterFunc(c.s.t1, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
			}
			c.cond.Wait()
		}
		if t != nil {
			t.Stop()
		}
		if c.closed() {
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.writeSeq(func() []byte {
			f := iFrame(c.vs, c.vr, asdu)
			c.vs = (c.vs + 1) % seqMod
			c.unacked = 0
			return f
		}); err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *conn) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// receive reads and handles frames; it sends TESTFR after t3 of silence and closes
// the connection when that goes unanswered for t1.
func (c *conn) receive(ctx context.Context) error {
	br := bufio.NewReader(c.nc)
	buf := make([]byte, 2+maxAPDULen)
	testing := false
	for {
		wait := c.s.t3
		if testing {
			wait = c.s.t1
		}
		if err := c.nc.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return err
		}
		b, err := ReadFrame(br, buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if testing {
				return fmt.Errorf("%w: no TESTFR con within t1", errProtocol)
			}
			testing = true
			if err := c.write(uFrame(uTestFRAct)); err != nil {
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
		case frameU:
			if err := c.handleU(a.UFunc); err != nil {
				return err
			}
		case frameS:
			if err := c.acknowledge(a.RecvSeq); err != nil {
				return err
			}
		case frameI:
			if err := c.receiveI(a); err != nil {
				return err
			}
			if c.pendingAcks() >= defaultW {
				if err := c.ackNow(); err != nil {
					return err
				}
			}
			c.s.handle(ctx, c, a.ASDU)
		}
	}
}

func (c *conn) handleU(f byte) error {
	var reply byte
	c.mu.Lock()
	switch f {
	case uStartDTAct:
		c.started, reply = true, uStartDTCon
	case uStopDTAct:
		c.started, reply = false, uStopDTCon
	case uTestFRAct:
		reply = uTestFRCon
	}
	c.mu.Unlock()
	if reply == 0 {
		return nil // a confirmation
	}
	return c.write(uFrame(reply))
}

// acknowledge takes the master's N(R): every I frame before it is acknowledged.
func (c *conn) acknowledge(nr uint16) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	outstanding := (c.vs - c.ack + seqMod) % seqMod
	if (nr-c.ack+seqMod)%seqMod > outstanding {
		return fmt.Errorf("%w: N(R) %d acknowledges frames not sent (next %d)", errProtocol, nr, c.vs)
	}
	c.ack = nr
	c.cond.Broadcast()
	return nil
}

// receiveI checks an I frame's sequence numbers and acknowledges every w frames (or
// after t2).
func (c *conn) receiveI(a APDU) error {
	if err := c.acknowledge(a.RecvSeq); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return fmt.Errorf("%w: I frame before STARTDT", errProtocol)
	}
	if a.SendSeq != c.vr {
		return fmt.Errorf("%w: N(S) %d, expected %d", errProtocol, a.SendSeq, c.vr)
	}
	c.vr = (c.vr + 1) % seqMod
	c.unacked++
	if c.unacked == 1 {
		if c.ackTimer != nil {
			c.ackTimer.Stop()
		}
		c.ackTimer = time.AfterFunc(c.s.t2, func() { _ = c.ackNow() })
	}
	return nil
}
