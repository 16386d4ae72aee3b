// Package apitest is for tests: it checks HTTP exchanges with the gridd API against
// the API's own OpenAPI document with kin-openapi (openapi3filter). A response must
// match the schema of its route and status; a request the document calls invalid must
// be refused (4xx); a path under /api/ that the document lacks must be 404 or 405.
// Contract.Client wraps a client so every request it sends is checked, Contract.Serve
// checks a request served in-process, and Fetch reads the document from a running
// server (the gridd binary) to check its exchanges too.
package apitest
