// Manifest parsing and resolution of 10,000 artifacts (a large monorepo's
// dependency set): what the host spends before the first request.
#include <benchmark/benchmark.h>

#include <string>

#include "config/manifest.h"

namespace {

std::string big_manifest(int n) {
    std::string m = R"({"version":1,"cache_dir":"cache","cache_path":"{name}/{sha}.zip",
      "sources":[{"name":"s","url":"https://cache.example.com/{triplet}/{name}/{sha}.zip"}],
      "options":{"concurrency":8},"artifacts":[)";
    for (int i = 0; i < n; ++i) {
        if (i) m += ",";
        char sha[65];
        for (int k = 0; k < 64; ++k) sha[k] = "0123456789abcdef"[(i * 7 + k * 13) % 16];
        sha[64] = 0;
        m += R"({"name":"pkg)" + std::to_string(i) + R"(","version":"1.)" + std::to_string(i % 50) +
             R"(","triplet":"x64-linux","sha":")" + sha + R"(","size":)" + std::to_string(16384 + i) +
             R"(,"sha256":")" + sha + R"("})";
    }
    return m + "]}";
}

void BM_ManifestParseAndResolve(benchmark::State &state) {
    const std::string text = big_manifest(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto m = blobfetch::config::parse_manifest(text, "bench.json");
        if (!m) state.SkipWithError(m.message().c_str());
        auto blobs = blobfetch::config::resolve_manifest(*m);
        if (!blobs) state.SkipWithError(blobs.message().c_str());
        benchmark::DoNotOptimize(blobs);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * state.range(0)));
}
BENCHMARK(BM_ManifestParseAndResolve)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
