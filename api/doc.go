// Package api owns gridd's HTTP interface: the JSON API under /api/v1 (described by the
// OpenAPI 3 document at /api/v1/openapi.json), /healthz, Prometheus /metrics and the web
// console embedded in the binary (api/console). It reads through storage.Store and acts
// through Dispatcher, an interface it owns made of role-sized parts (Scheduler,
// SafetyControl, AlarmDesk, RealTime, ...) that *dispatch.Service implements; besides login sessions and setpoint acknowledgements it
// holds no state of its own.
//
// Authentication: an API token (Authorization: Bearer, created with `gridd user add
// --token`) or a console login (POST /api/v1/login, bcrypt-hashed passwords, an
// HttpOnly SameSite=Strict session cookie; login attempts are counted before the
// password check, per client address and per account name without letting others lock
// the owner out). Accounts live in users.json in the data directory, re-read while
// running when it changes (revoked tokens and deleted accounts stop at once); logout
// ends the session or revokes the bearer token. Every
// route names the roles it admits (admin, dispatcher, operator, planner, viewer); an
// operator sees only its own chargers (by device owner or an explicit list). Requests
// that change state with a session cookie must carry a JSON body. Every decision is
// audited with the authenticated user as actor.
//
// Errors are JSON: {"error": "...", "field": "..."} with 400 for a bad payload (field
// names it), 401 without valid credentials, 403 for a role that may not use the route,
// 404 for an unknown id, 409 for a state conflict (approving a schedule that is no
// longer proposed or whose deadline passed) and 429 for too many failed logins.
//
// Every route needs a caller: there is no unauthenticated mode. The one exception is a
// separate server: NewDistrictServer, the district console of `gridd coordinate
// --listen` (a read-only page and GET /api/v1/district from a DistrictCoordinator, the
// site console's styles, strings and hardening headers), meant for loopback or a
// management network (docs/DISTRICT.md).
//
// Hardening: request bodies are strict JSON (one value, no unknown fields, keys matched
// exactly and given once, no trailing data); query parameters and ranges are checked
// and named in a 400 of at most MaxBodyBytes (413 beyond); every response carries a
// Content-Security-Policy and the other browser hardening headers, API replies are
// Cache-Control: no-store, and HSTS is sent under TLS. The operator event stream sets a
// deadline per write (StreamWriteTimeout), so the HTTP server's WriteTimeout can stay
// short for every other route. GET /api/v1/schedules/{id} shows the config and profile
// hashes the schedule was made with (dispatch.ConfigHashes). docs/SECURITY.md maps each
// control to its test.
package api
