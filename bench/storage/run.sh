#!/usr/bin/env bash
# Storage benchmark: ingest (gridd writer vs psql \copy) and console query latency.
# Starts a throwaway PostgreSQL like scripts/test. Usage:
#   bench/storage/run.sh [-ingest-rows N] [-query-rows N] [-batch N] [-rounds N] [-queries N]
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/pg.sh
pg_start
go run ./bench/storage -dsn "$GRIDD_TEST_PG_DSN" -psql "$GRIDD_TEST_PG_BIN/psql" "$@"
