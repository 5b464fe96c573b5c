// The engine's record, checkpoints, publish and close for one blob, on real
// files in a temporary cache, without a network: the test writes the bytes
// itself, marks chunks complete and drains the engine's inbox until the blob
// moves (a fake BlobMoves records what the engine would be asked to do).
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "download/checkpoint_publish.h"
#include "download/partial_file.h"
#include "hash/crc32.h"
#include "state/download_state.h"
#include "lock/dir_lock.h"
#include "support/blob_content.h"
#include "support/process.h"

namespace blobfetch::detail {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::int64_t kChunk = 64 << 10;

class Moves final : public BlobMoves {
public:
    void fail(Job &j, Status why) override {
        moves.push_back("fail");
        failures.push_back(why);
        // (What the engine does: then the close.)
        j.failure = std::move(why);
        j.phase = Phase::closing;
        j.close_requested = true;
        if (commit) commit->settle(j);
    }
    void finish(Job &j, Status status) override {
        moves.push_back("finish");
        finished = status;
        j.phase = Phase::done;
    }
    void relock(Job &, const Status &) override { moves.push_back("relock"); }
    void start_fresh(Job &) override { moves.push_back("start_fresh"); }
    bool cancel_seen() const override { return false; }

    CheckpointPublish *commit = nullptr;
    std::vector<std::string> moves;
    std::vector<Status> failures;
    Status finished;
};

class CheckpointPublishTest : public ::testing::Test {
protected:
    void SetUp() override {
        content = test::blob_content(7, static_cast<std::size_t>(4 * kChunk));
        spec.path = "d/blob.bin";
        spec.url = "http://cache.example/blob.bin";
        spec.size = static_cast<std::int64_t>(content.size());
        spec.sha256 = test::sha256_hex(content);
        moves.commit = &commit;
    }

    // A chunked blob, prepared as the engine prepares it (a fresh .part and
    // a record of 4 chunks), transferring.
    Job &prepared() {
        job.spec = &spec;
        job.mode = TransferMode::chunked;
        job.paths = partial_paths(cache.path(), spec.path);
        auto dir = dirs.get(job.paths.rel_dir, /*create=*/true);
        EXPECT_TRUE(dir.ok());
        job.paths.dir = *dir;
        auto r = prepare_partial(spec, job.paths, job.mode, kChunk, /*recheck=*/true, true, cancel.token(), log);
        EXPECT_TRUE(r.ok()) << r.message();
        job.file = std::move(r->file);
        job.state = std::move(r->state);
        job.sha = std::move(r->sha);
        job.size = spec.size;
        job.phase = Phase::transferring;
        job.last_checkpoint = Clock::now();
        return job;
    }

    // Writes chunk i and tells the engine's side it landed and is complete.
    void land_chunk(std::uint64_t i) {
        const std::int64_t begin = static_cast<std::int64_t>(i) * kChunk;
        ASSERT_TRUE(job.file->write_at(content.data() + begin, kChunk, begin).ok());
        commit.landed(job, kChunk, begin, 0, job.epoch);
        commit.chunk_complete(job, i, crc_of(i));
    }
    std::uint32_t crc_of(std::uint64_t i) const {
        return crc32_update(0, content.data() + i * kChunk, static_cast<std::size_t>(kChunk));
    }

    // Runs the engine's inbox until `until` holds (each task wakes it).
    template <class Pred>
    void drain_until(Pred until) {
        std::unique_lock lock(mutex);
        while (!until()) {
            ASSERT_TRUE(woken.wait_for(lock, 10s, [&] { return wakeups > 0; })) << "no task came back";
            wakeups = 0;
            lock.unlock();
            tasks.drain();
            lock.lock();
        }
    }
    void wake() {
        std::lock_guard lock(mutex);
        ++wakeups;
        woken.notify_all();
    }

    test::TempDir cache;
    DirCache dirs{cache.path()};
    std::string content;
    BlobSpec spec;
    Job job;
    CancellationSource cancel;
    CancellationToken token = cancel.token();
    Logger log;
    FetchProgress progress{std::vector<std::int64_t>(1, -1)};
    Moves moves;
    std::mutex mutex;
    std::condition_variable woken;
    int wakeups = 0;
    EngineTasks tasks{2, [this] { wake(); }};
    CheckpointPublish commit{CheckpointOptions{true, 2 * kChunk, 3600s, 2 * kChunk}, tasks, dirs, token,
                             progress, log, moves};
};

TEST_F(CheckpointPublishTest, RecordSavedOnlyOnceCheckpointBytesLanded_ThenPublishedWhenComplete) {
    Job &j = prepared();
    const fs::path record = cache / "d/blob.bin.dlstate";
    land_chunk(0);
    EXPECT_FALSE(j.checkpointing) << "one chunk is below checkpoint_bytes";
    EXPECT_EQ(tasks.outstanding(), 0u);
    land_chunk(1);
    EXPECT_TRUE(j.checkpointing);
    drain_until([&] { return !j.checkpointing && !j.hashing; });
    ASSERT_TRUE(fs::exists(record));
    auto saved = load_download_state(*j.paths.dir, "blob.bin.dlstate");
    ASSERT_TRUE(saved.ok()) << saved.message();
    EXPECT_TRUE(saved->chunks.test(0));
    EXPECT_TRUE(saved->chunks.test(1));
    EXPECT_FALSE(saved->chunks.test(2));
    EXPECT_EQ(j.hashed, 2 * kChunk) << "the complete prefix was folded into the hash";

    land_chunk(3);
    land_chunk(2);
    commit.maybe_finish(j);
    drain_until([&] { return !moves.moves.empty(); });
    ASSERT_EQ(moves.moves, std::vector<std::string>{"finish"}) << moves.failures[0].message();
    EXPECT_TRUE(moves.finished.ok()) << moves.finished.message();
    EXPECT_EQ(test::read_file(cache / "d/blob.bin"), content);
    EXPECT_FALSE(fs::exists(record));
    EXPECT_FALSE(fs::exists(cache / "d/blob.bin.part"));
}

TEST_F(CheckpointPublishTest, CheckpointIntervalPassed_SavesFewerBytesToo) {
    Job &j = prepared();
    land_chunk(0);
    EXPECT_FALSE(j.checkpointing);
    commit.maybe_checkpoint(j, j.last_checkpoint + 3600s);
    EXPECT_TRUE(j.checkpointing);
    drain_until([&] { return !j.checkpointing; });
    EXPECT_TRUE(fs::exists(cache / "d/blob.bin.dlstate"));
}

TEST_F(CheckpointPublishTest, WrongBytes_AreNeverPublished_TheFilesGo) {
    Job &j = prepared();
    content[5] ^= 1;  // what lands differs from what the descriptor pins
    for (std::uint64_t i = 0; i < 4; ++i) land_chunk(i);
    commit.maybe_finish(j);
    drain_until([&] { return !moves.moves.empty(); });
    EXPECT_EQ(moves.moves, std::vector<std::string>{"finish"});
    EXPECT_EQ(moves.finished.code(), Errc::verify) << moves.finished.message();
    EXPECT_FALSE(fs::exists(cache / "d/blob.bin"));
    EXPECT_FALSE(fs::exists(cache / "d/blob.bin.part"));
    EXPECT_FALSE(fs::exists(cache / "d/blob.bin.dlstate"));
}

TEST_F(CheckpointPublishTest, FailedBlob_KeepsItsRecordOnClose_ForTheNextRun) {
    Job &j = prepared();
    land_chunk(0);
    moves.fail(j, Status(Errc::network, "reset"));
    drain_until([&] { return moves.moves.size() == 2; });
    EXPECT_EQ(moves.moves, (std::vector<std::string>{"fail", "finish"}));
    EXPECT_EQ(moves.finished.code(), Errc::network);
    auto saved = load_download_state(*j.paths.dir, "blob.bin.dlstate");
    ASSERT_TRUE(saved.ok()) << saved.message();
    EXPECT_TRUE(saved->chunks.test(0));
    EXPECT_TRUE(fs::exists(cache / "d/blob.bin.part"));
}

TEST_F(CheckpointPublishTest, BlobTheSourceDoesNotHave_LeavesNothingOnClose) {
    Job &j = prepared();
    land_chunk(0);
    moves.fail(j, Status(Errc::not_found, "404"));
    drain_until([&] { return moves.moves.size() == 2; });
    EXPECT_FALSE(fs::exists(cache / "d/blob.bin.dlstate"));
    EXPECT_FALSE(fs::exists(cache / "d/blob.bin.part"));
}

TEST_F(CheckpointPublishTest, LockFileRemovedWhileHeld_TheCheckpointAsksToWaitForTheLockAgain) {
    Job &j = prepared();
    std::shared_ptr<LockFile> file;
    auto locks = try_lock_blobs(file, *j.paths.dir, {"blob.bin"});
    ASSERT_TRUE(locks.ok()) << locks.message();
    j.blob_lock = std::move((*locks)[0].lock);
    ASSERT_TRUE(j.blob_lock && j.blob_lock->enforced());
    fs::remove(cache / (std::string("d/") + kLockFileName));  // a tmp cleaner
    land_chunk(0);
    land_chunk(1);
    drain_until([&] { return !moves.moves.empty() && !j.checkpointing; });
    ASSERT_FALSE(moves.moves.empty());
    EXPECT_EQ(moves.moves.front(), "fail");
    EXPECT_NE(moves.failures[0].message().find("removed or replaced while in use"), std::string::npos);
    EXPECT_EQ(j.after_close, CloseEnds::relock);
    drain_until([&] { return moves.moves.size() >= 2; });
    EXPECT_EQ(moves.moves.back(), "relock");
    // What landed was saved before (the names are left alone by the close).
    EXPECT_TRUE(fs::exists(cache / "d/blob.bin.dlstate"));
}

TEST(EngineTasksTest, ResultsComeBackOnTheDrainingThread_ExceptionsBecomeInternalErrors) {
    std::mutex m;
    std::condition_variable cv;
    int wakeups = 0;
    EngineTasks tasks(2, [&] {
        std::lock_guard lock(m);
        ++wakeups;
        cv.notify_all();
    });
    const auto me = std::this_thread::get_id();
    std::vector<std::string> seen;
    tasks.submit([] { return Status::success(); }, [&](Status s) {
        EXPECT_EQ(std::this_thread::get_id(), me);
        seen.push_back(s.ok() ? "ok" : s.message());
    });
    tasks.submit([]() -> Status { throw std::runtime_error("disk on fire"); },
                 [&](Status s) { seen.push_back(s.message()); });
    tasks.write([] { return Status(Errc::io, "short write"); }, [&](Status s) { seen.push_back(s.message()); });
    EXPECT_EQ(tasks.outstanding(), 3u);
    while (tasks.outstanding() > 0) {
        std::unique_lock lock(m);
        ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return wakeups > 0; }));
        wakeups = 0;
        lock.unlock();
        tasks.drain();
    }
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(seen, (std::vector<std::string>{"internal error: disk on fire", "ok", "short write"}));
}

}  // namespace
}  // namespace blobfetch::detail
