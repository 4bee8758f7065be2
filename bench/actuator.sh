#!/usr/bin/env bash
# Benchmark: dr-actuator webhook intake (wrk) and switch latency, in the
# local test world of tests/integration/actuator_env.py (two health sites,
# real sshd hosts, the fake Linode API).
# Prints figures and compares them with the targets (printed, not asserted).
# Exits non-zero only if something is broken: a notification lost or acted
# on twice, a daemon that dies, a switch that does not complete.
#
#   bench/actuator.sh [--connections 8,32,128] [--duration 10] [--threads 2]
#                     [--rounds 20] [--only intake|switch]
#
# The dr-actuator binary is taken from $DRF_BUILD_DIR (else <repo>/build):
#   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build dr-actuator
# wrk is installed with apt when missing (root is needed anyway: the sshd
# hosts run in their own mount namespaces).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
build="${DRF_BUILD_DIR:-$repo/build}"
actuator="$build/actuator/dr-actuator"

if [[ ! -x "$actuator" ]]; then
  echo "dr-actuator not found at $actuator" >&2
  echo "build it: cmake -S \"$repo\" -B \"$build\" -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C \"$build\" dr-actuator" >&2
  exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "run as root: the test sshd hosts need their own mount namespaces" >&2
  exit 2
fi
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing: wrk" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >&2 ||
    { apt-get update >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk >&2; }
fi
export PATH="$PATH:/usr/sbin:/sbin"
export DRF_BUILD_DIR="$build"

work="$(mktemp -d "${TMPDIR:-/tmp}/drf-abench.XXXXXX")"
pidfile="$work/pids"
: >"$pidfile"
pypid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$pypid" ]] && kill -0 "$pypid" 2>/dev/null; then
    kill -TERM "$pypid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pypid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pypid" 2>/dev/null || true
  fi
  # Fallback: the driver lists the pids of the processes it started
  # (dr-actuator, sshd); normally it has stopped them itself already.
  local pid
  while read -r pid; do
    [[ -n "$pid" ]] || continue
    kill -TERM "$pid" 2>/dev/null || true
  done <"$pidfile"
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# In the background + wait, so that a signal to this shell runs the trap now.
/usr/bin/python3 "$here/actuator_bench.py" --workdir "$work" --pidfile "$pidfile" "$@" &
pypid=$!
set +e
wait "$pypid"
rc=$?
set -e
pypid=""
exit "$rc"
