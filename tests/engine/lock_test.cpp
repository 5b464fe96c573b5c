// The engine and the cross-process directory lock: a blob whose directory is
// locked by another process waits while the others go on, re-checks the cache
// once it has the lock, times out with its own status, and is cancellable.
#include <atomic>
#include <csignal>
#include <thread>

#include "support/wait.h"
#include "engine_fixture.h"
#include "lock/dir_lock.h"

namespace blobfetch::test {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class LockTest : public EngineTest {
protected:
    // Another process takes the lock of `spec`'s directory and keeps it until release().
    void hold(const BlobSpec &spec) {
        m_holder = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{bin_dir() + "/blobfetch-lockholder", final_path(spec).parent_path().string(),
                                     m_ctl / "release"},
            ProcessOptions{}, m_ctl / "holder.out", m_ctl / "holder.err");
        ASSERT_TRUE(eventually([&] { return read_file(m_ctl / "holder.out").rfind("locked", 0) == 0; }));
    }
    void release() {
        write_file(m_ctl / "release", "");
        m_holder->wait();
    }
    pid_t holder_pid() const { return m_holder->pid(); }

    TempDir m_ctl;
    std::unique_ptr<BackgroundProcess> m_holder;
};

TEST_F(LockTest, BlobWhoseDirectoryIsLocked_WaitsWhileTheOthersDownload) {
    BlobSpec locked = blob("locked/a.bin", 51, 3 * kChunk);
    BlobSpec free = blob("free/b.bin", 52, 3 * kChunk);
    hold(locked);
    std::atomic<bool> free_done{false}, released{false};
    std::string detail;
    bool done_before_release = false;
    FetchResult r = fetch({locked, free}, options(), [&](const ProgressEvent &e) {
        if (e.blob == 1u && e.blob_state == BlobState::done) free_done = true;
        if (e.blob == 0u && e.blob_state == BlobState::waiting_lock) detail = e.detail;
        if (free_done && !detail.empty() && !released) {
            done_before_release = true;
            released = true;
            release();
        }
        return false;
    });
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(done_before_release) << "the free blob finished while the locked one waited";
    EXPECT_EQ(detail, "held by PID " + std::to_string(holder_pid()) + detail.substr(detail.find(" (since")))
        << detail;
    EXPECT_TRUE(published(locked) == blob_content(51, 3 * kChunk));
    EXPECT_TRUE(published(free) == blob_content(52, 3 * kChunk));
    EXPECT_NE(logs().find("waiting for 'cache/locked/a.bin', held by PID " + std::to_string(holder_pid())),
              std::string::npos)
        << logs();
}

// The directory is opened once, before the wait: swapping it for a symbolic
// link to somewhere else while the blob waits for its lock redirects nothing
// (every file is reached through the open directory), and the publish sees
// that the directory moved and says so. (It once wrote the blob and a lock
// file to the link's target and reported success.)
TEST_F(LockTest, DirectorySwappedForALinkWhileWaitingForItsLock_NothingGoesThroughTheLink) {
    TempDir outside;
    BlobSpec b = blob("swap/x.bin", 59, 3 * kChunk);
    hold(b);
    const fs::path swap = final_path(b).parent_path();
    bool swapped = false;
    FetchResult r = fetch({b}, options(), [&](const ProgressEvent &e) {
        if (e.blob == 0u && e.blob_state == BlobState::waiting_lock && !swapped) {
            swapped = true;
            fs::rename(swap, swap.string() + "-moved");  // the lock file (held) moves along
            fs::create_directory_symlink(outside.path(), swap);
            release();
        }
        return false;
    });
    ASSERT_TRUE(swapped);
    ASSERT_EQ(r.blobs[0].status.code(), Errc::io) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("was moved or replaced"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_TRUE(fs::is_empty(outside.path())) << "nothing, not even a lock file, went through the link";
    EXPECT_FALSE(fs::exists(fs::path(outside.path()) / "x.bin"));
    // The next run refuses the link outright.
    r = fetch({b});
    EXPECT_EQ(r.blobs[0].status.code(), Errc::unsafe_path) << r.blobs[0].status.message();
    EXPECT_TRUE(fs::is_empty(outside.path()));
}

// The same two levels deep: the directory above the blob's is moved out of
// the cache and a link to where it went takes its place. The blob's
// directory is the very same one behind the link, but not inside the cache
// any more: reported, nothing published. (The check once followed links
// above the last component and published outside the cache.)
TEST_F(LockTest, ParentMovedOutOfTheCacheBehindALinkWhileWaiting_IsReported_NothingPublishedOutside) {
    TempDir outside;
    BlobSpec b = blob("up/down/x.bin", 58, 3 * kChunk);
    hold(b);
    const fs::path up = final_path(b).parent_path().parent_path();
    const fs::path moved = fs::path(outside.path()) / "up";
    bool swapped = false;
    FetchResult r = fetch({b}, options(), [&](const ProgressEvent &e) {
        if (e.blob == 0u && e.blob_state == BlobState::waiting_lock && !swapped) {
            swapped = true;
            fs::rename(up, moved);
            fs::create_directory_symlink(moved, up);
            release();
        }
        return false;
    });
    ASSERT_TRUE(swapped);
    ASSERT_EQ(r.blobs[0].status.code(), Errc::io) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("was moved or replaced"), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_FALSE(fs::exists(moved / "down" / "x.bin")) << "published outside the cache";
}

TEST_F(LockTest, PublishedByTheHolderMeanwhile_IsReportedPresentWithoutARequest) {
    BlobSpec b = blob("taken/c.bin", 53, 3 * kChunk);
    hold(b);
    bool published_by_other = false;
    FetchResult r = fetch({b}, options(), [&](const ProgressEvent &e) {
        if (e.blob == 0u && e.blob_state == BlobState::waiting_lock && !published_by_other) {
            // The holder finishes its download of the same blob, then exits.
            write_file(final_path(b).string(), blob_content(53, 3 * kChunk));
            published_by_other = true;
            release();
        }
        return false;
    });
    ASSERT_TRUE(published_by_other);
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(r.blobs[0].skipped);
    EXPECT_EQ(r.blobs[0].bytes_downloaded, 0);
    EXPECT_EQ(r.blobs[0].bytes_skipped, 3 * kChunk);
    EXPECT_TRUE(requests_for(b).empty()) << "re-checked after taking the lock";
}

TEST_F(LockTest, LockHeldTooLong_TimesOutWithItsOwnStatus) {
    BlobSpec b = blob("stuck/d.bin", 54, 2 * kChunk);
    BlobSpec other = blob("other/e.bin", 55, 1000);
    hold(b);
    auto o = options();
    o.lock_timeout_ms = 300;
    FetchResult r = fetch({b, other}, o);
    release();
    EXPECT_EQ(r.status.code(), Errc::partial);
    ASSERT_EQ(r.blobs[0].status.code(), Errc::lock_timeout) << r.blobs[0].status.message();
    EXPECT_NE(r.blobs[0].status.message().find("PID " + std::to_string(holder_pid())), std::string::npos)
        << r.blobs[0].status.message();
    EXPECT_TRUE(r.blobs[1].status.ok()) << "one blob's timeout does not fail the others";
    EXPECT_TRUE(requests_for(b).empty());
}

TEST_F(LockTest, CancelWhileWaitingForALock_ReturnsPromptly) {
    BlobSpec b = blob("wait/f.bin", 56, 2 * kChunk);
    hold(b);
    Clock::time_point asked{};
    FetchResult r = fetch({b}, options(), [&](const ProgressEvent &e) {
        if (e.blob == 0u && e.blob_state == BlobState::waiting_lock && asked == Clock::time_point{})
            asked = Clock::now();
        return asked != Clock::time_point{};
    });
    EXPECT_LT(Clock::now() - asked, 2s);
    release();
    EXPECT_EQ(r.status.code(), Errc::cancelled);
    EXPECT_EQ(r.blobs[0].status.code(), Errc::cancelled);
}

TEST_F(LockTest, SamePathTwiceInOneFetch_DownloadedOnce) {
    BlobSpec b = blob("twice/g.bin", 57, 4 * kChunk);
    FetchResult r = fetch({b, b});
    ASSERT_TRUE(r.status.ok()) << r.status.message() << logs();
    EXPECT_TRUE(published(b) == blob_content(57, 4 * kChunk));
    EXPECT_EQ(server.body_bytes_sent("/blobs/twice/g.bin"), 4 * kChunk) << "the second waits and finds it present";
    EXPECT_TRUE(r.blobs[0].skipped != r.blobs[1].skipped);
}

TEST_F(LockTest, LockingDisabled_PrivateTemporaryFilesAndNoLockFile) {
    BlobSpec b = blob("nolock/h.bin", 58, 6 * kChunk);
    server.add_rule(rule(5 * kChunk, -1, fault(FaultKind::status, 0, 500)));
    auto o = options();
    o.locking = false;
    o.retries = 0;
    FetchResult r = fetch({b}, o);
    ASSERT_FALSE(r.blobs[0].status.ok());
    EXPECT_TRUE(leftovers().empty()) << "private files are never kept for another process";
    EXPECT_FALSE(fs::exists(final_path(b).parent_path() / kLockFileName));
    server.clear_rules();
    FetchResult again = fetch({b}, o);
    ASSERT_TRUE(again.status.ok()) << again.status.message();
    EXPECT_TRUE(published(b) == blob_content(58, 6 * kChunk));
    EXPECT_TRUE(leftovers().empty());
}

TEST_F(LockTest, FailFast_StopsTheOtherBlobsWhenOneFails) {
    BlobSpec missing;
    missing.url = server.base_url() + "/nowhere.bin";
    missing.path = "ff/missing.bin";
    missing.size = 4 * kChunk;
    BlobSpec slow = blob("ff/slow.bin", 59, 4 * kChunk);
    FaultRule stall = rule(-1, -1, fault(FaultKind::stall, 100));
    stall.path = "/blobs/ff/slow.bin";
    server.add_rule(stall);
    auto o = options();
    o.fail_fast = true;
    o.stall_timeout_ms = 600000;
    const auto t0 = Clock::now();
    FetchResult r = fetch({missing, slow}, o);
    EXPECT_LT(Clock::now() - t0, 5s);
    EXPECT_EQ(r.status.code(), Errc::partial) << "not a cancel by the host";
    EXPECT_EQ(r.blobs[0].status.code(), Errc::not_found);
    ASSERT_EQ(r.blobs[1].status.code(), Errc::cancelled);
    EXPECT_NE(r.blobs[1].status.message().find("fail_fast"), std::string::npos) << r.blobs[1].status.message();
}

}  // namespace
}  // namespace blobfetch::test

namespace blobfetch::test {
namespace {

TEST_F(EngineTest, CachedBytesAreCreditedAtOnce_AFullyCachedSetReports100PercentFirst) {
    std::vector<BlobSpec> specs{blob("c1", 71, 3 * kChunk), blob("c2", 72, 1000), blob("c3", 73, 2 * kChunk)};
    ASSERT_TRUE(fetch({specs[0], specs[1]}).status.ok());
    // Two of three cached: the first report already counts them.
    std::vector<std::pair<std::int64_t, std::int64_t>> totals;
    auto record = [&](const ProgressEvent &e) {
        if (!e.blob) totals.emplace_back(e.done_bytes, e.total_bytes);
        return false;
    };
    ASSERT_TRUE(fetch(specs, options(), record).status.ok());
    ASSERT_FALSE(totals.empty());
    EXPECT_GE(totals.front().first, 3 * kChunk + 1000) << "a resumed run starts at an honest percentage";
    totals.clear();
    ASSERT_TRUE(fetch(specs, options(), record).status.ok());
    ASSERT_FALSE(totals.empty());
    EXPECT_EQ(totals.front().first, totals.front().second) << "everything cached: 100% at once";
}

}  // namespace
}  // namespace blobfetch::test
