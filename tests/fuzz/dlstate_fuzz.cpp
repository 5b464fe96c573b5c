// Fuzz target: the .dlstate sidecar parser (versions 1 and 2). Any input must
// either be refused with a message, or decode to a self-consistent record
// whose re-encoding decodes to the same chunks, CRCs and received prefixes.
// Built as a libFuzzer binary with -DBLOBFETCH_FUZZ_MAIN (tests/fuzz/run.sh);
// the normal build replays its corpus (corpus_replay_test.cpp).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "download/partial_file.h"
#include "state/download_state.h"

namespace {

int check_one(std::span<const std::uint8_t> bytes) {
    using namespace blobfetch;
    auto decoded = decode_download_state(bytes);
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
    // Format v2's prefixes: each inside a chunk not complete, and kept exactly.
    if (s.partial.size() > DownloadState::kMaxPartials || round->partial.size() != s.partial.size()) std::abort();
    for (const auto &[i, p] : s.partial) {
        if (i >= s.chunks.size() || s.chunks.test(i)) std::abort();
        const ChunkRange r = chunk_range(i, s.blob_size, s.chunk_size);
        if (p.length <= 0 || p.length >= r.end - r.begin) std::abort();
        auto it = round->partial.find(i);
        if (it == round->partial.end() || it->second.length != p.length || it->second.crc != p.crc) std::abort();
    }
    if (s.completed_bytes() + s.partial_bytes() > s.blob_size) std::abort();
    return 0;
}

}  // namespace

int blobfetch_fuzz_dlstate(const std::uint8_t *data, std::size_t size) {
    check_one(std::span<const std::uint8_t>(data, size));
    // Again with the record CRC made valid, so the field checks behind it are
    // explored too (random bytes almost never carry a matching CRC).
    if (size >= 8) {
        std::vector<std::uint8_t> fixed(data, data + size);
        const std::uint32_t crc = blobfetch::crc32_update(0, fixed.data(), size - 4);
        for (int i = 0; i < 4; ++i) fixed[size - 4 + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(crc >> (8 * i));
        check_one(fixed);
    }
    return 0;
}

#ifdef BLOBFETCH_FUZZ_MAIN
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    return blobfetch_fuzz_dlstate(data, size);
}
#endif
