package ocpp

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	ocppws "github.com/lorenzodonini/ocpp-go/ws"
	"golang.org/x/crypto/bcrypt"

	"github.com/gridd/gridd/site"
)

// Subprotocols gridd accepts, in order of preference.
const (
	Proto201 = "ocpp2.0.1"
	Proto16  = "ocpp1.6"
)

// PathPrefix is the URL path stations connect to, followed by their id.
const PathPrefix = "/ocpp/"

// ErrNotConnected is a station that has no open connection to gridd.
var ErrNotConnected = errors.New("station not connected")

// auditFunc records a refusal or connection event (action, subject, text).
type auditFunc func(action, subject, text string)

// wsServer accepts the stations' WebSocket connections: it checks path, station,
// password and subprotocol at the upgrade, bounds frame size and call rate, answers
// malformed frames with CALLERROR, and hands each connection to the OCPP library
// stack of its protocol (a facade per protocol implementing the library's
// ws.WsServer).
type wsServer struct {
	cfg     *site.OCPP
	log     *slog.Logger
	audit   func() auditFunc
	facades map[string]*facade

	mu    sync.Mutex
	conns map[string]*conn
	live  sync.WaitGroup // connections being served

	httpSrv *http.Server
	ln      net.Listener
	tlsCfg  *tls.Config
}

// conn is one station's connection; it is the library's ws.Channel.
type conn struct {
	id, proto string
	ws        *websocket.Conn
	remote    net.Addr
	tlsState  *tls.ConnectionState
	out       chan []byte
	closing   chan struct{} // closed when the connection is to be closed
	done      chan struct{} // closed once the socket is closed
	readDone  chan struct{} // closed when the read loop ends
	closeOnce sync.Once
	closeCode int
	closeText string

	// call rate: a token bucket (CallsPerSecond, burst twice that) plus the calls
	// gridd asked for (TriggerMessage), which never count against a station
	tmu     sync.Mutex
	granted float64
	tokens  float64
	last    time.Time
	refused int

	pmu     sync.Mutex
	pending map[string]chan rawReply // gridd's own calls awaiting an answer
}

type rawReply struct {
	payload json.RawMessage
	err     error
}

func (c *conn) ID() string                               { return c.id }
func (c *conn) RemoteAddr() net.Addr                     { return c.remote }
func (c *conn) TLSConnectionState() *tls.ConnectionState { return c.tlsState }

// closeWith closes the connection (once): the writer sends what is queued, then the
// close frame, then closes the socket.
func (c *conn) closeWith(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.closing)
	})
}

func newWSServer(cfg *site.OCPP, tlsCfg *tls.Config, log *slog.Logger, audit func() auditFunc) *wsServer {
	s := &wsServer{cfg: cfg, log: log, audit: audit, conns: map[string]*conn{}, tlsCfg: tlsCfg}
	s.facades = map[string]*facade{Proto201: {srv: s, proto: Proto201}, Proto16: {srv: s, proto: Proto16}}
	return s
}

func (s *wsServer) refuse(w http.ResponseWriter, r *http.Request, status int, subject, why string) {
	s.log.Warn("ocpp: connection refused", "station", subject, "remote", r.RemoteAddr, "status", status, "reason", why)
	s.audit()("ocpp.refused", "station:"+subject, fmt.Sprintf("%s from %s refused (HTTP %d): %s", r.URL.Path, r.RemoteAddr, status, why))
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="gridd OCPP"`)
	}
	http.Error(w, http.StatusText(status)+": "+why, status)
}

// ServeHTTP is the upgrade: path /ocpp/STATION-ID, a configured station, basic auth
// with the station id as user and its password, a supported subprotocol.
func (s *wsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, PathPrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	if !site.ValidOCPPStationID(id) {
		s.refuse(w, r, http.StatusNotFound, "invalid-id", fmt.Sprintf("%q is not a station id", clipStr(id)))
		return
	}
	st, known := s.cfg.Station(id)
	if !known {
		s.refuse(w, r, http.StatusUnauthorized, id, "unknown station")
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	switch {
	case !hasAuth:
		s.refuse(w, r, http.StatusUnauthorized, id, "no basic-auth credentials")
		return
	case user != id:
		s.refuse(w, r, http.StatusUnauthorized, id, fmt.Sprintf("basic-auth user %q is not the station id", clipStr(user)))
		return
	case bcrypt.CompareHashAndPassword([]byte(st.PasswordHash), []byte(pass)) != nil:
		s.refuse(w, r, http.StatusUnauthorized, id, "wrong password")
		return
	}
	proto := ""
	offered := websocket.Subprotocols(r)
	for _, want := range []string{Proto201, Proto16} {
		for _, p := range offered {
			if p == want {
				proto = want
				break
			}
		}
		if proto != "" {
			break
		}
	}
	if proto == "" {
		s.refuse(w, r, http.StatusBadRequest, id, fmt.Sprintf("no supported subprotocol in %q (want %s or %s)", clipStr(strings.Join(offered, ",")), Proto201, Proto16))
		return
	}
	up := websocket.Upgrader{
		Subprotocols:     []string{proto},
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
		// Stations are not browsers: an Origin header proves nothing either way.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	wsc, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Warn("ocpp: upgrade failed", "station", id, "err", err)
		return
	}
	wsc.SetReadLimit(int64(s.cfg.MaxFrameBytes))
	c := &conn{id: id, proto: proto, ws: wsc, remote: wsc.RemoteAddr(), tlsState: r.TLS,
		out: make(chan []byte, 16), closing: make(chan struct{}), done: make(chan struct{}), readDone: make(chan struct{}), pending: map[string]chan rawReply{},
		tokens: 2 * s.cfg.CallsPerSecond, last: time.Now()}
	s.mu.Lock()
	old := s.conns[id]
	s.conns[id] = c
	s.mu.Unlock()
	if old != nil {
		// The station reconnected while its old connection lingers: the new one wins.
		old.closeWith(websocket.ClosePolicyViolation, "replaced by a new connection")
	}
	f := s.facades[proto]
	s.live.Add(1)
	defer s.live.Done()
	go s.writeLoop(c)
	if f.newClient != nil {
		f.newClient(c)
	}
	s.readLoop(c, f)
}

func (s *wsServer) writeLoop(c *conn) {
	defer func() {
		c.closeWith(websocket.CloseAbnormalClosure, "write failed")
		close(c.done)
		_ = c.ws.Close()
	}()
	write := func(b []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
		return c.ws.WriteMessage(websocket.TextMessage, b) == nil
	}
	for {
		select {
		case b := <-c.out:
			if !write(b) {
				return
			}
		case <-c.closing:
			for {
				select {
				case b := <-c.out:
					if !write(b) {
						return
					}
				default:
					_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
					// Close the socket once the station answered the close frame (the
					// read loop ends), so that what it still sends does not reset the
					// connection before it reads the close frame.
					select {
					case <-c.readDone:
					case <-time.After(3 * time.Second):
					}
					return
				}
			}
		}
	}
}

func (s *wsServer) readLoop(c *conn, f *facade) {
	defer close(c.readDone)
	defer func() {
		c.closeWith(websocket.CloseNormalClosure, "")
		c.pmu.Lock()
		for id, ch := range c.pending {
			ch <- rawReply{err: ErrNotConnected}
			delete(c.pending, id)
		}
		c.pmu.Unlock()
		s.mu.Lock()
		current := s.conns[c.id] == c
		if current {
			delete(s.conns, c.id)
		}
		s.mu.Unlock()
		// A connection replaced by the station's newer one is no disconnect: the
		// station is still there.
		if current && f.disconnected != nil {
			f.disconnected(c)
		}
	}()
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				s.audit()("ocpp.refused", "station:"+c.id, fmt.Sprintf("frame over ocpp.max_frame_bytes (%d): connection closed (1009)", s.cfg.MaxFrameBytes))
				c.closeWith(websocket.CloseMessageTooBig, "frame too large")
			}
			return
		}
		if mt != websocket.TextMessage {
			s.audit()("ocpp.refused", "station:"+c.id, "binary frame: connection closed (1003)")
			c.closeWith(websocket.CloseUnsupportedData, "OCPP-J is text frames only")
			return
		}
		if !s.handleFrame(c, f, data) {
			// Refused for good: read (and drop) what the station still sends until it
			// answers the close frame, so that unread data does not reset the
			// connection before the close frame arrives.
			_ = c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				if _, _, err := c.ws.ReadMessage(); err != nil {
					return
				}
			}
		}
	}
}

// handleFrame checks one frame; false closes the connection.
func (s *wsServer) handleFrame(c *conn, f *facade, data []byte) bool {
	fr, err := ParseFrame(data)
	if err != nil {
		var fe *FrameError
		errors.As(err, &fe)
		code := fe.Code
		if c.proto == Proto16 {
			code = code16(code)
		}
		s.log.Warn("ocpp: malformed frame", "station", c.id, "err", err)
		s.send(c, callError(fe.ID, code, fe.Err.Error()))
		return true
	}
	switch fr.Type {
	case typeCall:
		if f.known != nil && !f.known(fr.Action) {
			// Not an OCPP action at all (the library would say NotSupported, which
			// means a known action this side does not support).
			s.send(c, callError(fr.ID, "NotImplemented", fmt.Sprintf("unknown action %q", clipStr(fr.Action))))
			return true
		}
		if !s.allow(c) {
			c.refused++
			if c.refused == 1 {
				s.audit()("ocpp.refused", "station:"+c.id, fmt.Sprintf("call rate over ocpp.calls_per_second (%g): calls refused", s.cfg.CallsPerSecond))
			}
			if float64(c.refused) > 4*s.cfg.CallsPerSecond+10 {
				s.audit()("ocpp.refused", "station:"+c.id, "sustained call flood: connection closed (1008)")
				c.closeWith(websocket.ClosePolicyViolation, "call rate limit exceeded")
				return false
			}
			s.send(c, callError(fr.ID, "GenericError", "rate limit exceeded; retry later"))
			return true
		}
		c.refused = 0
	case typeCallResult, typeCallError:
		c.pmu.Lock()
		ch, mine := c.pending[fr.ID]
		delete(c.pending, fr.ID)
		c.pmu.Unlock()
		if mine {
			if fr.Type == typeCallError {
				ch <- rawReply{err: fmt.Errorf("CALLERROR %s", fr.Action)}
			} else {
				ch <- rawReply{payload: fr.Payload}
			}
			return true
		}
	}
	if f.msgHandler != nil {
		if err := f.msgHandler(c, data); err != nil {
			s.log.Debug("ocpp: message", "station", c.id, "err", err)
		}
	}
	return true
}

// allow takes a token from the connection's call bucket.
func (s *wsServer) allow(c *conn) bool {
	now := time.Now()
	rate, burst := s.cfg.CallsPerSecond, 2*s.cfg.CallsPerSecond
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.tokens += now.Sub(c.last).Seconds() * rate
	if max := burst + c.granted; c.tokens > max {
		c.tokens = max
	}
	c.granted = 0
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// grant lets a station make n calls gridd solicited on top of its rate.
func (s *wsServer) grant(id string, n float64) {
	c := s.conn(id)
	if c == nil {
		return
	}
	c.tmu.Lock()
	c.tokens += n
	c.granted += n
	c.tmu.Unlock()
}

func (s *wsServer) send(c *conn, b []byte) {
	select {
	case <-c.closing:
		return // closing: nothing more is sent
	default:
	}
	select {
	case c.out <- b:
	case <-c.closing:
	case <-time.After(5 * time.Second):
		c.closeWith(websocket.CloseTryAgainLater, "send queue full")
	}
}

func (s *wsServer) conn(id string) *conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

// call sends a CALL of gridd's own (not through the library) and waits for its
// answer's payload.
func (s *wsServer) call(ctx context.Context, id, action string, payload any) (json.RawMessage, error) {
	c := s.conn(id)
	if c == nil {
		return nil, ErrNotConnected
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	mid := "g" + hex.EncodeToString(b[:])
	frame, err := json.Marshal([]any{typeCall, mid, action, payload})
	if err != nil {
		return nil, err
	}
	ch := make(chan rawReply, 1)
	c.pmu.Lock()
	c.pending[mid] = ch
	c.pmu.Unlock()
	defer func() {
		c.pmu.Lock()
		delete(c.pending, mid)
		c.pmu.Unlock()
	}()
	s.send(c, frame)
	select {
	case r := <-ch:
		return r.payload, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", action, ctx.Err())
	}
}

func (s *wsServer) start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("ocpp.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, s)
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	if s.tlsCfg != nil {
		s.httpSrv.TLSConfig = s.tlsCfg
		ln = tls.NewListener(ln, s.tlsCfg)
	}
	s.ln = ln
	go func() {
		if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ocpp: server", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}

func (s *wsServer) stop() {
	if s.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.httpSrv.Shutdown(ctx)
	}
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.closeWith(websocket.CloseGoingAway, "gridd stopping")
	}
	// Wait (bounded) until every connection's handlers are done.
	done := make(chan struct{})
	go func() { s.live.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.log.Warn("ocpp: connections still closing at stop")
	}
}

func clipStr(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// facade is the library's view of gridd's server for one protocol version.
type facade struct {
	srv          *wsServer
	proto        string
	msgHandler   func(ocppws.Channel, []byte) error
	newClient    func(ocppws.Channel)
	disconnected func(ocppws.Channel)
	errC         chan error
	// known says whether an action belongs to the protocol version.
	known func(action string) bool
}

var _ ocppws.WsServer = (*facade)(nil)

func (f *facade) Start(int, string) {}
func (f *facade) Stop()             {}
func (f *facade) StopConnection(id string, ce websocket.CloseError) error {
	c := f.srv.conn(id)
	if c == nil {
		return ErrNotConnected
	}
	c.closeWith(ce.Code, ce.Text)
	return nil
}
func (f *facade) Errors() <-chan error {
	if f.errC == nil {
		f.errC = make(chan error)
	}
	return f.errC
}
func (f *facade) SetMessageHandler(h func(ocppws.Channel, []byte) error) { f.msgHandler = h }
func (f *facade) SetNewClientHandler(h func(ocppws.Channel))             { f.newClient = h }
func (f *facade) SetDisconnectedClientHandler(h func(ocppws.Channel))    { f.disconnected = h }
func (f *facade) SetTimeoutConfig(ocppws.ServerTimeoutConfig)            {}
func (f *facade) Write(id string, data []byte) error {
	c := f.srv.conn(id)
	if c == nil || c.proto != f.proto {
		return fmt.Errorf("%w: %s", ErrNotConnected, id)
	}
	f.srv.send(c, data)
	return nil
}
func (f *facade) AddSupportedSubprotocol(string)                         {}
func (f *facade) SetBasicAuthHandler(func(string, string) bool)          {}
func (f *facade) SetCheckOriginHandler(func(*http.Request) bool)         {}
func (f *facade) SetCheckClientHandler(func(string, *http.Request) bool) {}
func (f *facade) Addr() *net.TCPAddr                                     { return nil }
func (f *facade) Connections(string) *ocppws.WebSocket                   { return nil }
