#!/usr/bin/env bash
# The pg2dolt demo: starts a throwaway PostgreSQL, loads the demo data
# (demo/postgres.sql) and copies it with `pg2dolt copy --target dolt:DIR`
# into a Dolt directory (pg2dolt runs its own dolt sql-server there, the
# Dolt pinned in scripts/dolt-version, built once when Go is there), then
# shows `dolt log -n 1` and a count. Where Dolt cannot be had it copies
# into a throwaway MariaDB instead. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

stop_servers_on_exit

install_missing_packages
cargo build --release --locked --quiet
start_postgres
if ensure_dolt; then
    target="dolt:$SERVERS_DIR/dolt-demo"
else
    log "no dolt and no Go to build it: using MariaDB as the target (no Dolt commit)"
    start_mariadb
    target=$PG2DOLT_TEST_MYSQL_URL
fi

source_url="${PG2DOLT_TEST_PG_URL%/postgres}/demo"
psql -q "$PG2DOLT_TEST_PG_URL" -c "CREATE DATABASE demo"
psql -q -v ON_ERROR_STOP=1 "$source_url" -f demo/postgres.sql
log "demo data loaded into $source_url"

report="$SERVERS_DIR/report.json"
./target/release/pg2dolt copy --source "$source_url" --target "$target" --report "$report"
log "JSON report: $(wc -c <"$report") bytes (removed with the servers)"
if [ "${target#dolt:}" != "$target" ]; then
    log "the Dolt database in ${target#dolt:}/demo:"
    (cd "${target#dolt:}/demo" && dolt log -n 1 && dolt sql -q "SELECT COUNT(*) AS users FROM users")
fi
