# Modbus peers written by others, used by the fieldbus interop tests: a pymodbus
# server (python3-pymodbus) and the mbpoll client. Source this file, then call
# peers_install; it installs with apt-get only what is missing.

peers_missing() {
  local pkg
  for pkg in python3-pymodbus python3-serial python3-serial-asyncio mbpoll; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      echo "$pkg"
    fi
  done
}

peers_install() {
  local missing
  missing=$(peers_missing)
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "test: missing Modbus peers ($(echo $missing)) and no apt-get to install them" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" != 0 ] && sudo="sudo"
  echo "test: installing Modbus peers with apt-get: $(echo $missing)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists once, only when the packages cannot be found as is.
  # shellcheck disable=SC2086
  if ! apt-cache show $missing >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null || return 1
  fi
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null || return 1
  missing=$(peers_missing)
  if [ -n "$missing" ]; then
    echo "test: still missing after apt-get: $(echo $missing)" >&2
    return 1
  fi
}
