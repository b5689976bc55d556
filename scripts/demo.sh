#!/usr/bin/env bash
# The pg2dolt demo: starts a throwaway PostgreSQL and a throwaway target (a
# `dolt sql-server` of the pinned Dolt, built once when Go is there; MariaDB
# otherwise), loads the
# demo data (demo/postgres.sql), runs `pg2dolt copy` with the embedded demo
# schema, prints the summary, and stops and removes everything.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

stop_servers_on_exit

install_missing_packages
cargo build --release --locked --quiet
start_postgres
if ensure_dolt; then
    start_dolt
    target_url=$PG2DOLT_TEST_DOLT_URL
else
    log "no dolt and no Go to build it: using MariaDB as the target (no Dolt commit)"
    start_mariadb
    target_url=$PG2DOLT_TEST_MYSQL_URL
fi

source_url="${PG2DOLT_TEST_PG_URL%/postgres}/demo"
psql -q "$PG2DOLT_TEST_PG_URL" -c "CREATE DATABASE demo"
psql -q -v ON_ERROR_STOP=1 "$source_url" -f demo/postgres.sql
log "demo data loaded into $source_url"

report="$SERVERS_DIR/report.json"
./target/release/pg2dolt copy --source "$source_url" --target "$target_url" --report "$report"
log "JSON report: $(wc -c <"$report") bytes (removed with the servers)"
