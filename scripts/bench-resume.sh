#!/usr/bin/env bash
# A first night killed part-way, and its rerun: how much of the killed
# night's load the rerun keeps. Usage: scripts/bench-resume.sh [ROWS]
# [SHARE] (defaults: 300000 rows in each of six tables; killed at SHARE=60
# percent of a whole first night's time).
#
# Starts a throwaway PostgreSQL, makes six tables of ROWS rows (an integer
# key, a foreign key to the first, an enum, text), and uses the pinned Dolt
# through `--target dolt:DIR`:
#   - a whole first night into one directory (the reference);
#   - a first night into another directory, SIGKILLed at SHARE% of the
#     reference's seconds (a Job's pod lost), then a few rows changed;
#   - the rerun there (it keeps the tables the killed night had loaded and
#     catches them up by delta), timed, and `pg2dolt verify` of the result.
# Prints seconds and the rerun's share of a whole first night. Numbers, not
# pass/fail (verify must say equal).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

rows=${1:-300000}
share=${2:-60}
stop_servers_on_exit
install_missing_packages
binary=${PG2DOLT_BENCH_BINARY:-./target/release/pg2dolt}
[ -n "${PG2DOLT_BENCH_BINARY:-}" ] || cargo build --release --locked --quiet
ensure_dolt || die "no dolt on PATH and no Go to build it"
start_postgres
source_url="${PG2DOLT_TEST_PG_URL%/postgres}/resume"
psql -q "$PG2DOLT_TEST_PG_URL" -c "CREATE DATABASE resume"
log "six tables of $rows rows"
{
    echo "CREATE TYPE state AS ENUM ('new', 'paid', 'shipped');"
    echo "CREATE TABLE t1 (id bigint PRIMARY KEY, state state NOT NULL, note text NOT NULL);"
    echo "INSERT INTO t1 SELECT n, (ARRAY['new','paid','shipped'])[1 + n % 3]::state, md5(n::text) FROM generate_series(1, $rows) n;"
    for table in t2 t3 t4 t5 t6; do
        echo "CREATE TABLE $table (id bigint PRIMARY KEY, t1_id bigint NOT NULL REFERENCES t1 (id), state state NOT NULL, note text NOT NULL);"
        echo "INSERT INTO $table SELECT n, 1 + n % $rows, (ARRAY['new','paid','shipped'])[1 + n % 3]::state, md5(n::text) FROM generate_series(1, $rows) n;"
    done
    echo "VACUUM ANALYZE;"
} | psql -q "$source_url"
schema_dir="$SERVERS_DIR/schema"
mkdir -p "$schema_dir"
{
    echo "CREATE TABLE t1 (id BIGINT PRIMARY KEY, state ENUM('new','paid','shipped') NOT NULL, note VARCHAR(64) NOT NULL);"
    for table in t2 t3 t4 t5 t6; do
        echo "CREATE TABLE $table (id BIGINT PRIMARY KEY, t1_id BIGINT NOT NULL, state ENUM('new','paid','shipped') NOT NULL, note VARCHAR(64) NOT NULL, FOREIGN KEY (t1_id) REFERENCES t1 (id));"
    done
} >"$schema_dir/001_tables.sql"

now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.2f", end - start }'; }
refresh() { # refresh DIR NAME: the refresh command's words
    echo "$binary" refresh -q --source "$source_url" --target "dolt:$1" --database resume \
        --schema-dir "$schema_dir" --report "$SERVERS_DIR/report-$2.json"
}

whole_dir="$SERVERS_DIR/whole"
killed_dir="$SERVERS_DIR/killed"
mkdir -p "$whole_dir" "$killed_dir"
log "a whole first night"
start=$(now)
$(refresh "$whole_dir" whole) >/dev/null 2>"$SERVERS_DIR/whole.log" || { cat "$SERVERS_DIR/whole.log" >&2; die "the whole first night failed"; }
whole=$(since "$start")
kill_after=$(awk -v whole="$whole" -v share="$share" 'BEGIN { printf "%.2f", whole * share / 100 }')
log "a first night killed after $kill_after s ($share% of $whole s)"
$(refresh "$killed_dir" killed) >/dev/null 2>"$SERVERS_DIR/killed.log" &
pid=$!
sleep "$kill_after"
kill -KILL "$pid" 2>/dev/null || die "the first night ended before it was killed"
wait "$pid" 2>/dev/null || true
# The private Dolt server of the killed run (working in the directory):
# stopped the way a lost pod's is.
for server in $(pgrep -f "dolt sql-server" || true); do
    if [ "$(readlink "/proc/$server/cwd" 2>/dev/null)" = "$killed_dir" ]; then
        kill -KILL "$server" 2>/dev/null || true
    fi
done
sleep 1
psql -q "$source_url" -c "UPDATE t1 SET state = 'paid' WHERE id % 1000 = 1" -c "DELETE FROM t6 WHERE id % 5000 = 2"
log "the rerun"
start=$(now)
$(refresh "$killed_dir" rerun) >/dev/null 2>"$SERVERS_DIR/rerun.log" || { cat "$SERVERS_DIR/rerun.log" >&2; die "the rerun failed"; }
rerun=$(since "$start")
kept=$(python3 -c 'import json, sys
report = json.load(open(sys.argv[1]))
print(" ".join(t["target"] for t in report["tables"] if t.get("method") == "resumed") or "none")' "$SERVERS_DIR/report-rerun.json")
"$binary" verify -q --source "$source_url" --target "dolt:$killed_dir" --database resume \
    --schema-dir "$schema_dir" --report "$SERVERS_DIR/report-verify.json" >/dev/null 2>&1 \
    || die "verify found the rerun's database differs"

printf '\npg2dolt resume benchmark: six tables of %d rows; Dolt %s; %d CPUs\n\n' \
    "$rows" "$(dolt version | awk '/dolt version/ {print $3}')" "$(nproc)"
printf '%-52s %9s\n' "a whole first night (s)" "$whole"
printf '%-52s %9s\n' "the killed first night ran for (s)" "$kill_after"
printf '%-52s %9s\n' "its rerun (s)" "$rerun"
awk -v rerun="$rerun" -v whole="$whole" 'BEGIN { printf "rerun / whole first night = %.2f\n", rerun / whole }'
printf 'tables kept (resumed): %s; verify: equal\n' "$kept"
