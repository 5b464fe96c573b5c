// The engine's lock coordination without a network or a second process: a
// fake runner holds each attempt until the test completes it (taking the
// real locks in a temporary cache, or answering "held by" as another process
// would), and time is passed in, so every wait is exact.
#include <chrono>
#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/path_safety.h"
#include "download/lock_coordinator.h"
#include "download/partial_file.h"
#include "support/process.h"

namespace blobfetch::detail {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class LockCoordinatorTest : public ::testing::Test {
protected:
    struct Pending {
        LockAttempt attempt;
        LockAttemptDone done;
    };

    void SetUp() override { make_coordinator({}); }

    void make_coordinator(LockOptions options) {
        coordinator = std::make_unique<LockCoordinator>(
            options, [this](LockAttempt a, LockAttemptDone done) { pending.push_back({std::move(a), std::move(done)}); },
            LockClient{[this](Job &j) { events.push_back("held " + j.spec->path); },
                       [this](Job &j) { events.push_back("unlocked " + j.spec->path); },
                       [this](Job &j) { events.push_back("waiting " + j.spec->path); },
                       [this](Job &j, Status s) {
                           events.push_back("failed " + j.spec->path);
                           failures.push_back(s);
                           finish(j);
                       }},
            progress, log);
    }

    // What the engine does with a blob that is done (finish()).
    void finish(Job &j) {
        if (j.phase == Phase::locking) coordinator->withdraw(j);
        coordinator->release(j, false);
        j.phase = Phase::done;
    }

    Job &job(const std::string &path) {
        specs.push_back(std::make_unique<BlobSpec>());
        specs.back()->path = path;
        auto j = std::make_unique<Job>();
        j->index = jobs.size();
        j->spec = specs.back().get();
        j->paths = partial_paths(cache.path(), path);
        j->path_key = path_key(path_to_utf8(j->paths.final_path));
        j->dir_key = path_key(j->paths.rel_dir);
        jobs.push_back(std::move(j));
        return *jobs.back();
    }

    // Completes the oldest attempt for real (the locks are taken in the
    // temporary cache), except that the names in `busy` come back held by
    // another process.
    void complete(const std::vector<std::string> &busy = {}) {
        ASSERT_FALSE(pending.empty());
        Pending p = std::move(pending.front());
        pending.pop_front();
        auto r = attempt_locks(dirs, p.attempt);
        if (r) {
            for (std::size_t i = 0; i < p.attempt.names.size(); ++i)
                if (std::find(busy.begin(), busy.end(), p.attempt.names[i]) != busy.end())
                    r->results[i] = BlobAttempt{nullptr, "PID:4242,Time:2026-12-04T10:00:00Z"};
        }
        p.done(std::move(r));
    }

    std::vector<std::string> names_of(const Pending &p) const { return p.attempt.names; }

    test::TempDir cache;
    DirCache dirs{cache.path()};
    FetchProgress progress{std::vector<std::int64_t>(16, -1)};
    Logger log;
    std::unique_ptr<LockCoordinator> coordinator;
    std::deque<Pending> pending;
    std::vector<std::string> events;
    std::vector<Status> failures;
    std::vector<std::unique_ptr<BlobSpec>> specs;
    std::vector<std::unique_ptr<Job>> jobs;
    Clock::time_point t0 = Clock::now();
};

TEST_F(LockCoordinatorTest, BlobsOfOneDirectory_OneAttemptAtATime_TheLaterOnesBatched) {
    Job &a = job("d/a.bin");
    Job &b = job("d/b.bin");
    Job &c = job("d/c.bin");
    coordinator->request(a, t0);
    coordinator->request(b, t0);
    coordinator->request(c, t0);
    ASSERT_EQ(pending.size(), 1u);  // b and c wait for the running attempt
    EXPECT_EQ(names_of(pending[0]), std::vector<std::string>{"a.bin"});
    complete();
    EXPECT_EQ(events, std::vector<std::string>{"held d/a.bin"});
    ASSERT_EQ(pending.size(), 1u);  // the blobs that came meanwhile: one attempt for both
    EXPECT_EQ(names_of(pending[0]), (std::vector<std::string>{"b.bin", "c.bin"}));
    complete();
    EXPECT_EQ(events, (std::vector<std::string>{"held d/a.bin", "held d/b.bin", "held d/c.bin"}));
    EXPECT_TRUE(a.blob_lock && a.blob_lock->enforced());
    EXPECT_EQ(coordinator->open_dirs(), 1u);
    for (Job *j : {&a, &b, &c}) finish(*j);
    EXPECT_EQ(coordinator->open_dirs(), 0u);
    EXPECT_EQ(coordinator->known_dirs(), 0u);
}

TEST_F(LockCoordinatorTest, HeldByAnotherProcess_WaitsTriedEvery100ms_OneAttemptForTheDirectory) {
    Job &a = job("d/a.bin");
    Job &b = job("d/b.bin");
    coordinator->request(a, t0);
    complete({"a.bin"});
    EXPECT_EQ(events, std::vector<std::string>{"waiting d/a.bin"});
    EXPECT_EQ(a.phase, Phase::locking);
    EXPECT_NE(a.lock_holder.find("4242"), std::string::npos);
    EXPECT_EQ(coordinator->open_dirs(), 0u);  // nothing held: no descriptor kept open
    coordinator->request(b, Clock::now());
    ASSERT_EQ(pending.size(), 1u);  // a is tried again with it
    complete({"a.bin", "b.bin"});
    EXPECT_TRUE(pending.empty());

    const auto after = Clock::now();
    auto wake = after + 10s;
    coordinator->tick(after, wake);
    EXPECT_TRUE(pending.empty());  // not due yet
    EXPECT_LE(wake, after + 100ms);
    coordinator->tick(after + 100ms, wake);
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(names_of(pending[0]), (std::vector<std::string>{"a.bin", "b.bin"}));
    complete();  // the other process is gone
    EXPECT_EQ(events, (std::vector<std::string>{"waiting d/a.bin", "waiting d/b.bin", "held d/a.bin", "held d/b.bin"}));
    EXPECT_TRUE(a.lock_holder.empty());
}

TEST_F(LockCoordinatorTest, WaitLongerThanLockTimeout_FailsNamingHolderAndLockFile) {
    make_coordinator({true, 5000ms, 4});
    Job &a = job("d/a.bin");
    coordinator->request(a, t0);
    complete({"a.bin"});
    const auto since = a.lock_since;
    auto wake = since + 10s;
    coordinator->tick(since + 4999ms, wake);
    ASSERT_EQ(pending.size(), 1u);  // tried again, not timed out
    complete({"a.bin"});
    EXPECT_TRUE(failures.empty());
    coordinator->tick(since + 5000ms, wake);
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0].code(), Errc::lock_timeout);
    EXPECT_NE(failures[0].message().find("4242"), std::string::npos) << failures[0].message();
    EXPECT_NE(failures[0].message().find(".download.lock"), std::string::npos) << failures[0].message();
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(coordinator->known_dirs(), 0u);
}

TEST_F(LockCoordinatorTest, SamePathTwiceInOneRun_TheSecondWaitsUntilTheFirstReleases) {
    Job &first = job("d/a.bin");
    Job &second = job("d/a.bin");
    coordinator->request(first, t0);
    coordinator->request(second, t0);
    EXPECT_EQ(events, std::vector<std::string>{"waiting d/a.bin"});
    complete();
    auto wake = t0 + 10s;
    coordinator->tick(t0 + 100ms, wake);
    EXPECT_TRUE(pending.empty());  // the first still works on it
    EXPECT_LE(wake, t0 + 200ms);
    finish(first);
    coordinator->tick(t0 + 200ms, wake);
    ASSERT_EQ(pending.size(), 1u);
    complete();
    EXPECT_EQ(events.back(), "held d/a.bin");
}

TEST_F(LockCoordinatorTest, MoreDirectoriesThanMaxOpen_AttemptsWaitForRoom) {
    make_coordinator({true, 3600s, 1});
    Job &a = job("one/a.bin");
    Job &b = job("two/b.bin");
    coordinator->request(a, t0);
    coordinator->request(b, t0);
    ASSERT_EQ(pending.size(), 1u);
    complete();  // a holds its lock: "one" stays open
    auto wake = t0 + 10s;
    coordinator->tick(t0, wake);
    EXPECT_TRUE(pending.empty());  // "two" waits for room
    EXPECT_EQ(coordinator->open_dirs(), 1u);
    finish(a);
    coordinator->tick(t0, wake);
    ASSERT_EQ(pending.size(), 1u);
    EXPECT_EQ(names_of(pending[0]), std::vector<std::string>{"b.bin"});
    complete();
    EXPECT_EQ(events.back(), "held two/b.bin");
}

TEST_F(LockCoordinatorTest, LockingOff_NoAttempt_PrivateFilesAtOnce) {
    make_coordinator({false, 3600s, 4});
    Job &a = job("d/a.bin");
    coordinator->request(a, t0);
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(events, std::vector<std::string>{"unlocked d/a.bin"});
    EXPECT_TRUE(a.private_files);
    EXPECT_NE(a.paths.data_name, "a.bin.part");
}

TEST_F(LockCoordinatorTest, LockFileThatIsADirectory_HeldWithPrivateFiles) {
    std::filesystem::create_directories(cache / "d/.download.lock");
    Job &a = job("d/a.bin");
    coordinator->request(a, t0);
    complete();
    EXPECT_EQ(events, std::vector<std::string>{"held d/a.bin"});
    EXPECT_TRUE(a.private_files);
    EXPECT_FALSE(a.blob_lock->enforced());
}

TEST_F(LockCoordinatorTest, AttemptFails_EveryWaiterFailsWithItsStatus) {
    Job &a = job("d/a.bin");
    Job &b = job("d/b.bin");
    coordinator->request(a, t0);
    coordinator->request(b, t0);
    Pending p = std::move(pending.front());
    pending.pop_front();
    p.done(Status(Errc::io, "cannot open 'd': Permission denied"));
    EXPECT_EQ(events, (std::vector<std::string>{"failed d/a.bin", "failed d/b.bin"}));
    EXPECT_EQ(failures[1].message(), "cannot open 'd': Permission denied");
    EXPECT_TRUE(pending.empty());
    EXPECT_EQ(coordinator->known_dirs(), 0u);
    EXPECT_EQ(coordinator->open_dirs(), 0u);
}

TEST_F(LockCoordinatorTest, BlobWithdrawnWhileItsAttemptRuns_ALockTakenForItGoes) {
    Job &a = job("d/a.bin");
    coordinator->request(a, t0);
    finish(a);  // cancelled meanwhile
    complete();
    EXPECT_TRUE(events.empty());
    EXPECT_FALSE(a.blob_lock);
    EXPECT_EQ(coordinator->known_dirs(), 0u);
    // The directory was forgotten: a later request starts a new attempt.
    Job &again = job("d/a.bin");
    coordinator->request(again, t0);
    complete();
    EXPECT_EQ(events, std::vector<std::string>{"held d/a.bin"});
}

}  // namespace
}  // namespace blobfetch::detail
