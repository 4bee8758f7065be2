#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (clang 14, ASan+UBSan) in build-fuzz
# and runs each for a while with a fresh corpus seeded from tests/testdata
# (and fuzz/seeds for inputs tests/testdata has none of):
#   scripts/fuzz.sh [seconds per target]     (default 10)
# Prints per target its executions, executions per second and whether it
# crashed; exits non-zero on any crash, keeping the input that crashed under
# build-fuzz/crashes/ (replay it: build-fuzz/fuzz/<target>_fuzz FILE).
# The other libraries come from scripts/setup.sh.
#
# Environment:
#   DRF_FUZZ_TARGETS  the targets to run (default: all), e.g. "journal config"
#   DRF_FUZZ_RUNS     also stop each target after this many executions (0:
#                     only run the seeds, the regression inputs among them:
#                     deterministic, what CI does)
#   DRF_FUZZ_JOBS     parallel compile jobs (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
build_dir=build-fuzz
jobs=${DRF_FUZZ_JOBS:-$(nproc)}
all_targets=(alertmanager_webhook alertmanager_pull config linode dynamodb
             journal snapshot env_file duration)
read -r -a targets <<<"${DRF_FUZZ_TARGETS:-${all_targets[*]}}"

# clang 14 and its runtime (libFuzzer, the sanitizers), as setup.sh installs
# the other packages.
# shellcheck source=scripts/apt.sh
. scripts/apt.sh
apt_install_missing fuzz clang-14 libclang-rt-14-dev

echo "== fuzz: building ${#targets[@]} targets in $build_dir"
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDRF_FUZZ=ON -DBUILD_TESTING=OFF \
  >/dev/null
ninja -C "$build_dir" -j "$jobs" "${targets[@]/%/_fuzz}" | grep -v '^\[' || true
for t in "${targets[@]}"; do
  [ -x "$build_dir/fuzz/${t}_fuzz" ] || { echo "fuzz: ${t}_fuzz not built"; exit 1; }
done

# Seeds, copied into a fresh corpus per run (libFuzzer adds what it finds).
seed() {
  local t=$1 dir=$2 f
  case $t in
    alertmanager_webhook)
      cp tests/testdata/alertmanager/{firing,resolved}.json "$dir" ;;
    alertmanager_pull) cp tests/testdata/alertmanager/api_v2_*.json "$dir" ;;
    config) cp tests/testdata/config/*.yml "$dir" ;;
    journal)
      for f in tests/testdata/journal/*/*.jsonl; do
        cp "$f" "$dir/$(basename "$(dirname "$f")")-$(basename "$f")"
      done ;;
    dynamodb)
      # The first byte picks the parser (fuzz/dynamodb_fuzz.cc).
      for f in tests/testdata/dynamodb/*.json; do
        local sel='\x02'
        case $(basename "$f") in
          describe_table_*) sel='\x00' ;;
          get_item_*) sel='\x01' ;;
        esac
        { printf "$sel"; cat "$f"; } >"$dir/$(basename "$f")"
      done ;;
    duration)
      for f in 0s 500ms 5s 10m 1h30m 2d 1w 1y2w3d4h5m6s7ms 292y; do
        printf '%s' "$f" >"$dir/$f"
      done ;;
  esac
  # Inputs that once crashed a target, kept as regression seeds.
  if [ -d fuzz/seeds/"$t" ]; then cp fuzz/seeds/"$t"/* "$dir"; fi
}

dict_of() {
  case $1 in
    config) echo fuzz/yaml.dict ;;
    env_file) echo fuzz/env.dict ;;
    duration) echo "" ;;
    *) echo fuzz/json.dict ;;
  esac
}

rm -rf "$build_dir/corpus" "$build_dir/logs"
mkdir -p "$build_dir/corpus" "$build_dir/logs" "$build_dir/crashes"
limit="${seconds}s"
[ -z "${DRF_FUZZ_RUNS:-}" ] || limit="$limit or $DRF_FUZZ_RUNS runs"
echo "== fuzz: each target for $limit"
printf '%-22s %12s %10s  %s\n' target executions exec/s result
crashed=0
for t in "${targets[@]}"; do
  corpus="$build_dir/corpus/$t"
  log="$build_dir/logs/$t.log"
  mkdir -p "$corpus"
  seed "$t" "$corpus"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10
        -rss_limit_mb=2048 -max_len=65536
        -artifact_prefix="$build_dir/crashes/$t-")
  [ -z "${DRF_FUZZ_RUNS:-}" ] || args+=(-runs="$DRF_FUZZ_RUNS")
  dict=$(dict_of "$t")
  [ -z "$dict" ] || args+=(-dict="$dict")
  rc=0
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build_dir/fuzz/${t}_fuzz" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    crashed=1
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    result="CRASH (exit $rc): ${artifact:-see $log}"
  fi
  printf '%-22s %12s %10s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$result"
  if [ "$rc" -ne 0 ]; then
    grep -m1 -E 'ERROR: |runtime error|property failed|deadly signal' "$log" |
      sed 's/^/    /' || true
  fi
done
if [ "$crashed" -ne 0 ]; then
  echo "fuzz: crashes found; inputs under $build_dir/crashes/, logs under $build_dir/logs/"
  exit 1
fi
echo "fuzz: no crash"
