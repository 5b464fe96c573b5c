// What waiting for a lock costs: blobs whose directory another process has
// locked are waited for by one attempt every 100 ms for the directory, on a
// worker thread, however many of them wait, and an attempt that finds the
// whole directory held costs one lock test (F_OFD_GETLK). (Each blob once
// polled the lock every 100 ms on the transfer thread: 730,000 flock calls in
// 10 s for 10,000 blobs.) The real host runs under an LD_PRELOAD shim that
// counts lock calls (tests/support/tools/count_locks.c).
#include <chrono>
#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"
#include "support/wait.h"
#include "io/file.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

TEST(LockCost, ThousandsOfBlobsWaitingForOneBusyDirectory_OneAttemptPer100ms) {
    TempDir dir;
    FaultServer server;
    constexpr int kBlobs = 3000;
    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = dir / "cache";
    m["cache_path"] = "busy/{sha}";
    m["sources"] = {{{"url", server.base_url() + "/{sha}"}}};
    m["artifacts"] = nlohmann::json::array();
    for (int i = 0; i < kBlobs; ++i) {
        const std::string name = "b" + std::to_string(i), key = abi_key(name);
        server.add_blob("/" + key, static_cast<std::uint64_t>(1000 + i), 512);
        m["artifacts"].push_back({{"name", name}, {"sha", key}, {"size", 512}});
    }
    write_file(dir / "m.json", m.dump());

    // Another process holds the directory's lock.
    fs::create_directories(dir / "cache/busy");
    BackgroundProcess holder({bin_dir() + "/blobfetch-lockholder", dir / "cache/busy", dir / "release"}, {},
                             dir / "holder.out", dir / "holder.err");
    ASSERT_TRUE(eventually([&] { return read_file(dir / "holder.out").rfind("locked", 0) == 0; }));

    ProcessOptions po;
    po.env["LD_PRELOAD"] = bin_dir() + "/libblobfetch_count_locks.so";
    po.env["BLOBFETCH_LOCK_LOG"] = dir / "locks.log";
    const char *asan = std::getenv("ASAN_OPTIONS");
    po.env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "verify_asan_link_order=0";
    BackgroundProcess host({host_binary(), "fetch", dir / "m.json", "-v", "--no-progress"}, po, dir / "host.out",
                           dir / "host.err");
    ASSERT_TRUE(eventually([&] { return read_file(dir / "host.err").find("waiting for '") != std::string::npos; }))
        << read_file(dir / "host.err");
    // Every blob is waiting now; the lock stays held for a while.
    const auto waited_from = Clock::now();
    ASSERT_TRUE(eventually([&] { return Clock::now() - waited_from >= std::chrono::milliseconds(1500); },
                           std::chrono::seconds(5), std::chrono::milliseconds(50)));
    write_file(dir / "release", "");
    holder.wait();
    ASSERT_EQ(host.wait(), 0) << read_file(dir / "host.err");
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - waited_from).count();

    const std::string log = read_file(dir / "locks.log");
    const long calls = number_after(log, "fcntl_lock=");
    ASSERT_GE(calls, 0) << log;
    // Once free, each blob takes and releases its own lock (two calls); the
    // first attempts, as blobs are admitted a few at a time, cost about one
    // call per batch (a tenth of a call per blob here); the wait itself
    // costs one lock test per 100 ms (plus the self-test and slack for
    // scheduling). With one attempt per blob every 100 ms it would be about
    // kBlobs times as many as the wait's share.
    const long bound = 2L * kBlobs + kBlobs / 4 + waited / 100 + 20;
    std::printf("%ld lock calls in %lld ms with %d blobs waiting\n", calls, static_cast<long long>(waited), kBlobs);
    EXPECT_LE(calls, bound) << calls << " lock calls in " << waited << " ms for " << kBlobs << " waiting blobs";
    EXPECT_GE(calls, 2L * kBlobs + 3) << "it did wait and try again";
    for (int i = 0; i < kBlobs; i += 499)
        EXPECT_TRUE(read_file(dir / ("cache/busy/" + abi_key("b" + std::to_string(i)))) ==
                    blob_content(static_cast<std::uint64_t>(1000 + i), 512));
}

// A blob set over thousands of directories (one per blob, as a cache_path of
// "{name}/..." makes) under a small open-file limit: a fetch holds open only
// the directories and locks of the blobs it works on, never one per blob.
// (Every directory once stayed open for the whole fetch: "Too many open files"
// after about a thousand.)
TEST(LockCost, ThousandsOfDirectoriesUnderASmallOpenFileLimit_AllFetched_ThenAllSkipped) {
    TempDir dir;
    FaultServer server;
    constexpr int kBlobs = 3000;
    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = dir / "cache";
    m["cache_path"] = "{name}/k";
    m["sources"] = {{{"url", server.base_url() + "/{name}"}}};
    m["artifacts"] = nlohmann::json::array();
    for (int i = 0; i < kBlobs; ++i) {
        const std::string name = "d" + std::to_string(i);
        server.add_blob("/" + name, static_cast<std::uint64_t>(7000 + i), 1000);
        m["artifacts"].push_back({{"name", name}, {"sha", abi_key(name)}, {"size", 1000},
                                  {"sha256", sha256_hex(blob_content(static_cast<std::uint64_t>(7000 + i), 1000))}});
    }
    write_file(dir / "m.json", m.dump());
    for (int pass = 0; pass < 2; ++pass) {
        ProcessResult r = run_process({"sh", "-c", "ulimit -n 200 && exec \"$0\" fetch \"$1\" --no-progress",
                                       host_binary(), dir / "m.json"});
        ASSERT_EQ(r.exit_code, 0) << "pass " << pass << ": " << r.err.substr(0, 2000);
    }
    for (int i = 0; i < kBlobs; i += 271)
        EXPECT_TRUE(read_file(dir / ("cache/d" + std::to_string(i) + "/k")) ==
                    blob_content(static_cast<std::uint64_t>(7000 + i), 1000));
}

// The same after a wait: another process holds the locks of all those
// directories, then lets them go at once. Blobs that get their lock beyond
// the active ones wait holding only the lock, and at most as many
// directories are open at once as blobs are active. (All 2,000 once started
// at once: 1,880 failed with "Too many open files".)
TEST(LockCost, ThousandsOfDirectoriesWhoseLocksAreFreedAtOnce_UnderASmallOpenFileLimit_AllFetched) {
    constexpr int kBlobs = 2000;
    rlimit lim {};
    ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < kBlobs + 100) GTEST_SKIP() << "the hard open-file limit is too low";
    rlimit raised = lim;
    raised.rlim_cur = std::max<rlim_t>(lim.rlim_cur, kBlobs + 100);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
    TempDir dir;
    FaultServer server;
    nlohmann::json m;
    m["version"] = 1;
    m["cache_dir"] = dir / "cache";
    m["cache_path"] = "{name}/k";
    m["sources"] = {{{"url", server.base_url() + "/{name}"}}};
    m["artifacts"] = nlohmann::json::array();
    std::vector<UniqueFd> held;  // this process holds every directory's lock
    for (int i = 0; i < kBlobs; ++i) {
        const std::string name = "w" + std::to_string(i);
        server.add_blob("/" + name, static_cast<std::uint64_t>(9000 + i), 4096);
        m["artifacts"].push_back({{"name", name}, {"sha", abi_key(name)}, {"size", 4096}});
        fs::create_directories(dir / ("cache/" + name));
        held.emplace_back(::open((dir / ("cache/" + name + "/.download.lock")).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
        ASSERT_TRUE(held.back());
        ASSERT_TRUE(lock_whole_file(held.back().get()));
    }
    write_file(dir / "m.json", m.dump());
    BackgroundProcess host({"sh", "-c", "ulimit -n 200 && exec \"$0\" fetch \"$1\" -v --no-progress", host_binary(),
                            dir / "m.json"},
                           {}, dir / "host.out", dir / "host.err");
    ASSERT_TRUE(eventually([&] { return read_file(dir / "host.err").find("waiting for '") != std::string::npos; }))
        << read_file(dir / "host.err");
    held.clear();  // every lock goes at once
    ::setrlimit(RLIMIT_NOFILE, &lim);
    ASSERT_EQ(host.wait(), 0) << read_file(dir / "host.err").substr(0, 3000);
    for (int i = 0; i < kBlobs; i += 173)
        EXPECT_TRUE(read_file(dir / ("cache/w" + std::to_string(i) + "/k")) ==
                    blob_content(static_cast<std::uint64_t>(9000 + i), 4096));
}

}  // namespace
}  // namespace blobfetch::test
