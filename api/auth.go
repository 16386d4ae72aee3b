package api

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gridd/gridd/storage"

	"golang.org/x/crypto/bcrypt"
)

// Role is a user's role. Every route names the roles it admits.
type Role string

const (
	RoleAdmin      Role = "admin"      // everything
	RoleDispatcher Role = "dispatcher" // read, approve/reject, pin, kill switch, overrides
	RoleOperator   Role = "operator"   // a charging operator: only its own chargers
	RolePlanner    Role = "planner"    // read and pin (a pin only proposes; approval stays with dispatchers or the policy)
	RoleViewer     Role = "viewer"     // read only
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleDispatcher, RoleOperator, RolePlanner, RoleViewer}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// BcryptCost is the cost of stored password hashes.
const BcryptCost = 12

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = 12

// User is one account. Passwords and tokens are stored only as hashes.
type User struct {
	Name         string  `json:"name"`
	Role         Role    `json:"role"`
	PasswordHash string  `json:"password_hash,omitempty"` // bcrypt
	Tokens       []Token `json:"tokens,omitempty"`
	// Operator (role operator) is the owner name of its chargers (site device owner).
	Operator string `json:"operator,omitempty"`
	// Chargers (role operator) adds chargers by device ID.
	Chargers []string  `json:"chargers,omitempty"`
	Created  time.Time `json:"created"`
}

// Token is an API token; only its SHA-256 is stored.
type Token struct {
	ID      string    `json:"id"`
	SHA256  string    `json:"sha256"`
	Created time.Time `json:"created"`
}

// Users is the account store: a JSON file (mode 0600) next to the data. A running
// server sees changes made to the file by `gridd user` (a new account, a deleted one, a
// revoked token) within ReloadEvery: Refresh re-reads the file when its identity, size
// or modification time changed.
type Users struct {
	mu    sync.Mutex
	path  string
	users map[string]*User
	// stamp identifies the file last read; checked is when Refresh last looked.
	stamp   os.FileInfo
	checked time.Time
}

// ReloadEvery is the least time between two looks at the accounts file by Refresh.
const ReloadEvery = time.Second

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// UsersFile is the account file's name inside the data directory.
const UsersFile = "users.json"

// OpenUsers reads the account file at path (a missing file is an empty store).
func OpenUsers(path string) (*Users, error) {
	users, stamp, err := readUsers(path)
	if err != nil {
		return nil, err
	}
	return &Users{path: path, users: users, stamp: stamp}, nil
}

// readUsers reads and checks an accounts file; a missing file is an empty store
// (stamp nil).
func readUsers(path string) (map[string]*User, os.FileInfo, error) {
	users := map[string]*User{}
	// The file holds password and token hashes: owner only.
	if err := storage.SecureFile(path, false); err != nil {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return users, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	defer f.Close()
	stamp, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read users: %w", err)
	}
	var doc struct {
		Users []*User `json:"users"`
	}
	// As strict as an API body: exact keys, no unknown or repeated ones.
	if ke := checkKeys(data, reflect.TypeOf(&doc)); ke != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, ke)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("%s: data after the JSON document", path)
	}
	for i, x := range doc.Users {
		if x == nil {
			return nil, nil, fmt.Errorf("%s: users[%d]: null entry", path, i)
		}
		if !userName.MatchString(x.Name) || !ValidRole(x.Role) {
			return nil, nil, fmt.Errorf("%s: users[%d]: bad name %q or role %q", path, i, x.Name, x.Role)
		}
		if _, dup := users[x.Name]; dup {
			return nil, nil, fmt.Errorf("%s: users[%d]: user %q appears twice", path, i, x.Name)
		}
		users[x.Name] = x
	}
	return users, stamp, nil
}

// sameFile reports whether two stamps are the same version of a file.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Refresh re-reads the accounts file if it changed since it was last read, looking at
// most once per ReloadEvery of now. It reports whether the accounts were replaced. A
// file that does not parse leaves the accounts as they were and returns the error.
func (u *Users) Refresh(now time.Time) (bool, error) {
	u.mu.Lock()
	if u.path == "" || (!u.checked.IsZero() && now.Sub(u.checked) < ReloadEvery && !now.Before(u.checked)) {
		u.mu.Unlock()
		return false, nil
	}
	u.checked = now
	path, old := u.path, u.stamp
	u.mu.Unlock()
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		fi, err = nil, nil
	}
	if err != nil {
		return false, fmt.Errorf("read users: %w", err)
	}
	if sameFile(old, fi) {
		return false, nil
	}
	users, stamp, err := readUsers(path)
	if err != nil {
		return false, err
	}
	u.mu.Lock()
	u.users, u.stamp = users, stamp
	u.mu.Unlock()
	return true, nil
}

// Delete removes an account (its password and every token with it).
func (u *Users) Delete(name string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.users[name]; !ok {
		return fmt.Errorf("user %q does not exist", name)
	}
	delete(u.users, name)
	return u.saveLocked()
}

// RevokeToken removes one API token of an account by its ID ("" = every token) and
// returns how many were removed.
func (u *Users) RevokeToken(name, id string) (int, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.users[name]
	if !ok {
		return 0, fmt.Errorf("user %q does not exist", name)
	}
	keep := x.Tokens[:0:0]
	for _, t := range x.Tokens {
		if id != "" && t.ID != id {
			keep = append(keep, t)
		}
	}
	n := len(x.Tokens) - len(keep)
	if n == 0 {
		return 0, fmt.Errorf("user %q has no token %q", name, id)
	}
	x.Tokens = keep
	return n, u.saveLocked()
}

// revokeTokenValue removes the token whose value is tok (a client logging out with
// it) and reports whether it existed.
func (u *Users) revokeTokenValue(tok string) (string, bool, error) {
	if tok == "" {
		return "", false, nil
	}
	sum := sha256.Sum256([]byte(tok))
	h := hex.EncodeToString(sum[:])
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.users {
		for i, t := range x.Tokens {
			if subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(h)) == 1 {
				x.Tokens = append(x.Tokens[:i:i], x.Tokens[i+1:]...)
				return x.Name, true, u.saveLocked()
			}
		}
	}
	return "", false, nil
}

// NewUsers returns an empty in-memory store (Save is a no-op without a path).
func NewUsers() *Users { return &Users{users: map[string]*User{}} }

func (u *Users) saveLocked() error {
	if u.path == "" {
		return nil
	}
	list := make([]*User, 0, len(u.users))
	for _, x := range u.users {
		list = append(list, x)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	data, err := json.MarshalIndent(map[string]any{"users": list}, "", "  ")
	if err != nil {
		return err
	}
	if _, err := storage.SecureDir(filepath.Dir(u.path)); err != nil {
		return err
	}
	tmp := u.path + ".tmp"
	if err := os.WriteFile(tmp, data, storage.FileMode); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	if err := os.Rename(tmp, u.path); err != nil {
		return fmt.Errorf("write users: %w", err)
	}
	if fi, err := os.Stat(u.path); err == nil {
		u.stamp = fi
	}
	return nil
}

// Len returns the number of accounts.
func (u *Users) Len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.users)
}

// Get returns a copy of an account.
func (u *Users) Get(name string) (User, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.users[name]
	if !ok {
		return User{}, false
	}
	return *x, true
}

// Put creates or replaces an account's role and scope (keeping its password and tokens)
// and, if password is not empty, sets its password.
func (u *Users) Put(x User, password string, now time.Time) error {
	if !userName.MatchString(x.Name) {
		return fmt.Errorf("name %q: want 1-64 lower-case letters, digits, '_', '.' or '-'", x.Name)
	}
	if !ValidRole(x.Role) {
		return fmt.Errorf("role %q: want one of admin, dispatcher, operator, planner, viewer", x.Role)
	}
	if x.Role == RoleOperator && x.Operator == "" && len(x.Chargers) == 0 {
		return errors.New("operator: an operator needs an owner name or a list of chargers")
	}
	if x.Role != RoleOperator && (x.Operator != "" || len(x.Chargers) > 0) {
		return fmt.Errorf("operator: only an operator has chargers, this user is %s", x.Role)
	}
	var hash string
	if password != "" {
		if len(password) < MinPasswordLen {
			return fmt.Errorf("password: at least %d characters", MinPasswordLen)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
		if err != nil {
			return fmt.Errorf("password: %w", err)
		}
		hash = string(h)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if old, ok := u.users[x.Name]; ok {
		x.Tokens, x.Created = old.Tokens, old.Created
		if hash == "" {
			hash = old.PasswordHash
		}
	} else {
		x.Created = now.UTC()
	}
	x.PasswordHash = hash
	u.users[x.Name] = &x
	return u.saveLocked()
}

// NewToken creates an API token for a user and returns it; only its hash is stored. The
// new token is the last of the user's Tokens (its ID names it for RevokeToken).
func (u *Users) NewToken(name string, now time.Time) (string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	x, ok := u.users[name]
	if !ok {
		return "", fmt.Errorf("user %q does not exist", name)
	}
	tok := "gridd_" + randomHex(24)
	sum := sha256.Sum256([]byte(tok))
	x.Tokens = append(x.Tokens, Token{ID: randomHex(4), SHA256: hex.EncodeToString(sum[:]), Created: now.UTC()})
	return tok, u.saveLocked()
}

// CheckPassword returns the user if the password matches its bcrypt hash.
func (u *Users) CheckPassword(name, password string) (User, bool) {
	u.mu.Lock()
	x, ok := u.users[name]
	var hash string
	if ok {
		hash = x.PasswordHash
	}
	u.mu.Unlock()
	if !ok || hash == "" {
		// Spend the same time as a real check so names cannot be probed by timing.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return User{}, false
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		return User{}, false
	}
	return *x, true
}

// dummyHash is a hash of the right cost for unknown names, made on first use so that
// commands which never check a password do not pay for it at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("gridd-dummy-password"), BcryptCost)
	return h
})

// ByToken returns the user owning an API token.
func (u *Users) ByToken(tok string) (User, bool) {
	if tok == "" {
		return User{}, false
	}
	sum := sha256.Sum256([]byte(tok))
	h := hex.EncodeToString(sum[:])
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.users {
		for _, t := range x.Tokens {
			if subtle.ConstantTimeCompare([]byte(t.SHA256), []byte(h)) == 1 {
				return *x, true
			}
		}
	}
	return User{}, false
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error()) // the system has no randomness: nothing is safe
	}
	return hex.EncodeToString(b)
}

// RandomPassword returns a fresh random password.
func RandomPassword() string { return randomHex(10) }

// sessions holds console login sessions in memory.
type sessions struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]session
}

type session struct {
	user    string
	expires time.Time
	// pwHash is the password hash the session was opened with: a changed password
	// ends the account's sessions.
	pwHash string
}

func (s *sessions) create(u User, now time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randomHex(32)
	s.m[id] = session{u.Name, now.Add(s.ttl), u.PasswordHash}
	for k, v := range s.m {
		if now.After(v.expires) {
			delete(s.m, k)
		}
	}
	return id
}

func (s *sessions) get(id string, now time.Time) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok || now.After(v.expires) {
		delete(s.m, id)
		return session{}, false
	}
	return v, true
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
}

// limiter counts failed logins per key in a sliding window. A login reserves its slot
// before the password is checked (reserve), so parallel attempts cannot all pass the
// check before any failure is counted; a successful login gives its slot back
// (release).
type limiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	fails  map[string][]time.Time
	// trusted holds "account|address" pairs that logged in successfully, until the
	// time stored (see trustFor).
	trusted map[string]time.Time
}

// slot is one counter a login attempt must fit in: key and its maximum per window.
type slot struct {
	key string
	max int
}

// trustFor is how long an address that logged in to an account stays trusted for it.
const trustFor = 30 * 24 * time.Hour

// blocked returns how long key must wait, or 0.
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	list := l.prune(key, now)
	if len(list) < l.max {
		return 0
	}
	return list[0].Add(l.window).Sub(now)
}

// reserve counts an attempt at now in every slot, atomically, unless one of them is
// full: then it counts nothing and returns how long to wait.
func (l *limiter) reserve(slots []slot, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, s := range slots {
		if list := l.prune(s.key, now); len(list) >= s.max {
			wait = max(wait, list[0].Add(l.window).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, s := range slots {
		l.add(s.key, now)
	}
	return 0
}

// release gives back the attempts reserve counted at at (the login succeeded).
func (l *limiter) release(slots []slot, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range slots {
		list := l.fails[s.key]
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].Equal(at) {
				list = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(l.fails, s.key)
		} else {
			l.fails[s.key] = list
		}
	}
}

// trust remembers that address logged in to account at now.
func (l *limiter) trust(account, address string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.trusted == nil {
		l.trusted = map[string]time.Time{}
	}
	if len(l.trusted) >= limiterSweepAt {
		for k, until := range l.trusted {
			if !now.Before(until) {
				delete(l.trusted, k)
			}
		}
	}
	l.trusted[account+"|"+address] = now.Add(trustFor)
}

// trusts reports whether address logged in to account within trustFor.
func (l *limiter) trusts(account, address string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.trusted[account+"|"+address]
	return ok && now.Before(until)
}

// limiterSweepAt is the number of keys above which fail drops every expired key, so
// failed logins under ever new names or addresses cannot grow the table without bound.
const limiterSweepAt = 4096

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(key, now)
}

func (l *limiter) add(key string, now time.Time) {
	if len(l.fails) >= limiterSweepAt {
		for k := range l.fails {
			l.prune(k, now)
		}
	}
	l.fails[key] = append(l.prune(key, now), now)
}

// size returns the number of keys held (for tests).
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.fails)
}

func (l *limiter) prune(key string, now time.Time) []time.Time {
	list := l.fails[key]
	i := 0
	for i < len(list) && !list[i].Add(l.window).After(now) {
		i++
	}
	list = list[i:]
	if len(list) == 0 {
		delete(l.fails, key)
	} else {
		l.fails[key] = list
	}
	return list
}

func bearer(h string) (string, bool) {
	const p = "Bearer "
	if len(h) > len(p) && strings.EqualFold(h[:len(p)], p) {
		return strings.TrimSpace(h[len(p):]), true
	}
	return "", false
}

// Names returns the account names in order.
func (u *Users) Names() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]string, 0, len(u.users))
	for n := range u.users {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
