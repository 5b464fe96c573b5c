// The plan of a blob's requests and the admission bound, on jobs built in
// memory: no network, no files, time passed in.
#include <chrono>
#include <memory>

#include <gtest/gtest.h>

#include "download/scheduler.h"

namespace blobfetch::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kChunk = 1000;

class SchedulerTest : public ::testing::Test {
protected:
    // A transferring blob of `size` bytes with a record of kChunk chunks.
    Job &recorded(std::int64_t size) {
        spec.size = size;
        spec.url = "http://cache.example/b";
        job.spec = &spec;
        job.mode = TransferMode::chunked;
        job.chunk_size = kChunk;
        job.size = size;
        job.state.emplace(size, kChunk, Digest32{}, Digest32{});
        job.url_answered = true;
        return job;
    }
    BlobSpec spec;
    Job job;
    Clock::time_point now = Clock::now();
    Clock::time_point wake = now + 10s;
};

TEST(ChunkSizeFor, GrowsOnlyPastTheRecordsLimit_In64KiBSteps) {
    const auto max = static_cast<std::int64_t>(DownloadState::kMaxChunks);
    EXPECT_EQ(chunk_size_for(-1, 2 << 20), 2 << 20);
    EXPECT_EQ(chunk_size_for(0, 2 << 20), 2 << 20);
    EXPECT_EQ(chunk_size_for(max * (2 << 20), 2 << 20), 2 << 20);  // exactly kMaxChunks chunks
    const std::int64_t grown = chunk_size_for(max * (2 << 20) + 1, 2 << 20);
    EXPECT_GT(grown, 2 << 20);
    EXPECT_EQ(grown % (64 << 10), 0);
    EXPECT_LE((max * (2 << 20) + 1 - 1) / grown + 1, max);
}

TEST_F(SchedulerTest, PendingChunksInOrder_SkippingCompleteOnes_ThenNothing) {
    Job &j = recorded(3 * kChunk + 10);
    j.state->complete(1, 0);
    std::vector<std::int64_t> begins;
    while (auto p = next_piece(j, now, wake)) {
        EXPECT_TRUE(p->ranged);
        begins.push_back(p->begin);
        j.transfers.push_back(begins.size());  // in flight
    }
    EXPECT_EQ(begins, (std::vector<std::int64_t>{0, 2 * kChunk, 3 * kChunk}));
    EXPECT_EQ(wake, now + 10s);
}

TEST_F(SchedulerTest, ChunkWhoseFirstBytesLanded_AsksForTheRestWithItsCrcSeed) {
    Job &j = recorded(2 * kChunk);
    j.state->note_prefix(0, 300, 0xabcdef01u);
    auto p = next_piece(j, now, wake);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->begin, 300);
    EXPECT_EQ(p->end, kChunk);
    EXPECT_EQ(p->crc_seed, 0xabcdef01u);
}

TEST_F(SchedulerTest, RetryPieces_GoFirstWhenDue_ElseTheyTellWhenToWake) {
    Job &j = recorded(2 * kChunk);
    j.next_chunk = 2;  // both chunks handed out
    j.pieces.push_back(Piece{0, kChunk, true, 1, now + 300ms});
    EXPECT_FALSE(next_piece(j, now, wake));
    EXPECT_EQ(wake, now + 300ms);
    auto p = next_piece(j, now + 300ms, wake);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->attempt, 1);
    EXPECT_TRUE(j.pieces.empty());
}

TEST_F(SchedulerTest, EmptyRangedPieces_AreDropped) {
    Job &j = recorded(kChunk);
    j.next_chunk = 1;
    j.pieces.push_back(Piece{kChunk, kChunk, true, 0, {}});
    j.transfers.push_back(7);
    EXPECT_FALSE(next_piece(j, now, wake));
    EXPECT_TRUE(j.pieces.empty());
}

TEST_F(SchedulerTest, BeforeTheFirstAnswer_OneRequestAtATime) {
    Job &j = recorded(3 * kChunk);
    j.url_answered = false;
    ASSERT_TRUE(next_piece(j, now, wake));
    j.transfers.push_back(1);
    EXPECT_FALSE(next_piece(j, now, wake));
    j.url_answered = true;
    EXPECT_TRUE(next_piece(j, now, wake));
}

TEST_F(SchedulerTest, ServerIgnoringRanges_NoChunksFromTheRecord) {
    Job &j = recorded(3 * kChunk);
    j.ranges = false;
    EXPECT_FALSE(next_piece(j, now, wake));
}

TEST_F(SchedulerTest, ChunkNobodyHas_IsFoundByTheRescan_OnceNothingIsInFlight) {
    Job &j = recorded(3 * kChunk);
    j.state->complete(0, 0);
    j.state->complete(2, 0);
    j.next_chunk = 3;  // past the end, chunk 1 lost track of
    j.pending_writes = 1;
    EXPECT_FALSE(next_piece(j, now, wake));  // a write may still complete it
    j.pending_writes = 0;
    auto p = next_piece(j, now, wake);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->begin, kChunk);
}

TEST_F(SchedulerTest, RewriteFromZero_ForgetsChunksAndResumedBytes_NewEpoch) {
    Job &j = recorded(3 * kChunk);
    j.state->complete(0, 0);
    j.next_chunk = 2;
    j.prefix = 1;
    j.resumed = kChunk;
    j.unsaved_bytes = 5;
    const auto epoch = j.epoch;
    rewrite_from_zero(j);
    EXPECT_EQ(j.epoch, epoch + 1);
    EXPECT_FALSE(j.state->chunks.test(0));
    EXPECT_EQ(j.next_chunk, 0u);
    EXPECT_EQ(j.prefix, 0u);
    EXPECT_EQ(j.resumed, 0);
    EXPECT_EQ(j.unsaved_bytes, 0);
}

TEST_F(SchedulerTest, HashRestartWhileAHashTaskRuns_MarksItStale) {
    Job &j = recorded(kChunk);
    spec.sha256 = std::string(64, 'a');
    j.sha = BlobHashes::for_spec(spec);
    j.hashing = true;
    BlobHashes *running = j.sha.get();
    restart_hash(j);
    EXPECT_TRUE(j.sha_stale);
    EXPECT_EQ(j.sha.get(), running);  // the task still uses it
    j.hashing = false;
    j.sha_stale = false;
    restart_hash(j);
    EXPECT_NE(j.sha.get(), nullptr);
    EXPECT_FALSE(j.sha_stale);
}

TEST_F(SchedulerTest, NewRemote_KnownSize_EveryChunkAgainUnderTheNewIdentity) {
    Job &j = recorded(2 * kChunk);
    j.state->complete(0, 0);
    j.pieces.push_back(Piece{kChunk, 2 * kChunk, true, 2, {}});
    RemoteIdentity fresh;
    fresh.etag = "\"v2\"";
    EXPECT_FALSE(replan_for_new_remote(j, fresh));
    EXPECT_TRUE(j.pieces.empty());
    EXPECT_FALSE(j.state->chunks.test(0));
    EXPECT_EQ(j.state->identity.etag, "\"v2\"");
    EXPECT_EQ(j.identity.etag, "\"v2\"");
    auto p = next_piece(j, now, wake);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->begin, 0);
}

TEST_F(SchedulerTest, NewRemote_UnknownSize_ProbesAgainAndTheFileIsCut) {
    Job &j = recorded(2 * kChunk);
    spec.size = -1;
    EXPECT_TRUE(replan_for_new_remote(j, RemoteIdentity{}));
    EXPECT_FALSE(j.state);
    EXPECT_EQ(j.size, -1);
    ASSERT_EQ(j.pieces.size(), 1u);
    EXPECT_EQ(j.pieces[0].begin, 0);
    EXPECT_EQ(j.pieces[0].end, kChunk);
    EXPECT_TRUE(j.pieces[0].ranged);
}

TEST_F(SchedulerTest, NewRemote_SingleMode_OnePlainRequestAgain) {
    Job &j = recorded(500);
    j.state.reset();
    j.mode = TransferMode::single;
    EXPECT_FALSE(replan_for_new_remote(j, RemoteIdentity{}));
    ASSERT_EQ(j.pieces.size(), 1u);
    EXPECT_FALSE(j.pieces[0].ranged);
    EXPECT_EQ(j.pieces[0].end, 500);
}

TEST_F(SchedulerTest, SizeLearned_LargerThanAChunk_GetsARecord_TheProbeIsChunkZero) {
    Job &j = recorded(0);
    j.state.reset();
    j.size = -1;
    EXPECT_FALSE(plan_for_size(j, kChunk));  // one request covers it
    EXPECT_FALSE(j.state);
    EXPECT_TRUE(plan_for_size(j, 5 * kChunk + 1));
    ASSERT_TRUE(j.state);
    EXPECT_EQ(j.state->chunks.size(), 6u);
    EXPECT_EQ(j.next_chunk, 1u);  // chunk 0 is the probe in flight
    EXPECT_EQ(j.size, 5 * kChunk + 1);
}

TEST(AdmissionTest, AtMostMaxActive_HeldBlobsQueueWhenFull_QueueGoesFirst) {
    Admission a(2);
    Job j1, j2, j3, j4;
    a.count(j1);
    a.count(j2);
    EXPECT_FALSE(a.room());
    EXPECT_TRUE(a.admit_held(j1));   // counted already: prepares now
    EXPECT_FALSE(a.admit_held(j3));  // waits for a slot
    EXPECT_TRUE(j3.ready);
    EXPECT_EQ(a.next_ready(), nullptr);
    a.uncount(j2);  // waits for another process's lock
    EXPECT_TRUE(a.room());
    EXPECT_EQ(a.next_ready(), &j3);
    EXPECT_FALSE(j3.ready);
    a.count(j3);
    EXPECT_FALSE(a.room());
    EXPECT_FALSE(a.admit_held(j4));
    a.done(j4);  // cancelled while queued: the queue forgets it
    a.done(j1);
    EXPECT_EQ(a.next_ready(), nullptr);
    EXPECT_TRUE(a.room());
    a.count(j1);
    a.count(j1);  // counting twice counts once
    EXPECT_FALSE(a.room());
}

}  // namespace
}  // namespace blobfetch::detail
