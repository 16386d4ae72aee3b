package iec104

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/gridd/gridd/iec104/apdu"
)

// errProtocol marks a connection closed for breaking the protocol (sequence numbers,
// I frames before STARTDT, a master that does not acknowledge or keep up): the link
// layer's (package apdu) protocol error.
var errProtocol = apdu.ErrProtocol

// conn is one master's connection: the link layer of package apdu in the controlled
// station's role, with the master's address and its selects.
type conn struct {
	s    *Server
	link *apdu.Link
	host string

	mu        sync.Mutex
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
	cfg := apdu.LinkConfig{K: defaultK, W: defaultW, T1: s.t1, T2: s.t2, T3: s.t3, Queue: outQueue}
	return &conn{s: s, link: apdu.NewLink(nc, cfg, true), host: host, selection: map[uint32]selection{}}
}

func (c *conn) close() { _ = c.link.Close() }

func (c *conn) isStarted() bool { return c.link.Started() }

// send queues an ASDU; a master that lets the queue fill loses the connection.
func (c *conn) send(asdu []byte) { _ = c.link.Send(asdu) }

// run serves the connection until it closes and returns why.
func (c *conn) run(ctx context.Context) error {
	return c.link.Run(func(a *ASDU) { c.s.handle(ctx, c, a) })
}
