// Package audit owns gridd's hash-chained audit log on top of storage.Store.
//
// The store's audit table is append-only; this package makes edits detectable. Each
// event's Detail is a JSON document holding the human-readable text, optional
// structured data, the hash of the previous chained event (prev_hash) and its own
// hash: SHA-256 over prev_hash and the event's time (UTC, microseconds), actor, action,
// subject, text and data. Verify walks the log in append (ID) order and reports any
// event whose hash does not match its content or whose prev_hash does not match its
// predecessor, so an edit, a deletion or an insertion in the middle is found. Events
// written before the chain began (plain-text Detail) are counted as legacy, and only
// allowed before the first chained event. Verify reads every event the store holds,
// whatever its time or ID (storage.Store.ListAuditAll), and an event whose ID the store
// could not have assigned (zero or negative) or whose time lies outside years 1 to 9999
// is a problem however its hash reads; gridd restores its state at start from exactly
// the list Verify checks (Read). Truncating the tail is detectable only
// against a head hash recorded elsewhere; Verify reports the head for that purpose.
//
// One Log must be the only writer of a store's audit events (one gridd process per
// store).
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/storage"
)

// Entry is the JSON document stored in an event's Detail.
type Entry struct {
	Text string          `json:"text"`
	Data json.RawMessage `json:"data,omitempty"`
	Prev string          `json:"prev_hash"`
	Hash string          `json:"hash"`
}

// Parse decodes a chained Detail; ok is false for a legacy (plain text) Detail.
func Parse(detail string) (Entry, bool) {
	var e Entry
	if len(detail) == 0 || detail[0] != '{' {
		return e, false
	}
	if err := json.Unmarshal([]byte(detail), &e); err != nil || e.Hash == "" {
		return Entry{}, false
	}
	return e, true
}

// Text returns the human-readable text of a Detail, chained or not.
func Text(detail string) string {
	if e, ok := Parse(detail); ok {
		return e.Text
	}
	return detail
}

// Hash computes an event's chain hash.
func Hash(prev string, ev storage.AuditEvent, text string, data []byte) string {
	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(prev))
	field([]byte(ev.Time.UTC().Truncate(storage.TimePrecision).Format(time.RFC3339Nano)))
	field([]byte(ev.Actor))
	field([]byte(ev.Action))
	field([]byte(ev.Subject))
	field([]byte(text))
	field(compact(data))
	return hex.EncodeToString(h.Sum(nil))
}

func compact(data []byte) []byte {
	if len(data) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return data
	}
	return buf.Bytes()
}

// Log appends chained events. It is safe for concurrent use.
type Log struct {
	mu     sync.Mutex
	store  storage.Store
	prev   string
	loaded bool
}

// New returns a Log writing to st.
func New(st storage.Store) *Log { return &Log{store: st} }

func (l *Log) load(ctx context.Context) error {
	if l.loaded {
		return nil
	}
	list, err := l.store.ListAuditAll(ctx)
	if err != nil {
		return fmt.Errorf("audit: read the chain head: %w", err)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	for i := len(list) - 1; i >= 0; i-- {
		if e, ok := Parse(list[i].Detail); ok {
			l.prev = e.Hash
			break
		}
	}
	l.loaded = true
	return nil
}

// Append chains and stores one event; ev.Detail is ignored (text and data replace it).
// data, if not nil, is stored as JSON.
func (l *Log) Append(ctx context.Context, ev storage.AuditEvent, text string, data any) (storage.AuditEvent, error) {
	var raw []byte
	if data != nil {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return ev, fmt.Errorf("audit: encode data of %s: %w", ev.Action, err)
		}
	}
	// JSON would replace invalid UTF-8 in the stored text; hash what is stored.
	text = strings.ToValidUTF8(text, "\uFFFD")
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(ctx); err != nil {
		return ev, err
	}
	ev.Time = ev.Time.UTC().Truncate(storage.TimePrecision)
	e := Entry{Text: text, Data: raw, Prev: l.prev, Hash: Hash(l.prev, ev, text, raw)}
	doc, err := json.Marshal(e)
	if err != nil {
		return ev, fmt.Errorf("audit: encode entry: %w", err)
	}
	ev.Detail = string(doc)
	id, err := l.store.AppendAudit(ctx, ev)
	if err != nil {
		return ev, fmt.Errorf("audit: append %s: %w", ev.Action, err)
	}
	ev.ID = id
	l.prev = e.Hash
	return ev, nil
}

// Problem is one broken link of the chain.
type Problem struct {
	ID  int64  `json:"id"`
	Msg string `json:"problem"`
}

// Report is the result of Verify.
type Report struct {
	Events   int       `json:"events"`
	Legacy   int       `json:"legacy"`
	Chained  int       `json:"chained"`
	Head     string    `json:"head_hash"`
	Problems []Problem `json:"problems,omitempty"`
}

// OK reports whether the chain is intact.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks the whole audit log of st.
func Verify(ctx context.Context, st storage.Store) (*Report, error) {
	_, rep, err := Read(ctx, st)
	return rep, err
}

// Read returns every audit event of st in ID order together with the verification of
// exactly that list. Whatever acts on the log's content (restoring state at start)
// reads it here, so it can never see an event that verification did not check.
func Read(ctx context.Context, st storage.Store) ([]storage.AuditEvent, *Report, error) {
	list, err := st.ListAuditAll(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: read events: %w", err)
	}
	rep := VerifyEvents(list)
	return list, rep, nil
}

// storableTime reports whether t lies in years 1 to 9999 (UTC), the times gridd stores.
func storableTime(t time.Time) bool {
	y := t.UTC().Year()
	return !t.IsZero() && y >= 1 && y <= 9999
}

// VerifyEvents checks a list of events (in any order; they are walked by ID).
func VerifyEvents(list []storage.AuditEvent) *Report {
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	r := &Report{Events: len(list)}
	prev, chained := "", false
	for _, ev := range list {
		// The store assigns positive IDs and gridd writes storable times: anything else
		// was put there by hand, whatever its detail says.
		if ev.ID <= 0 {
			r.Problems = append(r.Problems, Problem{ev.ID, fmt.Sprintf("id %d is not positive: the store never assigns it (the event was inserted)", ev.ID)})
		}
		if !storableTime(ev.Time) {
			r.Problems = append(r.Problems, Problem{ev.ID, fmt.Sprintf("time %s is outside years 1 to 9999 (the event was inserted or edited)", ev.Time.UTC().Format(time.RFC3339Nano))})
		}
		e, ok := Parse(ev.Detail)
		if !ok {
			if chained {
				r.Problems = append(r.Problems, Problem{ev.ID, "event is not chained (its detail was replaced or it was inserted)"})
			} else {
				r.Legacy++
			}
			continue
		}
		chained = true
		r.Chained++
		if e.Prev != prev {
			r.Problems = append(r.Problems, Problem{ev.ID, fmt.Sprintf("prev_hash %.12s… does not match the preceding event's hash %.12s… (an event was removed or inserted)", e.Prev, prev)})
		}
		if want := Hash(e.Prev, ev, e.Text, e.Data); want != e.Hash {
			r.Problems = append(r.Problems, Problem{ev.ID, fmt.Sprintf("hash %.12s… does not match the event's content (recomputed %.12s…): the event was edited", e.Hash, want)})
		}
		prev = e.Hash
	}
	r.Head = prev
	return r
}
