package fieldbus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/site"
)

// Driver speaks one field protocol. A driver package registers itself for the
// endpoint schemes it serves (Register, usually from its init function); the Poller,
// the Writer, CheckSite and site validation then find it by the scheme of a device's
// endpoint.
type Driver interface {
	// CheckEndpoint checks an endpoint's syntax without touching files or the
	// network. site validation calls it for every device.
	CheckEndpoint(endpoint string) error
	// VerifyEndpoint checks what CheckEndpoint does plus what the endpoint refers to
	// on this machine (certificate files that must load, ...). gridd config check
	// calls it through CheckSite.
	VerifyEndpoint(endpoint string) error
	// Open prepares one device for reading and writing. It does no I/O; an error
	// (the device cannot be served: bad options, unit id, profile) is reported in
	// every Reading of the device and every Write to it.
	Open(d Device, env Env) (Session, error)
}

// ProfileChecker is implemented by a driver that serves only some profiles (by
// Profile.Protocol: Modbus register maps, IEC 104 IOA maps): CheckSite reports a
// device whose profile its endpoint's driver cannot serve.
type ProfileChecker interface {
	CheckProfile(p *Profile) error
}

// Session is one open device of a driver: the combined read-and-write interface the
// Poller and the Writer drive. The Poller owns retries, backoff, the circuit breaker,
// last good values and quality; the Writer owns the checks before a write (rw
// point, finite value, profile limits, quantising) and the read-back comparison.
// A Session is used by one goroutine at a time.
type Session interface {
	// Read makes one attempt at reading the device's points into a, continuing
	// where an earlier attempt of the same poll stopped (a.Next). It returns an error
	// when the device did not answer; a point the device answered with an error (an
	// exception, an undecodable value) is a PointRead with Err, not a Read error.
	Read(ctx context.Context, a *ReadAttempt) error
	// Write sets pt to value (already checked and quantised by the Writer) and reads
	// it back. Errors are *WriteError naming the stage that failed.
	Write(ctx context.Context, pt *Point, value float64) (readBack float64, err error)
	// Close releases what the session holds alone (shared resources are closed by
	// their owner).
	Close() error
}

// ReadAttempt is one poll of one device across its retry attempts.
type ReadAttempt struct {
	// Attempt counts the earlier failed attempts of this poll (0 on the first).
	Attempt int
	// Retry is the poller's retry policy. A driver that retries transient errors on
	// its own (Modbus BUSY, ACKNOWLEDGE) stays within Retry.Attempts - Attempt.
	Retry Retry
	// Next is the driver's resume mark (for Modbus, the first planned request not
	// done yet): a retry continues from it rather than reading everything again.
	Next int
	// Points has one slot per profile point, in profile order.
	Points []PointRead
}

// PointRead is one point as a driver read it.
type PointRead struct {
	// Done is set once the device answered for the point (with a value or Err).
	Done  bool
	Value float64
	// Text is a string point's text or the symbol of an enum or bitfield value.
	Text string
	// Err is why the device's answer gave no good value (quality bad).
	Err error
}

// WriteError is a failed Session.Write. Stage is "encode" (the value cannot be put
// on the wire; nothing was sent), "write" (the write failed), "read-back" (the write
// succeeded, reading it back failed) or "decode" (the read-back could not be
// decoded).
type WriteError struct {
	Stage string
	Err   error
}

func (e *WriteError) Error() string { return e.Stage + ": " + e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// Env is what a driver gets to open a device.
type Env struct {
	Clock clock.Clock
	Log   *slog.Logger
	// Shared holds resources devices share (a connection per endpoint, ...); a
	// Poller and a Writer given the same Shared (WithShared) share them.
	Shared   *Shared
	settings map[string]any
}

// Setting returns a driver setting given to the Poller or Writer (WithSetting).
func (e Env) Setting(key string) (any, bool) {
	v, ok := e.settings[key]
	return v, ok
}

// Shared is a set of resources drivers share between devices, keyed by a name the
// driver chooses (prefixed with its own, e.g. "modbus.conns").
type Shared struct {
	mu sync.Mutex
	m  map[string]sharedEntry
}

type sharedEntry struct {
	c     io.Closer
	owned bool
}

// NewShared returns an empty set.
func NewShared() *Shared { return &Shared{m: map[string]sharedEntry{}} }

// Get returns the resource under key, creating it with mk on first use.
func (s *Shared) Get(key string, mk func() io.Closer) io.Closer {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		e = sharedEntry{c: mk(), owned: true}
		s.m[key] = e
	}
	return e.c
}

// Close closes the resources the set created (not those given by WithResource).
func (s *Shared) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for k, e := range s.m {
		if e.owned {
			if err := e.c.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		delete(s.m, k)
	}
	return errors.Join(errs...)
}

var registry = struct {
	sync.RWMutex
	m map[string]Driver
}{m: map[string]Driver{}}

// Register makes d serve endpoints of scheme ("scheme://..."); scheme "" serves
// endpoints without a scheme (plain host:port). Registering a scheme twice panics,
// as does a scheme that is not lower-case letters, digits, '+', '-' or '.'. The
// first registration also makes site validation check endpoints through the
// registry (site.SetEndpointCheck).
func Register(scheme string, d Driver) {
	if d == nil {
		panic("fieldbus: Register of a nil driver for scheme " + scheme)
	}
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			panic(fmt.Sprintf("fieldbus: Register: bad scheme %q", scheme))
		}
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[scheme]; dup {
		panic(fmt.Sprintf("fieldbus: Register called twice for scheme %q", scheme))
	}
	registry.m[scheme] = d
	site.SetEndpointCheck(CheckEndpoint)
}

// Schemes lists the registered endpoint schemes, sorted ("" for plain host:port
// when a driver serves it).
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for s := range registry.m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the driver for an endpoint, chosen by its scheme.
func Lookup(endpoint string) (Driver, error) {
	scheme, _, ok := strings.Cut(endpoint, "://")
	if !ok {
		scheme = ""
	}
	registry.RLock()
	d, found := registry.m[scheme]
	registry.RUnlock()
	if found {
		return d, nil
	}
	var want []string
	plain := false
	for _, s := range Schemes() {
		if s == "" {
			plain = true
			continue
		}
		want = append(want, s+"://")
	}
	list := strings.Join(want, ", ")
	if plain {
		list = "host:port, " + list
	}
	if len(want) == 0 && !plain {
		list = "no protocol driver is registered"
	}
	if !ok {
		return nil, fmt.Errorf("%q has no scheme and no driver serves plain endpoints (want one of %s)", endpoint, list)
	}
	return nil, fmt.Errorf("unknown scheme %q (want %s)", scheme, list)
}

// CheckEndpoint checks an endpoint's syntax with the driver registered for its
// scheme. It is site's endpoint check once a driver is registered.
func CheckEndpoint(endpoint string) error {
	d, err := Lookup(endpoint)
	if err != nil {
		return err
	}
	return d.CheckEndpoint(endpoint)
}

// VerifyEndpoint is CheckEndpoint plus the driver's local checks (files that must
// load).
func VerifyEndpoint(endpoint string) error {
	d, err := Lookup(endpoint)
	if err != nil {
		return err
	}
	return d.VerifyEndpoint(endpoint)
}

// open opens a device with the driver of its endpoint.
func open(d Device, env Env) (Session, error) {
	drv, err := Lookup(d.Endpoint)
	if err != nil {
		return nil, err
	}
	return drv.Open(d, env)
}
