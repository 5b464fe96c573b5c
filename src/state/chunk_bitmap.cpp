#include "state/chunk_bitmap.h"

#include <bit>

namespace blobfetch {

std::uint64_t chunk_count(std::int64_t blob_size, std::int64_t chunk_size) {
    if (blob_size <= 0) return 0;
    return static_cast<std::uint64_t>((blob_size - 1) / chunk_size + 1);
}

ChunkRange chunk_range(std::uint64_t index, std::int64_t blob_size, std::int64_t chunk_size) {
    std::int64_t begin = static_cast<std::int64_t>(index) * chunk_size;
    std::int64_t end = begin + chunk_size < blob_size ? begin + chunk_size : blob_size;
    return {begin, end};
}

ChunkBitmap::ChunkBitmap(std::uint64_t count) : m_count(count), m_bits((count + 7) / 8, 0) {}

bool ChunkBitmap::test(std::uint64_t i) const { return i < m_count && (m_bits[i / 8] >> (i % 8)) & 1u; }

bool ChunkBitmap::set(std::uint64_t i) {
    std::uint8_t mask = static_cast<std::uint8_t>(1u << (i % 8));
    if (m_bits[i / 8] & mask) return false;
    m_bits[i / 8] |= mask;
    ++m_completed;
    return true;
}

std::uint64_t ChunkBitmap::complete_prefix() const {
    std::uint64_t byte = 0;
    while (byte < m_bits.size() && m_bits[byte] == 0xFF) ++byte;
    std::uint64_t i = byte * 8;
    while (i < m_count && test(i)) ++i;
    return i < m_count ? i : m_count;
}

std::vector<std::uint64_t> ChunkBitmap::pending() const {
    std::vector<std::uint64_t> out;
    out.reserve(m_count - m_completed);
    for (std::uint64_t byte = 0; byte < m_bits.size(); ++byte) {
        if (m_bits[byte] == 0xFF) continue;
        for (std::uint64_t i = byte * 8; i < byte * 8 + 8 && i < m_count; ++i)
            if (!test(i)) out.push_back(i);
    }
    return out;
}

ChunkBitmap::Truncated ChunkBitmap::truncated() const {
    Truncated t;
    t.start_byte = complete_prefix() / 8;
    std::uint64_t end = m_bits.size();
    while (end > t.start_byte && m_bits[end - 1] == 0) --end;
    t.bytes.assign(m_bits.begin() + static_cast<std::ptrdiff_t>(t.start_byte),
                   m_bits.begin() + static_cast<std::ptrdiff_t>(end));
    return t;
}

Expected<ChunkBitmap> ChunkBitmap::from_truncated(std::uint64_t count, std::uint64_t start_byte,
                                                  const std::vector<std::uint8_t> &bytes) {
    const std::uint64_t total_bytes = (count + 7) / 8;
    if (start_byte > total_bytes || bytes.size() > total_bytes - start_byte)
        return Status(Errc::invalid_argument, "chunk bitmap extends past the " + std::to_string(count) + " chunks");
    ChunkBitmap b(count);
    for (std::uint64_t i = 0; i < start_byte; ++i) b.m_bits[i] = 0xFF;
    for (std::size_t i = 0; i < bytes.size(); ++i) b.m_bits[start_byte + i] = bytes[i];
    // Bits at or beyond `count` (in the last byte) must be clear, also in the implied prefix.
    if (count % 8 != 0 && total_bytes > 0) {
        std::uint8_t valid = static_cast<std::uint8_t>((1u << (count % 8)) - 1);
        if (start_byte == total_bytes) b.m_bits[total_bytes - 1] &= valid;
        else if (b.m_bits[total_bytes - 1] & ~valid)
            return Status(Errc::invalid_argument, "chunk bitmap marks chunks at or beyond the " +
                                                      std::to_string(count) + " chunks");
    }
    for (std::uint8_t byte : b.m_bits) b.m_completed += static_cast<std::uint64_t>(std::popcount(byte));
    return b;
}

}  // namespace blobfetch
