#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite:
#   1. clang-format check of every C++ file;
#   2. a -Werror build and every test (unit, integration, fakes) with ctest;
#   3. the libFuzzer targets (fuzz/), built with clang and run over every
#      seed and regression input;
#   4. an AddressSanitizer + UndefinedBehaviorSanitizer build and the unit
#      and integration tests again under it.
# Prints ctest's summary for each pass; exits non-zero if anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

DRF_BUILD_DIR=build DRF_CMAKE_ARGS="-DDRF_WERROR=ON" scripts/setup.sh

echo "== clang-format"
files=$(git ls-files '*.cc' '*.h' '*.h.in' | grep -v '\.in$' || true)
if ! clang-format --dry-run --Werror $files; then
  echo "clang-format: the files above need formatting (clang-format -i)"
  exit 1
fi
echo "clang-format: $(echo "$files" | wc -w) files clean"

status=0
echo "== tests (build)"
ctest --test-dir build --output-on-failure -j "$jobs" || status=1

echo "== fuzz targets (clang, ASan+UBSan): every seed and regression input"
# The targets are built and every seed (tests/testdata, fuzz/seeds: inputs
# that once crashed a target) replayed: deterministic, so CI fails on a
# regression, never on a fresh random find. Exploring is scripts/fuzz.sh N
# and bench/fuzz.sh.
DRF_FUZZ_RUNS=0 scripts/fuzz.sh 1 || status=1

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
# Warnings are errors in the first build only: with the sanitizers GCC 12
# warns falsely inside libstdc++ (-Wrestrict, -Wmaybe-uninitialized).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DDRF_SANITIZE=ON >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs" -L 'unit|integration' \
  -E '^fakes\.' || status=1

exit $status
