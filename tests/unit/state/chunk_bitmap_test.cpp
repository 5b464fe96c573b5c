#include "state/chunk_bitmap.h"

#include <random>

#include <gtest/gtest.h>

namespace blobfetch {
namespace {

TEST(ChunkPlan, ShortLastChunk_EmptyBlob_ExactMultiple) {
    EXPECT_EQ(chunk_count(0, 4), 0u);
    EXPECT_EQ(chunk_count(1, 4), 1u);
    EXPECT_EQ(chunk_count(8, 4), 2u);
    EXPECT_EQ(chunk_count(9, 4), 3u);
    ChunkRange last = chunk_range(2, 9, 4);
    EXPECT_EQ(last.begin, 8);
    EXPECT_EQ(last.end, 9);
    ChunkRange mid = chunk_range(1, 9, 4);
    EXPECT_EQ(mid.begin, 4);
    EXPECT_EQ(mid.end, 8);
}

TEST(ChunkBitmap, SetTestCountAndPending) {
    ChunkBitmap b(10);
    EXPECT_TRUE(b.set(3));
    EXPECT_FALSE(b.set(3)) << "setting twice counts once";
    EXPECT_TRUE(b.set(9));
    EXPECT_EQ(b.completed(), 2u);
    EXPECT_TRUE(b.test(9));
    EXPECT_FALSE(b.test(10)) << "out of range reads as not complete";
    EXPECT_EQ(b.pending(), (std::vector<std::uint64_t>{0, 1, 2, 4, 5, 6, 7, 8}));
    EXPECT_EQ(b.complete_prefix(), 0u);
}

TEST(ChunkBitmap, Truncated_UnalignedPrefixKeepsPendingChunksPending) {
    ChunkBitmap b(40);
    for (std::uint64_t i = 0; i < 13; ++i) b.set(i);  // prefix ends inside byte 1
    b.set(20);
    EXPECT_EQ(b.complete_prefix(), 13u);
    auto t = b.truncated();
    EXPECT_EQ(t.start_byte, 1u) << "rounded down to the byte holding chunk 13";
    ASSERT_EQ(t.bytes.size(), 2u) << "up to the byte with chunk 20, nothing after";
    auto back = ChunkBitmap::from_truncated(40, t.start_byte, t.bytes);
    ASSERT_TRUE(back.ok()) << back.message();
    for (std::uint64_t i = 0; i < 40; ++i) EXPECT_EQ(back->test(i), b.test(i)) << i;
    EXPECT_EQ(back->completed(), 14u);
}

TEST(ChunkBitmap, Truncated_AllCompleteAndNoneComplete) {
    ChunkBitmap none(12);
    auto t0 = none.truncated();
    EXPECT_EQ(t0.start_byte, 0u);
    EXPECT_TRUE(t0.bytes.empty());
    ChunkBitmap all(12);
    for (std::uint64_t i = 0; i < 12; ++i) all.set(i);
    auto t1 = all.truncated();
    auto back = ChunkBitmap::from_truncated(12, t1.start_byte, t1.bytes);
    ASSERT_TRUE(back.ok());
    EXPECT_TRUE(back->all());
    EXPECT_EQ(back->completed(), 12u);
}

TEST(ChunkBitmap, FromTruncated_RefusesBitsBeyondTheCount_Overflow) {
    EXPECT_FALSE(ChunkBitmap::from_truncated(10, 0, {0x00, 0x04}).ok()) << "bit 10 of 10 chunks";
    EXPECT_FALSE(ChunkBitmap::from_truncated(10, 0, {0x00, 0x00, 0x00}).ok()) << "too many bytes";
    EXPECT_FALSE(ChunkBitmap::from_truncated(10, 3, {}).ok()) << "start past the end";
    EXPECT_FALSE(ChunkBitmap::from_truncated(10, UINT64_MAX, {0x01}).ok()) << "overflowing start";
    EXPECT_TRUE(ChunkBitmap::from_truncated(10, 0, {0xFF, 0x03}).ok());
    EXPECT_TRUE(ChunkBitmap::from_truncated(0, 0, {}).ok()) << "empty blob";
}

TEST(ChunkBitmap, Truncated_RoundTripsRandomPatterns) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        std::uint64_t n = rng() % 300;
        ChunkBitmap b(n);
        std::uint64_t prefix = n ? rng() % (n + 1) : 0;
        for (std::uint64_t i = 0; i < n; ++i)
            if (i < prefix || rng() % 3 == 0) b.set(i);
        auto t = b.truncated();
        auto back = ChunkBitmap::from_truncated(n, t.start_byte, t.bytes);
        ASSERT_TRUE(back.ok()) << back.message();
        EXPECT_EQ(back->completed(), b.completed());
        EXPECT_EQ(back->pending(), b.pending());
    }
}

}  // namespace
}  // namespace blobfetch
