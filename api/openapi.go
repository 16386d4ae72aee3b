package api

import (
	"net/http"
	"regexp"
	"strings"
)

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// OpenAPI returns the OpenAPI 3 document of the routes the server serves.
func (s *Server) OpenAPI() map[string]any {
	errSchema := map[string]any{"$ref": "#/components/schemas/Error"}
	resp := func(desc string) map[string]any {
		return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errSchema}}}
	}
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"summary":     rt.summary,
			"operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(rt.path),
			"responses": map[string]any{
				"200": map[string]any{"description": "OK"},
				"400": resp("invalid request; field names the bad field"),
			},
		}
		var params []any
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.body != nil {
			op["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": rt.body}}}
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
			rs := op["responses"].(map[string]any)
			rs["401"] = resp("not authenticated")
			rs["403"] = resp("the caller's role may not use this route")
		}
		if strings.Contains(rt.path, "{id}") {
			op["responses"].(map[string]any)["404"] = resp("no such record")
		}
		if strings.HasSuffix(rt.path, "/approve") || strings.HasSuffix(rt.path, "/reject") {
			op["responses"].(map[string]any)["409"] = resp("the schedule is no longer proposed, or its approval deadline passed")
		}
		if rt.path == "/api/v1/login" {
			op["responses"].(map[string]any)["429"] = resp("too many failed logins; see Retry-After")
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
				"Error": map[string]any{"type": "object", "required": []string{"error"}, "properties": map[string]any{
					"error": map[string]any{"type": "string"}, "field": map[string]any{"type": "string", "description": "the request field that is wrong"},
				}},
			},
		},
	}
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
