#include "hash/crc32.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

namespace blobfetch {
namespace {

std::vector<unsigned char> random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<unsigned char> v(n);
    for (auto &b : v) b = static_cast<unsigned char>(rng());
    return v;
}

TEST(Crc32, IdenticalToZlib_EveryLengthUpTo1100_AtEveryAlignment) {
    const auto data = random_bytes(1200, 1);
    std::mt19937 rng(2);
    for (std::size_t len = 0; len <= 1100; ++len)
        for (std::size_t off = 0; off < 16; off += 5) {
            const std::uint32_t init = static_cast<std::uint32_t>(rng());
            ASSERT_EQ(crc32_update(init, data.data() + off, len),
                      static_cast<std::uint32_t>(crc32(init, data.data() + off, static_cast<uInt>(len))))
                << "len " << len << " offset " << off;
        }
}

TEST(Crc32, PiecewiseEqualsWhole_AndMatchesZlibOnLargeBuffers) {
    const auto data = random_bytes(3 << 20, 3);
    const auto whole = crc32_update(0, data.data(), data.size());
    EXPECT_EQ(whole, static_cast<std::uint32_t>(crc32(0, data.data(), static_cast<uInt>(data.size()))));
    std::uint32_t c = 0;
    for (std::size_t off = 0, step = 1; off < data.size(); off += step, step = step * 3 % 70001 + 1)
        c = crc32_update(c, data.data() + off, std::min(step, data.size() - off));
    EXPECT_EQ(c, whole) << "continuing from a previous value, in uneven pieces";
    EXPECT_EQ(crc32_update(0, "123456789", 9), 0xCBF43926u) << "the CRC-32 check value";
}

}  // namespace
}  // namespace blobfetch
