# syntax=docker/dockerfile:1
# pg2dolt's image: the pg2dolt binary (entrypoint) and the dolt CLI, on
# Debian slim, as a non-root user.
#
#   docker build -t pg2dolt .
# dolt is built from its Go module at the version in scripts/dolt-version.

ARG RUST_VERSION=1.95
ARG GO_VERSION=1.26

# --- build: dependencies in a layer of their own, then the source ---------
FROM rust:${RUST_VERSION}-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Stub targets let `cargo build` compile every dependency before the source
# is copied: this layer is rebuilt only when Cargo.toml or Cargo.lock change.
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/convert.rs \
    && cargo build --release --locked --bin pg2dolt \
    && rm -rf src benches
COPY src ./src
COPY schema ./schema
COPY benches ./benches
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin pg2dolt \
    && strip target/release/pg2dolt

# --- dolt: built from its Go module at the version pinned in
# scripts/dolt-version, as the tests and the demo build it (no release
# archive whose digest could not be checked where the image is built),
# without its symbol table and debug information (-s -w: 165 MB → ~110 MB) --
FROM golang:${GO_VERSION}-bookworm AS dolt
# Dolt's regex engine uses ICU through cgo.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libicu-dev \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/dolt-version /tmp/dolt-version
RUN version="$(sed -n 's/^DOLT_MODULE_VERSION=//p' /tmp/dolt-version)" \
    && CGO_ENABLED=1 GOBIN=/usr/local/bin go install -ldflags="-s -w" "github.com/dolthub/dolt/go/cmd/dolt@${version}"

# --- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: TLS to managed Postgres and Hosted Dolt; libicu72: dolt's
# regex engine. Debian's
# package versions are not pinned: a point release replaces them, and a pin
# would break every build after it (see .hadolint.yaml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libicu72 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /home/pg2dolt --create-home pg2dolt
COPY --from=build /src/target/release/pg2dolt /usr/local/bin/pg2dolt
COPY --from=dolt /usr/local/bin/dolt /usr/local/bin/dolt
USER 10001:10001
WORKDIR /home/pg2dolt
ENTRYPOINT ["/usr/local/bin/pg2dolt"]
