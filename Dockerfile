# Parley image: parleyd, the parley CLI and the upstream double (for the offline demo), built on
# Debian bookworm with the same packages scripts/lib.sh installs.
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-uv \
        libuv1-dev libhiredis-dev libjansson-dev libcurl4-openssl-dev libssl-dev zlib1g-dev \
        libcmocka-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN rm -rf build && cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    && cmake --build build -j"$(nproc)" --target parleyd parley fake_upstream

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libwebsockets17 libwebsockets-evlib-uv libuv1 libhiredis0.14 libjansson4 libcurl4 \
        libssl3 zlib1g ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /nonexistent parley
COPY --from=build /src/build/parleyd /src/build/parley /usr/local/bin/
COPY --from=build /src/build/tests/fakes/fake_upstream /usr/local/bin/
USER parley
ENV PARLEY_LISTEN=0.0.0.0:8080 PARLEY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fs http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/parleyd"]
