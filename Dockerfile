# syntax=docker/dockerfile:1
# First draft: a build stage and a small non-root runtime stage.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY schema ./schema
RUN cargo build --release --locked && strip target/release/pg2dolt

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home pg2dolt
COPY --from=build /src/target/release/pg2dolt /usr/local/bin/pg2dolt
USER 10001
ENTRYPOINT ["/usr/local/bin/pg2dolt"]
CMD ["copy"]
