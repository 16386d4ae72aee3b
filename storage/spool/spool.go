package spool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/clock"
	"github.com/gridd/gridd/storage"
)

// File names inside the spool directory.
const (
	LogFile      = "spool.log"
	OffsetFile   = "spool.offset"
	RejectedFile = "spool.rejected"
)

// Defaults for Options.
const (
	DefaultMaxBytes      int64 = 256 << 20
	DefaultReserveBytes  int64 = 64 << 10
	DefaultRetryInterval       = 5 * time.Second
	DefaultWriteTimeout        = 10 * time.Second
)

// ErrFull is returned (wrapped) when a write is refused because the spool is full.
var ErrFull = errors.New("storage spool is full")

// Options configures a Store. Zero fields take the defaults.
type Options struct {
	// MaxBytes bounds the spool file. Telemetry may fill it up to MaxBytes-ReserveBytes;
	// audit events may use the reserve.
	MaxBytes int64
	// ReserveBytes is kept for audit events, including the spool-full alarm.
	ReserveBytes int64
	// RetryInterval is the least time between two flush attempts made by writes.
	RetryInterval time.Duration
	// WriteTimeout bounds each call to the inner store made by a write or a flush, so an
	// unresponsive database sends records to the spool instead of stalling the caller.
	WriteTimeout time.Duration
	// Clock dates the spool-full audit event and paces retries; nil means clock.Real.
	Clock clock.Clock
	// Log receives the alarms; nil means slog.Default().
	Log *slog.Logger
}

// Stats describes the spool's state, for metrics and the console.
type Stats struct {
	PendingRecords int   // records waiting to be flushed
	PendingBytes   int64 // bytes waiting to be flushed
	Spooled        int64 // records appended since New
	Flushed        int64 // records flushed since New
	Refused        int64 // writes refused because the spool was full, since New
	Rejected       int64 // records moved to the rejected file since New
	Full           bool  // the spool refused a write and has not been flushed empty since
	LastError      string
}

// record is one spooled line.
type record struct {
	Kind    string              `json:"kind"` // "telemetry" or "audit"
	Samples []storage.Sample    `json:"samples,omitempty"`
	Event   *storage.AuditEvent `json:"event,omitempty"`
}

// Store is a storage.Store that spools telemetry and audit events while the inner store is
// unreachable. It is safe for concurrent use.
type Store struct {
	storage.Store // reads and other writes pass through

	dir  string
	opts Options
	log  *slog.Logger

	flushMu sync.Mutex // one flusher at a time

	mu        sync.Mutex
	f         *os.File // spool.log, opened for append and read
	size      int64    // bytes in spool.log
	offset    int64    // first byte not yet flushed
	pending   int      // records in [offset, size)
	lastTry   time.Time
	alarmed   bool // the spool-full audit event has been appended in this episode
	stats     Stats
	closeOnce sync.Once
}

var _ storage.Store = (*Store)(nil)

// New wraps inner with a spool in dir (created if needed). It recovers a spool left by an
// earlier process: its records are flushed, in order, before any new write reaches the inner
// store.
func New(inner storage.Store, dir string, opts Options) (*Store, error) {
	if inner == nil {
		return nil, fmt.Errorf("spool: new: %w: inner store is nil", storage.ErrInvalid)
	}
	if dir == "" {
		return nil, fmt.Errorf("spool: new: %w: dir is empty", storage.ErrInvalid)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.ReserveBytes == 0 {
		opts.ReserveBytes = DefaultReserveBytes
	}
	if opts.MaxBytes < 0 || opts.ReserveBytes < 0 || opts.ReserveBytes >= opts.MaxBytes {
		return nil, fmt.Errorf("spool: new: %w: MaxBytes %d and ReserveBytes %d: want 0 <= ReserveBytes < MaxBytes",
			storage.ErrInvalid, opts.MaxBytes, opts.ReserveBytes)
	}
	if opts.RetryInterval < 0 {
		return nil, fmt.Errorf("spool: new: %w: RetryInterval %s is negative", storage.ErrInvalid, opts.RetryInterval)
	}
	if opts.RetryInterval == 0 {
		opts.RetryInterval = DefaultRetryInterval
	}
	if opts.WriteTimeout < 0 {
		return nil, fmt.Errorf("spool: new: %w: WriteTimeout %s is negative", storage.ErrInvalid, opts.WriteTimeout)
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	if _, err := storage.SecureDir(dir); err != nil {
		return nil, fmt.Errorf("spool: new: create dir: %w", err)
	}
	if err := os.Chmod(dir, storage.DirMode); err != nil { // the spool's own directory
		return nil, fmt.Errorf("spool: new: %w", err)
	}
	for _, name := range []string{LogFile, OffsetFile, RejectedFile} {
		if err := storage.SecureFile(filepath.Join(dir, name), false); err != nil {
			return nil, fmt.Errorf("spool: new: %w", err)
		}
	}
	s := &Store{Store: inner, dir: dir, opts: opts, log: log}
	if err := s.recover(); err != nil {
		return nil, fmt.Errorf("spool: new: %w", err)
	}
	if s.pending > 0 {
		log.Warn("storage: spool holds records from an earlier run; they are flushed before new writes",
			"records", s.pending, "bytes", s.size-s.offset, "dir", dir)
	}
	return s, nil
}

// MaxBytes returns the spool's bound in bytes.
func (s *Store) MaxBytes() int64 { return s.opts.MaxBytes }

// recover opens spool.log, reads the offset, cuts a torn last line and counts pending records.
func (s *Store) recover() error {
	f, err := os.OpenFile(filepath.Join(s.dir, LogFile), os.O_RDWR|os.O_APPEND|os.O_CREATE, storage.FileMode)
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("read spool: %w", err)
	}
	size := int64(len(data))
	if i := bytes.LastIndexByte(data, '\n'); int64(i+1) != size {
		// A torn append: the write never returned, so nobody was told it was stored.
		size = int64(i + 1)
		s.log.Warn("storage: spool ends in a partial record from an interrupted append; cutting it off",
			"bytes", int64(len(data))-size)
		if err := f.Truncate(size); err != nil {
			f.Close()
			return fmt.Errorf("truncate torn spool record: %w", err)
		}
		data = data[:size]
	}
	offset := int64(0)
	if b, err := os.ReadFile(filepath.Join(s.dir, OffsetFile)); err == nil {
		v, perr := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if perr != nil || v < 0 || v > size || (v > 0 && data[v-1] != '\n') {
			f.Close()
			return fmt.Errorf("spool offset file %s holds %q, not a record boundary within the %d-byte spool",
				filepath.Join(s.dir, OffsetFile), strings.TrimSpace(string(b)), size)
		}
		offset = v
	} else if !errors.Is(err, os.ErrNotExist) {
		f.Close()
		return fmt.Errorf("read spool offset: %w", err)
	}
	s.f, s.size, s.offset = f, size, offset
	s.pending = bytes.Count(data[offset:], []byte{'\n'})
	return nil
}

// Stats returns the spool's state.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PendingRecords = s.pending
	st.PendingBytes = s.size - s.offset
	return st
}

// Close closes the spool file and the inner store. Spooled records stay on disk for the next New.
func (s *Store) Close() error {
	var ferr error
	s.closeOnce.Do(func() {
		s.flushMu.Lock()
		s.mu.Lock()
		ferr = s.f.Close()
		s.mu.Unlock()
		s.flushMu.Unlock()
	})
	ierr := s.Store.Close()
	if ferr != nil {
		return fmt.Errorf("spool: close: %w", ferr)
	}
	return ierr
}

// WriteTelemetry implements storage.Store: see the package documentation.
func (s *Store) WriteTelemetry(ctx context.Context, samples []storage.Sample) error {
	if err := storage.ValidateSamples(samples); err != nil {
		return fmt.Errorf("spool: write telemetry: %w", err)
	}
	if len(samples) == 0 {
		return nil
	}
	err := s.write(ctx, record{Kind: "telemetry", Samples: samples}, func(ctx context.Context) error {
		return s.Store.WriteTelemetry(ctx, samples)
	})
	if err != nil {
		return fmt.Errorf("spool: write telemetry: %w", err)
	}
	return nil
}

// AppendAudit implements storage.Store. An event that goes to the spool returns ID 0; it gets
// its ID when it is flushed.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) (int64, error) {
	if err := e.Validate(); err != nil {
		return 0, fmt.Errorf("spool: append audit: %w", err)
	}
	var id int64
	err := s.write(ctx, record{Kind: "audit", Event: &e}, func(ctx context.Context) error {
		var err error
		id, err = s.Store.AppendAudit(ctx, e)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("spool: append audit: %w", err)
	}
	return id, nil
}

// write sends rec to the inner store through direct, or appends it to the spool.
func (s *Store) write(ctx context.Context, rec record, direct func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.maybeFlush(ctx)
	s.mu.Lock()
	queued := s.pending > 0
	s.mu.Unlock()
	if !queued {
		err := s.call(ctx, direct)
		if err == nil {
			return nil
		}
		if !s.spoolable(ctx, err) {
			return err
		}
		s.log.Warn("storage: database write failed; spooling to disk", "kind", rec.Kind, "err", err)
		s.mu.Lock()
		s.stats.LastError = err.Error()
		s.lastTry = s.opts.Clock.Now()
		s.mu.Unlock()
	}
	return s.append(ctx, rec)
}

// call runs fn with the write timeout.
func (s *Store) call(ctx context.Context, fn func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	return fn(cctx)
}

// spoolable reports whether a failed inner write should go to the spool: anything but
// invalid input or the caller's own context ending.
func (s *Store) spoolable(ctx context.Context, err error) bool {
	if errors.Is(err, storage.ErrInvalid) {
		return false
	}
	return ctx.Err() == nil
}

// append adds rec to the spool and syncs it to disk.
func (s *Store) append(ctx context.Context, rec record) error {
	line, err := encode(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := s.opts.MaxBytes - s.opts.ReserveBytes
	if rec.Kind == "audit" {
		limit = s.opts.MaxBytes
	}
	if s.size+int64(len(line)) > limit {
		s.stats.Refused++
		s.stats.Full = true
		s.log.Error("storage: ALARM: database unreachable and the spool is full; refusing the write",
			"kind", rec.Kind, "spool_bytes", s.size, "max_bytes", s.opts.MaxBytes, "dir", s.dir, "refused", s.stats.Refused)
		if !s.alarmed {
			s.alarmed = true
			alarm := storage.AuditEvent{Time: s.opts.Clock.Now(), Actor: "system", Action: "storage.spool_full",
				Subject: "spool:" + s.dir,
				Detail:  fmt.Sprintf("spool reached %d of %d bytes while the database was unreachable; writes are refused until it drains", s.size, s.opts.MaxBytes)}
			if al, err := encode(record{Kind: "audit", Event: &alarm}); err == nil && s.size+int64(len(al)) <= s.opts.MaxBytes {
				if err := s.appendLocked(al); err != nil {
					s.log.Error("storage: could not spool the spool-full audit event", "err", err)
				}
			}
		}
		return fmt.Errorf("%w: %d of %d bytes used in %s; a %d-byte %s record does not fit",
			ErrFull, s.size, s.opts.MaxBytes, s.dir, len(line), rec.Kind)
	}
	return s.appendLocked(line)
}

func (s *Store) appendLocked(line []byte) error {
	if _, err := s.f.Write(line); err != nil {
		// Cut a partial line so the file stays well formed.
		if terr := s.f.Truncate(s.size); terr != nil {
			return fmt.Errorf("append to spool: %w (and cutting the partial record failed: %w)", err, terr)
		}
		return fmt.Errorf("append to spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("sync spool: %w", err)
	}
	s.size += int64(len(line))
	s.pending++
	s.stats.Spooled++
	return nil
}

// encode renders one spool line.
func encode(rec record) ([]byte, error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encode spool record: %w", err)
	}
	line := make([]byte, 0, len(payload)+10)
	line = fmt.Appendf(line, "%08x ", crc32.ChecksumIEEE(payload))
	line = append(line, payload...)
	return append(line, '\n'), nil
}

// decode parses one spool line without its newline.
func decode(line []byte) (record, error) {
	var rec record
	if len(line) < 10 || line[8] != ' ' {
		return rec, fmt.Errorf("spool line of %d bytes has no checksum prefix", len(line))
	}
	want, err := strconv.ParseUint(string(line[:8]), 16, 32)
	if err != nil {
		return rec, fmt.Errorf("spool line checksum %q is not hex", line[:8])
	}
	payload := line[9:]
	if got := crc32.ChecksumIEEE(payload); got != uint32(want) {
		return rec, fmt.Errorf("spool line checksum %08x does not match its payload (%08x)", want, got)
	}
	if err := json.Unmarshal(payload, &rec); err != nil {
		return rec, fmt.Errorf("decode spool record: %w", err)
	}
	switch {
	case rec.Kind == "telemetry" && len(rec.Samples) > 0 && rec.Event == nil:
	case rec.Kind == "audit" && rec.Event != nil && len(rec.Samples) == 0:
	default:
		return rec, fmt.Errorf("spool record kind %q with %d samples and event %v is malformed", rec.Kind, len(rec.Samples), rec.Event != nil)
	}
	return rec, nil
}

// maybeFlush flushes if records are pending and the last attempt is RetryInterval old.
func (s *Store) maybeFlush(ctx context.Context) {
	s.mu.Lock()
	due := s.pending > 0 && !s.opts.Clock.Now().Before(s.lastTry.Add(s.opts.RetryInterval))
	s.mu.Unlock()
	if due {
		if err := s.Flush(ctx); err != nil {
			s.log.Debug("storage: spool flush deferred", "err", err)
		}
	}
}

// Flush replays spooled records to the inner store, oldest first, until the spool is empty
// or the inner store fails (that error is returned; the record stays spooled).
func (s *Store) Flush(ctx context.Context) error { return s.flushN(ctx, 0) }

// flushN flushes at most max records (0 = all).
func (s *Store) flushN(ctx context.Context, max int) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	s.lastTry = s.opts.Clock.Now()
	s.mu.Unlock()
	for n := 0; max <= 0 || n < max; n++ {
		s.mu.Lock()
		if s.pending == 0 {
			s.mu.Unlock()
			return nil
		}
		offset, size := s.offset, s.size
		s.mu.Unlock()

		line, err := readLine(s.f, offset, size)
		if err != nil {
			return fmt.Errorf("spool: flush: %w", err)
		}
		next := offset + int64(len(line)) + 1
		rec, derr := decode(line)
		if derr == nil {
			err = s.call(ctx, func(ctx context.Context) error {
				switch rec.Kind {
				case "telemetry":
					return s.Store.WriteTelemetry(ctx, rec.Samples)
				default:
					_, err := s.Store.AppendAudit(ctx, *rec.Event)
					return err
				}
			})
			if err != nil && !errors.Is(err, storage.ErrInvalid) {
				s.mu.Lock()
				s.stats.LastError = err.Error()
				s.mu.Unlock()
				return fmt.Errorf("spool: flush: %w", err)
			}
			derr = err
		}
		if derr != nil {
			if err := s.reject(line, derr); err != nil {
				return fmt.Errorf("spool: flush: %w", err)
			}
		}
		if err := s.advance(next); err != nil {
			return fmt.Errorf("spool: flush: %w", err)
		}
	}
	return nil
}

// readLine reads the line starting at offset (without its newline).
func readLine(f *os.File, offset, size int64) ([]byte, error) {
	r := bufio.NewReader(io.NewSectionReader(f, offset, size-offset))
	line, err := r.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("read spool at byte %d: %w", offset, err)
	}
	return line[:len(line)-1], nil
}

// reject moves a record that can never be stored to the rejected file.
func (s *Store) reject(line []byte, why error) error {
	s.log.Error("storage: spooled record cannot be stored; moved to the rejected file", "file", filepath.Join(s.dir, RejectedFile), "err", why)
	f, err := os.OpenFile(filepath.Join(s.dir, RejectedFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, storage.FileMode)
	if err != nil {
		return fmt.Errorf("open rejected file: %w", err)
	}
	if _, err := f.Write(append(append([]byte{}, line...), '\n')); err != nil {
		f.Close()
		return fmt.Errorf("write rejected file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync rejected file: %w", err)
	}
	s.mu.Lock()
	s.stats.Rejected++
	s.mu.Unlock()
	return f.Close()
}

// advance records that everything before next has been flushed, and empties the spool file
// once nothing is pending.
func (s *Store) advance(next int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset = next
	s.pending--
	s.stats.Flushed++
	if s.pending == 0 {
		if err := s.f.Truncate(0); err != nil {
			return fmt.Errorf("empty spool: %w", err)
		}
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("sync spool: %w", err)
		}
		s.size, s.offset = 0, 0
		if err := os.Remove(filepath.Join(s.dir, OffsetFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove spool offset: %w", err)
		}
		if s.stats.Full {
			s.log.Info("storage: spool flushed empty; the spool-full alarm is cleared")
		}
		s.stats.Full, s.alarmed = false, false
		return nil
	}
	return writeFileAtomic(filepath.Join(s.dir, OffsetFile), []byte(strconv.FormatInt(next, 10)+"\n"))
}

// writeFileAtomic replaces path with data through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, storage.FileMode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

// Run flushes the spool every RetryInterval until ctx ends, so records drain even when no
// new writes arrive.
func (s *Store) Run(ctx context.Context) {
	t := time.NewTicker(s.opts.RetryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			pending := s.pending
			s.mu.Unlock()
			if pending > 0 {
				if err := s.Flush(ctx); err != nil {
					s.log.Debug("storage: spool flush deferred", "err", err)
				}
			}
		}
	}
}
