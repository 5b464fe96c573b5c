#!/usr/bin/env bash
# Long fuzzing runs with libFuzzer (clang). Crashes are written to
# tests/fuzz/corpus/<target>/ so the normal test suite replays them from then on.
#   bash tests/fuzz/run.sh [SECONDS_PER_TARGET]      (default 300)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
command -v clang++ >/dev/null || { echo "needs clang: apt-get install clang libclang-rt-14-dev"; exit 2; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DBLOBFETCH_FUZZ=ON -DBLOBFETCH_BUILD_TESTS=OFF -DBLOBFETCH_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j2 --target blobfetch-fuzz
for target in $(ls tests/fuzz/corpus); do
  mkdir -p "build-fuzz/corpus-$target"
  "build-fuzz/bin/blobfetch-fuzz-$target" -max_total_time="$seconds" -artifact_prefix="tests/fuzz/corpus/$target/crash-" \
    "build-fuzz/corpus-$target" "tests/fuzz/corpus/$target"
done
