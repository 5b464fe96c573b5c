#include "lock/dir_lock.h"

#include <csignal>
#include <filesystem>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "io/file.h"
#include "support/wait.h"
#include "support/process.h"

namespace blobfetch {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using test::eventually;

// Another process holding the lock on `dir` until `release` exists or it is killed.
class Holder {
public:
    Holder(const test::TempDir &tmp, const std::string &dir)
        : m_release(tmp / "release"), m_out(tmp / "holder.out"),
          m_process({test::bin_dir() + "/blobfetch-lockholder", dir, m_release}, {}, m_out, tmp / "holder.err") {
        EXPECT_TRUE(eventually([&] { return test::read_file(m_out).rfind("locked", 0) == 0; }))
            << "the holder did not take the lock";
    }
    pid_t pid() { return m_process.pid(); }
    void release() {
        test::write_file(m_release, "");
        m_process.wait();
    }
    void kill() {
        m_process.signal(SIGKILL);
        m_process.wait();
    }

private:
    std::string m_release, m_out;
    test::BackgroundProcess m_process;
};

TEST(DirLock, Acquire_CreatesTheDirectoryAndWritesWhoHoldsIt) {
    test::TempDir tmp;
    const fs::path dir = fs::path(tmp.path()) / "a/b";
    auto r = try_lock_directory(dir);
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_TRUE(r->lock);
    EXPECT_TRUE(r->lock->enforced()) << "flock works on the test file system";
    const std::string line = test::read_file((dir / kLockFileName).string());
    EXPECT_EQ(line.rfind("PID:" + std::to_string(::getpid()) + ",Time:20", 0), 0u) << line;
    EXPECT_EQ(line.back(), '\n');
}

TEST(DirLock, Contention_ReleaseAndReacquire) {
    test::TempDir tmp;
    auto first = try_lock_directory(tmp.path());
    ASSERT_TRUE(first.ok() && first->lock);
    auto second = try_lock_directory(tmp.path());
    ASSERT_TRUE(second.ok()) << second.message();
    EXPECT_FALSE(second->lock) << "a second open file description conflicts, even in one process";
    EXPECT_EQ(second->holder.rfind("PID:" + std::to_string(::getpid()), 0), 0u) << second->holder;
    first->lock.reset();
    auto third = try_lock_directory(tmp.path());
    ASSERT_TRUE(third.ok());
    EXPECT_TRUE(third->lock) << "released on destruction";
}

TEST(DirLock, HeldByAnotherProcess_ReleasedWhenItExits) {
    test::TempDir tmp;
    const std::string dir = tmp / "cache";
    Holder holder(tmp, dir);
    auto busy = try_lock_directory(dir);
    ASSERT_TRUE(busy.ok());
    EXPECT_FALSE(busy->lock);
    EXPECT_EQ(describe_holder(busy->holder).rfind("PID " + std::to_string(holder.pid()) + " (since ", 0), 0u)
        << busy->holder;
    holder.release();
    auto after = try_lock_directory(dir);
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->lock);
}

TEST(DirLock, HeldByAProcessThatIsKilled_IsNeverStale) {
    test::TempDir tmp;
    const std::string dir = tmp / "cache";
    Holder holder(tmp, dir);
    ASSERT_FALSE(try_lock_directory(dir)->lock);
    holder.kill();
    auto after = try_lock_directory(dir);
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(after->lock) << "the kernel released the dead holder's lock";
}

TEST(DirLock, WaitThenAcquire_ToldOnceWhoHoldsIt) {
    test::TempDir tmp;
    const std::string dir = tmp / "cache";
    Holder holder(tmp, dir);
    std::atomic<int> told{0};
    std::string seen;
    std::thread releaser([&] {
        ASSERT_TRUE(eventually([&] { return told.load() > 0; }));
        holder.release();
    });
    auto lock = lock_directory(dir, 60s, {}, [&](const std::string &h) {
        seen = h;
        ++told;
    });
    releaser.join();
    ASSERT_TRUE(lock.ok()) << lock.message();
    EXPECT_TRUE(*lock);
    EXPECT_EQ(told.load(), 1);
    EXPECT_EQ(seen.rfind("PID:" + std::to_string(holder.pid()), 0), 0u) << seen;
}

TEST(DirLock, CancelWhileWaiting_ReturnsCancelledPromptly) {
    test::TempDir tmp;
    const std::string dir = tmp / "cache";
    Holder holder(tmp, dir);
    CancellationSource cancel;
    Clock::time_point cancelled_at;
    std::thread canceller;
    auto lock = lock_directory(dir, 600s, cancel.token(), [&](const std::string &) {
        canceller = std::thread([&] {
            cancelled_at = Clock::now();
            cancel.cancel();
        });
    });
    const auto returned_at = Clock::now();
    canceller.join();
    ASSERT_EQ(lock.status().code(), Errc::cancelled) << lock.message();
    EXPECT_LT(returned_at - cancelled_at, 2s) << "the wait is sliced, not one long sleep";
    holder.release();
}

TEST(DirLock, Timeout_HasItsOwnStatusAndNamesTheHolder) {
    test::TempDir tmp;
    const std::string dir = tmp / "cache";
    Holder holder(tmp, dir);
    auto lock = lock_directory(dir, 300ms, {});
    ASSERT_EQ(lock.status().code(), Errc::lock_timeout) << lock.message();
    EXPECT_NE(lock.message().find(kLockFileName), std::string::npos) << lock.message();
    EXPECT_NE(lock.message().find("PID " + std::to_string(holder.pid())), std::string::npos) << lock.message();
    holder.release();
}

#ifndef _WIN32  // (neither mingw's std::filesystem nor Wine make links)
// A symbolic link at the lock file's name is never followed: no lock is
// shared through it (the lock is not enforced, so gc removes nothing there),
// and the reason says what is there. (Not an error: in a shared sticky
// directory another user's link would fail everybody, for ever; see
// BlobLock.ALockFileThatIsNoFile_SharesNoLock_EveryBlobIsStillTaken.)
TEST(DirLock, SymlinkedLockFile_IsNeverFollowed_TheLockIsNotEnforced) {
    test::TempDir tmp;
    test::write_file(tmp / "elsewhere", "x");
    fs::create_symlink(tmp / "elsewhere", tmp / kLockFileName);
    auto r = try_lock_directory(tmp.path());
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_TRUE(r->lock);
    EXPECT_FALSE(r->lock->enforced());
    EXPECT_NE(r->lock->why_not_enforced().find("is a symbolic link"), std::string::npos) << r->lock->why_not_enforced();
    EXPECT_EQ(test::read_file(tmp / "elsewhere"), "x");
    auto probe = probe_directory_lock(tmp.path());
    ASSERT_FALSE(probe.ok()) << "a dry run cannot tell either";
    EXPECT_NE(probe.message().find("is a symbolic link"), std::string::npos) << probe.message();
}
#endif

#ifndef _WIN32  // (POSIX modes)
TEST(DirLock, UnreadableDirectory_IsARealError) {
    if (::geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
    test::TempDir tmp;
    fs::create_directory(tmp / "ro");
    fs::permissions(tmp / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    auto r = try_lock_directory(tmp / "ro");
    fs::permissions(tmp / "ro", fs::perms::owner_all);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Errc::io);
}
#endif

#ifndef _WIN32  // (pwrite, and the lockholder started as on POSIX)
// Line 0 is anyone's to write: a co-user's escape sequences in it, while
// another real process holds the directory, never reach the holder text a
// waiter gets (only the PID and the time, or nothing when it does not parse).
TEST(DirLock, HolderLineWithEscapeSequences_OnlyParsedFieldsReachTheWaiter) {
    test::TempDir tmp;
    const std::string dir = tmp / "cache";
    Holder holder(tmp, dir);
    const auto write_line0 = [&](std::string line) {
        line.resize(63, ' ');
        line += '\n';
        UniqueFd fd(::open((fs::path(dir) / kLockFileName).c_str(), O_WRONLY | O_CLOEXEC));
        ASSERT_TRUE(fd);
        ASSERT_EQ(::pwrite(fd.get(), line.data(), line.size(), 0), 64);
    };
    const std::string pid = std::to_string(holder.pid());
    write_line0("PID:" + pid + ",Time:2026-01-02T03:04:05Z\x1b]0;x\x07\x1b[2J");
    auto busy = try_lock_directory(dir);
    ASSERT_TRUE(busy.ok()) << busy.message();
    ASSERT_FALSE(busy->lock);
    EXPECT_EQ(busy->holder, "") << "a line with more than the fields is no holder line";
    EXPECT_EQ(describe_holder(busy->holder), "another process");
    write_line0("PID:" + pid + ",Time:2026-01-02T03:04:05Z");
    busy = try_lock_directory(dir);
    ASSERT_TRUE(busy.ok()) << busy.message();
    EXPECT_EQ(busy->holder, "PID:" + pid + ",Time:2026-01-02T03:04:05Z");
    auto probe = probe_directory_lock(dir);
    ASSERT_TRUE(probe.ok()) << probe.message();
    EXPECT_EQ(describe_holder(probe->holder), "PID " + pid + " (since 2026-01-02T03:04:05Z)");
    write_line0("\x1b[31mPID:" + pid + "\x9b");
    probe = probe_directory_lock(dir);
    ASSERT_TRUE(probe.ok()) << probe.message();
    EXPECT_TRUE(probe->held);
    EXPECT_EQ(probe->holder, "");
    holder.release();
}
#endif

TEST(DirLock, DescribeHolder) {
    EXPECT_EQ(describe_holder("PID:42,Time:2026-11-25T10:00:00Z"), "PID 42 (since 2026-11-25T10:00:00Z)");
    EXPECT_EQ(describe_holder(""), "another process");
    EXPECT_EQ(describe_holder("garbage"), "another process") << "only parsed fields are ever shown";
}

}  // namespace
}  // namespace blobfetch
