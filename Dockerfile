# syntax=docker/dockerfile:1
#
# The sluice image: one binary, `sluice`, as the entrypoint.
#
#   docker build -t sluice:0.1.0 .
#   docker run --rm -p 8083:8083 -v sluice-data:/data sluice:0.1.0
#
# It runs as uid/gid 10001, needs no write access to its root filesystem, and keeps the
# embedded store (SQLite) under /data, which should be a volume. The Helm chart in helm/sluice
# mounts /data, /tmp and the config file, and sets the arguments.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The caches keep the crates.io index and the build between runs of `docker build`; the binary
# is copied out of the cached target directory because the cache is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin sluice \
 && install -m 0755 target/release/sluice /usr/local/bin/sluice

FROM debian:bookworm-slim
# ca-certificates: sluice calls AWS services over HTTPS and trusts the system's roots.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sluice \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin sluice \
 && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=build /usr/local/bin/sluice /usr/local/bin/sluice
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
ENV HOME=/data
# 8083: the API, /healthz, /readyz and /metrics of `sluice serve`.
# 9090: /metrics and /healthz of `sluice worker --metrics-listen 0.0.0.0:9090`.
EXPOSE 8083 9090
ENTRYPOINT ["sluice"]
CMD ["serve", "--listen", "0.0.0.0:8083", "--store", "sqlite:/data/sluice.db"]
