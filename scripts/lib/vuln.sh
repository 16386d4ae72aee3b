# govulncheck, installed from the Go module proxy at a pinned version.
# vuln_check fails on any known vulnerability in code gridd calls. Where the
# Go vulnerability database cannot be reached from this machine, it says so loudly and does not fail: the check then has to run on a
# machine with that access (see docs/SECURITY.md).
GOVULNCHECK_VERSION=v1.1.4

vuln_check() {
  local bin
  bin="$(go env GOPATH)/bin/govulncheck"
  if [ ! -x "$bin" ] || ! "$bin" -version 2>/dev/null | grep -q "$GOVULNCHECK_VERSION"; then
    go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION" || return 1
  fi
  local out rc=0
  out=$("$bin" ./... 2>&1) || rc=$?
  if [ $rc -ne 0 ] && grep -q "fetching vulnerabilities" <<<"$out"; then
    echo "test: WARNING govulncheck could not reach the vulnerability database; vulnerability scan NOT done here:" >&2
    echo "test:   $(grep -m1 'fetching vulnerabilities' <<<"$out")" >&2
    return 0
  fi
  echo "$out" | tail -20 >&2
  return $rc
}
