#!/usr/bin/env bash
# Memory with large values: pg2dolt's peak resident memory and time when
# rows hold documents. Usage: scripts/bench-large-values.sh [ROWS] [MB] [JOBS]
# (defaults: 24 rows of one 48 MB text each, --jobs CPUs), plus a second
# table of 150 rows holding a 2.5 MB bytea and a 2 MB text each.
#
# Starts a throwaway PostgreSQL and MariaDB (as scripts/test.sh does) unless
# PG2DOLT_TEST_PG_URL and PG2DOLT_TEST_MYSQL_URL name running servers, copies
# with the default settings, and prints seconds, MB/s and peak RSS, then
# checks that every value arrived (md5 on both sides). Numbers, not
# pass/fail: only a copy that fails or loses a value fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

rows=${1:-24}
megabytes=${2:-48}
jobs=${3:-$(nproc)}
stop_servers_on_exit
if [ -z "${PG2DOLT_TEST_PG_URL:-}" ] || [ -z "${PG2DOLT_TEST_MYSQL_URL:-}" ]; then
    install_missing_packages
    start_postgres
    start_mariadb
fi
if [ ! -x /usr/bin/time ]; then
    [ "$(id -u)" -eq 0 ] || die "missing /usr/bin/time: apt-get install time"
    apt-get install -y -qq --no-install-recommends time >&2
fi
# PG2DOLT_BENCH_BINARY: another build to measure (e.g. an older commit's).
binary=${PG2DOLT_BENCH_BINARY:-./target/release/pg2dolt}
[ -n "${PG2DOLT_BENCH_BINARY:-}" ] || cargo build --release --locked --quiet

database="bench_large_$$"
base="${PG2DOLT_TEST_PG_URL%/postgres}"
source_url="$base/$database"
mysql_host=${PG2DOLT_TEST_MYSQL_URL#mysql://}
mysql_user=${mysql_host%@*}
mysql_port=${mysql_host##*:}
mysql_client() { mariadb --no-defaults -h127.0.0.1 -P"$mysql_port" -u"$mysql_user" "$@"; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pg2dolt-bench.XXXXXX")
cleanup() {
    psql -q "$PG2DOLT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
    mysql_client -e "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
    rm -rf "$work"
    stop_servers
}
trap cleanup EXIT

psql -q "$PG2DOLT_TEST_PG_URL" -c "CREATE DATABASE $database"
log "source: $rows rows of $megabytes MB text, 150 rows of 2.5 MB bytea + 2 MB text"
# One md5 repeated per value: quick to make (TOAST compresses it on the
# source; COPY still sends every byte).
psql -q "$source_url" <<SQL
CREATE TABLE big_text (id int PRIMARY KEY, body text NOT NULL);
INSERT INTO big_text SELECT g, repeat(md5(g::text), $megabytes * 1024 * 1024 / 32)
    FROM generate_series(1, $rows) g;
CREATE TABLE mixed (id int PRIMARY KEY, data bytea NOT NULL, body text NOT NULL);
INSERT INTO mixed SELECT g, decode(repeat(md5((g * 7)::text), 2560 * 1024 / 16), 'hex'),
    repeat(md5((g * 11)::text), 2048 * 1024 / 32) FROM generate_series(1, 150) g;
VACUUM ANALYZE;
SQL
bytes=$(psql -qAt "$source_url" -c "SELECT (SELECT sum(octet_length(body)) FROM big_text) + (SELECT sum(octet_length(data) * 2 + octet_length(body)) FROM mixed)")

log "pg2dolt copy (default settings: --jobs $jobs)"
/usr/bin/time -f "%e %M" -o "$work/time" "$binary" copy -q \
    --source "$source_url" --target "$PG2DOLT_TEST_MYSQL_URL" --database "$database" \
    --schema-dir benches/large-values-schema --jobs "$jobs" --report "$work/report.json" \
    >/dev/null 2>"$work/copy.log" || { cat "$work/copy.log" >&2; die "pg2dolt copy failed"; }
read -r seconds kib <"$work/time"

source_sums=$(psql -qAt "$source_url" -c "SELECT md5(string_agg(md5(body), '' ORDER BY id)) FROM big_text; SELECT md5(string_agg(md5(data) || md5(body), '' ORDER BY id)) FROM mixed")
target_sums=$(mysql_client -N "$database" -e "SET SESSION group_concat_max_len = 1 << 30; SELECT md5(group_concat(md5(body) ORDER BY id SEPARATOR '')) FROM big_text; SELECT md5(group_concat(concat(md5(data), md5(body)) ORDER BY id SEPARATOR '')) FROM mixed")
[ "$source_sums" = "$target_sums" ] || die "values differ between source and target"

awk -v rows="$rows" -v mb="$megabytes" -v jobs="$jobs" -v bytes="$bytes" -v s="$seconds" -v kib="$kib" 'BEGIN {
    printf "\npg2dolt large values: %d rows of %d MB text + 150 rows of 4.5 MB, %.0f MB, --jobs %d\n", rows, mb, bytes / 1048576, jobs
    printf "seconds %.2f, %.1f MB/s, peak resident memory %.1f MB; every value equal (md5)\n", s, bytes / 1048576 / s, kib / 1024
}'
