# Headless Chromium for the console end-to-end tests (api/console_*e2e_test.go). Source
# this file, then call browser_install; it installs Debian's chromium package (and a
# Chinese font, fonts-wqy-microhei, so the zh-CN screenshots are legible) with apt-get
# only if they are missing, and exports GRIDD_CHROMIUM.

browser_path() {
  local p
  for p in "${GRIDD_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    [ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return 0; }
  done
  return 1
}

browser_cjk_font() {
  command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh 2>/dev/null | head -1)" ]
}

browser_install() {
  if ! browser_path >/dev/null || ! browser_cjk_font; then
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
    $sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null || return 1
  fi
  GRIDD_CHROMIUM=$(browser_path) || { echo "test: chromium still not found" >&2; return 1; }
  export GRIDD_CHROMIUM
  browser_axe_install || return 1
  # Screenshots of the console test land here (CI keeps the directory as an artifact).
  export GRIDD_ARTIFACTS="${GRIDD_ARTIFACTS:-$PWD/artifacts}"
}

# axe-core, the accessibility engine the console tests inject into Chromium
# (api/console_roles_e2e_test.go), from npm at a pinned version, cached; exports GRIDD_AXE
# with the path of axe.min.js.
AXE_VERSION=4.14.1

browser_axe_install() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/gridd/axe-core-$AXE_VERSION"
  if [ ! -f "$dir/node_modules/axe-core/axe.min.js" ]; then
    command -v npm >/dev/null || { echo "test: npm not installed (apt-get install npm) for axe-core" >&2; return 1; }
    mkdir -p "$dir" && (cd "$dir" && echo '{"private": true}' > package.json &&
      npm install --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION" >npm.log 2>&1) || {
      echo "test: npm install axe-core@$AXE_VERSION failed:" >&2; tail -n 20 "$dir/npm.log" >&2; return 1
    }
  fi
  export GRIDD_AXE="$dir/node_modules/axe-core/axe.min.js"
}
