# Throwaway PostgreSQL for tests. Source this file, then call pg_start; it exports
# GRIDD_TEST_PG_DSN (the server), GRIDD_TEST_PG_DATA (its data directory) and
# GRIDD_TEST_PG_BIN (the server's bin directory, for tests that run their own cluster)
# and registers pg_stop on exit.

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

pg_install() {
  if ! pg_bindir >/dev/null; then
    echo "test: installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
  fi
  pg_bindir >/dev/null || { echo "test: no PostgreSQL server binaries found" >&2; return 1; }
}

pg_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null \
    || echo $(( 20000 + RANDOM % 20000 ))
}

pg_as() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  pg_install || return 1
  local bin; bin=$(pg_bindir)
  PG_TMP=$(mktemp -d /tmp/gridd-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_TMP"
  PG_PORT=$(pg_free_port)
  pg_as "$bin/initdb" -D "$PG_TMP/data" -U postgres --auth=trust -E UTF8 >"$PG_TMP/initdb.log" 2>&1 \
    || { cat "$PG_TMP/initdb.log" >&2; return 1; }
  pg_as "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w \
    -o "-p $PG_PORT -k $PG_TMP -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
    || { cat "$PG_TMP/server.log" >&2; return 1; }
  PG_BIN=$bin
  trap pg_stop EXIT
  export GRIDD_TEST_PG_DSN="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  export GRIDD_TEST_PG_DATA="$PG_TMP/data" GRIDD_TEST_PG_BIN="$bin"
  echo "test: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT" >&2
}

pg_stop() {
  [ -n "${PG_TMP:-}" ] || return 0
  pg_as "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_TMP"
  PG_TMP=
}
