#include "hash/crc32.h"

#include <algorithm>

#include <zlib.h>

namespace blobfetch {

std::uint32_t crc32_update(std::uint32_t crc, const void *data, std::size_t len) {
    const auto *p = static_cast<const Bytef *>(data);
    uLong c = crc;
    while (len > 0) {  // zlib takes uInt lengths
        const uInt n = static_cast<uInt>(std::min<std::size_t>(len, 1u << 30));
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return static_cast<std::uint32_t>(c);
}

}  // namespace blobfetch
