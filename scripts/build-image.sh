#!/usr/bin/env bash
# Builds the Dockerfile, unchanged, into an image in the container engine's
# local store. Usage: scripts/build-image.sh [TAG]   (default: pg2dolt:dev)
#
# The engine is docker where `docker info` answers, else podman (installed
# with apt-get when missing, as root, with runc and mmdebstrap). Where the
# base images the Dockerfile names cannot be pulled (no image registry is
# reachable), they are made first and tagged with those names:
#   debian:bookworm-slim            mmdebstrap --variant=minbase bookworm
#   rust:RUST_VERSION-slim-bookworm the same with gcc and libc6-dev, and
#                                   this machine's Rust toolchain (its
#                                   version must be RUST_VERSION)
#   golang:GO_VERSION-bookworm      the same with gcc and g++, this
#                                   machine's Go, and its module and build
#                                   caches (a dolt built here before is
#                                   then linked, not compiled again)
# podman reads CONTAINERS_CONF and CONTAINERS_STORAGE_CONF when they are set;
# when they are not, it gets what this kind of machine needs from files of
# its own (runc, no ulimits it may not set, the overlay storage driver, or
# vfs where overlay does not work), under PG2DOLT_TOOLS_DIR — nothing under
# /etc is written.
#
# Prints the engine (and, for podman, the two files) on the last lines, as
# `KEY=VALUE`, so the tests can run the image the same way.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-pg2dolt:dev}
tools="${PG2DOLT_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pg2dolt-tools}"
log() { printf '[image] %s\n' "$*" >&2; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }

apt_install() {
    [ "$(id -u)" -eq 0 ] || die "missing $*: sudo apt-get install -y $*"
    log "installing $* with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "$@" >&2 \
        || { apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "$@" >&2; } \
        || die "installing $* failed"
}

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    engine=docker
else
    engine=podman
    missing=()
    command -v podman >/dev/null 2>&1 || missing+=(podman)
    command -v runc >/dev/null 2>&1 || missing+=(runc)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}" uidmap
    podman_dir="$tools/podman"
    mkdir -p "$podman_dir"
    if [ -z "${CONTAINERS_CONF:-}" ]; then
        # crun refuses this machine's hybrid cgroups; setting RLIMIT_NOFILE
        # is refused here.
        export CONTAINERS_CONF="$podman_dir/containers.conf"
        cat >"$CONTAINERS_CONF" <<CONF
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    fi
    if [ -z "${CONTAINERS_STORAGE_CONF:-}" ]; then
        # overlay where the kernel gives it (layers shared: a few GB), else
        # vfs, which always works but copies every layer whole (tens of GB
        # for this build).
        export CONTAINERS_STORAGE_CONF="$podman_dir/storage.conf"
        for driver in overlay vfs; do
            cat >"$CONTAINERS_STORAGE_CONF" <<CONF
[storage]
driver = "$driver"
runroot = "$podman_dir/run-$driver"
graphroot = "$podman_dir/storage-$driver"
CONF
            podman info >/dev/null 2>&1 && break
            log "the $driver storage driver does not work here"
        done
    fi
fi

# The names and versions the Dockerfile uses.
arg() { sed -n "s/^ARG $1=//p" Dockerfile | head -n 1; }
rust_version=$(arg RUST_VERSION)
go_version=$(arg GO_VERSION)
[ -n "$rust_version" ] && [ -n "$go_version" ] || die "Dockerfile: ARG RUST_VERSION and GO_VERSION not found"
rust_image="rust:${rust_version}-slim-bookworm"
go_image="golang:${go_version}-bookworm"
debian_image="debian:bookworm-slim"

have_image() { "$engine" image inspect "docker.io/library/$1" >/dev/null 2>&1 || "$engine" image inspect "$1" >/dev/null 2>&1; }

# A Debian bookworm root filesystem with PACKAGES (comma-separated), each
# HOOK a mmdebstrap --customize-hook, imported as NAME with the ENV lines.
make_image() { # make_image NAME PACKAGES ENV HOOK...
    local name=$1 packages=$2 environment=$3; shift 3
    local work tarball
    command -v mmdebstrap >/dev/null 2>&1 || apt_install mmdebstrap
    work=$(mktemp -d)
    tarball="$work/rootfs.tar"
    local hooks=() hook
    for hook in "$@"; do hooks+=(--customize-hook="$hook"); done
    log "making $name from Debian's packages (mmdebstrap)"
    # What Debian's slim images leave out (debuerreotype's slimify), kept
    # out of packages installed later too: documentation and translations.
    local slim=() path
    for path in doc groff info linda lintian locale man; do
        slim+=(--dpkgopt="path-exclude=/usr/share/$path/*")
    done
    slim+=(--dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-include=/usr/share/locale/locale.alias')
    # /usr merged by mmdebstrap's hook, as Debian's images are (not by the
    # usrmerge package, which brings perl); apt cleans its downloads after
    # every install, as in Debian's images (their docker-clean).
    local merged=/usr/share/mmdebstrap/hooks/merged-usr
    [ -d "$merged" ] || die "$merged not found (mmdebstrap too old?)"
    mmdebstrap --quiet --variant=minbase --include="$packages" "${slim[@]}" \
        --hook-dir="$merged" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
        --customize-hook='printf "%s\n" "DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "APT::Update::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true\"; };" "Dir::Cache::pkgcache \"\"; Dir::Cache::srcpkgcache \"\";" > "$1"/etc/apt/apt.conf.d/docker-clean' \
        "${hooks[@]}" bookworm "$tarball" >&2 || die "mmdebstrap for $name failed"
    local changes=(--change 'CMD ["bash"]')
    local line
    while IFS= read -r line; do
        [ -n "$line" ] && changes+=(--change "ENV $line")
    done <<<"$environment"
    "$engine" import "${changes[@]}" "$tarball" "docker.io/library/$name" >/dev/null \
        || die "importing $name failed"
    rm -rf "$work"
}

# Pulls NAME, or makes it when no registry serves it.
base_image() { # base_image NAME MAKER
    local name=$1 maker=$2
    have_image "$name" && return 0
    if timeout 60 "$engine" pull -q "docker.io/library/$name" >/dev/null 2>&1; then
        return 0
    fi
    log "$name cannot be pulled"
    "$maker"
}

make_debian() {
    make_image "$debian_image" "passwd" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

# The certificate authorities this machine trusts beyond Debian's (a
# proxy's, say): the build stages fetch crates and modules through the same
# network. The runtime image gets none of them.
local_authorities() {
    local certificate hooks=()
    for certificate in /usr/local/share/ca-certificates/*.crt; do
        [ -e "$certificate" ] || continue
        hooks+=("copy-in $certificate /usr/local/share/ca-certificates")
    done
    if [ ${#hooks[@]} -gt 0 ]; then
        hooks+=('chroot "$1" update-ca-certificates --fresh >/dev/null')
    fi
    printf '%s\n' "${hooks[@]}"
}

make_rust() {
    command -v rustc >/dev/null 2>&1 || die "no rustc here to make $rust_image from"
    local sysroot version
    sysroot=$(rustc --print sysroot)
    version=$(rustc --version | awk '{print $2}')
    case "$version" in
        "$rust_version" | "$rust_version".*) ;;
        *) die "this machine's rustc is $version; the Dockerfile's RUST_VERSION is $rust_version" ;;
    esac
    make_image "$rust_image" "ca-certificates,gcc,libc6-dev" \
        "PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CARGO_HOME=/usr/local/cargo
RUST_VERSION=$version" \
        'mkdir -p "$1"/usr/local/rust "$1"/usr/local/cargo' \
        "copy-in $sysroot/bin $sysroot/lib /usr/local/rust" \
        "${authorities[@]}"
}

make_go() {
    command -v go >/dev/null 2>&1 || die "no go here to make $go_image from"
    local goroot modcache gocache
    goroot=$(go env GOROOT)
    modcache=$(go env GOMODCACHE)
    gocache=$(go env GOCACHE)
    local hooks=('mkdir -p "$1"/usr/local "$1"/root/go/pkg "$1"/root/.cache' "copy-in $goroot /usr/local")
    # The container builds as root with GOPATH /root/go: the same paths as
    # here when this machine's are the defaults, so the caches apply.
    if [ -d "$modcache" ] && [ "$modcache" = /root/go/pkg/mod ]; then hooks+=("copy-in $modcache /root/go/pkg"); fi
    if [ -d "$gocache" ] && [ "$gocache" = /root/.cache/go-build ]; then hooks+=("copy-in $gocache /root/.cache"); fi
    make_image "$go_image" "ca-certificates,gcc,g++,libc6-dev" \
        "PATH=/root/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
GOLANG_VERSION=$(go env GOVERSION)" \
        "${hooks[@]}" "${authorities[@]}"
}

authorities=()
while IFS= read -r hook; do
    [ -n "$hook" ] && authorities+=("$hook")
done < <(local_authorities)
base_image "$debian_image" make_debian
base_image "$rust_image" make_rust
base_image "$go_image" make_go

started=$(date +%s)
log "building $tag with $engine"
if [ "$engine" = docker ]; then
    docker build -t "$tag" . >&2
else
    podman build --pull=never --network host -t "$tag" . >&2
fi
log "built $tag in $(( $(date +%s) - started )) s"
echo "ENGINE=$engine"
if [ "$engine" = podman ]; then
    echo "CONTAINERS_CONF=$CONTAINERS_CONF"
    echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
fi
