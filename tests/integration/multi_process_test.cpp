// Many processes, one cache: real host processes against a real nginx. With
// the directory locks every blob's bytes are sent once in total; a holder
// killed mid-download is taken over from its sidecar; without locks the
// processes still publish only correct files.
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "state/download_state.h"
#include "support/wait.h"
#include "support/blob_content.h"
#include "support/fixture.h"
#include "support/nginx.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class MultiProcess : public ::testing::Test {
protected:
    void SetUp() override {
        if (!nginx_available()) GTEST_SKIP() << "nginx is not installed (apt-get install nginx)";
    }

    // Serves `artifacts` from an nginx that sends 1 MiB/s per connection
    // (after a first second's worth at once), so the processes overlap.
    void serve(std::vector<TestArtifact> artifacts, const std::string &limit = "limit_rate 1m;") {
        m_artifacts = std::move(artifacts);
        serve_artifacts(m_dir / "www", m_artifacts);
        m_nginx = std::make_unique<NginxServer>(NginxOptions{m_dir / "www", limit, ""});
    }

    // A manifest for process `name` (its User-Agent, so the access log tells
    // the processes apart).
    std::string manifest(const std::string &name, nlohmann::json options = nlohmann::json::object()) {
        options["user_agent"] = name;
        const std::string path = m_dir / (name + ".json");
        write_file(path, make_manifest(m_nginx->base_url(), m_dir / "cache", m_artifacts, options).dump());
        return path;
    }

    std::unique_ptr<BackgroundProcess> start(const std::string &manifest_path, const std::string &name,
                                             std::vector<std::string> extra = {}, ProcessOptions po = {}) {
        std::vector<std::string> argv{host_binary(), "fetch", manifest_path, "--json"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return std::make_unique<BackgroundProcess>(argv, po, m_dir / (name + ".out"), m_dir / (name + ".err"));
    }

    std::string cached(const TestArtifact &a) const { return m_dir / ("cache/" + a.relative_path()); }

    std::int64_t bytes_sent(const TestArtifact &a, const std::string &agent = "") const {
        std::int64_t n = 0;
        for (const auto &e : m_nginx->access_log())
            if (e.uri == "/" + a.relative_path() && (agent.empty() || e.user_agent == agent)) n += e.body_bytes_sent;
        return n;
    }

    void four_hosts_send_every_blob_once(bool gc_meanwhile);

    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
    std::unique_ptr<NginxServer> m_nginx;
};

std::vector<TestArtifact> mixed_set() {
    return {{"tiny", abi_key("tiny"), 61, 16 << 10, {}},    {"one-mib", abi_key("one"), 62, 1 << 20, {}},
            {"three", abi_key("three"), 63, 3 << 20, {}},   {"eight", abi_key("eight"), 64, 8 << 20, {}},
            {"twenty", abi_key("twenty"), 65, 20 << 20, {}}, {"empty", abi_key("empty"), 66, 0, {}}};
}

TEST_F(MultiProcess, FourHostsOnTheSameManifest_EveryBlobsBytesAreSentOnceInTotal) {
    four_hosts_send_every_blob_once(/*gc_meanwhile=*/false);
}

// `blobfetch gc` removes the lock files of directories with no download left
// while it holds them; running it over and over while four hosts fetch must
// not let two of them download the same blob.
TEST_F(MultiProcess, GcRunningMeanwhile_FourHostsStillSendEveryBlobOnce) {
    four_hosts_send_every_blob_once(/*gc_meanwhile=*/true);
}

void MultiProcess::four_hosts_send_every_blob_once(bool gc_meanwhile) {
    serve(mixed_set());
    std::atomic<bool> stop{false};
    std::atomic<int> gc_runs{0}, gc_failures{0}, gc_lock_removals{0};
    std::string gc_error;
    std::thread gc;
    if (gc_meanwhile)
        gc = std::thread([&] {
            while (!stop) {
                ProcessResult r = run_process({host_binary(), "gc", m_dir / "cache"});
                ++gc_runs;
                if (r.out.find("lock file of a directory") != std::string::npos) ++gc_lock_removals;
                // (the cache directory appears with the first host's first lock)
                if (r.exit_code != 0 && r.err.find("is not a directory") == std::string::npos && !gc_failures++)
                    gc_error = r.err;
            }
        });
    struct StopOnExit {  // also when an ASSERT returns early
        std::atomic<bool> &stop;
        std::thread &thread;
        ~StopOnExit() {
            stop = true;
            if (thread.joinable()) thread.join();
        }
    } stop_on_exit{stop, gc};
    std::vector<std::unique_ptr<BackgroundProcess>> hosts;
    for (int i = 0; i < 4; ++i) {
        const std::string name = "p" + std::to_string(i);
        hosts.push_back(start(manifest(name), name));
    }
    std::int64_t downloaded = 0;
    for (int i = 0; i < 4; ++i) {
        const std::string name = "p" + std::to_string(i);
        EXPECT_EQ(hosts[static_cast<std::size_t>(i)]->wait(), 0) << read_file(m_dir / (name + ".err"));
        auto doc = nlohmann::json::parse(read_file(m_dir / (name + ".out")), nullptr, false);
        ASSERT_TRUE(doc.is_object()) << read_file(m_dir / (name + ".out"));
        downloaded += doc["totals"]["bytes_downloaded"].get<std::int64_t>();
    }
    std::int64_t total = 0;
    for (const auto &a : m_artifacts) {
        total += static_cast<std::int64_t>(a.size);
        EXPECT_EQ(sha256_file_hex(cached(a)), a.sha256) << a.name;
        // Lines of finished requests are written as nginx completes them.
        EXPECT_TRUE(eventually([&] { return bytes_sent(a) >= static_cast<std::int64_t>(a.size); }, 10s)) << a.name;
        EXPECT_EQ(bytes_sent(a), static_cast<std::int64_t>(a.size)) << a.name << ": sent once in total";
    }
    EXPECT_EQ(downloaded, total) << "each blob was downloaded by exactly one of the four";
    stop = true;
    if (gc.joinable()) gc.join();
    if (gc_meanwhile) {
        EXPECT_GT(gc_runs.load(), 1);
        RecordProperty("gc_runs", gc_runs.load());
        RecordProperty("gc_runs_removing_lock_files", gc_lock_removals.load());
        EXPECT_EQ(gc_failures.load(), 0) << gc_error;
    }
}

TEST_F(MultiProcess, HolderKilledMidDownload_TheWaitingProcessTakesOverFromTheSidecar) {
    const std::int64_t size = 64 << 20, chunk = 2 << 20;
    serve({{"big", abi_key("big"), 67, static_cast<std::uint64_t>(size), {}}});
    const fs::path sidecar = cached(m_artifacts[0]) + ".dlstate";
    auto recorded = [&] {
        auto st = load_download_state(sidecar);
        return st.ok() ? st->recorded_bytes() : std::int64_t{0};
    };
    auto first = start(manifest("first"), "first");
    ASSERT_TRUE(eventually([&] { return recorded() >= size / 4; }, 60s)) << read_file(m_dir / "first.err");
    auto second = start(manifest("second"), "second", {"-v"});
    ASSERT_TRUE(eventually(
        [&] { return read_file(m_dir / "second.err").find("waiting for '") != std::string::npos; }, 60s))
        << read_file(m_dir / "second.err");
    first->signal(SIGKILL);
    first->wait();
    const std::int64_t at_kill = recorded();
    ASSERT_EQ(second->wait(), 0) << read_file(m_dir / "second.err");
    EXPECT_EQ(sha256_file_hex(cached(m_artifacts[0])), m_artifacts[0].sha256);
    EXPECT_NE(read_file(m_dir / "second.err").find("resuming"), std::string::npos) << read_file(m_dir / "second.err");
    const std::int64_t by_second = bytes_sent(m_artifacts[0], "second");
    EXPECT_GE(by_second, size - at_kill);
    EXPECT_LE(by_second, size - at_kill + 8 * chunk)
        << "the missing chunks plus at most one per connection; recorded at the kill: " << at_kill;
}

TEST_F(MultiProcess, LockingDisabled_FourHostsStillPublishOnlyCorrectFiles) {
    serve(mixed_set());
    std::vector<std::unique_ptr<BackgroundProcess>> hosts;
    for (int i = 0; i < 4; ++i) {
        const std::string name = "n" + std::to_string(i);
        hosts.push_back(start(manifest(name, {{"locking", false}}), name));
    }
    for (int i = 0; i < 4; ++i) {
        const std::string name = "n" + std::to_string(i);
        EXPECT_EQ(hosts[static_cast<std::size_t>(i)]->wait(), 0) << read_file(m_dir / (name + ".err"));
    }
    for (const auto &a : m_artifacts) EXPECT_EQ(sha256_file_hex(cached(a)), a.sha256) << a.name;
    for (const auto &e : fs::recursive_directory_iterator(m_dir / "cache")) {
        const std::string n = e.path().filename().string();
        EXPECT_FALSE(n.ends_with(".part") || n.ends_with(".dlstate") || n == ".download.lock") << e.path();
    }
}

// PEERS.md #5: on a file system where flock() succeeds without locking
// anything (some NFS/CIFS/Lustre mounts; here an LD_PRELOAD shim), every
// process notices, says so, and downloads into private temporary files: no two
// processes ever write the same file, and only correct files are published.
TEST_F(MultiProcess, FlockThatLocksNothing_IsDetected_FourHostsUsePrivateFilesAndPublishOnlyCorrectFiles) {
    serve(mixed_set());
    ProcessOptions po;
    po.env["LD_PRELOAD"] = bin_dir() + "/libblobfetch_noop_flock.so";
    const char *asan = std::getenv("ASAN_OPTIONS");  // the shim comes before a sanitizer runtime
    po.env["ASAN_OPTIONS"] = std::string(asan ? asan : "") + (asan && *asan ? ":" : "") + "verify_asan_link_order=0";
    std::vector<std::unique_ptr<BackgroundProcess>> hosts;
    for (int i = 0; i < 4; ++i) {
        const std::string name = "nfs" + std::to_string(i);
        hosts.push_back(start(manifest(name), name, {}, po));
    }
    for (int i = 0; i < 4; ++i) {
        const std::string name = "nfs" + std::to_string(i);
        const std::string err = read_file(m_dir / (name + ".err"));
        EXPECT_EQ(hosts[static_cast<std::size_t>(i)]->wait(), 0) << err;
    }
    int warned = 0;
    std::string all_err;
    for (int i = 0; i < 4; ++i) {
        const std::string err = read_file(m_dir / ("nfs" + std::to_string(i) + ".err"));
        if (err.find("file locks are not enforced") != std::string::npos) ++warned;
        all_err += err;
    }
    EXPECT_GE(warned, 1) << "a process that downloads says that its lock protects nothing\n" << all_err;
    for (const auto &a : m_artifacts) EXPECT_EQ(sha256_file_hex(cached(a)), a.sha256) << a.name;
    for (const auto &e : fs::recursive_directory_iterator(m_dir / "cache")) {
        const std::string n = e.path().filename().string();
        EXPECT_FALSE(n.ends_with(".part") || n.ends_with(".dlstate")) << e.path();
    }
}

TEST_F(MultiProcess, ThousandSmallBlobs_OverReusedConnections_ThenNoRequestAtAll) {
    std::vector<TestArtifact> many;
    for (int i = 0; i < 1000; ++i)
        many.push_back({"s" + std::to_string(i), abi_key("s" + std::to_string(i)), 1000u + static_cast<unsigned>(i),
                        16 << 10, {}});
    serve(std::move(many), "");
    HostRun first = run_host_fetch(manifest("first"));
    ASSERT_EQ(first.process.exit_code, 0) << first.process.err;
    auto log = m_nginx->access_log(1000);
    ASSERT_EQ(log.size(), 1000u);
    std::map<std::int64_t, int> per_connection;
    for (const auto &e : log) ++per_connection[e.connection];
    EXPECT_LE(per_connection.size(), 8u) << "1,000 requests over at most `concurrency` kept-alive connections";
    for (const auto &a : m_artifacts) ASSERT_EQ(fs::file_size(cached(a)), a.size);

    m_nginx->clear_access_log();
    HostRun again = run_host_fetch(manifest("again"));
    ASSERT_EQ(again.process.exit_code, 0) << again.process.err;
    EXPECT_EQ(again.json["totals"]["bytes_downloaded"], 0);
    EXPECT_TRUE(m_nginx->access_log().empty()) << "everything cached: no request sent";
}

}  // namespace
}  // namespace blobfetch::test
