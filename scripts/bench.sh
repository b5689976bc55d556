#!/usr/bin/env bash
# pg2dolt's benchmark: how close a copy gets to the slower of its two
# servers. Usage: scripts/bench.sh [SCALE] [JOBS]   (defaults: 10, CPUs)
#
# Starts a throwaway PostgreSQL and MariaDB (as scripts/test.sh does),
# creates a pgbench database of the given scale (`pgbench -i -s SCALE`),
# then measures in one run:
#   (a) Postgres export alone: COPY ... TO STDOUT of every table into /dev/null;
#   (b) target ingest alone: LOAD DATA LOCAL INFILE of the same rows,
#       pre-converted (pgbench's types print the same in both formats),
#       with the stock mariadb client;
#   (c) pg2dolt copy end to end (with --jobs JOBS, and with --jobs 1);
# and prints seconds, rows/s and MB/s for each, c / max(a, b), and
# pg2dolt's peak resident memory. Numbers, not pass/fail: nothing here
# fails because the machine was slow.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

scale=${1:-10}
jobs=${2:-$(nproc)}
stop_servers_on_exit
install_missing_packages
if [ ! -x /usr/bin/time ]; then
    [ "$(id -u)" -eq 0 ] || die "missing /usr/bin/time: apt-get install time"
    apt-get install -y -qq --no-install-recommends time >&2
fi
# PG2DOLT_BENCH_BINARY: another build to measure (e.g. an older commit's).
binary=${PG2DOLT_BENCH_BINARY:-./target/release/pg2dolt}
[ -n "${PG2DOLT_BENCH_BINARY:-}" ] || cargo build --release --locked --quiet
start_postgres
start_mariadb

pgbench_bin=$PG_BIN/pgbench
[ -x "$pgbench_bin" ] || pgbench_bin=$(command -v pgbench) || die "pgbench not found"
base="${PG2DOLT_TEST_PG_URL%/postgres}"
source_url="$base/bench"
psql -q "$PG2DOLT_TEST_PG_URL" -c "CREATE DATABASE bench"
log "pgbench -i -s $scale"
"$pgbench_bin" -i -s "$scale" -q "$source_url" >"$SERVERS_DIR/pgbench.log" 2>&1 \
    || { cat "$SERVERS_DIR/pgbench.log" >&2; die "pgbench failed"; }
psql -q "$source_url" -c "VACUUM ANALYZE"
tables=$(psql -qAt "$source_url" -c "SELECT relname FROM pg_class WHERE relname LIKE 'pgbench_%' AND relkind = 'r' ORDER BY 1")
rows=$(psql -qAt "$source_url" -c "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_branches) + (SELECT count(*) FROM pgbench_tellers) + (SELECT count(*) FROM pgbench_history)")

now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.3f", end - start }'; }
mysql_client() { mariadb --no-defaults --local-infile=1 -h127.0.0.1 -P"$MY_PORT" -uroot "$@"; }

# The pre-converted rows for (b), written before anything is timed.
data="$SERVERS_DIR/data"
mkdir -p "$data"
for table in $tables; do
    psql -qAt "$source_url" -c "COPY $table TO STDOUT" >"$data/$table.tsv"
done
bytes=$(cat "$data"/*.tsv | wc -c)

log "(a) Postgres export"
start=$(now)
for table in $tables; do
    psql -qAt "$source_url" -c "COPY $table TO STDOUT" >/dev/null
done
export_seconds=$(since "$start")

log "(b) target ingest"
mysql_client -e "CREATE DATABASE bench_ingest"
mysql_client bench_ingest <benches/pgbench-schema/010_tables.sql
start=$(now)
for table in $tables; do
    mysql_client bench_ingest -e "SET FOREIGN_KEY_CHECKS = 0; LOAD DATA LOCAL INFILE '$data/$table.tsv' INTO TABLE $table CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n'"
done
ingest_seconds=$(since "$start")

# (c) pg2dolt, timed by /usr/bin/time (elapsed seconds, peak RSS in KiB).
copy() { # copy JOBS DATABASE
    /usr/bin/time -f "%e %M" -o "$SERVERS_DIR/time-$1" "$binary" copy -q \
        --source "$source_url" --target "$PG2DOLT_TEST_MYSQL_URL" --database "$2" \
        --schema-dir benches/pgbench-schema --jobs "$1" --report "$SERVERS_DIR/report-$1.json" \
        >/dev/null 2>"$SERVERS_DIR/copy-$1.log" || { cat "$SERVERS_DIR/copy-$1.log" >&2; die "pg2dolt copy failed"; }
    cat "$SERVERS_DIR/time-$1"
}
log "(c) pg2dolt copy --jobs $jobs"
# Not `read < <(copy …)`: a failed copy must stop the script.
copy "$jobs" bench_copy >"$SERVERS_DIR/copy-jobs"
read -r copy_seconds copy_kib <"$SERVERS_DIR/copy-jobs"
log "(c) pg2dolt copy --jobs 1"
copy 1 bench_copy_single >"$SERVERS_DIR/copy-single"
read -r single_seconds single_kib <"$SERVERS_DIR/copy-single"

versions="PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') → MariaDB $(mysql_client -N -e 'SELECT VERSION()')"
awk -v scale="$scale" -v rows="$rows" -v bytes="$bytes" -v jobs="$jobs" -v cpus="$(nproc)" -v versions="$versions" \
    -v a="$export_seconds" -v b="$ingest_seconds" -v c="$copy_seconds" -v c1="$single_seconds" \
    -v kib="$copy_kib" -v kib1="$single_kib" '
function line(name, seconds) {
    printf "%-42s %9.2f %12.0f %9.1f\n", name, seconds, rows / seconds, bytes / 1048576 / seconds
}
BEGIN {
    printf "\npg2dolt benchmark: pgbench scale %d, %d rows, %.1f MB of COPY text; %s; %d CPUs\n\n", scale, rows, bytes / 1048576, versions, cpus
    printf "%-42s %9s %12s %9s\n", "step", "seconds", "rows/s", "MB/s"
    line("(a) Postgres export (COPY TO /dev/null)", a)
    line("(b) target ingest (LOAD DATA, stock client)", b)
    line(sprintf("(c) pg2dolt copy --jobs %d", jobs), c)
    line("    pg2dolt copy --jobs 1", c1)
    slower = (a > b) ? a : b
    printf "\nc / max(a, b) = %.2f    (--jobs 1: %.2f)\n", c / slower, c1 / slower
    printf "pg2dolt peak resident memory: %.1f MB (--jobs %d), %.1f MB (--jobs 1)\n", kib / 1024, jobs, kib1 / 1024
}'
