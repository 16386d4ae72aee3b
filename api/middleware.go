package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gridd/gridd/dispatch"
	"github.com/gridd/gridd/site"
)

// SessionCookie is the console session cookie's name.
const SessionCookie = "gridd_session"

type principalKey struct{}

// principal is the authenticated caller.
type principal struct {
	User
	via string // "token" or "session"
}

func (p principal) actor() string { return "user:" + p.Name }

func from(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey{}).(principal)
	return p
}

// chargers returns the charger IDs the caller may see; all=true for every charger.
func (s *Server) chargers(p principal) (ids map[string]bool, all bool) {
	if p.Role != RoleOperator {
		return nil, true
	}
	ids = map[string]bool{}
	for _, d := range s.svc.Config().Devices {
		if d.Kind != site.KindEVCharger {
			continue
		}
		if p.Operator != "" && d.Owner == p.Operator {
			ids[d.ID] = true
		}
		for _, c := range p.Chargers {
			if c == d.ID {
				ids[d.ID] = true
			}
		}
	}
	return ids, false
}

// authenticate finds the caller from a bearer token or a session cookie.
func (s *Server) authenticate(r *http.Request) (principal, bool) {
	// Accounts added, deleted or revoked with gridd user take effect while running.
	if changed, err := s.users.Refresh(s.now()); err != nil {
		s.log.Error("accounts file changed but cannot be read; keeping the accounts as they were", "err", err)
	} else if changed {
		s.log.Info("accounts file reloaded", "users", s.users.Len())
	}
	if tok, ok := bearer(r.Header.Get("Authorization")); ok {
		if u, ok := s.users.ByToken(tok); ok {
			return principal{User: u, via: "token"}, true
		}
		return principal{}, false
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		if ss, ok := s.sessions.get(c.Value, s.now()); ok {
			// A deleted account or a changed password ends the session.
			if u, ok := s.users.Get(ss.user); ok && u.PasswordHash == ss.pwHash && u.PasswordHash != "" {
				return principal{User: u, via: "session"}, true
			}
			s.sessions.drop(c.Value)
		}
	}
	return principal{}, false
}

// guard enforces a route's roles and, for cookie-authenticated writes, a JSON body
// (a cross-site form cannot send one without a CORS preflight, which gridd never allows).
func (s *Server) guard(rt route) http.Handler {
	return s.timed(rt, s.authorize(rt))
}

// timed observes each request's duration by route, method and status code.
func (s *Server) timed(rt route, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		s.requests.WithLabelValues(rt.path, rt.method, strconv.Itoa(sw.code)).Observe(time.Since(t0).Seconds())
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush passes flushes through (the event stream needs them).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) authorize(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.roles == nil {
			rt.h(w, r)
			return
		}
		p, ok := s.authenticate(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gridd"`)
			fail(w, http.StatusUnauthorized, "", "authentication required: an API token (Authorization: Bearer) or a console login")
			return
		}
		allowed := false
		for _, role := range rt.roles {
			allowed = allowed || p.Role == role
		}
		if !allowed {
			fail(w, http.StatusForbidden, "", "role %s may not %s %s", p.Role, rt.method, rt.path)
			return
		}
		if p.via == "session" && r.Method != http.MethodGet {
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				fail(w, http.StatusUnsupportedMediaType, "", "a console request that changes state must have Content-Type application/json")
				return
			}
		}
		rt.h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// decodeBody reads a strict JSON body into v: one JSON value, no unknown fields, no
// trailing data, at most MaxBodyBytes. An empty body is allowed when allowEmpty;
// otherwise it is an error.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) bool {
	if r.Body == nil {
		r.Body = http.NoBody
	}
	tooLarge := func(err error) bool {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(w, http.StatusRequestEntityTooLarge, "", "request body is larger than %d bytes", mbe.Limit)
			return true
		}
		return false
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if !tooLarge(err) {
			fail(w, http.StatusBadRequest, "", "read body: %v", err)
		}
		return false
	}
	// Keys are matched exactly: encoding/json alone would take "Energy_KWH" for
	// "energy_kwh" and let the last of two such keys win.
	if ke := checkKeys(data, reflect.TypeOf(v)); ke != nil {
		fail(w, http.StatusBadRequest, ke.field, "invalid JSON body: %v", ke)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if tooLarge(err) {
			return false
		}
		if errors.Is(err, io.EOF) && allowEmpty {
			return true
		}
		if errors.Is(err, io.EOF) {
			fail(w, http.StatusBadRequest, "", "a JSON body is required")
			return false
		}
		fail(w, http.StatusBadRequest, jsonField(err), "invalid JSON body: %v", err)
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil && tooLarge(err) {
			return false
		}
		fail(w, http.StatusBadRequest, "", "invalid JSON body: data after the JSON value")
		return false
	}
	return true
}

// requireReason trims and checks a reason field.
func requireReason(w http.ResponseWriter, reason *string) bool {
	*reason = strings.TrimSpace(*reason)
	if *reason == "" {
		fail(w, http.StatusBadRequest, "reason", "a reason is required")
		return false
	}
	if len(*reason) > 1000 {
		fail(w, http.StatusBadRequest, "reason", "reason is longer than 1000 characters")
		return false
	}
	return true
}

// failInvalid maps a dispatch error to an HTTP error; dispatch.ErrInvalid errors name
// the field as "invalid request: FIELD: message".
func failInvalid(w http.ResponseWriter, err error) {
	if errors.Is(err, dispatch.ErrInvalid) {
		msg := strings.TrimPrefix(err.Error(), dispatch.ErrInvalid.Error()+": ")
		field := ""
		if i := strings.Index(msg, ":"); i > 0 && !strings.ContainsAny(msg[:i], " ") {
			field = msg[:i]
		}
		fail(w, http.StatusBadRequest, field, "%s", msg)
		return
	}
	storeError(w, err)
}

// limitAddr is the client address a login rate limit counts against: the IPv4
// address, or the /64 network of an IPv6 address (one host usually holds a whole /64).
func limitAddr(r *http.Request) string {
	ip := net.ParseIP(clientIP(r))
	if ip == nil {
		return clientIP(r)
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// maxUserName bounds the user name a login may give.
const maxUserName = 128

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !decodeBody(w, r, &req, false) || !requireFields(w, &req) {
		return
	}
	// Failed logins are audited under the name given: keep it short and printable.
	if len(req.User) > maxUserName || strings.IndexFunc(req.User, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		fail(w, http.StatusBadRequest, "user", "user must be at most %d printable characters", maxUserName)
		return
	}
	now := s.now()
	// The attempt is counted before the (deliberately slow) password check, against
	// the client address and, unless this address logged in to this account before,
	// against the account across all addresses (a higher limit, so that failures
	// from a few addresses cannot lock its owner out; an address the owner used keeps
	// working even then). See docs/SECURITY.md "Login protection".
	addr := limitAddr(r)
	slots := []slot{{"ip:" + addr, s.limiter.max}}
	if !s.limiter.trusts(req.User, addr, now) {
		slots = append(slots, slot{"user:" + req.User, s.accountFailures})
	}
	if wait := s.limiter.reserve(slots, now); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		fail(w, http.StatusTooManyRequests, "", "too many failed logins; try again in %s", wait.Round(time.Second))
		return
	}
	u, ok := s.users.CheckPassword(req.User, req.Password)
	if !ok {
		_ = s.svc.Audit(r.Context(), "user:"+req.User, "auth.login_failed", "user:"+req.User, "failed login from "+clientIP(r), nil)
		fail(w, http.StatusUnauthorized, "password", "wrong user name or password")
		return
	}
	s.limiter.release(slots, now)
	s.limiter.trust(u.Name, addr, now)
	id := s.sessions.create(u, now)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: int(s.sessions.ttl / time.Second)})
	_ = s.svc.Audit(r.Context(), "user:"+u.Name, "auth.login", "user:"+u.Name, "console login from "+clientIP(r), nil)
	writeJSON(w, http.StatusOK, meJSON(u))
}

// logout ends what authenticated the request: the session of a cookie, or the API
// token of a bearer (which is revoked in the accounts file).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.sessions.drop(c.Value)
	}
	if p := from(r); p.via == "token" {
		tok, _ := bearer(r.Header.Get("Authorization"))
		if name, ok, err := s.users.revokeTokenValue(tok); err != nil {
			fail(w, http.StatusInternalServerError, "", "revoke token: %v", err)
			return
		} else if ok {
			_ = s.svc.Audit(r.Context(), p.actor(), "auth.token_revoke", "user:"+name, "API token revoked by logout", nil)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, http.StatusOK, statusJSON{Status: "logged out"})
}

func meJSON(u User) meResponse {
	return meResponse{Name: u.Name, Role: u.Role, Operator: u.Operator, Chargers: u.Chargers}
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	p := from(r)
	out := meJSON(p.User)
	ids, all := s.chargers(p)
	if !all {
		out.Chargers = sortedMapKeys(ids)
	}
	writeJSON(w, http.StatusOK, out)
}

// apiTime is an RFC 3339 time whose decoding error names the JSON field.
type apiTime struct{ time.Time }

var timeType = reflect.TypeOf(time.Time{})

func (t *apiTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: timeType}
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + strconv.Quote(s) + " (want RFC 3339, e.g. 2024-05-01T18:00:00Z)", Type: timeType}
	}
	t.Time = v
	return nil
}

// tp returns the time or the zero time.
func tp(t *apiTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}
