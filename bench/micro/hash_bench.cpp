// Hashing throughput: SHA-256 is the cost of verifying every blob.
#include <benchmark/benchmark.h>

#include <vector>

#include "hash/sha256.h"

static void BM_Sha256(benchmark::State &state) {
    std::vector<char> data(static_cast<std::size_t>(state.range(0)), 'x');
    blobfetch::Sha256 hash;
    for (auto _ : state) {
        hash.update(data.data(), data.size());
        benchmark::DoNotOptimize(hash);
    }
    benchmark::DoNotOptimize(hash.finish_hex());
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Range(4 << 10, 4 << 20);
