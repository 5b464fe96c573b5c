#include "lock/blob_lock.h"

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/path_safety.h"
#include "io/dir_handle.h"
#include "lock/dir_lock.h"
#include "support/process.h"
#include "support/wait.h"

namespace blobfetch {
namespace {

namespace fs = std::filesystem;
using test::eventually;
using namespace std::chrono_literals;

std::shared_ptr<DirHandle> open_dir(const fs::path &p) {
    auto d = DirHandle::open_root(p, /*create=*/true);
    EXPECT_TRUE(d.ok()) << d.message();
    return *d;
}

// One attempt at `names` through a fresh LockFile (another open file: as
// another process would).
struct Opener {
    explicit Opener(std::shared_ptr<DirHandle> d) : dir(std::move(d)) {}
    std::shared_ptr<DirHandle> dir;
    std::shared_ptr<LockFile> file;
    std::vector<BlobAttempt> attempt(const std::vector<std::string> &names) {
        auto r = try_lock_blobs(file, *dir, names);
        EXPECT_TRUE(r.ok()) << r.message();
        return r.ok() ? std::move(*r) : std::vector<BlobAttempt>(names.size());
    }
};

TEST(BlobLock, DifferentBlobsOfOneDirectory_NeverWaitOnEachOther_TheSameBlobDoes) {
    test::TempDir tmp;
    Opener a{open_dir(tmp.path())}, b{open_dir(tmp.path())};
    auto first = a.attempt({"big.zip"});
    ASSERT_TRUE(first[0].lock);
    EXPECT_TRUE(first[0].lock->enforced());
    auto other = b.attempt({"small.zip"});
    EXPECT_TRUE(other[0].lock) << "another blob of the same directory is free";
    auto same = b.attempt({"big.zip"});
    EXPECT_FALSE(same[0].lock);
    EXPECT_EQ(same[0].holder.rfind("PID:" + std::to_string(::getpid()) + ",Time:", 0), 0u) << same[0].holder;
    EXPECT_NE(same[0].holder.find(",Blob:big.zip"), std::string::npos) << same[0].holder;
    EXPECT_EQ(describe_holder(same[0].holder).find("fetching 'big.zip'"),
              describe_holder(same[0].holder).size() - std::string("fetching 'big.zip')").size());
    first[0].lock.reset();  // released at once
    auto after = b.attempt({"big.zip"});
    EXPECT_TRUE(after[0].lock);
    struct stat st {};
    ASSERT_EQ(::stat((tmp / ".download.lock").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0666u) << "every user who may fetch there can lock";
}

// A batch where most blobs are held by others and some are free: the held
// ones are found by scanning the held ranges (not by trying each), the free
// ones are taken, and each result belongs to its own name.
TEST(BlobLock, ABatchOfManyBlobs_TakesExactlyTheFreeOnes) {
    test::TempDir tmp;
    Opener other{open_dir(tmp.path())}, self{open_dir(tmp.path())};
    std::vector<std::string> names, held_names;
    for (int i = 0; i < 40; ++i) names.push_back("blob-" + std::to_string(i));
    for (int i = 0; i < 40; i += 3) held_names.push_back(names[static_cast<std::size_t>(i)]);
    auto held = other.attempt(held_names);
    for (auto &h : held) ASSERT_TRUE(h.lock);
    auto r = self.attempt(names);
    ASSERT_EQ(r.size(), names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
        const bool is_held = i % 3 == 0;
        EXPECT_EQ(static_cast<bool>(r[i].lock), !is_held) << names[i];
        if (is_held) {
            EXPECT_NE(r[i].holder.find(",Blob:" + names[i]), std::string::npos) << r[i].holder;
        }
    }
}

// The whole-directory lock (gc) and the blob locks exclude each other.
TEST(BlobLock, WholeDirectoryLock_ExcludesEveryBlob_AndWaitsForThem) {
    test::TempDir tmp;
    Opener a{open_dir(tmp.path())};
    {
        auto whole = try_lock_directory(tmp.path());
        ASSERT_TRUE(whole.ok() && whole->lock) << whole.message();
        auto r = a.attempt({"x", "y", "z"});
        for (auto &x : r) {
            EXPECT_FALSE(x.lock);
            EXPECT_EQ(x.holder.rfind("PID:" + std::to_string(::getpid()), 0), 0u) << x.holder;
            EXPECT_EQ(x.holder.find(",Blob:"), std::string::npos) << "line 0: the directory's holder";
        }
        auto probe = probe_directory_lock(tmp.path());
        ASSERT_TRUE(probe.ok());
        EXPECT_TRUE(probe->held);
    }
    auto r = a.attempt({"x"});
    ASSERT_TRUE(r[0].lock);
    auto whole = try_lock_directory(tmp.path());
    ASSERT_TRUE(whole.ok());
    EXPECT_FALSE(whole->lock) << "a blob is being fetched there";
    EXPECT_NE(whole->holder.find(",Blob:x"), std::string::npos) << whole->holder;
    auto probe = probe_blob_lock(tmp.path(), "x");
    ASSERT_TRUE(probe.ok());
    EXPECT_TRUE(probe->held);
    EXPECT_FALSE(probe_blob_lock(tmp.path(), "y")->held);
}

// gc removes the lock file (holding the directory's lock) after another
// process opened it: a lock taken on the removed file would protect
// nothing, so the attempt opens the file that is there now.
// (POSIX only: removing an open file is unlink there; on Windows the name
// goes at once only with POSIX-semantics deletion, which Wine lacks.)
#ifndef _WIN32
TEST(BlobLock, LockFileRemovedAfterItWasOpened_TheLockIsTakenOnTheNewOne) {
    test::TempDir tmp;
    Opener stale{open_dir(tmp.path())}, fresh{open_dir(tmp.path())};
    auto warm = stale.attempt({"warm"});  // opens the file
    warm[0].lock.reset();
    ASSERT_TRUE(stale.file);
    const auto old_file = stale.file;
    ASSERT_EQ(::unlink((tmp / ".download.lock").c_str()), 0);
    auto r = stale.attempt({"blob"});
    ASSERT_TRUE(r[0].lock);
    EXPECT_NE(stale.file, old_file) << "reopened";
    auto other = fresh.attempt({"blob"});
    EXPECT_FALSE(other[0].lock) << "both see the same lock file";
}
#endif

// The kernel lets go of a dead holder's locks: never stale.
TEST(BlobLock, HeldByAProcessThatIsKilled_IsNeverStale) {
    test::TempDir tmp;
    const std::string dir = tmp / "d";
    test::BackgroundProcess holder({test::bin_dir() + "/blobfetch-lockholder", dir, tmp / "release", "asset.bin"}, {},
                                   tmp / "holder.out", tmp / "holder.err");
    ASSERT_TRUE(eventually([&] { return test::read_file(tmp / "holder.out").rfind("locked", 0) == 0; }))
        << test::read_file(tmp / "holder.err");
    Opener o{open_dir(dir)};
    auto busy = o.attempt({"asset.bin", "unrelated.bin"});
    EXPECT_FALSE(busy[0].lock);
    EXPECT_EQ(describe_holder(busy[0].holder).rfind("PID " + std::to_string(holder.pid()) + " (since ", 0), 0u)
        << busy[0].holder;
    EXPECT_TRUE(busy[1].lock);
    holder.signal(SIGKILL);
    holder.wait();
    EXPECT_TRUE(o.attempt({"asset.bin"})[0].lock);
}

// (A read-only lock file of another user: SharedCache.LockFileOfAnotherUserWithAStrictUmask_NeverFailsTheNextUser.)

#ifndef _WIN32  // (POSIX: links and FIFOs)
// A directory, a symbolic link or a FIFO at the lock file's name (in a shared
// sticky directory another user's, which this one cannot remove) shares no
// lock, as an unwritable lock file: every blob is still taken, not enforced
// (the engine then works in private files), the reason names the path and
// what is there, nothing is created or opened through it, and no attempt
// waits on the FIFO. (Each once failed every blob there, for everybody.)
TEST(BlobLock, ALockFileThatIsNoFile_SharesNoLock_EveryBlobIsStillTaken) {
    const std::vector<std::pair<std::string, std::function<void(const fs::path &)>>> cases = {
        {"is a directory", [](const fs::path &p) { fs::create_directory(p); }},
        {"is a symbolic link", [](const fs::path &p) { fs::create_symlink(p.parent_path() / "elsewhere", p); }},
        {"is a FIFO", [](const fs::path &p) { ASSERT_EQ(::mkfifo(p.c_str(), 0666), 0) << std::strerror(errno); }}};
    for (const auto &[kind, make] : cases) {
        test::TempDir tmp;
        const fs::path lock = tmp / ".download.lock";
        make(lock);
        Opener o{open_dir(tmp.path())};
        // (On a separate thread: were an open to wait for the FIFO's writer,
        // opening it for writing lets it go and the test fails, not hangs.)
        auto attempt = std::async(std::launch::async, [&] { return try_lock_blobs(o.file, *o.dir, {"a.zip", "b.zip"}); });
        if (attempt.wait_for(20s) != std::future_status::ready) {
            ADD_FAILURE() << kind << ": the attempt waited on the lock file";
            UniqueFd writer(::open(lock.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
        }
        auto r = attempt.get();
        EXPECT_TRUE(r.ok()) << kind << ": " << r.message();
        if (!r.ok()) continue;
        for (const auto &x : *r) {
            ASSERT_TRUE(x.lock) << kind;
            EXPECT_FALSE(x.lock->enforced()) << kind;
            EXPECT_NE(x.lock->why_not_enforced().find("'" + lock.string() + "' " + kind), std::string::npos)
                << x.lock->why_not_enforced();
        }
        auto whole = try_lock_directory(tmp.path());
        ASSERT_TRUE(whole.ok()) << kind << ": " << whole.message();
        ASSERT_TRUE(whole->lock) << kind;
        EXPECT_FALSE(whole->lock->enforced()) << kind << ": gc must not take this for a lock";
        EXPECT_NE(whole->lock->why_not_enforced().find(kind), std::string::npos) << whole->lock->why_not_enforced();
        EXPECT_FALSE(fs::exists(tmp / "elsewhere")) << "created through the link";
    }
}
#endif

// Two blobs whose names share their first 80 bytes and whose keys share a
// holder slot: the slot last written is the other blob's, and a waiter for
// the first must not be told that blob's holder. (It once named the wrong
// PID: the slot was matched on the cut name.)
TEST(BlobLock, ASlotWrittenForAnotherBlob_NeverNamesItsHolder) {
    test::TempDir tmp;
    const std::string prefix(90, 'p');
    const std::string x = prefix + "-x";
    std::string y;
    for (int i = 0; y.empty(); ++i) {
        const std::string candidate = prefix + "-" + std::to_string(i);
        if (candidate != x && blob_lock_key(candidate) % 4096 == blob_lock_key(x) % 4096) y = candidate;
    }
    Opener a{open_dir(tmp.path())}, b{open_dir(tmp.path())}, c{open_dir(tmp.path())};
    auto hx = a.attempt({x});
    ASSERT_TRUE(hx[0].lock);
    auto hy = b.attempt({y});  // writes the shared slot after x's holder
    ASSERT_TRUE(hy[0].lock);
    auto wait = c.attempt({x});
    ASSERT_FALSE(wait[0].lock);
    EXPECT_EQ(wait[0].holder.find(y.substr(80)), std::string::npos) << wait[0].holder;
    EXPECT_EQ(wait[0].holder, "") << "unknown rather than another blob's holder";
}

TEST(BlobLock, Keys_AreStableAndSpreadOverTheRange) {
    EXPECT_EQ(blob_lock_key("a"), blob_lock_key("a"));
    EXPECT_NE(blob_lock_key("a"), blob_lock_key("b"));
    EXPECT_LT(blob_lock_key("some/long/name.zip"), std::uint64_t{1} << 61);
}

// Where names ignore case (Windows), two spellings of one file are one lock:
// two processes never write one file through `a.bin` and `A.BIN`. On POSIX
// they are two files and two locks.
TEST(BlobLock, NamesDifferingOnlyInCase_OneLockWhereNamesIgnoreCase) {
    EXPECT_EQ(blob_lock_key("a.bin") == blob_lock_key("A.BIN"), kNamesIgnoreCase);
    test::TempDir tmp;
    Opener a{open_dir(tmp.path())}, b{open_dir(tmp.path())};
    auto first = a.attempt({"a.bin"});
    ASSERT_TRUE(first[0].lock);
    auto other = b.attempt({"A.BIN"});
    EXPECT_EQ(static_cast<bool>(other[0].lock), !kNamesIgnoreCase);
    if (kNamesIgnoreCase) {
        EXPECT_NE(other[0].holder.find(",Blob:a.bin"), std::string::npos) << other[0].holder;
    }
}

}  // namespace
}  // namespace blobfetch
