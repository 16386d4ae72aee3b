# Reference LP solvers used by the optimizer tests and benchmarks: glpsol
# (glpk-utils) and cbc/Clp (coinor-cbc). Source this file, then call
# solvers_install; it installs with apt-get only what is missing, quietly.

solvers_missing() {
  local pkg
  for pkg in glpk-utils coinor-cbc; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      echo "$pkg"
    fi
  done
}

solvers_install() {
  local missing
  missing=$(solvers_missing)
  [ -z "$missing" ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "test: missing LP solvers ($(echo $missing)) and no apt-get to install them" >&2
    return 1
  fi
  local sudo=""
  [ "$(id -u)" != 0 ] && sudo="sudo"
  echo "test: installing LP solvers with apt-get: $(echo $missing)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists once, only when the packages cannot be found as is.
  # shellcheck disable=SC2086
  if ! apt-cache show $missing >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null || return 1
  fi
  # shellcheck disable=SC2086
  $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null || return 1
  missing=$(solvers_missing)
  if [ -n "$missing" ]; then
    echo "test: still missing after apt-get: $(echo $missing)" >&2
    return 1
  fi
}
