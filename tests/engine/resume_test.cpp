// Resuming from the .dlstate sidecar: only missing chunks are fetched, and
// only against the same remote; a sidecar that does not describe the data is
// never trusted.
#include <fstream>
#include <set>

#include "engine_fixture.h"

namespace blobfetch::test {
namespace {

class ResumeTest : public EngineTest {
protected:
    // First run, one transfer at a time: chunks [0, broken) land and are
    // recorded, chunk `broken` fails for good, the rest is never requested.
    BlobSpec interrupted_run(std::int64_t chunks, std::int64_t broken, bool with_sha = true, std::int64_t tail = 0) {
        BlobSpec b = blob("resume.bin", 21, chunks * kChunk + tail, with_sha);
        FetchResult r = fetch_failing_from_chunk(b, broken);
        EXPECT_FALSE(r.blobs[0].status.ok());
        EXPECT_FALSE(fs::exists(final_path(b)));
        auto st = load_download_state(partial(b).state);
        EXPECT_TRUE(st.ok()) << st.message();
        if (st.ok()) {
            EXPECT_EQ(st->chunks.completed(), static_cast<std::uint64_t>(broken));
            EXPECT_EQ(st->chunks.complete_prefix(), static_cast<std::uint64_t>(broken));
        }
        server.clear_rules();
        forget_requests(m_total_requests += static_cast<std::size_t>(broken) + 1);
        clear_logs();
        return b;
    }
    std::size_t m_total_requests = 0;

    std::set<std::string> ranges_requested(const BlobSpec &b) const {
        std::set<std::string> out;
        for (const auto &q : requests_for(b)) out.insert(q.range);
        return out;
    }

    void zero_chunk(const BlobSpec &b, std::int64_t chunk) {
        std::fstream f(partial(b).data, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(chunk * kChunk);
        const std::string zeros(kChunk, '\0');
        f.write(zeros.data(), kChunk);
    }
};

TEST_F(ResumeTest, OnlyTheMissingChunkIsFetched_WithIfRange) {
    BlobSpec b = interrupted_run(8, 7);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 8 * kChunk));
    EXPECT_EQ(ranges_requested(b), std::set<std::string>{range_of(7)});
    auto reqs = requests_for(b);
    ASSERT_EQ(reqs.size(), 1u);
    EXPECT_EQ(reqs[0].if_range, server.etag("/blobs/resume.bin")) << "resumed requests are conditional";
    EXPECT_EQ(r.blobs[0].bytes_downloaded, kChunk);
    EXPECT_EQ(r.blobs[0].bytes_skipped, 7 * kChunk) << "checked chunks count as already there";
    EXPECT_NE(logs().find("7 of 8 chunks"), std::string::npos) << logs();
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(ResumeTest, ChunksWhoseDataWasLost_AreDetectedByTheirCrcAndFetchedAgain) {
    BlobSpec b = interrupted_run(8, 7);
    zero_chunk(b, 2);  // a write the sidecar claims but that never reached the disk
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 8 * kChunk));
    EXPECT_EQ(ranges_requested(b), (std::set<std::string>{range_of(2), range_of(7)}));
    EXPECT_NE(logs().find("1 of the 7 recorded chunks failed their CRC-32 check"), std::string::npos) << logs();
}

TEST_F(ResumeTest, LostFirstChunk_TheHashOfThePrefixIsRebuilt) {
    BlobSpec b = interrupted_run(8, 7);
    zero_chunk(b, 0);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 8 * kChunk));
    EXPECT_EQ(ranges_requested(b), (std::set<std::string>{range_of(0), range_of(7)}));
}

TEST_F(ResumeTest, CorruptedSidecar_StartsAfreshWithALogLine) {
    BlobSpec b = interrupted_run(8, 6);
    std::string bytes = read_file(partial(b).state.string());
    bytes[bytes.size() / 2] ^= 0x40;
    write_file(partial(b).state.string(), bytes);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 8 * kChunk));
    EXPECT_EQ(ranges_requested(b).size(), 8u) << "nothing is trusted from a corrupted record";
    EXPECT_NE(logs().find("checksum mismatch"), std::string::npos) << logs();
    EXPECT_NE(logs().find("starting 'cache/resume.bin' afresh"), std::string::npos) << logs();
}

TEST_F(ResumeTest, EmptyAndTruncatedSidecars_StartAfresh) {
    for (std::size_t keep : {std::size_t{0}, std::size_t{40}, std::size_t{131}}) {
        SCOPED_TRACE(keep);
        BlobSpec b = interrupted_run(4, 3);
        std::string bytes = read_file(partial(b).state.string());
        write_file(partial(b).state.string(), bytes.substr(0, keep));
        FetchResult r = fetch({b});
        ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
        EXPECT_TRUE(published(b) == blob_content(21, 4 * kChunk));
        EXPECT_EQ(ranges_requested(b).size(), 4u);
        fs::remove(final_path(b));
        forget_requests(m_total_requests += 4);
    }
}

TEST_F(ResumeTest, UnknownFormatVersion_StartsAfreshSayingSo) {
    BlobSpec b = interrupted_run(4, 3);
    std::string bytes = read_file(partial(b).state.string());
    bytes[8] = 7;  // version 7, with a valid record checksum
    const std::uint32_t crc = crc32_update(0, bytes.data(), bytes.size() - 4);
    for (int i = 0; i < 4; ++i) bytes[bytes.size() - 4 + static_cast<std::size_t>(i)] = static_cast<char>(crc >> (8 * i));
    write_file(partial(b).state.string(), bytes);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_EQ(ranges_requested(b).size(), 4u);
    EXPECT_NE(logs().find("unknown format version 7"), std::string::npos) << logs();
}

TEST_F(ResumeTest, LeftoverTemporaryOfAnInterruptedSave_IsCleanedUp) {
    BlobSpec b = interrupted_run(4, 3);
    const fs::path tmp = download_state_temp_path(partial(b).state);
    write_file(tmp.string(), "half a record");
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_EQ(ranges_requested(b), std::set<std::string>{range_of(3)}) << "the real record is still used";
    EXPECT_FALSE(fs::exists(tmp));
}

TEST_F(ResumeTest, RemoteChangedBetweenRuns_IfRangeRestartsTheBlobCleanly) {
    BlobSpec b = interrupted_run(8, 6, /*with_sha=*/false);
    server.change_blob("/blobs/resume.bin", 77, 8 * kChunk);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(77, 8 * kChunk)) << "no chunk of the old version survives";
    EXPECT_NE(logs().find("changed while blob"), std::string::npos) << logs();
}

TEST_F(ResumeTest, RemoteWithoutValidators_ChangedContentIsCaughtBySha256) {
    server.set_send_etag(false);
    BlobSpec b = interrupted_run(8, 6, /*with_sha=*/true);
    server.change_blob("/blobs/resume.bin", 78, 8 * kChunk);
    FetchResult r = fetch({b});
    ASSERT_EQ(r.blobs[0].status.code(), Errc::verify) << r.blobs[0].status.message();
    EXPECT_FALSE(fs::exists(final_path(b))) << "a mix of two versions is never published";
    EXPECT_TRUE(leftovers().empty()) << "and not kept for the next run either";
    FetchResult again = fetch({b});
    EXPECT_EQ(again.blobs[0].status.code(), Errc::verify) << "the source really holds other bytes";
}

// A remote without validators served an older version to the first run and
// the right one now: the resumed mix fails the SHA-256, and instead of
// failing the blob is fetched once more from scratch, then published.
TEST_F(ResumeTest, ResumedBytesOfAnOlderVersion_FailTheHash_TheBlobIsFetchedOnceMoreFromScratch) {
    server.set_send_etag(false);
    BlobSpec b = blob("resume.bin", 21, 8 * kChunk);
    server.change_blob("/blobs/resume.bin", 78, 8 * kChunk);  // still the older version
    ASSERT_FALSE(fetch_failing_from_chunk(b, 6).status.ok());
    ASSERT_TRUE(fs::exists(partial(b).state));
    server.clear_rules();
    server.change_blob("/blobs/resume.bin", 21, 8 * kChunk);
    forget_requests(7);
    clear_logs();

    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 8 * kChunk));
    EXPECT_EQ(requests_for(b).size(), 2u + 8u) << "the two missing chunks, then all eight";
    EXPECT_NE(logs().find("downloaded once more from scratch"), std::string::npos) << logs();
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(ResumeTest, SidecarOfAnotherUrlOrMissingData_IsNotTrusted) {
    BlobSpec b = interrupted_run(4, 3);
    BlobSpec moved = b;
    server.add_blob("/elsewhere/resume.bin", 21, 4 * kChunk);
    moved.url = server.base_url() + "/elsewhere/resume.bin";
    FetchResult r = fetch({moved});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_EQ(requests_for(moved).size(), 4u);
    EXPECT_NE(logs().find("another URL"), std::string::npos) << logs();

    fs::remove(final_path(b));
    forget_requests(m_total_requests += 4);
    BlobSpec c = interrupted_run(4, 3);
    fs::remove(partial(c).data);
    FetchResult r2 = fetch({c});
    ASSERT_TRUE(r2.status.ok()) << r2.status.message() << logs();
    EXPECT_EQ(ranges_requested(c).size(), 4u);
}

// PEERS.md #2: a partial file whose state was lost, or a truncated file at
// the final path, never passes for a finished blob nor blocks the next run.
TEST_F(ResumeTest, PartialDataWithoutItsSidecar_OrATruncatedFinalFile_StartsAfresh) {
    BlobSpec b = interrupted_run(4, 3);
    fs::remove(partial(b).state);
    {
        const std::string head = blob_content(21, 4 * kChunk).substr(0, 3 * kChunk);  // a peer's leftover
        std::ofstream(final_path(b), std::ios::binary).write(head.data(), static_cast<std::streamsize>(head.size()));
    }
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 4 * kChunk));
    EXPECT_EQ(ranges_requested(b).size(), 4u) << "nothing unrecorded is trusted";
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(ResumeTest, ChangedChunkSizeOption_KeepsTheRecordedLayout) {
    BlobSpec b = interrupted_run(8, 6);
    auto o = options();
    o.chunk_size = 4 * kChunk;
    FetchResult r = fetch({b}, o);
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_EQ(ranges_requested(b), (std::set<std::string>{range_of(6), range_of(7)}));
}

TEST_F(ResumeTest, UnknownSize_ResumesFromTheRecordedSize) {
    BlobSpec b = interrupted_run(6, 4, true, /*tail=*/100);
    b.size = -1;
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 6 * kChunk + 100));
    EXPECT_EQ(ranges_requested(b), (std::set<std::string>{range_of(4), range_of(5),
                                                          "bytes=" + std::to_string(6 * kChunk) + "-" +
                                                              std::to_string(6 * kChunk + 99)}));
}

// A hostile or corrupted record, otherwise valid (URL, size, digest), with
// 4-byte chunks and 4096 prefixes: resuming it would send one 4-byte request
// per chunk (seen: 11 million requests in 10 minutes). Refused: a fresh start.
TEST_F(ResumeTest, RecordWithChunksSmallerThanAnyTheEngineMakes_IsNotResumed) {
    BlobSpec b = blob("tiny-chunks.bin", 32, 4 * kChunk);
    ASSERT_TRUE(fs::create_directories(final_path(b).parent_path()));
    const std::string content = blob_content(32, 4 * kChunk);
    write_file(partial(b).data.string(), content);
    DownloadState st(4 * kChunk, 4, url_identity_hash(b.url), digest_from_hex(b.sha256));
    for (std::uint64_t i = 1; i < 2 * DownloadState::kMaxPartials; i += 2)
        st.note_prefix(i, 2, crc32_update(0, content.data() + i * 4, 2));
    ASSERT_EQ(st.partial.size(), DownloadState::kMaxPartials);
    ASSERT_TRUE(save_download_state(partial(b).state, st, true).ok());
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == content);
    EXPECT_LE(requests_for(b).size(), 4u) << "a fresh start in the engine's own chunks";
    EXPECT_NE(logs().find("smaller than any this engine makes"), std::string::npos) << logs();
}

TEST_F(ResumeTest, AllChunksRecorded_PublishesWithoutAnyRequest) {
    BlobSpec b = blob("whole.bin", 31, 4 * kChunk);
    // A record that claims everything (a crash between the last chunk and the publish).
    ASSERT_TRUE(fs::create_directories(final_path(b).parent_path()));
    write_file(partial(b).data.string(), blob_content(31, 4 * kChunk));
    DownloadState st(4 * kChunk, kChunk, url_identity_hash(b.url), digest_from_hex(b.sha256));
    const std::string content = blob_content(31, 4 * kChunk);
    for (std::uint64_t i = 0; i < 4; ++i)
        st.complete(i, crc32_update(0, content.data() + i * kChunk, kChunk));
    ASSERT_TRUE(save_download_state(partial(b).state, st, true).ok());
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == content);
    EXPECT_TRUE(requests_for(b).empty());
    EXPECT_TRUE(leftovers().empty());
}

// ------------------------------------------------------------------------
// Issue 19 item 2: without an expected digest, bytes of an earlier run are
// reused only when the remote is proven the same (a strong ETag repeated).

// A remote without validators changed between the runs: the old code resumed
// 7 chunks of A, fetched the 8th of B and published the mix with success.
TEST_F(ResumeTest, UnpinnedBlob_RemoteWithoutValidators_ChangedBetweenRuns_StartsAfresh_NothingMixed) {
    server.set_send_etag(false);
    BlobSpec b = interrupted_run(8, 7, /*with_sha=*/false);
    server.change_blob("/blobs/resume.bin", 79, 8 * kChunk);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(79, 8 * kChunk)) << "no chunk of the old version is published";
    EXPECT_EQ(r.blobs[0].bytes_skipped, 0) << "nothing was reused";
    EXPECT_NE(logs().find("no strong ETag"), std::string::npos) << logs();
}

// An ETag (and no Last-Modified) on the first run, only a Last-Modified on
// the second: no common validator, which the old code took for "the same".
TEST_F(ResumeTest, UnpinnedBlob_ETagFirstRun_OnlyLastModifiedSecond_StartsAfresh_NothingMixed) {
    server.set_validators(/*etag=*/true, /*last_modified=*/false);
    BlobSpec b = interrupted_run(8, 7, /*with_sha=*/false);
    server.change_blob("/blobs/resume.bin", 80, 8 * kChunk);
    server.set_validators(/*etag=*/false, /*last_modified=*/true);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(80, 8 * kChunk)) << "no chunk of the old version is published";
    EXPECT_EQ(r.blobs[0].bytes_skipped, 0) << "nothing was reused";
}

// Proven the same: the strong ETag is repeated, only the missing chunk is
// fetched, and the log says on what the reuse rests.
TEST_F(ResumeTest, UnpinnedBlob_SameStrongETag_ResumesOnlyTheMissingChunk_SayingWhy) {
    BlobSpec b = interrupted_run(8, 7, /*with_sha=*/false);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(21, 8 * kChunk));
    EXPECT_EQ(ranges_requested(b), std::set<std::string>{range_of(7)});
    EXPECT_NE(logs().find("reused only if the remote still answers ETag"), std::string::npos) << logs();
}

// A record with the ETag but an answer that drops it is not proof either.
TEST_F(ResumeTest, UnpinnedBlob_AnswerDropsTheRecordedETag_StartsOver_NothingMixed) {
    BlobSpec b = interrupted_run(8, 7, /*with_sha=*/false);
    server.change_blob("/blobs/resume.bin", 81, 8 * kChunk);
    server.set_send_etag(false);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(81, 8 * kChunk)) << "no chunk of the old version is published";
    EXPECT_EQ(r.blobs[0].bytes_skipped, 0);
}

// The summary counts what was really reused: a resume discarded because the
// remote changed reports no skipped bytes (it reported the 6 chunks before).
TEST_F(ResumeTest, RemoteChangedBetweenRuns_NothingCountsAsAlreadyCached) {
    BlobSpec b = interrupted_run(8, 6, /*with_sha=*/false);
    server.change_blob("/blobs/resume.bin", 82, 8 * kChunk);
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(82, 8 * kChunk));
    EXPECT_EQ(r.blobs[0].bytes_skipped, 0);
    EXPECT_EQ(r.blobs[0].bytes_downloaded, 8 * kChunk);
}

// Issue 19 item 13: an ETag longer than the record holds (1,024 bytes) was
// cut, so every resume was discarded as "remote changed". Its digest is kept.
TEST_F(ResumeTest, ETagLongerThanTheRecordHolds_ResumeStillReusesTheChunks) {
    const std::string long_etag(3000, 'e');
    const BlobSpec b = blob("long-etag.bin", 83, 8 * kChunk, /*with_sha=*/false, long_etag);
    FetchResult first = fetch_failing_from_chunk(b, 6);
    ASSERT_FALSE(first.blobs[0].status.ok());
    server.clear_rules();
    forget_requests(7);
    clear_logs();
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(83, 8 * kChunk));
    EXPECT_EQ(ranges_requested(b), (std::set<std::string>{range_of(6), range_of(7)})) << logs();
    EXPECT_EQ(r.blobs[0].bytes_skipped, 6 * kChunk);
    EXPECT_EQ(logs().find("changed while blob"), std::string::npos) << logs();
}

// Issue 19 item 15: a stale record of a blob of unknown size whose remote
// now has another size (under the same validators) failed the run with
// "should have N bytes", N being the record's; the next run succeeded.
TEST_F(ResumeTest, UnknownSize_StaleRecord_RemoteChangedSize_StartsAfreshInTheSameRun) {
    BlobSpec b = blob("grows.bin", 84, 6 * kChunk, /*with_sha=*/false, "same-etag");
    b.size = -1;
    FetchResult first = fetch_failing_from_chunk(b, 4);
    ASSERT_FALSE(first.blobs[0].status.ok());
    ASSERT_TRUE(load_download_state(partial(b).state).ok()) << "a record of 6 chunks is left";
    server.clear_rules();
    server.change_blob("/blobs/grows.bin", 85, 9 * kChunk + 7, "same-etag");
    clear_logs();
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(85, 9 * kChunk + 7));
    EXPECT_EQ(r.blobs[0].bytes_skipped, 0);
}

// A server chooses its ETag: escape sequences in it never reach a message
// (red team of issue 19: "ETag '\"v1\x1b]0;OWNED\x07\"' -> ..." on stderr).
TEST_F(ResumeTest, ETagWithControlCharacters_NeverReachesAMessage) {
    const BlobSpec b = blob("esc.bin", 86, 8 * kChunk, /*with_sha=*/false, "v1\x1b]0;OWNED\x07");
    FetchResult first = fetch_failing_from_chunk(b, 6);
    ASSERT_FALSE(first.blobs[0].status.ok());
    server.clear_rules();
    server.change_blob("/blobs/esc.bin", 87, 8 * kChunk, "v2\x1b[2J");
    FetchResult r = fetch({b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_NE(logs().find("changed while blob"), std::string::npos) << logs();
    EXPECT_EQ(logs().find('\x1b'), std::string::npos) << logs();
    EXPECT_EQ(logs().find('\x07'), std::string::npos) << logs();
}

}  // namespace
}  // namespace blobfetch::test
