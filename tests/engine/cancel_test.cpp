// Linked cancellation: a cancel, or a chunk that fails for good, stops every
// transfer at once and the sidecar keeps every chunk that fully landed. The
// bounds here are generous (seconds) so the tests never flake; the latency
// itself is a benchmark figure (bench/).
#include <atomic>
#include <chrono>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/wait.h"
#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

using Clock = std::chrono::steady_clock;

class CancelTest : public EngineTest {
protected:
    config::ProviderOptions sixteen() const {
        auto o = options();
        o.concurrency = 16;
        o.stall_timeout_ms = 600000;  // stalls must not end by themselves here
        return o;
    }
};

TEST_F(CancelTest, CancelWithSixteenStalledTransfers_ReturnsPromptly) {
    BlobSpec b = blob("stalled", 41, 32 * kChunk);
    server.add_rule(rule(-1, -1, fault(FaultKind::stall, 1000)));
    std::atomic<bool> cancel{false};
    Clock::time_point cancelled_at;
    std::thread canceller([&] {
        ASSERT_TRUE(eventually([&] { return server.active_connections() >= 16; }));
        cancelled_at = Clock::now();
        cancel = true;
    });
    FetchResult r = fetch({b}, sixteen(), [&](const ProgressEvent &) { return cancel.load(); });
    const auto returned_at = Clock::now();
    canceller.join();
    ASSERT_TRUE(cancel);
    EXPECT_EQ(r.status.code(), Errc::cancelled);
    EXPECT_EQ(r.blobs[0].status.code(), Errc::cancelled);
    EXPECT_LT(returned_at - cancelled_at, std::chrono::seconds(3));
    EXPECT_FALSE(fs::exists(final_path(b)));
    EXPECT_TRUE(eventually([&] { return server.active_connections() == 0; })) << "every connection was closed";
    EXPECT_FALSE(fs::exists(partial(b).data)) << "nothing landed, nothing is kept";
}

// A file:// source that delivers nothing (a pipe here; a stalled network
// share alike) neither holds up the HTTP blobs of the same fetch nor delays
// a cancel: local copies run on a worker, not inside libcurl.
TEST_F(CancelTest, StalledLocalSource_OtherBlobsGoOn_CancelIsPrompt) {
    const std::string fifo = dir / "stalled-share.bin";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    const int writer = ::open(fifo.c_str(), O_RDWR | O_CLOEXEC);  // present, silent
    ASSERT_GE(writer, 0);
    BlobSpec local;
    local.url = "file://" + fifo;
    local.path = "cache/local.bin";
    local.size = 1000;
    BlobSpec http = blob("http.bin", 43, 8 * kChunk);
    std::atomic<bool> cancel{false};
    Clock::time_point cancelled_at;
    std::thread canceller([&] {
        EXPECT_TRUE(eventually([&] { return fs::exists(final_path(http)); }))
            << "the HTTP blob is published while the local copy waits";
        cancelled_at = Clock::now();
        cancel = true;
    });
    FetchResult r = fetch({local, http}, sixteen(), [&](const ProgressEvent &) { return cancel.load(); });
    const auto returned_at = Clock::now();
    canceller.join();
    ::close(writer);
    ASSERT_TRUE(cancel);
    EXPECT_TRUE(r.blobs[1].status.ok()) << r.blobs[1].status.message();
    EXPECT_TRUE(published(http) == blob_content(43, 8 * kChunk));
    EXPECT_EQ(r.blobs[0].status.code(), Errc::cancelled) << r.blobs[0].status.message();
    EXPECT_LT(returned_at - cancelled_at, std::chrono::seconds(3));
    EXPECT_FALSE(fs::exists(final_path(local)));
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(CancelTest, ChunkFailingForGood_StopsItsSixteenPeersPromptly) {
    BlobSpec b = blob("one-bad", 42, 17 * kChunk);
    server.add_rule(rule(16 * kChunk, -1, fault(FaultKind::status, 0, 403)));
    server.add_rule(rule(-1, -1, fault(FaultKind::stall, 1000)));
    auto o = sixteen();
    o.concurrency = 17;
    const auto t0 = Clock::now();
    FetchResult r = fetch({b}, o);
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3)) << "peers do not wait for their own timeouts";
    ASSERT_EQ(r.blobs[0].status.code(), Errc::http) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("HTTP 403"), std::string::npos);
    EXPECT_FALSE(fs::exists(final_path(b)));
    EXPECT_TRUE(eventually([&] { return server.active_connections() == 0; }));
}

TEST_F(CancelTest, OtherBlobsGoOnWhenOneFails) {
    BlobSpec bad = blob("bad", 43, 4 * kChunk);
    BlobSpec good = blob("good", 44, 4 * kChunk);
    server.add_rule([&] {
        FaultRule r = rule(-1, -1, fault(FaultKind::status, 0, 404));
        r.path = "/blobs/bad";
        return r;
    }());
    FetchResult r = fetch({bad, good});
    EXPECT_EQ(r.status.code(), Errc::partial);
    EXPECT_EQ(r.blobs[0].status.code(), Errc::not_found);
    ASSERT_TRUE(r.blobs[1].status.ok()) << r.blobs[1].status.message();
    EXPECT_TRUE(published(good) == blob_content(44, 4 * kChunk));
}

TEST_F(CancelTest, CancelKeepsEveryChunkThatFullyLanded) {
    BlobSpec b = blob("half", 45, 16 * kChunk);
    // The odd chunks stall; the even ones land. Then the host cancels.
    for (std::int64_t c = 1; c < 16; c += 2) server.add_rule(rule(c * kChunk, -1, fault(FaultKind::stall, 500)));
    std::atomic<bool> cancel{false};
    std::thread canceller([&] {
        // Eight full chunks answered, eight stalled connections open.
        server.wait_for_requests(8);
        ASSERT_TRUE(eventually([&] { return server.active_connections() >= 8; }));
        cancel = true;
    });
    FetchResult r = fetch({b}, sixteen(), [&](const ProgressEvent &) { return cancel.load(); });
    canceller.join();
    ASSERT_EQ(r.status.code(), Errc::cancelled);
    auto st = load_download_state(partial(b).state);
    ASSERT_TRUE(st.ok()) << st.message();
    for (std::uint64_t c = 0; c < 16; ++c) EXPECT_EQ(st->chunks.test(c), c % 2 == 0) << "chunk " << c;

    // The next run fetches exactly the stalled ones.
    server.clear_rules();
    forget_requests(16);
    FetchResult again = fetch({b});
    ASSERT_TRUE(again.status.ok()) << again.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(45, 16 * kChunk));
    EXPECT_EQ(requests_for(b).size(), 8u);
}

TEST_F(CancelTest, ProgressNeverGoesBackwards_AndEndsComplete) {
    BlobSpec a = blob("p1", 46, 20 * kChunk);
    BlobSpec c = blob("p2", 47, 3000);
    server.add_rule(rule(4 * kChunk, 2, fault(FaultKind::reset_after, 30000)));
    std::int64_t last = -1, total = -1;
    bool backwards = false;
    FetchResult r = fetch({a, c}, options(), [&](const ProgressEvent &e) {
        if (e.done_bytes < last) backwards = true;
        last = e.done_bytes;
        total = e.total_bytes;
        return false;
    });
    ASSERT_TRUE(r.status.ok()) << r.status.message();
    EXPECT_FALSE(backwards);
    EXPECT_EQ(total, 20 * kChunk + 3000);
    EXPECT_EQ(last, total);
}

}  // namespace
}  // namespace blobfetch::test
