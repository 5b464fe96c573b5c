#pragma once
// CRC-32 (zlib's, the IEEE polynomial) of chunk bytes and sidecar records.

#include <cstddef>
#include <cstdint>

namespace blobfetch {

// CRC-32 of `len` bytes, continuing from `crc` (0 to start). Any length;
// thread-safe.
std::uint32_t crc32_update(std::uint32_t crc, const void *data, std::size_t len);

}  // namespace blobfetch
