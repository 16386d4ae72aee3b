package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gridd/gridd/api"
	"github.com/gridd/gridd/internal/apitest"
)

// Every request the API tests send through a client (client.do, client.http) and
// every response they get are checked against the server's own OpenAPI document with
// kin-openapi (internal/apitest): a response must match the schema of its route and
// status, and a request the document calls invalid must be refused (4xx). A mismatch
// fails the request with an error, and so the test.

// contract is the check of one server's exchanges.
type contract = apitest.Contract

func newContract(t testing.TB, srv *api.Server) *contract { return apitest.New(t, srv.OpenAPI()) }

// serveChecked serves req on h and fails t on a mismatch with the document.
func serveChecked(t testing.TB, c *contract, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w, err := c.Serve(h, req)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// checked returns srv as a handler that checks every exchange against srv's OpenAPI
// document, failing t on a mismatch.
func checked(t testing.TB, srv *api.Server) http.Handler { return newContract(t, srv).Handler(t, srv) }

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
		err := c.Check(tc.req, []byte(tc.reqBody), tc.code, hdr, []byte(tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// And a good exchange passes.
	if err := c.Check(get("/healthz"), nil, 200, http.Header{"Content-Type": {"application/json"}}, []byte(`{"status":"ok"}`)); err != nil {
		t.Errorf("a good response failed: %v", err)
	}
}
