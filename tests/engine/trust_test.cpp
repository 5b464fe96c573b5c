// Nothing wrong is ever published, whatever the source does: publishing
// checks what actually arrived (never the preallocated length of the file),
// retries are bounded for every kind of piece, a complete chunk is complete.
#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path_safety.h"
#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

// A local source that delivers fewer bytes than the descriptor's size is a
// verification error, also without a hash: /dev/null delivers none, a FIFO
// five of 4,096. (The preallocated 4,096 bytes once passed for the blob.)
TEST_F(EngineTest, LocalSourceDeliveringFewerBytes_IsNeverPublished_EvenWithoutAHash) {
    BlobSpec null_blob;
    null_blob.url = "file:///dev/null";
    null_blob.path = "cache/null.bin";
    null_blob.size = 4096;
    const std::string fifo = dir.path() + "/five-bytes.fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
    BlobSpec fifo_blob;
    fifo_blob.url = file_url(fifo);
    fifo_blob.path = "cache/fifo.bin";
    fifo_blob.size = 4096;
    std::thread writer([&] {
        const int fd = ::open(fifo.c_str(), O_WRONLY);  // blocks until the copy opens it
        if (fd >= 0) {
            (void)!::write(fd, "12345", 5);
            ::close(fd);
        }
    });
    FetchResult r = fetch({null_blob, fifo_blob});
    writer.join();
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(r.blobs[i].status.code(), Errc::verify) << i << ": " << r.blobs[i].status.message();
        EXPECT_NE(r.blobs[i].status.message().find("but the blob should have 4096"), std::string::npos)
            << r.blobs[i].status.message();
    }
    EXPECT_FALSE(fs::exists(final_path(null_blob)));
    EXPECT_FALSE(fs::exists(final_path(fifo_blob)));
    EXPECT_TRUE(leftovers().empty());
}

// A server that ignores Range and cuts every response: each try starts over
// from 0, so each try counts (the chunks a cut stream completed are rewritten
// by the next, never kept): `retries: 2` means three requests, then a clear
// failure. (Their "progress" once reset the count: 84 requests and more.)
TEST_F(EngineTest, ServerIgnoringRangeAndCuttingEveryResponse_RetriesAreBounded) {
    BlobSpec b = blob("cut-stream", 31, 16 * kChunk);
    Fault cut = fault(FaultKind::ignore_range, 3 * kChunk + 100);
    server.add_rule(rule(-1, -1, cut));
    auto o = options();
    o.retries = 2;
    // Were the tries unbounded, stop after 20 requests instead of hanging.
    FetchResult r = fetch({b}, o, [&](const ProgressEvent &) { return server.requests().size() > 20; });
    ASSERT_EQ(r.blobs[0].status.code(), Errc::network) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("gave up after 3 attempts"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_EQ(requests_for(b).size(), 3u);
    EXPECT_FALSE(fs::exists(final_path(b)));
}

// Every byte of a chunk arrived, then the response failed (a chunked body
// without its last-chunk marker): the chunk is complete. It is never asked
// for again as an empty range (`bytes=N-`, which drew a 416 for the last
// chunk and a "misreported range" for the others).
TEST_F(EngineTest, ChunkWhoseBytesAllArrivedBeforeTheResponseFailed_IsComplete_NoEmptyRange) {
    server.set_chunked_encoding(true);
    BlobSpec b = blob("all-then-error", 32, 6 * kChunk);
    server.add_rule(rule(2 * kChunk, 1, fault(FaultKind::short_body, kChunk)));
    server.add_rule(rule(5 * kChunk, 1, fault(FaultKind::short_body, kChunk)));
    // Chunk 4 stalls for a while, so the blob is still running when a retry
    // of the complete chunks would be due.
    server.add_rule(rule(4 * kChunk, 1, fault(FaultKind::stall, 0)));
    auto o = options();
    o.stall_timeout_ms = 700;
    FetchResult r = fetch({b}, o);
    ASSERT_TRUE(r.status.ok()) << r.blobs[0].status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(32, 6 * kChunk));
    auto reqs = requests_for(b);
    EXPECT_EQ(reqs.size(), 7u) << "one request per chunk, two for the stalled one";
    for (const auto &q : reqs) EXPECT_NE(q.range.back(), '-') << "an open or empty range: " << q.range;
}

// A blob of unknown size whose remote changes to a shorter one mid-way: the
// restart cuts the file, and what is published is exactly the new remote.
TEST_F(EngineTest, RemoteOfUnknownSizeShrinkingMidway_PublishesExactlyTheNewOne) {
    server.set_chunked_encoding(true);  // a 200 tells no size until its end
    BlobSpec b = blob("shrinking", 33, 5 * kChunk, /*with_sha=*/false);
    b.size = -1;
    Fault cut = fault(FaultKind::ignore_range, 4 * kChunk);
    cut.change_size = 2 * kChunk + 7;  // after this response, the remote is shorter
    cut.change_seed = 34;
    server.add_rule(rule(-1, 1, cut));
    server.add_rule(rule(-1, -1, fault(FaultKind::ignore_range)));
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.blobs[0].status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(34, 2 * kChunk + 7)) << "exactly the new, shorter remote";
    EXPECT_NE(logs().find("changed while blob"), std::string::npos) << logs();
}

// A server without validators that turns from 206s to a 200 (it "ignores
// Range") with other bytes in the first 4 MiB: the blob falls back to one
// stream from offset 0, which rewrites bytes already folded into the running
// SHA-256. The hash starts over with the stream, so the final check sees
// the stream's bytes. (It once kept the old state: the first 8 MiB hashed
// from the 206s, the tail read from the file, and the wrong file published.)
TEST_F(EngineTest, RangeFallbackAfterThePrefixWasHashed_TheHashStartsOver_NothingWrongPublished) {
    server.set_send_etag(false);
    BlobSpec b = blob("fallback-hash", 35, 16 << 20);
    // Chunk 128 (at 8 MiB) first waits a second, so the 8 MiB prefix is surely
    // hashed; then it is answered with a 200, and the stream lies.
    server.add_rule(rule(8 << 20, 1, fault(FaultKind::status, 0, 503, "1")));
    server.add_rule(rule(8 << 20, 1, fault(FaultKind::ignore_range)));
    Fault lie = fault(FaultKind::none);
    lie.corrupt_prefix = 4 << 20;
    server.add_rule(rule(-2, -1, lie));
    auto o = options();
    o.concurrency = 1;
    FetchResult r = fetch({b}, o);
    EXPECT_NE(logs().find("ignores Range requests"), std::string::npos) << logs();
    EXPECT_TRUE(!fs::exists(final_path(b)) || published(b) == blob_content(35, 16 << 20))
        << "a wrong file was published: " << r.blobs[0].status.message();
    ASSERT_EQ(r.blobs[0].status.code(), Errc::verify) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("SHA-256 mismatch"), std::string::npos) << r.blobs[0].status.message();
}

// The same through a retry: a stream without Range is cut after 12 MiB (the
// first 8 MiB hashed), and the next try from 0 lies about its first 4 MiB.
TEST_F(EngineTest, StreamRetriedFromZeroAfterThePrefixWasHashed_TheHashStartsOver_NothingWrongPublished) {
    server.set_send_etag(false);
    BlobSpec b = blob("retry-hash", 36, 16 << 20);
    server.add_rule(rule(0, 1, fault(FaultKind::ignore_range, 12 << 20)));
    Fault lie = fault(FaultKind::none);
    lie.corrupt_prefix = 4 << 20;
    server.add_rule(rule(-2, -1, lie));
    FetchResult r = fetch({b});
    EXPECT_TRUE(!fs::exists(final_path(b)) || published(b) == blob_content(36, 16 << 20))
        << "a wrong file was published: " << r.blobs[0].status.message();
    ASSERT_EQ(r.blobs[0].status.code(), Errc::verify) << r.blobs[0].status.message() << logs();
}

}  // namespace
}  // namespace blobfetch::test
