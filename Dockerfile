# Multi-stage build of the three inmemory binaries: inmemory-server (the data
# server), inmemory-proxy (the sharding proxy) and inmemory-cli (the client).
#
#   docker build -t inmemory .
#   docker run --rm -p 127.0.0.1:6379:6379 inmemory            # one data server
#   docker run --rm -it --network host inmemory inmemory-cli -p 6379
#
# The default command listens on 0.0.0.0:6379 with its data in the /data volume.
# Protected mode is on (the server's default): with no password, only clients on
# the container's loopback are served. Give it --requirepass, or --set
# protected-mode=no on a network you trust (docker-compose.yml does, and says why).

# --- build stage: the Rust toolchain and the whole workspace --------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace (the manifests name benches and tests, so they come too);
# .dockerignore keeps out target/, data and certificates.
COPY . .
RUN cargo build --release --locked -p inmemory -p inmemory-proxy --bins \
    && mkdir -p /out \
    && cp target/release/inmemory-server target/release/inmemory-proxy target/release/inmemory-cli /out/

# --- runtime stage: the binaries on a slim Debian, run as an unprivileged user ---
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 inmemory \
    && useradd --system --uid 10001 --gid inmemory --home-dir /data --shell /usr/sbin/nologin inmemory \
    && mkdir -p /data \
    && chown inmemory:inmemory /data
COPY --from=build /out/ /usr/local/bin/
USER inmemory
WORKDIR /data
VOLUME /data
EXPOSE 6379
# With --requirepass, also set INMEMORY_CLI_AUTH in the container's environment
# so that the health check can log in.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["inmemory-cli", "-p", "6379", "ping"]
CMD ["inmemory-server", "--bind", "0.0.0.0", "--port", "6379", "--dir", "/data"]
