package sim

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/simonvetter/modbus"
)

// Serial framings. simonvetter/modbus serves Modbus TCP (and TLS) only; these serve
// the same modbus.RequestHandler (a Sim endpoint or Registers) with RTU framing
// (unit id, PDU, CRC-16) or ASCII framing (':' hex LRC CR LF) over any byte stream:
// a TCP connection (RTU over TCP) or the master side of a pseudo-terminal standing in
// for a serial line.

// ServeRTU answers RTU-framed requests read from rw until rw fails or a frame
// cannot be parsed (a stream cannot resynchronise after a bad frame). A frame with a
// bad CRC ends the stream too.
func ServeRTU(rw io.ReadWriter, h modbus.RequestHandler) error {
	r := bufio.NewReader(rw)
	for {
		head := make([]byte, 2)
		if _, err := io.ReadFull(r, head); err != nil {
			return err
		}
		n, err := rtuRequestLen(head[1], r)
		if err != nil {
			return err
		}
		frame := make([]byte, 2+n)
		copy(frame, head)
		if _, err := io.ReadFull(r, frame[2:]); err != nil {
			return err
		}
		body := frame[:len(frame)-2]
		if crc16(body) != binary.LittleEndian.Uint16(frame[len(frame)-2:]) {
			return fmt.Errorf("rtu: bad CRC in frame % X", frame)
		}
		resp, ok := handlePDU(h, body[0], body[1:])
		if !ok {
			continue
		}
		out := append([]byte{body[0]}, resp...)
		out = binary.LittleEndian.AppendUint16(out, crc16(out))
		if _, err := rw.Write(out); err != nil {
			return err
		}
	}
}

// rtuRequestLen is how many bytes follow unit id and function code in a request,
// CRC included.
func rtuRequestLen(fc byte, r *bufio.Reader) (int, error) {
	switch fc {
	case 1, 2, 3, 4, 5, 6:
		return 4 + 2, nil
	case 15, 16:
		b, err := r.Peek(5)
		if err != nil {
			return 0, err
		}
		return 5 + int(b[4]) + 2, nil
	}
	return 0, fmt.Errorf("rtu: function code %d not supported (cannot frame it)", fc)
}

// crc16 is the Modbus RTU CRC (polynomial 0xA001 reflected, initial 0xFFFF).
func crc16(b []byte) uint16 {
	crc := uint16(0xFFFF)
	for _, x := range b {
		crc ^= uint16(x)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xA001
			} else {
				crc >>= 1
			}
		}
	}
	return crc
}

// lrc is the Modbus ASCII longitudinal redundancy check.
func lrc(b []byte) byte {
	var s byte
	for _, x := range b {
		s += x
	}
	return -s
}

// ServeASCII answers ASCII-framed requests (":" + hex of unit, PDU and LRC +
// CR LF) read from rw until rw fails. Lines that are not valid frames are dropped, as
// a serial device would.
func ServeASCII(rw io.ReadWriter, h modbus.RequestHandler) error {
	r := bufio.NewReader(rw)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\r\n")
		i := strings.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		b, err := hex.DecodeString(line[i+1:])
		if err != nil || len(b) < 3 || lrc(b[:len(b)-1]) != b[len(b)-1] {
			continue
		}
		body := b[:len(b)-1]
		resp, ok := handlePDU(h, body[0], body[1:])
		if !ok {
			continue
		}
		out := append([]byte{body[0]}, resp...)
		out = append(out, lrc(out))
		if _, err := io.WriteString(rw, ":"+strings.ToUpper(hex.EncodeToString(out))+"\r\n"); err != nil {
			return err
		}
	}
}

var exceptionCode = []struct {
	err  error
	code byte
}{
	{modbus.ErrIllegalFunction, 1}, {modbus.ErrIllegalDataAddress, 2}, {modbus.ErrIllegalDataValue, 3},
	{modbus.ErrServerDeviceFailure, 4}, {modbus.ErrAcknowledge, 5}, {modbus.ErrServerDeviceBusy, 6},
	{modbus.ErrMemoryParityError, 8}, {modbus.ErrGWPathUnavailable, 0x0A}, {modbus.ErrGWTargetFailedToRespond, 0x0B},
}

func exception(fc byte, err error) []byte {
	code := byte(4)
	for _, x := range exceptionCode {
		if errors.Is(err, x.err) {
			code = x.code
			break
		}
	}
	return []byte{fc | 0x80, code}
}

// handlePDU serves one request PDU (function code and data) for unit and returns the
// response PDU; ok is false when no response is due (a broadcast write to unit 0).
func handlePDU(h modbus.RequestHandler, unit byte, pdu []byte) (resp []byte, ok bool) {
	if len(pdu) == 0 {
		return nil, false
	}
	fc := pdu[0]
	data := pdu[1:]
	bad := func() ([]byte, bool) { return exception(fc, modbus.ErrIllegalDataValue), true }
	u16 := func(i int) uint16 { return binary.BigEndian.Uint16(data[i:]) }
	switch fc {
	case 1, 2, 3, 4:
		if len(data) != 4 {
			return bad()
		}
		addr, qty := u16(0), u16(2)
		limit := uint16(125)
		if fc <= 2 {
			limit = 2000
		}
		if qty == 0 || qty > limit || int(addr)+int(qty) > 65536 {
			return bad()
		}
		switch fc {
		case 1, 2:
			var bits []bool
			var err error
			if fc == 1 {
				bits, err = h.HandleCoils(&modbus.CoilsRequest{UnitId: unit, Addr: addr, Quantity: qty})
			} else {
				bits, err = h.HandleDiscreteInputs(&modbus.DiscreteInputsRequest{UnitId: unit, Addr: addr, Quantity: qty})
			}
			if err == nil && len(bits) != int(qty) {
				err = modbus.ErrServerDeviceFailure
			}
			if err != nil {
				return exception(fc, err), true
			}
			out := make([]byte, 2+(len(bits)+7)/8)
			out[0], out[1] = fc, byte(len(out)-2)
			for i, b := range bits {
				if b {
					out[2+i/8] |= 1 << (i % 8)
				}
			}
			return out, true
		default:
			var regs []uint16
			var err error
			if fc == 3 {
				regs, err = h.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{UnitId: unit, Addr: addr, Quantity: qty})
			} else {
				regs, err = h.HandleInputRegisters(&modbus.InputRegistersRequest{UnitId: unit, Addr: addr, Quantity: qty})
			}
			if err == nil && len(regs) != int(qty) {
				err = modbus.ErrServerDeviceFailure
			}
			if err != nil {
				return exception(fc, err), true
			}
			out := []byte{fc, byte(2 * len(regs))}
			for _, r := range regs {
				out = binary.BigEndian.AppendUint16(out, r)
			}
			return out, true
		}
	case 5, 6:
		if len(data) != 4 {
			return bad()
		}
		addr, v := u16(0), u16(2)
		var err error
		if fc == 5 {
			if v != 0 && v != 0xFF00 {
				return bad()
			}
			_, err = h.HandleCoils(&modbus.CoilsRequest{UnitId: unit, Addr: addr, Quantity: 1, IsWrite: true, Args: []bool{v == 0xFF00}})
		} else {
			_, err = h.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{UnitId: unit, Addr: addr, Quantity: 1, IsWrite: true, Args: []uint16{v}})
		}
		if unit == 0 {
			return nil, false
		}
		if err != nil {
			return exception(fc, err), true
		}
		return append([]byte{fc}, data...), true
	case 15, 16:
		if len(data) < 5 {
			return bad()
		}
		addr, qty, n := u16(0), u16(2), int(data[4])
		vals := data[5:]
		var err error
		if fc == 15 {
			if qty == 0 || qty > 1968 || n != (int(qty)+7)/8 || len(vals) != n || int(addr)+int(qty) > 65536 {
				return bad()
			}
			args := make([]bool, qty)
			for i := range args {
				args[i] = vals[i/8]&(1<<(i%8)) != 0
			}
			_, err = h.HandleCoils(&modbus.CoilsRequest{UnitId: unit, Addr: addr, Quantity: qty, IsWrite: true, Args: args})
		} else {
			if qty == 0 || qty > 123 || n != 2*int(qty) || len(vals) != n || int(addr)+int(qty) > 65536 {
				return bad()
			}
			args := make([]uint16, qty)
			for i := range args {
				args[i] = binary.BigEndian.Uint16(vals[2*i:])
			}
			_, err = h.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{UnitId: unit, Addr: addr, Quantity: qty, IsWrite: true, Args: args})
		}
		if unit == 0 {
			return nil, false
		}
		if err != nil {
			return exception(fc, err), true
		}
		return append([]byte{fc}, data[:4]...), true
	}
	return exception(fc, modbus.ErrIllegalFunction), true
}

// StreamServer serves RTU framing over TCP connections (RTU-over-TCP).
type StreamServer struct {
	l     net.Listener
	log   *slog.Logger
	mu    sync.Mutex
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

// ListenRTUOverTCP listens on addr (host:port) and serves h with RTU framing on
// every accepted connection.
func ListenRTUOverTCP(addr string, h modbus.RequestHandler, log *slog.Logger) (*StreamServer, error) {
	if log == nil {
		log = slog.Default()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &StreamServer{l: l, log: log, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				err := ServeRTU(c, h)
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) { // ServeRTU returns only on an error
					s.log.Debug("sim: rtu-over-tcp connection ends", "addr", addr, "err", err)
				}
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *StreamServer) Addr() string { return s.l.Addr().String() }

// Stop closes the listener and every connection and waits for them to end.
func (s *StreamServer) Stop() error {
	err := s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}
