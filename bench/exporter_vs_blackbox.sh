#!/usr/bin/env bash
# Benchmark: dr-exporter vs prometheus-blackbox-exporter probing the same
# local nginx health endpoints (N = 2 and N = 200 sites by default).
# Prints CPU per 1,000 probes, peak RSS and dr-exporter /metrics latency, and
# compares them with the targets (printed, not asserted). Exits non-zero only
# if something is broken (a daemon fails to start or dies, probes fail).
#
#   bench/exporter_vs_blackbox.sh [--duration 30] [--sites 2,200]
#                                 [--warmup 3] [--scrape-duration 10]
#                                 [--wrk-connections 4]
#
# The dr-exporter binary is taken from $DRF_BUILD_DIR (else <repo>/build):
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build dr-exporter
# Missing nginx / wrk / blackbox_exporter are installed with apt when root.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
build="${DRF_BUILD_DIR:-$repo/build}"
exporter="$build/exporter/dr-exporter"

if [[ ! -x "$exporter" ]]; then
  echo "dr-exporter not found at $exporter" >&2
  echo "build it: cmake -S \"$repo\" -B \"$build\" -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C \"$build\" dr-exporter" >&2
  exit 2
fi

need=()
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || need+=(prometheus-blackbox-exporter)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing: ${need[*]}; install them (apt-get install prometheus-blackbox-exporter nginx wrk)" >&2
    exit 2
  fi
  echo "installing: ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2 ||
    { apt-get update >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}" >&2; }
fi
export PATH="$PATH:/usr/sbin:/sbin"

work="$(mktemp -d "${TMPDIR:-/tmp}/drf-bench.XXXXXX")"
pidfile="$work/pids"
: >"$pidfile"
pypid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$pypid" ]] && kill -0 "$pypid" 2>/dev/null; then
    kill -TERM "$pypid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pypid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pypid" 2>/dev/null || true
  fi
  # Each daemon was started in its own process group (pgid == its pid).
  local pg
  while read -r pg; do
    [[ -n "$pg" ]] || continue
    kill -TERM -- "-$pg" 2>/dev/null || true
  done <"$pidfile"
  sleep 0.2
  while read -r pg; do
    [[ -n "$pg" ]] || continue
    kill -KILL -- "-$pg" 2>/dev/null || true
  done <"$pidfile"
  if [[ $rc -ne 0 && -n "${DRF_BENCH_KEEP:-}" ]]; then
    echo "logs kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background + wait, so that a signal to this shell runs the trap now.
/usr/bin/python3 "$here/exporter_vs_blackbox.py" \
  --exporter "$exporter" --workdir "$work" --pidfile "$pidfile" "$@" &
pypid=$!
set +e
wait "$pypid"
rc=$?
set -e
pypid=""
exit "$rc"
