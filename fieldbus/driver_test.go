package fieldbus_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/fieldbus"
	_ "github.com/gridd/gridd/fieldbus/modbus" // serves plain host:port in Lookup's cases
	"github.com/gridd/gridd/site"
)

// fakeScheme is served by fakeDriver, a driver whose sessions the test scripts.
const fakeScheme = "fake-core"

type fakeDriver struct{}

func (fakeDriver) CheckEndpoint(ep string) error {
	if !strings.HasPrefix(ep, fakeScheme+"://") || len(ep) == len(fakeScheme)+3 {
		return errors.New("want fake-core://NAME")
	}
	return nil
}
func (d fakeDriver) VerifyEndpoint(ep string) error { return d.CheckEndpoint(ep) }

type closeCounter struct {
	mu     sync.Mutex
	closed int
}

func (c *closeCounter) Close() error { c.mu.Lock(); c.closed++; c.mu.Unlock(); return nil }

// fakeSession reads points one "request" at a time and fails the attempt after
// failAfter requests while fails > 0.
type fakeSession struct {
	dev       fieldbus.Device
	pool      *closeCounter
	fails     int
	failAfter int
	attempts  int
	requests  int
	writeErr  error
	readBack  float64
}

var fakes sync.Map // endpoint -> *fakeSession

func (fakeDriver) Open(d fieldbus.Device, env fieldbus.Env) (fieldbus.Session, error) {
	pool := env.Shared.Get("fake.pool", func() io.Closer { return &closeCounter{} }).(*closeCounter)
	v, ok := fakes.Load(d.Endpoint)
	if !ok {
		return nil, errors.New("no scripted session")
	}
	s := v.(*fakeSession)
	s.dev, s.pool = d, pool
	return s, nil
}

func (s *fakeSession) Read(ctx context.Context, a *fieldbus.ReadAttempt) error {
	s.attempts++
	done := 0
	for ; a.Next < len(a.Points); a.Next++ {
		if s.fails > 0 && done == s.failAfter {
			s.fails--
			return errors.New("connection reset")
		}
		s.requests++
		done++
		a.Points[a.Next] = fieldbus.PointRead{Done: true, Value: float64(a.Next)}
	}
	return nil
}

func (s *fakeSession) Write(_ context.Context, _ *fieldbus.Point, v float64) (float64, error) {
	if s.writeErr != nil {
		return 0, s.writeErr
	}
	if s.readBack != 0 {
		return s.readBack, nil
	}
	return v, nil
}

func (s *fakeSession) Close() error { return nil }

func init() { fieldbus.Register(fakeScheme, fakeDriver{}) }

func fakeDevice(t *testing.T, name string, s *fakeSession) fieldbus.Device {
	t.Helper()
	p, err := fieldbus.BuiltinProfile("bess")
	if err != nil {
		t.Fatal(err)
	}
	ep := fakeScheme + "://" + name
	fakes.Store(ep, s)
	return fieldbus.Device{Device: site.Device{ID: name, Kind: "bess", Endpoint: ep}, Profile: p}
}

func TestRegisterRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		scheme string
		d      fieldbus.Driver
	}{
		{"twice", fakeScheme, fakeDriver{}},
		{"plain twice (modbus has it)", "", fakeDriver{}},
		{"upper case", "Fake", fakeDriver{}},
		{"space", "a b", fakeDriver{}},
		{"colon", "a:b", fakeDriver{}},
		{"nil driver", "nil-driver", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%q) did not panic", tc.scheme)
				}
			}()
			fieldbus.Register(tc.scheme, tc.d)
		})
	}
}

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		fake     bool
		wantErr  []string
	}{
		{fakeScheme + "://a", true, nil},
		{"127.0.0.1:502", false, nil},
		{"tls://h:802", false, nil},
		{"nope://x", false, []string{`unknown scheme "nope"`, "host:port", fakeScheme + "://", "rtu://"}},
	} {
		t.Run(tc.endpoint, func(t *testing.T) {
			d, err := fieldbus.Lookup(tc.endpoint)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if _, isFake := d.(fakeDriver); isFake != tc.fake {
					t.Fatalf("driver %T", d)
				}
				return
			}
			if err == nil {
				t.Fatalf("Lookup(%q) found %T", tc.endpoint, d)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if err := fieldbus.CheckEndpoint("://x"); err == nil {
		t.Error(`CheckEndpoint("://x") passed`)
	}
	if err := fieldbus.CheckEndpoint(fakeScheme + "://"); err == nil || !strings.Contains(err.Error(), "want fake-core://NAME") {
		t.Errorf("CheckEndpoint does not ask the driver: %v", err)
	}
}

// TestRetryResumes: the core retries a device whose attempt failed and the driver
// resumes where it stopped; without retries the device is stale.
func TestRetryResumes(t *testing.T) {
	for _, tc := range []struct {
		name         string
		retry        fieldbus.Retry
		fails        int
		wantStale    bool
		wantAttempts int
	}{
		{"answers", fieldbus.Retry{Attempts: 1}, 0, false, 1},
		{"one failure, one retry", fieldbus.Retry{Attempts: 1}, 1, false, 2},
		{"two failures, one retry", fieldbus.Retry{Attempts: 1}, 2, true, 2},
		{"no retries", fieldbus.Retry{}, 1, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSession{fails: tc.fails, failAfter: 3}
			d := fakeDevice(t, strings.ReplaceAll(tc.name, " ", "-"), s)
			p := fieldbus.NewPoller([]fieldbus.Device{d}, clock.NewSim(time.Unix(0, 0)), quiet, fieldbus.WithRetry(tc.retry))
			defer p.Close()
			r := p.Poll(context.Background())[0]
			if r.Stale != tc.wantStale || s.attempts != tc.wantAttempts {
				t.Fatalf("stale %v after %d attempts (err %v), want %v after %d", r.Stale, s.attempts, r.Err, tc.wantStale, tc.wantAttempts)
			}
			if tc.wantStale {
				return
			}
			if s.requests != len(d.Profile.Points) {
				t.Errorf("%d requests for %d points: a retry did not resume", s.requests, len(d.Profile.Points))
			}
			for i, v := range r.Values {
				if v.Quality != fieldbus.Good || v.Value != float64(i) {
					t.Errorf("point %d: %+v", i, v)
				}
			}
		})
	}
}

// TestWriterStages: the core words a driver's write failure by its stage, keeps
// Written once the device took the value, and flags a read-back mismatch.
func TestWriterStages(t *testing.T) {
	for _, tc := range []struct {
		name        string
		err         error
		readBack    float64
		wantErr     string
		wantWritten float64
		mismatch    bool
	}{
		{"ok", nil, 0, "", 40, false},
		{"mismatch", nil, 10, "", 40, true},
		{"encode", &fieldbus.WriteError{Stage: "encode", Err: fieldbus.ErrEncode}, 0, "write ws-encode.setpoint_kw = 40: " + fieldbus.ErrEncode.Error(), 0, false},
		{"write", &fieldbus.WriteError{Stage: "write", Err: io.ErrUnexpectedEOF}, 0, "unit 0: write: unexpected EOF", 0, false},
		{"untyped", io.ErrUnexpectedEOF, 0, "unit 0: write: unexpected EOF", 0, false},
		{"read-back", &fieldbus.WriteError{Stage: "read-back", Err: io.ErrUnexpectedEOF}, 0, "unit 0: read-back: unexpected EOF", 40, false},
		{"decode", &fieldbus.WriteError{Stage: "decode", Err: fieldbus.ErrDecode}, 0, "write ws-decode.setpoint_kw = 40: read-back: bad value", 40, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &fakeSession{writeErr: tc.err, readBack: tc.readBack}
			d := fakeDevice(t, "ws-"+tc.name, s)
			w := fieldbus.NewWriter([]fieldbus.Device{d}, clock.NewSim(time.Unix(0, 0)), quiet)
			defer w.Close()
			res, err := w.Write(context.Background(), d.ID, "setpoint_kw", 40)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
			if res.Written != tc.wantWritten || res.Mismatch != tc.mismatch {
				t.Errorf("result %+v, want written %v mismatch %v", res, tc.wantWritten, tc.mismatch)
			}
		})
	}
}

// TestShared: a Poller and a Writer given one resource set share what the driver
// keeps there and leave it open; a set of their own is closed with them.
func TestShared(t *testing.T) {
	d := fakeDevice(t, "shared", &fakeSession{})
	clk := clock.NewSim(time.Unix(0, 0))
	sh := fieldbus.NewShared()
	p := fieldbus.NewPoller([]fieldbus.Device{d}, clk, quiet, fieldbus.WithShared(sh))
	w := fieldbus.NewWriter([]fieldbus.Device{d}, clk, quiet, fieldbus.WithShared(sh))
	pool := sh.Get("fake.pool", func() io.Closer { t.Fatal("the poller did not create the pool"); return nil }).(*closeCounter)
	p.Close()
	w.Close()
	if pool.closed != 0 {
		t.Fatalf("a shared pool was closed %d times by its users", pool.closed)
	}
	if err := sh.Close(); err != nil || pool.closed != 1 {
		t.Fatalf("Shared.Close: %v, closed %d", err, pool.closed)
	}
	own := fieldbus.NewPoller([]fieldbus.Device{d}, clk, quiet)
	mine := &closeCounter{}
	given := fieldbus.NewPoller([]fieldbus.Device{d}, clk, quiet, fieldbus.WithResource("fake.pool", mine))
	given.Close()
	if mine.closed != 0 {
		t.Fatal("Close closed a resource given by WithResource")
	}
	own.Close()
}

// FuzzLookup: any endpoint string gets a driver or an error, never a panic, and a
// driver only for a registered scheme.
func FuzzLookup(f *testing.F) {
	for _, s := range []string{"127.0.0.1:502", "tls://h:1", fakeScheme + "://x", "://", "a://b://c", "", "rtu:///dev/x"} {
		f.Add(s)
	}
	registered := map[string]bool{}
	for _, s := range fieldbus.Schemes() {
		registered[s] = true
	}
	f.Fuzz(func(t *testing.T, ep string) {
		d, err := fieldbus.Lookup(ep)
		scheme, _, ok := strings.Cut(ep, "://")
		if !ok {
			scheme = ""
		}
		if (err == nil) != registered[scheme] || (err == nil) != (d != nil) {
			t.Fatalf("Lookup(%q) = %v, %v; scheme %q registered %v", ep, d, err, scheme, registered[scheme])
		}
		_ = fieldbus.CheckEndpoint(ep)
	})
}
