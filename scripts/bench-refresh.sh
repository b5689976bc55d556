#!/usr/bin/env bash
# The nightly refresh measured: delta nights (1% of the accounts changed,
# 500 deleted, 500 inserted) and a night without a change against a full
# copy, `pg2dolt verify`, and how the Dolt store grows night after night
# once garbage-collected. Usage: scripts/bench-refresh.sh [SCALE] [NIGHTS]
# [PATTERN] (defaults: 20, 3, spread; PATTERN: spread — every 100th
# account, so nearly every chunk of the table holds a changed row, the worst
# case for the store — or clustered — 1% of the accounts in one key range,
# as recent rows change in most applications)
#
# Starts a throwaway PostgreSQL, creates a pgbench database (`pgbench -i -s
# SCALE`), and uses the pinned Dolt through `--target dolt:DIR` (pg2dolt runs
# its own sql-server over DIR), so the store is a directory to measure:
#   - a full copy into a fresh database (the time a night took before
#     refresh);
#   - refresh night 1 (the database does not exist: a copy), `dolt gc`, the
#     store's size;
#   - NIGHTS nights, each after 1% of pgbench_accounts' rows changed
#     (abalance updated), each timed, then `dolt gc` and the store's size;
#   - one night after a tiny change (10 accounts updated, 1 deleted, 1
#     inserted);
#   - a migration night: a schema file adds a column to pgbench_branches
#     (SCALE rows), the source gains it too;
#   - one night without a change (no commit).
# Prints seconds, rows changed (from the report) and store sizes. Numbers,
# not pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

scale=${1:-20}
nights=${2:-3}
pattern=${3:-spread}
case "$pattern" in spread | clustered) ;; *) echo "PATTERN must be spread or clustered, not $pattern" >&2; exit 2 ;; esac
stop_servers_on_exit
install_missing_packages
binary=${PG2DOLT_BENCH_BINARY:-./target/release/pg2dolt}
[ -n "${PG2DOLT_BENCH_BINARY:-}" ] || cargo build --release --locked --quiet
ensure_dolt || die "no dolt on PATH and no Go to build it"
start_postgres
create_pgbench_database "$scale"
source_url=$BENCH_SOURCE_URL
rows=$(psql -qAt "$source_url" -c "SELECT (SELECT count(*) FROM pgbench_accounts) + (SELECT count(*) FROM pgbench_branches) + (SELECT count(*) FROM pgbench_tellers)")

now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.2f", end - start }'; }
store() { du -sb "$1" | awk '{ printf "%.1f", $1 / 1048576 }'; }
gc() { (cd "$1" && dolt gc >/dev/null 2>&1) || die "dolt gc failed in $1"; }
if [ ! -x /usr/bin/time ]; then
    [ "$(id -u)" -eq 0 ] || die "missing /usr/bin/time: apt-get install time"
    apt-get install -y -qq --no-install-recommends time >&2
fi
run() { # run NAME COMMAND FLAGS...: prints seconds; peak memory in $SERVERS_DIR/NAME.rss
    local name=$1; shift
    local start; start=$(now)
    /usr/bin/time -f "%M" -o "$SERVERS_DIR/$name.rss" \
        "$binary" "$@" -q --source "$source_url" --schema-dir "$schema_dir" \
        --report "$SERVERS_DIR/report-$name.json" >/dev/null 2>"$SERVERS_DIR/$name.log" \
        || { cat "$SERVERS_DIR/$name.log" >&2; die "pg2dolt $1 ($name) failed"; }
    since "$start"
}
rss() { awk '{ printf "%.0f", $1 / 1024 }' "$SERVERS_DIR/$1.rss"; }
changed() { # rows changed in a refresh's report
    python3 -c 'import json, sys
report = json.load(open(sys.argv[1]))
print(sum(c["rows_added"] + c["rows_deleted"] + c["rows_modified"] for c in report.get("changes") or []))' "$1"
}

# The schema files, copied: the migration night adds one.
schema_dir="$SERVERS_DIR/schema"
mkdir -p "$schema_dir"
cp benches/pgbench-schema/*.sql "$schema_dir/"
copies="$SERVERS_DIR/copies"
nightly="$SERVERS_DIR/nightly"
mkdir -p "$copies" "$nightly"

log "full copy"
copy_seconds=$(run copy copy --target "dolt:$copies" --database bench)
log "refresh night 1 (a copy)"
first_seconds=$(run night1 refresh --target "dolt:$nightly" --database bench)
gc "$nightly/bench"
sizes=("$(store "$nightly/bench/.dolt")")
times=()
changes=()
per_night=$(psql -qAt "$source_url" -c "SELECT count(*) / 100 FROM pgbench_accounts")
for night in $(seq 2 $((nights + 1))); do
    # 1% of the accounts, a different 1% each night.
    if [ "$pattern" = spread ]; then
        where="aid % 100 = $night"
    else
        where="aid > $((night * per_night)) AND aid <= $(((night + 1) * per_night))"
    fi
    psql -q "$source_url" -c "UPDATE pgbench_accounts SET abalance = abalance + $night WHERE $where" \
        -c "DELETE FROM pgbench_accounts WHERE aid IN (SELECT aid FROM pgbench_accounts WHERE aid % 100 = 50 + $night ORDER BY aid LIMIT 500 OFFSET $((night * 500)))" \
        -c "INSERT INTO pgbench_accounts SELECT max_aid + g, 1, 0, '' FROM (SELECT max(aid) AS max_aid FROM pgbench_accounts) m, generate_series(1, 500) g"
    log "refresh night $night (1% of the accounts changed, $pattern: $per_night rows; 500 deleted, 500 inserted)"
    times+=("$(run "night$night" refresh --target "dolt:$nightly" --database bench)")
    changes+=("$(changed "$SERVERS_DIR/report-night$night.json")")
    gc "$nightly/bench"
    sizes+=("$(store "$nightly/bench/.dolt")")
done
# A tiny night: 10 accounts updated, 1 deleted, 1 inserted.
psql -q "$source_url" -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid IN (SELECT aid FROM pgbench_accounts ORDER BY aid LIMIT 10 OFFSET 1000)" \
    -c "DELETE FROM pgbench_accounts WHERE aid = (SELECT aid FROM pgbench_accounts ORDER BY aid LIMIT 1 OFFSET 5000)" \
    -c "INSERT INTO pgbench_accounts SELECT max(aid) + 1, 1, 0, '' FROM pgbench_accounts"
log "refresh night after a tiny change (10 accounts updated, 1 deleted, 1 inserted)"
tiny_seconds=$(run tiny refresh --target "dolt:$nightly" --database bench)
tiny_changes=$(changed "$SERVERS_DIR/report-tiny.json")
# A migration night: one small table gains a column on both sides.
psql -q "$source_url" -c "ALTER TABLE pgbench_branches ADD COLUMN region varchar(20) DEFAULT 'north'"
echo "ALTER TABLE pgbench_branches ADD COLUMN region VARCHAR(20) DEFAULT 'north';" >"$schema_dir/020_branch_region.sql"
log "refresh night with a schema file adding a column to pgbench_branches"
migration_seconds=$(run migration refresh --target "dolt:$nightly" --database bench)
migration_full=$(python3 -c 'import json, sys
report = json.load(open(sys.argv[1]))
print(", ".join(t["target"] for t in report["tables"] if t.get("method") == "full") or "none")' "$SERVERS_DIR/report-migration.json")
log "refresh without a change"
unchanged_seconds=$(run unchanged refresh --target "dolt:$nightly" --database bench)
log "verify"
verify_seconds=$(run verify verify --target "dolt:$nightly" --database bench)
outcome=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["refresh"]["outcome"])' "$SERVERS_DIR/report-unchanged.json")
gc "$nightly/bench"
unchanged_size=$(store "$nightly/bench/.dolt")

share() { awk -v part="$1" -v whole="$copy_seconds" 'BEGIN { printf "%.1f%%", part * 100 / whole }'; }
printf '\npg2dolt refresh benchmark: pgbench scale %d, %d rows, changes %s; Dolt %s; %d CPUs\n\n' \
    "$scale" "$rows" "$pattern" "$(dolt version | awk '/dolt version/ {print $3}')" "$(nproc)"
printf '%-52s %9s %8s %13s %12s %16s\n' "run" "seconds" "of copy" "rows changed" "peak RSS" "store after gc"
printf '%-52s %9s %8s %13s %9s MB %16s\n' "full copy (fresh database)" "$copy_seconds" "100%" "-" "$(rss copy)" "-"
printf '%-52s %9s %8s %13s %9s MB %13s MB\n' "refresh night 1 (a copy)" "$first_seconds" "$(share "$first_seconds")" \
    "$rows" "$(rss night1)" "${sizes[0]}"
for index in "${!times[@]}"; do
    printf '%-52s %9s %8s %13s %9s MB %13s MB\n' "refresh night $((index + 2)) (1% changed, 500 -, 500 +)" \
        "${times[$index]}" "$(share "${times[$index]}")" "${changes[$index]}" "$(rss "night$((index + 2))")" \
        "${sizes[$((index + 1))]}"
done
printf '%-52s %9s %8s %13s %9s MB %16s\n' "refresh night after a tiny change (10 ~, 1 -, 1 +)" "$tiny_seconds" \
    "$(share "$tiny_seconds")" "$tiny_changes" "$(rss tiny)" "-"
printf '%-52s %9s %8s %13s %9s MB %16s\n' "migration night (a column on pgbench_branches)" "$migration_seconds" \
    "$(share "$migration_seconds")" "-" "$(rss migration)" "-"
printf '  reloaded in full that night: %s\n' "$migration_full"
printf '%-52s %9s %8s %13s %9s MB %13s MB\n' "refresh without a change ($outcome)" "$unchanged_seconds" \
    "$(share "$unchanged_seconds")" 0 "$(rss unchanged)" "$unchanged_size"
printf '%-52s %9s %8s %13s %9s MB %16s\n' "verify (every row compared)" "$verify_seconds" \
    "$(share "$verify_seconds")" "-" "$(rss verify)" "-"
awk -v first="${sizes[0]}" -v last="${sizes[${#sizes[@]}-1]}" -v nights="$nights" -v copy="$copy_seconds" \
    -v refresh="$(printf '%s\n' "${times[@]}" | awk '{ sum += $1 } END { print sum / NR }')" 'BEGIN {
    printf "\ndelta night (1%% changed) / full copy = %.3f; store growth per night after gc: %.2f MB\n",
        refresh / copy, (last - first) / nights
}'
