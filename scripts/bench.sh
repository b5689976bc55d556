#!/usr/bin/env bash
# pg2dolt's benchmark: how close a copy gets to the slower of its two
# servers. Usage: scripts/bench.sh [SCALE] [JOBS] [TARGET]
#   (defaults: 10, CPUs, mariadb; TARGET is mariadb or dolt)
#
# Starts a throwaway PostgreSQL and the target (MariaDB, or a dolt
# sql-server of the pinned Dolt with local_infile on), as scripts/test.sh
# does, creates a pgbench database of the given scale (`pgbench -i -s
# SCALE`), then measures in one run:
#   (a) Postgres export alone: COPY ... TO STDOUT of every table into /dev/null;
#   (b) target ingest alone: LOAD DATA LOCAL INFILE of the same rows,
#       pre-converted (pgbench's types print the same in both formats),
#       with the stock mariadb client, one stream;
#   (c) pg2dolt copy end to end (with --jobs JOBS, and with --jobs 1);
#   (d) the way DoltHub's copy tool did it, as near as runs here:
#       `pg_dump --data-only --rows-per-insert=1000` (pgbench's rows need
#       none of pg2mysql's rewriting beyond dropping Postgres' SET lines,
#       psql meta-commands and schema prefixes) through the stock client;
#   (e) pg2dolt copy --load-method insert (a server with local_infile off);
# and prints seconds, rows/s and MB/s for each, c / max(a, b), d / c and
# pg2dolt's peak resident memory. Numbers, not pass/fail: nothing here
# fails because the machine was slow.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

scale=${1:-10}
jobs=${2:-$(nproc)}
target_kind=${3:-mariadb}
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
case "$target_kind" in
    mariadb)
        start_mariadb
        target_url=$PG2DOLT_TEST_MYSQL_URL
        target_port=$MY_PORT
        ;;
    dolt)
        ensure_dolt || die "no dolt on PATH and no Go to build it"
        start_dolt
        target_url=$PG2DOLT_TEST_DOLT_URL
        target_port=$DOLT_PORT
        command -v mariadb >/dev/null 2>&1 || die "the mariadb client (for (b) and (d)) is missing"
        ;;
    *) die "TARGET must be mariadb or dolt, not $target_kind" ;;
esac

pg_dump_bin=$PG_BIN/pg_dump
[ -x "$pg_dump_bin" ] || pg_dump_bin=$(command -v pg_dump) || die "pg_dump not found"
create_pgbench_database "$scale"
source_url=$BENCH_SOURCE_URL
tables=$(psql -qAt "$source_url" -c "SELECT relname FROM pg_class WHERE relname LIKE 'pgbench_%' AND relkind = 'r' ORDER BY 1")
rows=$(psql -qAt "$source_url" -c "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_branches) + (SELECT count(*) FROM pgbench_tellers) + (SELECT count(*) FROM pgbench_history)")

now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.3f", end - start }'; }
mysql_client() { mariadb --no-defaults --local-infile=1 -h127.0.0.1 -P"$target_port" -uroot "$@"; }
fresh_database() { # fresh_database NAME: the pgbench tables, empty
    mysql_client -e "CREATE DATABASE $1"
    mysql_client "$1" <benches/pgbench-schema/010_tables.sql
}

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

log "(b) target ingest ($target_kind, stock client, one stream)"
fresh_database bench_ingest
start=$(now)
for table in $tables; do
    mysql_client bench_ingest -e "SET FOREIGN_KEY_CHECKS = 0; LOAD DATA LOCAL INFILE '$data/$table.tsv' INTO TABLE $table CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\n'"
done
ingest_seconds=$(since "$start")

log "(d) pg_dump --data-only --rows-per-insert=1000 through the stock client"
fresh_database bench_dump
start=$(now)
"$pg_dump_bin" --data-only --rows-per-insert=1000 --no-owner --no-privileges "$source_url" \
    | sed -e '/^SET /d' -e '/^SELECT pg_catalog/d' -e '/^\\/d' -e 's/^INSERT INTO public\./INSERT INTO /' \
    | mysql_client bench_dump
dump_seconds=$(since "$start")

# (c) pg2dolt, timed by /usr/bin/time (elapsed seconds, peak RSS in KiB).
copy() { # copy JOBS DATABASE [FLAGS...]
    local jobs=$1 database=$2; shift 2
    /usr/bin/time -f "%e %M" -o "$SERVERS_DIR/time-$database" "$binary" copy -q \
        --source "$source_url" --target "$target_url" --database "$database" \
        --schema-dir benches/pgbench-schema --jobs "$jobs" --report "$SERVERS_DIR/report-$database.json" "$@" \
        >/dev/null 2>"$SERVERS_DIR/copy-$database.log" || { cat "$SERVERS_DIR/copy-$database.log" >&2; die "pg2dolt copy failed"; }
    cat "$SERVERS_DIR/time-$database"
}
log "(c) pg2dolt copy --jobs $jobs"
# Not `read < <(copy …)`: a failed copy must stop the script.
copy "$jobs" bench_copy >"$SERVERS_DIR/copy-jobs"
read -r copy_seconds copy_kib <"$SERVERS_DIR/copy-jobs"
log "(c) pg2dolt copy --jobs 1"
copy 1 bench_copy_single >"$SERVERS_DIR/copy-single"
read -r single_seconds single_kib <"$SERVERS_DIR/copy-single"
log "(e) pg2dolt copy --jobs $jobs --load-method insert"
copy "$jobs" bench_copy_insert --load-method insert >"$SERVERS_DIR/copy-insert"
read -r insert_seconds _ <"$SERVERS_DIR/copy-insert"

versions="PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') → $(mysql_client -N -e 'SELECT VERSION()') ($target_kind)"
awk -v scale="$scale" -v rows="$rows" -v bytes="$bytes" -v jobs="$jobs" -v cpus="$(nproc)" -v versions="$versions" \
    -v a="$export_seconds" -v b="$ingest_seconds" -v c="$copy_seconds" -v c1="$single_seconds" \
    -v d="$dump_seconds" -v e="$insert_seconds" -v kib="$copy_kib" -v kib1="$single_kib" '
function line(name, seconds) {
    printf "%-50s %9.2f %12.0f %9.1f\n", name, seconds, rows / seconds, bytes / 1048576 / seconds
}
BEGIN {
    printf "\npg2dolt benchmark: pgbench scale %d, %d rows, %.1f MB of COPY text; %s; %d CPUs\n\n", scale, rows, bytes / 1048576, versions, cpus
    printf "%-50s %9s %12s %9s\n", "step", "seconds", "rows/s", "MB/s"
    line("(a) Postgres export (COPY TO /dev/null)", a)
    line("(b) target ingest (LOAD DATA, stock client)", b)
    line(sprintf("(c) pg2dolt copy --jobs %d", jobs), c)
    line("    pg2dolt copy --jobs 1", c1)
    line("(d) pg_dump --rows-per-insert=1000 | client", d)
    line(sprintf("(e) pg2dolt copy --jobs %d --load-method insert", jobs), e)
    slower = (a > b) ? a : b
    printf "\nc / max(a, b) = %.2f    (--jobs 1: %.2f)    d / c = %.2f    e / c = %.2f\n", c / slower, c1 / slower, d / c, e / c
    printf "pg2dolt peak resident memory: %.1f MB (--jobs %d), %.1f MB (--jobs 1)\n", kib / 1024, jobs, kib1 / 1024
}'
