#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, builds, and
# runs the whole suite twice: a normal build, then under ASan+UBSan; then the
# concurrency-heavy tests (unit, engine, abi) under TSan; then each fuzz target for
# a CI-sized run (clang, libFuzzer).
#   bash tests/run.sh            # everything
#   BLOBFETCH_SKIP_SANITIZERS=1 bash tests/run.sh   # normal build only
set -euo pipefail
cd "$(dirname "$0")/.."

bash .ci/deps.sh

jobs=2
run_suite() {  # name, build dir, ctest label regex ("" = all), cmake args...
  local name=$1 dir=$2 labels=$3
  shift 3
  echo "=== ${name}: configure + build (${dir})"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  if [ -n "$labels" ]; then
    cmake --build "$dir" -j "$jobs" --target blobfetch_unit_tests blobfetch_engine_tests blobfetch_abi_tests
    echo "=== ${name}: ctest -L '${labels}'"
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600 -L "$labels"
  else
    cmake --build "$dir" -j "$jobs" | tee "$dir/build.log"
    echo "=== ${name}: ctest"
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 600
  fi
}

# The normal suite is built as a packager builds: Release, default options
# (warnings are not errors there), and must not print a single warning.
run_suite "normal (Release, default options)" build "" -DCMAKE_BUILD_TYPE=Release
if grep -q "warning:" build/build.log; then
  echo "=== the Release build printed warnings:" >&2
  grep -B2 -A4 "warning:" build/build.log >&2
  exit 1
fi
# Warnings are errors in every other build.
strict=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLOBFETCH_WERROR=ON)
if [ "${BLOBFETCH_SKIP_SANITIZERS:-0}" != "1" ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite "asan+ubsan" build-asan "" "${strict[@]}" -DBLOBFETCH_ASAN=ON -DBLOBFETCH_BUILD_BENCH=OFF
  export TSAN_OPTIONS=halt_on_error=1
  run_suite "tsan" build-tsan "unit|engine|abi" "${strict[@]}" -DBLOBFETCH_TSAN=ON -DBLOBFETCH_BUILD_BENCH=OFF
  # libFuzzer (clang): every target for BLOBFETCH_FUZZ_SECONDS (20) over its
  # seed corpus. Long runs: bash tests/fuzz/run.sh [SECONDS].
  echo "=== fuzz: configure + build (build-fuzz, clang)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DBLOBFETCH_FUZZ=ON -DBLOBFETCH_BUILD_TESTS=OFF -DBLOBFETCH_BUILD_BENCH=OFF \
    -DBLOBFETCH_WERROR=ON -DBLOBFETCH_FUZZ_SECONDS="${BLOBFETCH_FUZZ_SECONDS:-20}" >/dev/null
  cmake --build build-fuzz -j "$jobs" --target blobfetch-fuzz
  echo "=== fuzz: ctest -L fuzz"
  ctest --test-dir build-fuzz --output-on-failure -L fuzz
fi
# Windows: the plugin DLL, blobfetch.exe and the unit tests cross-built with
# mingw-w64; the unit tests and an end-to-end run against nginx under Wine
# (.ci/windows.sh; 3 minutes from an empty build-win/ with libcurl cached,
# 40 s when nothing changed; building libcurl the first time adds about 2).
# BLOBFETCH_SKIP_WINDOWS=1 leaves it out.
if [ "${BLOBFETCH_SKIP_WINDOWS:-0}" != "1" ]; then
  echo "=== windows (mingw-w64 + Wine): .ci/windows.sh"
  bash .ci/windows.sh
fi
echo "=== all test suites passed"
