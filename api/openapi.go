package api

import (
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3 document of the routes the server serves. Request and
// response schemas are derived from the handlers' Go types (schema.go); every error
// answer is an Error.
func (s *Server) OpenAPI() map[string]any {
	errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	errResp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errSchema}}}
	}
	paths := map[string]any{}
	for _, rt := range s.routes {
		code, ct := rt.code, rt.contentType
		if code == 0 {
			code = http.StatusOK
		}
		if ct == "" {
			ct = "application/json"
		}
		ok := map[string]any{"description": http.StatusText(code)}
		if rt.resp != nil {
			ok["content"] = map[string]any{ct: map[string]any{"schema": responseSchema(reflect.TypeOf(rt.resp))}}
		}
		responses := map[string]any{
			strconv.Itoa(code): ok,
			"default":          errResp("an error; field names the request field that is wrong"),
		}
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(rt.path),
			"responses":   responses,
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			sch := map[string]any{"type": q.typ}
			if q.format != "" {
				sch["format"] = q.format
			}
			params = append(params, map[string]any{"name": q.name, "in": "query", "required": false, "schema": sch})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != nil || rt.method != http.MethodGet {
			responses["400"] = errResp("invalid request; field names the bad field")
			responses["413"] = errResp("request body larger than MaxBodyBytes")
		} else if len(rt.query) > 0 || strings.Contains(rt.path, "{") {
			responses["400"] = errResp("invalid parameter; field names it")
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": !rt.optionalBody, "content": map[string]any{"application/json": map[string]any{"schema": requestSchema(reflect.TypeOf(rt.body))}}}
		}
		if rt.roles == nil {
			op["security"] = []any{}
		} else {
			roles := make([]string, len(rt.roles))
			for i, r := range rt.roles {
				roles[i] = string(r)
			}
			op["x-roles"] = roles
			op["description"] = "Roles: " + strings.Join(roles, ", ") + "."
			responses["401"] = errResp("not authenticated")
			responses["403"] = errResp("the caller's role may not use this route")
		}
		if strings.Contains(rt.path, "{") {
			responses["404"] = errResp("no such record")
		}
		if strings.HasSuffix(rt.path, "/approve") || strings.HasSuffix(rt.path, "/reject") {
			responses["409"] = errResp("the schedule is no longer proposed, or its approval deadline passed")
		}
		if rt.path == "/api/v1/login" {
			responses["429"] = errResp("too many failed logins; see Retry-After")
		}
		item, _ := paths[rt.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "gridd API",
			"version":     "1",
			"description": "Microgrid dispatch: sites, devices, telemetry, forecasts, schedules and their approval, safety envelope, charging operators, audit. Power in kW, positive when drawn from the site bus.",
		},
		"paths":    paths,
		"security": []any{map[string]any{"bearerAuth": []any{}}, map[string]any{"cookieAuth": []any{}}},
		"components": map[string]any{
			"securitySchemes": map[string]any{
				"bearerAuth": map[string]any{"type": "http", "scheme": "bearer", "description": "API token (gridd user add --token)"},
				"cookieAuth": map[string]any{"type": "apiKey", "in": "cookie", "name": SessionCookie, "description": "console session from POST /api/v1/login"},
			},
			"schemas": map[string]any{
				"Error": responseSchema(reflect.TypeFor[apiError]()),
			},
		},
	}
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
