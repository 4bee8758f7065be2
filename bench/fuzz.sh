#!/usr/bin/env bash
# The fuzz targets' long run (issue 10's benchmark): each target until it
# has made MAX_RUNS executions or SECONDS have passed, whichever first, with
# the per-target executions and executions per second (scripts/fuzz.sh does
# the build, the seeding and the printing):
#   bench/fuzz.sh [MAX_RUNS] [SECONDS] [TARGET...]
# Defaults: 10000000 executions, 600 s, every target (up to 90 minutes in
# all). Exits non-zero on any crash, the input kept under build-fuzz/crashes/.
# Shorter, to try it: bench/fuzz.sh 10000 5 duration
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
seconds=${2:-600}
shift $(($# > 2 ? 2 : $#))
[ $# -eq 0 ] || export DRF_FUZZ_TARGETS="$*"
start=$(date +%s)
DRF_FUZZ_RUNS=$runs scripts/fuzz.sh "$seconds"
echo "bench/fuzz: done in $(($(date +%s) - start)) s (build included)"
