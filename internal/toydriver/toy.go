package toydriver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gridd/gridd/fieldbus"
)

// Scheme is the endpoint scheme the driver registers: toy://NAME.
const Scheme = "toy"

func init() { fieldbus.Register(Scheme, Driver{}) }

// ErrNoAnswer is what a device made silent by SetSilent returns.
var ErrNoAnswer = errors.New("toy device does not answer")

// Driver serves toy:// endpoints from memory.
type Driver struct{}

// CheckEndpoint wants toy://NAME with NAME of letters, digits, '-' and '_'.
func (Driver) CheckEndpoint(endpoint string) error {
	name, ok := strings.CutPrefix(endpoint, Scheme+"://")
	if !ok {
		return fmt.Errorf("endpoint %q: want toy://NAME", endpoint)
	}
	if name == "" {
		return fmt.Errorf("endpoint %q: device name is empty (want toy://NAME)", endpoint)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("endpoint %q: device name may hold only letters, digits, '-' and '_', not %q", endpoint, r)
		}
	}
	return nil
}

// VerifyEndpoint is CheckEndpoint: a toy device refers to nothing on disk.
func (d Driver) VerifyEndpoint(endpoint string) error { return d.CheckEndpoint(endpoint) }

// Open binds the device to its in-memory state (created on first use).
func (Driver) Open(d fieldbus.Device, _ fieldbus.Env) (fieldbus.Session, error) {
	if d.Profile == nil {
		return nil, errors.New("no profile")
	}
	return &session{dev: d, st: state(d.Endpoint)}, nil
}

type device struct {
	mu     sync.Mutex
	values map[string]float64
	silent bool
	reads  int
}

var devices sync.Map // endpoint -> *device

func state(endpoint string) *device {
	v, _ := devices.LoadOrStore(endpoint, &device{values: map[string]float64{}})
	return v.(*device)
}

// Set sets a point of the device at endpoint.
func Set(endpoint, point string, v float64) {
	d := state(endpoint)
	d.mu.Lock()
	d.values[point] = v
	d.mu.Unlock()
}

// Get returns a point of the device at endpoint (0 if never set).
func Get(endpoint, point string) float64 {
	d := state(endpoint)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.values[point]
}

// SetSilent makes the device at endpoint stop (or resume) answering.
func SetSilent(endpoint string, silent bool) {
	d := state(endpoint)
	d.mu.Lock()
	d.silent = silent
	d.mu.Unlock()
}

// Reads counts the reads that reached the device at endpoint.
func Reads(endpoint string) int {
	d := state(endpoint)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads
}

type session struct {
	dev fieldbus.Device
	st  *device
}

func (s *session) Read(ctx context.Context, a *fieldbus.ReadAttempt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	s.st.reads++
	if s.st.silent {
		return ErrNoAnswer
	}
	for i := range s.dev.Profile.Points {
		pt := &s.dev.Profile.Points[i]
		v := s.st.values[pt.Name]
		pr := fieldbus.PointRead{Done: true, Value: v}
		if pt.HasLimits && (v < pt.Min || v > pt.Max) {
			pr.Err = fmt.Errorf("%w: %v %s outside the profile limits", fieldbus.ErrDecode, v, pt.Unit)
		} else if pt.HasText() && pt.Type != fieldbus.String {
			pr.Text = pt.Symbol(v)
		}
		a.Points[i] = pr
	}
	return nil
}

func (s *session) Write(ctx context.Context, pt *fieldbus.Point, value float64) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, &fieldbus.WriteError{Stage: "write", Err: err}
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.silent {
		return 0, &fieldbus.WriteError{Stage: "write", Err: ErrNoAnswer}
	}
	s.st.values[pt.Name] = value
	return s.st.values[pt.Name], nil
}

func (s *session) Close() error { return nil }
