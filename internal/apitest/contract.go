package apitest

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
)

// Contract checks requests and responses against one OpenAPI document.
type Contract struct {
	router routers.Router
	mu     sync.Mutex
	checks int
}

// Load reads an OpenAPI document (JSON) and checks that it is a valid OpenAPI 3
// document.
func Load(doc []byte) (*Contract, error) {
	d, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	router, err := legacy.NewRouter(d) // validates the document
	if err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	return &Contract{router: router}, nil
}

// New is Load of a document given as a value (api.Server.OpenAPI()), failing tb.
func New(tb testing.TB, doc any) *Contract {
	tb.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := Load(data)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// Fetch loads the document a running server serves at baseURL/api/v1/openapi.json.
func Fetch(tb testing.TB, client *http.Client, baseURL string) *Contract {
	tb.Helper()
	resp, err := client.Get(baseURL + "/api/v1/openapi.json")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET openapi.json: %d %v", resp.StatusCode, err)
	}
	c, err := Load(data)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var filterOptions = &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true}

// Check validates one exchange. req's body was reqBody; respBody is nil for a stream
// (its body is not checked).
func (c *Contract) Check(req *http.Request, reqBody []byte, code int, hdr http.Header, respBody []byte) error {
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

// Checks returns how many responses were checked and matched.
func (c *Contract) Checks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks
}

// Client returns a client whose every exchange is checked: a mismatch is the
// request's error.
func (c *Contract) Client(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	out := *base
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	out.Transport = &transport{c: c, base: rt}
	return &out
}

type transport struct {
	c    *Contract
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
	if err := tr.c.Check(req, reqBody, resp.StatusCode, resp.Header, respBody); err != nil {
		_ = resp.Body.Close()
		return nil, err
	}
	return resp, nil
}

// Serve serves req on h as httptest does and checks the exchange.
func (c *Contract) Serve(h http.Handler, req *http.Request) (*httptest.ResponseRecorder, error) {
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
	return w, c.Check(req.Clone(context.Background()), body, w.Code, w.Header(), resp)
}

// Handler returns h as a handler that checks every exchange, failing tb on a
// mismatch (safe for concurrent requests; not for streams).
func (c *Contract) Handler(tb testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec, err := c.Serve(h, req)
		if err != nil {
			tb.Error(err)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}
