package api_test

import (
	"net/url"
	"strings"
	"testing"
)

// TestQueryParamsNameField walks every route of the OpenAPI document with query
// parameters and sends each parameter a bad value, and every range (from, to) the
// bad ranges of the review: a time gridd cannot store, from after to. Each is a 400
// whose field names the parameter, never a 500.
func TestQueryParamsNameField(t *testing.T) {
	r := newRig(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	r.do(t, "", "GET", "/api/v1/openapi.json", nil).json(t, &doc)
	type probe struct{ query, field string }
	checked := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			var params []string
			for _, p := range op.Parameters {
				if p.In == "query" {
					params = append(params, p.Name)
				}
			}
			if len(params) == 0 {
				continue
			}
			var probes []probe
			for _, p := range params {
				probes = append(probes, probe{p + "=" + url.QueryEscape("\x01bad"), p})
			}
			if strings.Contains(strings.Join(params, ","), "from") {
				for _, q := range []probe{
					{"from=0001-01-01T00:00:00Z", "from"},
					{"to=0001-01-01T00:00:00Z", "to"},
					{"from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z", "from"},
					{"from=" + url.QueryEscape("2024-01-01T00:00:00+23:59") + "&to=2020-01-01T00:00:00Z", "from"},
					{"to=" + url.QueryEscape("0001-01-01T00:00:00+01:00"), "to"},
				} {
					probes = append(probes, q)
				}
			}
			for _, pr := range probes {
				got := r.do(t, "admin", strings.ToUpper(method), path+"?"+pr.query, nil)
				var e struct {
					Error, Field string
				}
				got.json(t, &e)
				if got.code != 400 || e.Field != pr.field {
					t.Errorf("%s %s?%s: %d %s, want 400 naming %q", method, path, pr.query, got.code, got.body, pr.field)
				}
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d probes: the OpenAPI document lists too few query parameters", checked)
	}
}
