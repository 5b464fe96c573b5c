// The engine's write path, against a recording test double of the engine
// (IChunkSink): bytes in any slicing land at their offsets, each chunk is
// reported once with the CRC-32 of its bytes and only after all of them were
// handed to the writer, overlong bodies are refused, and back-pressure holds.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "download/chunk_transfer.h"

namespace blobfetch::detail {
namespace {

constexpr std::int64_t kChunk = 1000;
constexpr std::size_t kBuffer = 300;

// Records what the transfer does; writes go straight into `file`.
class RecordingSink final : public IChunkSink {
public:
    explicit RecordingSink(std::size_t max_buffers) : m_max(max_buffers) {}

    Status on_head(ChunkTransfer &, const ResponseHead &) override { return Status::success(); }
    void on_received(Job &, std::size_t len) override { received += len; }
    char *take_buffer() override {
        if (m_taken >= m_max) return nullptr;
        ++m_taken;
        m_owned.push_back(std::make_unique<char[]>(kBuffer));
        return m_owned.back().get();
    }
    void release_buffer(char *buf) override {
        if (buf) --m_taken;
    }
    std::size_t buffers_available() const override { return m_max - m_taken; }
    std::int64_t max_blob_size() const override { return max_size; }
    std::int64_t min_free_space() const override { return reserve; }
    void submit_write(Job &, char *buf, std::size_t len, std::int64_t offset, std::uint32_t chunk_crc) override {
        EXPECT_LE(len, kBuffer);
        writes.push_back({offset, static_cast<std::int64_t>(len), chunk_crc});
        if (file.size() < static_cast<std::size_t>(offset) + len) file.resize(static_cast<std::size_t>(offset) + len);
        file.replace(static_cast<std::size_t>(offset), len, buf, len);
        written_up_to[offset] = offset + static_cast<std::int64_t>(len);
        release_buffer(buf);
    }
    void chunk_received(Job &, std::uint64_t i, std::uint32_t crc) override {
        // Every byte of the chunk was handed to the writer before this call.
        const std::int64_t begin = static_cast<std::int64_t>(i) * kChunk;
        const std::int64_t end = std::min<std::int64_t>(begin + kChunk, blob_size);
        EXPECT_GE(static_cast<std::int64_t>(file.size()), end) << "chunk " << i;
        chunks.emplace_back(i, crc);
    }

    std::int64_t blob_size = 0;
    std::int64_t max_size = 1 << 20;
    std::int64_t reserve = 0;
    std::string file;
    std::size_t received = 0;
    std::map<std::int64_t, std::int64_t> written_up_to;
    struct Write {
        std::int64_t offset, len;
        std::uint32_t chunk_crc;
    };
    std::vector<Write> writes;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> chunks;

private:
    std::size_t m_max;
    std::size_t m_taken = 0;
    std::vector<std::unique_ptr<char[]>> m_owned;
};

// The blob's file as far as free space goes: a disk of `disk` bytes that
// the sink's written bytes fill. Counts the questions.
class DiskOfSize final : public IPositionalWriter {
public:
    DiskOfSize(const RecordingSink &sink, std::int64_t disk) : m_sink(sink), m_disk(disk) {}
    Status write_at(const void *, std::size_t, std::int64_t) override { return Status::success(); }
    Expected<std::size_t> read_at(void *, std::size_t, std::int64_t) override { return std::size_t{0}; }
    Status sync() override { return Status::success(); }
    Expected<std::int64_t> size() override { return static_cast<std::int64_t>(m_sink.file.size()); }
    Status preallocate(std::int64_t) override { return Status::success(); }
    const std::string &name() const override { return m_name; }
    std::int64_t free_space() const override {
        ++asked;
        return m_disk - static_cast<std::int64_t>(m_sink.file.size());
    }
    mutable int asked = 0;

private:
    const RecordingSink &m_sink;
    std::int64_t m_disk;
    std::string m_name = "/cache/x.bin.part";
};

std::string content(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
    return s;
}

std::uint32_t zlib_crc(const std::string &s, std::int64_t begin, std::int64_t end) {
    return static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef *>(s.data() + begin), static_cast<uInt>(end - begin)));
}

struct Fixture {
    explicit Fixture(std::int64_t size, std::size_t buffers = 4) : sink(buffers) {
        spec.url = "http://127.0.0.1/x";
        spec.path = "x.bin";
        spec.size = size;
        sink.blob_size = size;
        job.spec = &spec;
        job.size = size;
        job.shown_url = spec.url;
        job.state.emplace(size, kChunk, Digest32{}, Digest32{});
    }
    BlobSpec spec;
    Job job;
    RecordingSink sink;
};

TEST(ChunkTransfer, AnySlicing_LandsByteExactAndReportsEveryChunkOnceWithItsCrc) {
    const std::int64_t size = 3 * kChunk + 123;  // a short last chunk
    const std::string body = content(static_cast<std::size_t>(size));
    for (std::size_t slice : {1u, 7u, 299u, 300u, 301u, 999u, 1000u, 1001u, 4096u}) {
        Fixture f(size);
        {
            ChunkTransfer t(f.sink, f.job, Piece{0, size, true, 0, {}}, kBuffer);
            for (std::size_t at = 0; at < body.size(); at += slice) {
                const std::size_t n = std::min(slice, body.size() - at);
                ASSERT_TRUE(t.accepting(n)) << "slice " << slice;
                ASSERT_TRUE(t.on_body(body.data() + at, n).ok()) << "slice " << slice;
            }
            t.flush();
            EXPECT_EQ(t.position(), size);
            EXPECT_EQ(t.partial_bytes(), 0);
        }
        EXPECT_EQ(f.sink.file, body) << "slice " << slice;
        EXPECT_EQ(f.sink.received, body.size());
        ASSERT_EQ(f.sink.chunks.size(), 4u) << "slice " << slice;
        for (std::uint64_t i = 0; i < 4; ++i) {
            const std::int64_t begin = static_cast<std::int64_t>(i) * kChunk;
            EXPECT_EQ(f.sink.chunks[i].first, i);
            EXPECT_EQ(f.sink.chunks[i].second, zlib_crc(body, begin, std::min(begin + kChunk, size)))
                << "chunk " << i << ", slice " << slice;
        }
        EXPECT_EQ(f.sink.buffers_available(), 4u) << "every buffer came back";
    }
}

TEST(ChunkTransfer, PieceStartingMidBlob_ReportsOnlyItsChunks_RemainingStartsAtTheUnfinishedChunk) {
    const std::int64_t size = 4 * kChunk;
    const std::string body = content(static_cast<std::size_t>(size));
    Fixture f(size);
    ChunkTransfer t(f.sink, f.job, Piece{kChunk, 3 * kChunk, true, 0, {}}, kBuffer);
    ASSERT_TRUE(t.on_body(body.data() + kChunk, kChunk + 250).ok());
    ASSERT_EQ(f.sink.chunks.size(), 1u);
    EXPECT_EQ(f.sink.chunks[0].first, 1u);
    EXPECT_TRUE(t.made_progress());
    EXPECT_EQ(t.partial_bytes(), 250);
    const Piece rest = t.remaining();
    EXPECT_EQ(rest.begin, 2 * kChunk) << "the unfinished chunk is fetched again whole";
    EXPECT_EQ(rest.end, 3 * kChunk);
}

// What a v2 record may claim once a write landed: no write spans two chunks,
// and each carries the CRC-32 of its chunk from the chunk's start through the
// write's end.
TEST(ChunkTransfer, EveryWrite_StaysInOneChunk_AndCarriesItsChunksCrcThroughItsEnd) {
    const std::int64_t size = 3 * kChunk + 123;
    const std::string body = content(static_cast<std::size_t>(size));
    for (std::size_t slice : {1u, 299u, 301u, 1001u, 4096u}) {
        Fixture f(size);
        ChunkTransfer t(f.sink, f.job, Piece{0, size, true, 0, {}}, kBuffer);
        for (std::size_t at = 0; at < body.size(); at += slice)
            ASSERT_TRUE(t.on_body(body.data() + at, std::min(slice, body.size() - at)).ok());
        t.flush();
        ASSERT_FALSE(f.sink.writes.empty());
        for (const auto &w : f.sink.writes) {
            const std::int64_t chunk_begin = w.offset / kChunk * kChunk;
            EXPECT_LE(w.offset + w.len, std::min(chunk_begin + kChunk, size)) << "slice " << slice << " @" << w.offset;
            EXPECT_EQ(w.chunk_crc, zlib_crc(body, chunk_begin, w.offset + w.len)) << "slice " << slice << " @" << w.offset;
        }
    }
}

// The rest of a chunk whose first bytes a record kept: the piece starts
// inside the chunk with the CRC-32 of those bytes, and the chunk is reported
// with the CRC-32 of all of its bytes; a failure before it completes leaves
// the piece as it was (its seed included).
TEST(ChunkTransfer, PieceResumingInsideAChunk_ReportsTheWholeChunksCrc_AndRemainingKeepsItsSeed) {
    const std::int64_t size = 3 * kChunk;
    const std::string body = content(static_cast<std::size_t>(size));
    const std::int64_t kept = 437;
    const Piece rest{kChunk + kept, 2 * kChunk, true, 0, {}, zlib_crc(body, kChunk, kChunk + kept)};
    {
        Fixture f(size);
        ChunkTransfer t(f.sink, f.job, rest, kBuffer);
        ASSERT_TRUE(t.on_body(body.data() + rest.begin, 100).ok());
        EXPECT_EQ(t.remaining().begin, rest.begin);
        EXPECT_EQ(t.remaining().crc_seed, rest.crc_seed) << "nothing completed: the piece as it was";
        EXPECT_EQ(t.partial_bytes(), 100) << "what a failure now loses";
        ASSERT_TRUE(t.on_body(body.data() + rest.begin + 100, static_cast<std::size_t>(rest.end - rest.begin - 100)).ok());
        ASSERT_EQ(f.sink.chunks.size(), 1u);
        EXPECT_EQ(f.sink.chunks[0].first, 1u);
        EXPECT_EQ(f.sink.chunks[0].second, zlib_crc(body, kChunk, 2 * kChunk));
        EXPECT_EQ(f.sink.file.substr(static_cast<std::size_t>(rest.begin)), body.substr(static_cast<std::size_t>(rest.begin), static_cast<std::size_t>(rest.end - rest.begin)));
        for (const auto &w : f.sink.writes) EXPECT_EQ(w.chunk_crc, zlib_crc(body, kChunk, w.offset + w.len));
    }
    {
        // A piece over two chunks that completed its first: the rest starts at
        // the second chunk, with no seed.
        Fixture f(size);
        ChunkTransfer t(f.sink, f.job, Piece{kChunk + kept, 3 * kChunk, true, 0, {}, rest.crc_seed}, kBuffer);
        ASSERT_TRUE(t.on_body(body.data() + kChunk + kept, static_cast<std::size_t>(kChunk - kept + 10)).ok());
        EXPECT_EQ(t.remaining().begin, 2 * kChunk);
        EXPECT_EQ(t.remaining().crc_seed, 0u);
    }
}

TEST(ChunkTransfer, MoreBytesThanRequested_AreRefusedAsRetryable_NamingTheUrlAndBlob) {
    const std::int64_t size = 2 * kChunk;
    const std::string body = content(static_cast<std::size_t>(size) + 10);
    Fixture f(size);
    ChunkTransfer t(f.sink, f.job, Piece{0, kChunk, true, 0, {}}, kBuffer);
    ASSERT_TRUE(t.on_body(body.data(), kChunk).ok());
    const Status s = t.on_body(body.data() + kChunk, 1);
    ASSERT_FALSE(s.ok());
    EXPECT_TRUE(t.error_retryable);
    EXPECT_NE(s.message().find("sent more bytes than requested"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("x.bin"), std::string::npos) << s.message();
    EXPECT_EQ(f.sink.chunks.size(), 1u) << "the complete chunk still counts";
}

// A blob whose size nobody knows (no descriptor size, no Content-Length or
// Content-Range) is cut at max_blob_size: an endless body fails the blob for
// good, without retries, naming the option.
TEST(ChunkTransfer, EndlessBodyOfUnknownSize_StopsAtMaxBlobSize_NotRetryable) {
    Fixture f(0);
    f.job.state.reset();
    f.job.size = -1;
    f.spec.size = -1;
    ChunkTransfer t(f.sink, f.job, Piece{0, -1, false, 0, {}}, kBuffer);
    const std::string piece = content(64 << 10);
    Status s;
    std::int64_t sent = 0;
    while (s.ok() && sent <= f.sink.max_blob_size()) {
        s = t.on_body(piece.data(), piece.size());
        sent += static_cast<std::int64_t>(piece.size());
    }
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Errc::verify);
    EXPECT_FALSE(t.error_retryable) << "the same server would send the same endless body";
    EXPECT_NE(s.message().find("max_blob_size (1048576 bytes)"), std::string::npos) << s.message();
    EXPECT_EQ(t.position(), f.sink.max_blob_size());
}

// A blob of unknown size stops before its disk keeps less than
// min_free_space free, asking the file system every 8 MiB (and as the room
// left shrinks), not on every write; an endless body never fills the disk.
TEST(ChunkTransfer, EndlessBodyOfUnknownSize_StopsBeforeTheDiskKeepsLessThanMinFreeSpace_AskingEvery8MiB) {
    Fixture f(0);
    f.job.state.reset();
    f.job.size = -1;
    f.spec.size = -1;
    f.sink.max_size = std::int64_t{1} << 40;  // only the disk can stop it
    f.sink.reserve = 3 << 20;
    const std::int64_t room = (20 << 20) + 123;  // above the reserve
    auto disk = std::make_unique<DiskOfSize>(f.sink, f.sink.reserve + room);
    DiskOfSize *d = disk.get();
    f.job.file = std::move(disk);
    ChunkTransfer t(f.sink, f.job, Piece{0, -1, false, 0, {}}, kBuffer);
    const std::string piece = content(64 << 10);
    Status s;
    std::int64_t writes = 0;
    while (s.ok() && writes < 1000) {
        s = t.on_body(piece.data(), piece.size());
        ++writes;
    }
    ASSERT_FALSE(s.ok()) << "still writing after " << t.position() << " bytes";
    EXPECT_EQ(s.code(), Errc::io);
    EXPECT_FALSE(t.error_retryable) << "the same endless body would fill the disk again";
    EXPECT_LE(t.position(), room) << "never past the free space minus the reserve";
    EXPECT_GT(t.position(), room - static_cast<std::int64_t>(piece.size()));
    EXPECT_LE(d->asked, room / kFreeSpaceCheckBytes + 3) << "asked " << d->asked << " times for " << writes << " writes";
    for (const char *part : {"http://127.0.0.1/x", "x.bin", "min_free_space (3.0 MiB)", "/cache/x.bin.part"})
        EXPECT_NE(s.message().find(part), std::string::npos) << part << " in: " << s.message();

    // A file system that cannot tell: max_blob_size alone bounds it.
    Fixture g(0);
    g.job.state.reset();
    g.job.size = -1;
    g.spec.size = -1;
    g.job.file = std::make_unique<MemoryWriter>();
    ChunkTransfer u(g.sink, g.job, Piece{0, -1, false, 0, {}}, kBuffer);
    Status r;
    while (r.ok() && u.position() <= g.sink.max_size) r = u.on_body(piece.data(), piece.size());
    EXPECT_EQ(r.code(), Errc::verify) << r.message();
    EXPECT_EQ(u.position(), g.sink.max_size);
}

TEST(ChunkTransfer, WithoutFreeBuffers_ItRefusesBytesUntilOneComesBack) {
    const std::int64_t size = 2 * kChunk;
    const std::string body = content(static_cast<std::size_t>(size));
    Fixture f(size, /*buffers=*/1);
    ChunkTransfer t(f.sink, f.job, Piece{0, size, true, 0, {}}, kBuffer);
    EXPECT_TRUE(t.accepting(100)) << "the transfer's own buffer";
    ASSERT_TRUE(t.on_body(body.data(), 100).ok());
    EXPECT_FALSE(t.accepting(kBuffer)) << "filling the buffer would need a second one";
    Fixture g(size, /*buffers=*/0);
    ChunkTransfer u(g.sink, g.job, Piece{0, size, true, 0, {}}, kBuffer);
    EXPECT_FALSE(u.accepting(1)) << "no buffer at all: libcurl is paused";
}

}  // namespace
}  // namespace blobfetch::detail
