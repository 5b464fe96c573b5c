// Positional writes from 1 to 16 threads into one file (disjoint ranges, as
// the transfers of one blob write), in the pieces the engine uses.
#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "io/positional_writer.h"

namespace {

using namespace blobfetch;

constexpr std::size_t kPiece = 256 << 10;
constexpr std::int64_t kPerThread = 32 << 20;  // each thread rewrites its own 32 MiB region

std::unique_ptr<IPositionalWriter> g_writer;
std::filesystem::path g_path;

void BM_PositionalWrite(benchmark::State &state) {
    if (state.thread_index() == 0) {
        g_path = std::filesystem::temp_directory_path() / ("bf-bench-pw-" + std::to_string(::getpid()));
        auto w = open_positional_writer(g_path);
        if (!w) state.SkipWithError(w.message().c_str());
        g_writer = std::move(*w);
        (void)g_writer->preallocate(kPerThread * state.threads());
    }
    std::vector<char> piece(kPiece, static_cast<char>('a' + state.thread_index()));
    const std::int64_t base = kPerThread * state.thread_index();
    std::int64_t off = 0;
    for (auto _ : state) {
        if (!g_writer->write_at(piece.data(), piece.size(), base + off).ok()) state.SkipWithError("write failed");
        off = (off + static_cast<std::int64_t>(kPiece)) % kPerThread;
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kPiece));
    if (state.thread_index() == 0) {
        g_writer.reset();
        std::filesystem::remove(g_path);
    }
}
BENCHMARK(BM_PositionalWrite)->ThreadRange(1, 16)->UseRealTime();

}  // namespace
