#pragma once
// Which chunks of a blob are complete, and the compact "truncated" form the
// .dlstate sidecar stores (issue 3).
//
// Chunk i covers bytes [i * chunk_size, min((i + 1) * chunk_size, blob_size));
// the last chunk may be short. Bit i of the bitmap is bit (i % 8) of byte
// (i / 8), least significant bit first.
//
// Truncated form: every chunk before `start_byte * 8` is complete (implied,
// not stored); `bytes` holds the bitmap bytes from `start_byte` up to and
// including the byte with the highest complete chunk. The start is rounded
// down to a byte boundary, so the bits of the byte that holds the first
// pending chunk are stored explicitly: advancing the start never marks a
// pending chunk complete. The stored size is proportional to the unfinished
// span, not to the blob.

#include <cstdint>
#include <vector>

#include "base/status.h"

namespace blobfetch {

struct ChunkRange {
    std::int64_t begin = 0;  // inclusive
    std::int64_t end = 0;    // exclusive
};

// Number of chunks for a blob (0 for an empty blob). Precondition: chunk_size > 0.
std::uint64_t chunk_count(std::int64_t blob_size, std::int64_t chunk_size);
// [begin, end) of chunk `index`. Precondition: index < chunk_count(...).
ChunkRange chunk_range(std::uint64_t index, std::int64_t blob_size, std::int64_t chunk_size);

// Not thread-safe: the engine guards it with its own lock.
class ChunkBitmap {
public:
    explicit ChunkBitmap(std::uint64_t count);

    std::uint64_t size() const { return m_count; }
    bool test(std::uint64_t i) const;
    // Marks chunk i complete; returns false if it already was. Precondition: i < size().
    bool set(std::uint64_t i);
    std::uint64_t completed() const { return m_completed; }
    bool all() const { return m_completed == m_count; }
    // Number of leading complete chunks.
    std::uint64_t complete_prefix() const;
    // Indices of the chunks not yet complete, ascending.
    std::vector<std::uint64_t> pending() const;

    struct Truncated {
        std::uint64_t start_byte = 0;
        std::vector<std::uint8_t> bytes;
    };
    Truncated truncated() const;
    // Rebuilds from the truncated form; refuses (Errc::invalid_argument) a
    // start or bytes that reach past `count`, or bits set at or beyond it.
    static Expected<ChunkBitmap> from_truncated(std::uint64_t count, std::uint64_t start_byte,
                                                const std::vector<std::uint8_t> &bytes);

private:
    std::uint64_t m_count = 0;
    std::uint64_t m_completed = 0;
    std::vector<std::uint8_t> m_bits;
};

}  // namespace blobfetch
