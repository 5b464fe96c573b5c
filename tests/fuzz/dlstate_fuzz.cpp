// Fuzz target: the .dlstate sidecar parser. Any input must either be refused
// with a message or decode to a record that re-encodes to exactly the same
// bytes (the format has one canonical form) and stays self-consistent.
// Built as a libFuzzer binary with -DBLOBFETCH_FUZZ_MAIN (tests/fuzz/run.sh);
// the normal build replays its corpus (corpus_replay_test.cpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "state/download_state.h"

int blobfetch_fuzz_dlstate(const std::uint8_t *data, std::size_t size) {
    using namespace blobfetch;
    auto decoded = decode_download_state(std::span<const std::uint8_t>(data, size));
    if (!decoded.ok()) {
        if (decoded.message().empty()) std::abort();  // every refusal says why
        return 0;
    }
    const DownloadState &s = *decoded;
    if (s.chunks.size() != chunk_count(s.blob_size, s.chunk_size)) std::abort();
    if (s.completed_bytes() < 0 || s.completed_bytes() > s.blob_size) std::abort();
    if (s.chunks.complete_prefix() > s.chunks.size()) std::abort();
    const std::vector<std::uint8_t> again = encode_download_state(s);
    auto round = decode_download_state(again);
    if (!round.ok() || round->chunks.completed() != s.chunks.completed()) std::abort();
    for (std::uint64_t i = 0; i < s.chunks.size(); ++i)
        if (s.chunks.test(i) != round->chunks.test(i) || (s.chunks.test(i) && s.crcs[i] != round->crcs[i]))
            std::abort();
    return 0;
}

#ifdef BLOBFETCH_FUZZ_MAIN
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    return blobfetch_fuzz_dlstate(data, size);
}
#endif
