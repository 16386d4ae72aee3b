# Headless Chromium for the console end-to-end test (api/console_e2e_test.go). Source
# this file, then call browser_install; it installs Debian's chromium package with
# apt-get only if no browser is found, and exports GRIDD_CHROMIUM.

browser_path() {
  local p
  for p in "${GRIDD_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    [ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

browser_install() {
  if ! browser_path >/dev/null; then
    if ! command -v apt-get >/dev/null; then
      echo "test: no chromium and no apt-get to install it" >&2
      return 1
    fi
    local sudo=""
    [ "$(id -u)" != 0 ] && sudo="sudo"
    echo "test: installing chromium with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show chromium >/dev/null 2>&1; then
      $sudo apt-get update -qq >/dev/null || return 1
    fi
    $sudo apt-get install -y -qq chromium >/dev/null || return 1
  fi
  GRIDD_CHROMIUM=$(browser_path) || { echo "test: chromium still not found" >&2; return 1; }
  export GRIDD_CHROMIUM
  # Screenshots of the console test land here (CI keeps the directory as an artifact).
  export GRIDD_ARTIFACTS="${GRIDD_ARTIFACTS:-$PWD/artifacts}"
}
