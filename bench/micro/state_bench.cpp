// The resume bookkeeping: chunk bitmap, the .dlstate sidecar, CRC-32 of
// chunk bytes (computed on the transfer thread for every byte received).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <vector>

#include <unistd.h>

#include "download/partial_file.h"
#include "state/download_state.h"

namespace {

using namespace blobfetch;

// Marks every chunk in a scattered order, then lists the pending ones.
void BM_BitmapMarkAndPending(benchmark::State &state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    for (auto _ : state) {
        ChunkBitmap b(n);
        for (std::uint64_t i = 0; i < n; i += 2) b.set(i);
        benchmark::DoNotOptimize(b.pending());
        for (std::uint64_t i = 1; i < n; i += 2) b.set(i);
        benchmark::DoNotOptimize(b.complete_prefix());
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_BitmapMarkAndPending)->RangeMultiplier(10)->Range(1000, 1000000);

DownloadState half_done(std::uint64_t chunks) {
    DownloadState s(static_cast<std::int64_t>(chunks) * 65536, 65536, Digest32{}, Digest32{});
    for (std::uint64_t i = 0; i < chunks; ++i)
        if (i < chunks / 2 || i % 3 == 0) s.complete(i, static_cast<std::uint32_t>(i));
    s.identity = {"\"5f1-1a\"", "Wed, 21 Oct 2015 07:28:00 GMT"};
    return s;
}

void BM_SidecarEncodeDecode(benchmark::State &state) {
    const DownloadState s = half_done(static_cast<std::uint64_t>(state.range(0)));
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto enc = encode_download_state(s);
        bytes = enc.size();
        auto dec = decode_download_state(enc);
        benchmark::DoNotOptimize(dec);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
    state.counters["record_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_SidecarEncodeDecode)->RangeMultiplier(10)->Range(1000, 1000000);

// Save (temp + rename, no fsync: the file-system part of a checkpoint) and load.
void BM_SidecarSaveLoad(benchmark::State &state) {
    const DownloadState s = half_done(static_cast<std::uint64_t>(state.range(0)));
    const auto dir = std::filesystem::temp_directory_path() / ("bf-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto path = dir / "blob.dlstate";
    for (auto _ : state) {
        if (!save_download_state(path, s, false).ok()) state.SkipWithError("save failed");
        auto back = load_download_state(path);
        benchmark::DoNotOptimize(back);
    }
    std::filesystem::remove_all(dir);
}
BENCHMARK(BM_SidecarSaveLoad)->RangeMultiplier(10)->Range(1000, 1000000);

void BM_Crc32(benchmark::State &state) {
    std::vector<char> data(static_cast<std::size_t>(state.range(0)), 'x');
    std::uint32_t crc = 0;
    for (auto _ : state) {
        crc = crc32_update(crc, data.data(), data.size());
        benchmark::DoNotOptimize(crc);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Crc32)->Range(16 << 10, 4 << 20);

}  // namespace
