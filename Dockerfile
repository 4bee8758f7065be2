# syntax=docker/dockerfile:1
# dr-failover: both daemons in one image, installed from the project's own
# Debian package (so the runtime libraries are exactly the package's
# Depends). Build from the repository root:
#
#   docker build -t ghcr.io/dr-failover/dr-failover:0.1.0 \
#     --build-arg REVISION=$(git rev-parse --short=12 HEAD) .
#
# (the Helm chart's default image.repository; its tag is the chart's appVersion)
#
# No ENTRYPOINT: the command picks the daemon. The Helm chart sets
#   command: ["/usr/bin/dr-exporter"]  (or /usr/bin/dr-actuator)
#   args:    ["--config.file=/etc/dr-failover/config.yml", ...]
# and `docker run IMAGE` alone runs the exporter on the example config.

# ---------------------------------------------------------------- build
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
# The toolchain, and the libraries of SPEC.md §3 (scripts/setup.sh's list
# less the test-only gtest/gmock); `file` and dpkg-dev let cpack compute
# the package's Depends.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config file dpkg-dev \
      prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev rapidjson-dev \
      libssh-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev \
 && rm -rf /var/lib/apt/lists/*
ARG REVISION=unknown
WORKDIR /src
COPY CMakeLists.txt README.md ./
COPY core core
COPY exporter exporter
COPY actuator actuator
COPY examples examples
COPY packaging packaging
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DDRF_REVISION="${REVISION}" \
 && cmake --build /build \
 && cd /build && cpack -G DEB -B /out \
 && dpkg-deb -I /out/dr-failover_*.deb

# ---------------------------------------------------------------- runtime
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="dr-failover" \
      org.opencontainers.image.description="Prometheus-driven DNS failover between two sites: dr-exporter and dr-actuator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:12-slim"
# The service user first, with the fixed uid/gid 65532 the chart's
# securityContext runs as: the package's postinst finds it and keeps it, and
# gives its group read access to /etc/dr-failover.
RUN groupadd --system --gid 65532 dr-failover \
 && useradd --system --uid 65532 --gid 65532 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin dr-failover
COPY --from=build /out/dr-failover_*.deb /tmp/
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/dr-failover_*.deb \
 && rm -rf /var/lib/apt/lists/* /tmp/dr-failover_*.deb \
 && install -d -o 65532 -g 65532 -m 0700 /var/lib/dr-actuator \
 && /usr/bin/dr-exporter --version && /usr/bin/dr-actuator --version
USER 65532:65532
EXPOSE 9731 9732
CMD ["/usr/bin/dr-exporter", "--config.file=/etc/dr-failover/config.yml"]
