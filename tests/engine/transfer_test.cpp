// The engine against a fault server: how each answer of point 4 (transfer)
// and point 5 (failures) of the engine's contract ends. Every test checks
// that the published file is byte-exact, or that the error is clear and
// nothing is published.
#include <chrono>
#include <ctime>
#include <fstream>
#include <set>

#include "base/path_safety.h"
#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

using Clock = std::chrono::steady_clock;

TEST_F(EngineTest, ChunkedBlob_ParallelRangeRequestsPublishByteExact) {
    BlobSpec b = blob("big", 1, 16 * kChunk + 17);  // 17 chunks, the last one 17 bytes
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    ASSERT_TRUE(r.blobs[0].status.ok()) << r.blobs[0].status.message();
    EXPECT_TRUE(published(b) == blob_content(1, static_cast<std::size_t>(b.size)));
    EXPECT_TRUE(leftovers().empty());
    auto reqs = requests_for(b);
    ASSERT_EQ(reqs.size(), 17u);
    std::set<std::string> ranges;
    for (const auto &q : reqs) {
        EXPECT_EQ(q.status, 206) << q.range;
        ranges.insert(q.range);
    }
    EXPECT_EQ(ranges.size(), 17u) << "each chunk requested once";
    EXPECT_TRUE(ranges.count("bytes=" + std::to_string(16 * kChunk) + "-" + std::to_string(16 * kChunk + 16)));
    EXPECT_EQ(r.blobs[0].bytes_downloaded, b.size);
    EXPECT_EQ(server.body_bytes_sent("/blobs/big"), b.size);
}

// file:// blobs are copied by workers (at most half of them at once, the
// rest queued): forty of them, empty to several MiB, with spaces and UTF-8
// in their names, all land byte-exact and count every byte once.
TEST_F(EngineTest, ManyLocalBlobs_CopiedByteExact_BytesCountedOnce) {
    std::vector<BlobSpec> specs;
    std::int64_t total = 0;
    for (int i = 0; i < 40; ++i) {
        const std::size_t size = i == 0 ? 0 : static_cast<std::size_t>(i) * 97'531;
        const std::string name = "src dir/\xc3\xa9 " + std::to_string(i) + ".bin";
        fs::create_directories(fs::path(dir.path()) / "src dir");
        const std::string content = blob_content(200 + static_cast<std::uint64_t>(i), size);
        std::ofstream(fs::path(dir.path()) / name, std::ios::binary)
            .write(content.data(), static_cast<std::streamsize>(content.size()));
        BlobSpec b;
        b.url = file_url(dir.path() + "/" + name);  // percent-encoded, as a files source does
        b.path = "cache/local-" + std::to_string(i) + ".bin";
        b.size = static_cast<std::int64_t>(size);
        b.sha256 = sha256_hex(content);
        total += b.size;
        specs.push_back(b);
    }
    FetchResult r = fetch(specs);
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    std::int64_t downloaded = 0;
    for (std::size_t i = 0; i < specs.size(); ++i) {
        EXPECT_TRUE(published(specs[i]) == blob_content(200 + i, static_cast<std::size_t>(specs[i].size))) << i;
        downloaded += r.blobs[i].bytes_downloaded;
    }
    EXPECT_EQ(downloaded, total);
    EXPECT_TRUE(server.requests().empty()) << "no HTTP at all";
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(EngineTest, SmallBlob_OneRequestWithoutRange_EmptyBlobToo) {
    BlobSpec small = blob("small", 2, kChunk);
    BlobSpec empty = blob("empty", 3, 0);
    FetchResult r = fetch({small, empty});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(small) == blob_content(2, kChunk));
    EXPECT_EQ(published(empty), "");
    // (The server records a request just after its last byte went out: the
    // client may have finished before.)
    server.wait_for_requests(2);
    for (const BlobSpec *b : {&small, &empty}) {
        auto reqs = requests_for(*b);
        ASSERT_EQ(reqs.size(), 1u);
        EXPECT_EQ(reqs[0].range, "") << "small blobs go in one plain request";
        EXPECT_EQ(reqs[0].status, 200);
    }
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(EngineTest, UnknownSize_FirstChunkTellsTheSizeThenTheRestGoesInParallel) {
    BlobSpec b = blob("unknown", 4, 5 * kChunk + 3, /*with_sha=*/true);
    b.size = -1;
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(4, 5 * kChunk + 3));
    auto reqs = requests_for(b);
    ASSERT_EQ(reqs.size(), 6u);
    for (const auto &q : reqs) EXPECT_EQ(q.status, 206);
    EXPECT_EQ(server.body_bytes_sent("/blobs/unknown"), 5 * kChunk + 3);
}

TEST_F(EngineTest, UnknownSize_SmallAndEmptyRemotes) {
    BlobSpec small = blob("u-small", 5, 1000);
    small.size = -1;
    BlobSpec empty = blob("u-empty", 6, 0);
    empty.size = -1;
    FetchResult r = fetch({small, empty});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(small) == blob_content(5, 1000));
    EXPECT_TRUE(fs::exists(final_path(empty)));
    EXPECT_EQ(published(empty), "") << "a 416 with 'bytes */0' is an empty blob";
}

TEST_F(EngineTest, ServerIgnoringRange_FallsBackToOneStreamFromZero) {
    BlobSpec b = blob("norange", 7, 12 * kChunk + 5);
    server.add_rule(rule(-1, -1, fault(FaultKind::ignore_range)));
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(7, static_cast<std::size_t>(b.size)))
        << "a full body is never written at a chunk's offset";
    EXPECT_NE(logs().find("ignores Range"), std::string::npos) << logs();
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(EngineTest, ConnectionResetMidChunk_OnlyThatChunkIsFetchedAgain) {
    BlobSpec b = blob("reset", 8, 10 * kChunk);
    server.add_rule(rule(5 * kChunk, 1, fault(FaultKind::reset_after, 1000)));
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(8, static_cast<std::size_t>(b.size)));
    std::size_t tries = 0;
    for (const auto &q : requests_for(b)) tries += q.range == range_of(5);
    EXPECT_EQ(tries, 2u);
    EXPECT_EQ(requests_for(b).size(), 11u);
}

TEST_F(EngineTest, ShortBodyAndExtraBytes_AreRefusedAndRetried) {
    BlobSpec b = blob("short", 9, 6 * kChunk);
    server.add_rule(rule(1 * kChunk, 1, fault(FaultKind::short_body, 100)));
    server.add_rule(rule(3 * kChunk, 1, fault(FaultKind::extra_bytes, 500)));
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(9, static_cast<std::size_t>(b.size)));
    std::size_t short_tries = 0;
    for (const auto &q : requests_for(b)) short_tries += q.range == range_of(1);
    EXPECT_EQ(short_tries, 2u) << "the short chunk is fetched again";
    // Bytes beyond an announced Content-Length never reach the engine (libcurl
    // stops at the length and drops the connection): at most one more try.
    EXPECT_LE(requests_for(b).size(), 8u);
}

TEST_F(EngineTest, ServiceUnavailableWithRetryAfterSeconds_IsHonoured) {
    BlobSpec b = blob("busy", 10, 4 * kChunk);
    server.add_rule(rule(2 * kChunk, 1, fault(FaultKind::status, 0, 503, "1")));
    const auto t0 = Clock::now();
    FetchResult r = fetch({b});
    const auto took = Clock::now() - t0;
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(10, static_cast<std::size_t>(b.size)));
    EXPECT_GE(took, std::chrono::milliseconds(900)) << "Retry-After: 1 waits a second, not the 250 ms backoff";
    EXPECT_NE(logs().find("HTTP 503"), std::string::npos) << logs();
}

TEST_F(EngineTest, TooManyRequestsWithRetryAfterDate_IsHonoured) {
    BlobSpec b = blob("busy-date", 11, 2 * kChunk);
    char date[64];
    const std::time_t when = std::time(nullptr) + 2;
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&when));
    server.add_rule(rule(kChunk, 1, fault(FaultKind::status, 0, 429, date)));
    const auto t0 = Clock::now();
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(900)) << "an HTTP-date in Retry-After is honoured";
    EXPECT_TRUE(published(b) == blob_content(11, static_cast<std::size_t>(b.size)));
}

TEST_F(EngineTest, PersistentServerError_GivesUpAfterTheRetriesAndKeepsWhatLanded) {
    BlobSpec b = blob("broken", 12, 8 * kChunk);
    server.add_rule(rule(6 * kChunk, -1, fault(FaultKind::status, 0, 500, "")));
    auto o = options();
    o.retries = 2;
    FetchResult r = fetch({b}, o);
    EXPECT_EQ(r.status.code(), Errc::partial);
    ASSERT_FALSE(r.blobs[0].status.ok());
    EXPECT_NE(r.blobs[0].status.message().find("HTTP 500"), std::string::npos) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("gave up after 3 attempts"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_FALSE(fs::exists(final_path(b))) << "nothing is published";
    // The sidecar records every chunk that fully landed.
    auto st = load_download_state(partial(b).state);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(st->chunks.completed(), 7u);
    EXPECT_FALSE(st->chunks.test(6));
}

TEST_F(EngineTest, NotFound_IsAMissReportedAtOnce_NothingLeftBehind) {
    BlobSpec b;
    b.url = server.base_url() + "/nowhere.bin";
    b.path = "cache/nowhere.bin";
    b.size = 10 * kChunk;
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::not_found) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("/nowhere.bin"), std::string::npos);
    EXPECT_LE(server.requests().size(), 8u) << "one wave of requests, no retries";
    EXPECT_TRUE(leftovers().empty());
    EXPECT_FALSE(fs::exists(final_path(b)));
}

// The provider options' error-body bounds reach the transport: a trickling
// 404 page is cut after error_body_timeout_ms, a miss (not a stall, whose
// bound is longer here, retried).
TEST_F(EngineTest, TricklingErrorPage_IsCutAfterErrorBodyTimeoutMs_AndIsAMiss) {
    BlobSpec b = blob("trickle", 21, 4 * kChunk);
    Fault f = fault(FaultKind::endless_status, 0, 404);
    f.bytes_per_second = 40;
    server.add_rule(rule(-1, -1, f));
    auto o = options();
    o.error_body_timeout_ms = 300;
    o.error_body_limit = 1 << 20;
    const auto start = std::chrono::steady_clock::now();
    FetchResult r = fetch({b}, o);
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_EQ(r.blobs[0].status.code(), Errc::not_found) << r.blobs[0].status.message();
    EXPECT_LT(took, std::chrono::milliseconds(1500)) << "cut after 300 ms, before the 2 s stall bound";
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(EngineTest, Forbidden_FailsAtOnceNamingTheUrlWithoutItsQueryString) {
    BlobSpec b = blob("secret", 13, 4 * kChunk);
    b.url += "?sig=TOPSECRET";
    server.add_rule(rule(-1, -1, fault(FaultKind::status, 0, 403, "")));
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::http);
    const std::string &m = r.blobs[0].status.message();
    EXPECT_NE(m.find("HTTP 403"), std::string::npos) << m;
    EXPECT_NE(m.find("/blobs/secret"), std::string::npos) << m;
    EXPECT_EQ(m.find("TOPSECRET"), std::string::npos) << m;
    EXPECT_EQ(logs().find("TOPSECRET"), std::string::npos) << logs();
    EXPECT_LE(server.requests().size(), 4u) << "no retries of a 403";
    EXPECT_FALSE(fs::exists(final_path(b)));
}

TEST_F(EngineTest, StalledTransfer_IsAbortedAndRetried) {
    BlobSpec b = blob("stall", 14, 4 * kChunk);
    server.add_rule(rule(2 * kChunk, 1, fault(FaultKind::stall, 100)));
    auto o = options();
    o.stall_timeout_ms = 300;
    FetchResult r = fetch({b}, o);
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(14, static_cast<std::size_t>(b.size)));
    EXPECT_NE(logs().find("stalled"), std::string::npos) << logs();
}

TEST_F(EngineTest, MisreportedRange_IsRefusedAndNothingIsPublished) {
    BlobSpec b = blob("liar", 15, 4 * kChunk);
    server.add_rule(rule(-1, -1, fault(FaultKind::wrong_range, 10)));
    FetchResult r = fetch({b});
    ASSERT_FALSE(r.blobs[0].status.ok());
    EXPECT_NE(r.blobs[0].status.message().find("misreports ranges"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_FALSE(fs::exists(final_path(b)));
}

TEST_F(EngineTest, WrongSizeAtTheSource_IsAVerificationError) {
    BlobSpec b = blob("resized", 16, 4 * kChunk);
    b.size = 4 * kChunk + 1;  // the descriptor expects one more byte than the source has
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::verify) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("holds 262144 bytes"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_FALSE(fs::exists(final_path(b)));
    EXPECT_TRUE(leftovers().empty()) << "a source with a different file leaves nothing to resume";
}

TEST_F(EngineTest, HashMismatch_PublishesNothingAndNamesBothHashes) {
    BlobSpec b = blob("tampered", 17, 3 * kChunk);
    server.change_blob("/blobs/tampered", 99, 3 * kChunk);  // same size, other bytes
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::verify);
    EXPECT_NE(r.blobs[0].status.message().find(b.sha256), std::string::npos) << r.blobs[0].status.message();
    EXPECT_FALSE(fs::exists(final_path(b)));
    EXPECT_TRUE(leftovers().empty()) << "a wrong file is not kept for resuming";
}

TEST_F(EngineTest, RemoteChangingDuringTheDownload_RestartsCleanlyNeverMixesVersions) {
    BlobSpec b = blob("moving", 18, 24 * kChunk, /*with_sha=*/false);
    // Chunk 20 stalls for a second, so the old version cannot complete before
    // the remote changes, right after the first two chunks arrived.
    server.add_rule(rule(20 * kChunk, 1, fault(FaultKind::stall, 0)));
    auto o = options();
    o.concurrency = 2;
    o.stall_timeout_ms = 1000;
    std::thread changer([&] {
        server.wait_for_requests(2);
        server.change_blob("/blobs/moving", 19, 24 * kChunk);
    });
    FetchResult r = fetch({b}, o);
    changer.join();
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(19, 24 * kChunk)) << "entirely the new version";
    EXPECT_NE(logs().find("changed while blob"), std::string::npos) << logs();
    bool if_range_sent = false;
    for (const auto &q : requests_for(b)) if_range_sent |= !q.if_range.empty();
    EXPECT_TRUE(if_range_sent) << "requests after the first answer carry If-Range";
}

TEST_F(EngineTest, HugeAnnouncedSize_FailsBeforeTransferringMoreWithADiskSpaceMessage) {
    // 1 PiB behind a descriptor of unknown size: the first answer tells the
    // size, preallocation fails, and nothing more is requested.
    BlobSpec b = blob("huge", 60, std::int64_t{1} << 50, /*with_sha=*/false);
    b.size = -1;
    auto o = options();
    o.max_blob_size = std::int64_t{1} << 62;  // the disk, not the limit, refuses it here
    FetchResult r = fetch({b}, o);
    ASSERT_EQ(r.blobs[0].status.code(), Errc::io) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("not enough disk space"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_LE(server.body_bytes_sent("/blobs/huge"), kChunk);
    EXPECT_FALSE(fs::exists(final_path(b)));
}

TEST_F(EngineTest, GlobalConcurrencyLimit_AndConnectionsAreReused) {
    std::vector<BlobSpec> specs;
    for (int i = 0; i < 60; ++i) specs.push_back(blob("many-" + std::to_string(i), 100 + i, 1000 + i));
    specs.push_back(blob("large", 200, 20 * kChunk));
    auto o = options();
    o.concurrency = 4;
    FetchResult r = fetch(specs, o);
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    for (std::size_t i = 0; i < specs.size(); ++i)
        ASSERT_EQ(sha256_file_hex(final_path(specs[i]).string()), specs[i].sha256) << specs[i].path;
    EXPECT_LE(server.connections_accepted(), 4u) << "80 requests over at most 4 kept-alive connections";
}

}  // namespace
}  // namespace blobfetch::test
