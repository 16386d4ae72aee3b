package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/gridd/gridd/api"
)

// Every request the API tests send through a client (client.do, client.http) and
// every response they get are checked against the server's own OpenAPI document with
// kin-openapi: a response must match the schema of its route and status, and a
// request the document calls invalid must be refused (4xx). A mismatch fails the
// request with an error, and so the test.

// contract checks requests and responses against one server's OpenAPI document.
type contract struct {
	router routers.Router
	mu     sync.Mutex
	checks int // responses checked
}

// newContract loads srv's document (and checks it is a valid OpenAPI 3 document).
func newContract(t testing.TB, srv *api.Server) *contract {
	t.Helper()
	data, err := json.Marshal(srv.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("load the OpenAPI document: %v", err)
	}
	router, err := legacy.NewRouter(doc) // validates the document
	if err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return &contract{router: router}
}

var filterOptions = &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}

// check validates one exchange. req's body was reqBody; respBody is nil for a stream.
func (c *contract) check(req *http.Request, reqBody []byte, code int, hdr http.Header, respBody []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		p := req.URL.Path
		if (strings.HasPrefix(p, "/api/") || p == "/metrics" || p == "/healthz") && code != http.StatusNotFound && code != http.StatusMethodNotAllowed {
			return fmt.Errorf("%s %s answered %d but the OpenAPI document has no such operation", req.Method, p, code)
		}
		return nil // the console's files, or an unknown route answered 404/405
	}
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: filterOptions}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if reqErr != nil && code < 400 {
		return fmt.Errorf("%s %s %s: answered %d to a request the OpenAPI document calls invalid: %w", req.Method, req.URL, reqBody, code, reqErr)
	}
	opts := *filterOptions
	if respBody == nil {
		opts.ExcludeResponseBody = true
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: code, Header: hdr, Options: &opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s: response %d does not match the OpenAPI document: %w\nbody: %.2000s", req.Method, req.URL, code, err, respBody)
	}
	c.mu.Lock()
	c.checks++
	c.mu.Unlock()
	return nil
}

// Checks returns how many responses were checked.
func (c *contract) Checks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks
}

// transport is an http.RoundTripper that checks every exchange against the contract.
type transport struct {
	c    *contract
	base http.RoundTripper
}

func (tr *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	var respBody []byte
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		respBody, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
	}
	if err := tr.c.check(req, reqBody, resp.StatusCode, resp.Header, respBody); err != nil {
		if resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, err
	}
	return resp, nil
}

// serve serves req on h as httptest does and checks the exchange.
func (c *contract) serve(h http.Handler, req *http.Request) (*httptest.ResponseRecorder, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	resp := w.Body.Bytes()
	if strings.HasPrefix(w.Header().Get("Content-Type"), "text/event-stream") {
		resp = nil
	}
	return w, c.check(req.Clone(context.Background()), body, w.Code, w.Header(), resp)
}

// serveChecked serves req on h and fails t on a mismatch with the document.
func (c *contract) serveChecked(t testing.TB, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w, err := c.serve(h, req)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// checked returns srv as a handler that checks every exchange against srv's OpenAPI
// document, failing t on a mismatch (safe for concurrent requests; not for streams).
func checked(t testing.TB, srv *api.Server) http.Handler {
	c := newContract(t, srv)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec, err := c.serve(srv, req)
		if err != nil {
			t.Error(err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// TestContractCatchesMismatches shows the checks can fail: a response that breaks its
// schema, a status the document does not list without an Error body, and a request
// the document calls invalid that the server accepted.
func TestContractCatchesMismatches(t *testing.T) {
	f := newFake(t)
	users, _, _ := testUsers(t)
	srv, err := api.NewServer(f, api.Options{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	c := newContract(t, srv)
	get := func(path string) *http.Request { return httptest.NewRequest("GET", path, nil) }
	put := func(path, body string) *http.Request {
		r := httptest.NewRequest("PUT", path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		return r
	}
	cases := []struct {
		name    string
		req     *http.Request
		reqBody string
		code    int
		body    string
		want    string
	}{
		{"a field of the wrong type", get("/api/v1/control"), "", 200, `{"enabled":"yes"}`, "does not match"},
		{"a required field missing", get("/healthz"), "", 200, `{}`, "does not match"},
		{"an error that is not an Error", get("/api/v1/limits"), "", 500, `{"message":"x"}`, "does not match"},
		{"accepted though invalid", put("/api/v1/prices", `{"points":"none"}`), `{"points":"none"}`, 200, `{"status":"ok","points":1}`, "calls invalid"},
		{"an undocumented route", get("/api/v1/nothing"), "", 200, `{}`, "no such operation"},
	}
	for _, tc := range cases {
		hdr := http.Header{"Content-Type": {"application/json"}}
		err := c.check(tc.req, []byte(tc.reqBody), tc.code, hdr, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// And a good exchange passes.
	if err := c.check(get("/healthz"), nil, 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{"status":"ok"}`)); err != nil {
		t.Errorf("a good response failed: %v", err)
	}
}
