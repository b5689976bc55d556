# syntax=docker/dockerfile:1
# pg2dolt's image: the pg2dolt binary (entrypoint) and the dolt CLI, on
# Debian slim, as a non-root user.
#
#   docker build -t pg2dolt .
#   docker build --build-arg DOLT_VERSION=… --build-arg DOLT_SHA256_AMD64=… -t pg2dolt .

ARG RUST_VERSION=1.95

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

# --- dolt: the release archive, pinned by version and checksum -------------
FROM debian:bookworm-slim AS dolt
ARG TARGETARCH=amd64
ARG DOLT_VERSION=2.3.5
# GitHub's release-asset SHA-256 digests of dolt-linux-{amd64,arm64}.tar.gz.
ARG DOLT_SHA256_AMD64=c49d4c3e004cf1581ba0d4a00c5023a26f84eb2ec15d5fe876eed36d5343f463
ARG DOLT_SHA256_ARM64=9ce70fc81e50139e97758ef7f4dc57e9583e4e5ef05ad75d7535c30caa161387
ADD https://github.com/dolthub/dolt/releases/download/v${DOLT_VERSION}/dolt-linux-${TARGETARCH}.tar.gz /tmp/dolt.tar.gz
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN case "${TARGETARCH}" in \
        amd64) expected="${DOLT_SHA256_AMD64}" ;; \
        arm64) expected="${DOLT_SHA256_ARM64}" ;; \
        *) echo "no dolt checksum for ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && echo "${expected}  /tmp/dolt.tar.gz" | sha256sum --check --strict - \
    && tar -xzf /tmp/dolt.tar.gz -C /tmp \
    && install -m 0755 "/tmp/dolt-linux-${TARGETARCH}/bin/dolt" /usr/local/bin/dolt

# --- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: TLS to managed Postgres and Hosted Dolt. Debian's
# package versions are not pinned: a point release replaces them, and a pin
# would break every build after it (see .hadolint.yaml).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /home/pg2dolt --create-home pg2dolt
COPY --from=build /src/target/release/pg2dolt /usr/local/bin/pg2dolt
COPY --from=dolt /usr/local/bin/dolt /usr/local/bin/dolt
USER 10001:10001
WORKDIR /home/pg2dolt
ENTRYPOINT ["/usr/local/bin/pg2dolt"]
