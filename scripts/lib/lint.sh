# golangci-lint, installed from the Go module proxy at a pinned version (built with the
# local Go toolchain, so it understands the go.mod's Go version). lint_check runs it with
# .golangci.yml over the whole module and fails on any finding.
GOLANGCI_LINT_VERSION=v2.15.0

lint_install() {
  local bin
  bin="$(go env GOPATH)/bin/golangci-lint"
  if [ ! -x "$bin" ] || ! "$bin" version 2>/dev/null | grep -q "version ${GOLANGCI_LINT_VERSION#v} "; then
    echo "test: installing golangci-lint $GOLANGCI_LINT_VERSION (a few minutes the first time)" >&2
    go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION" || return 1
  fi
}

lint_check() {
  lint_install || return 1
  "$(go env GOPATH)/bin/golangci-lint" run ./...
}
