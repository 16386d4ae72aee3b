# apt_install_missing WHAT PKG...: installs with apt-get only those Debian packages that
# are not installed yet, quietly; the package lists are updated once, and only when the
# packages cannot be found as they are. WHAT names them in messages.

apt_missing() {
  local pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      echo "$pkg"
    fi
  done
}

apt_install_missing() {
  local what=$1
  shift
  local missing
  missing=$(apt_missing "$@")
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "test: missing $what ($(echo $missing)) and no apt-get to install them" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" != 0 ] && sudo="sudo"
  echo "test: installing $what with apt-get: $(echo $missing)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  if ! apt-cache show $missing >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null || return 1
  fi
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null || return 1
  missing=$(apt_missing "$@")
  if [ -n "$missing" ]; then
    echo "test: still missing after apt-get: $(echo $missing)" >&2
    return 1
  fi
}
