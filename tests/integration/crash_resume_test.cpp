// Crash and resume with real processes: the host fetching a 256 MiB blob from
// nginx is killed (SIGKILL) at several points, or interrupted (SIGINT); the
// next run completes it byte-exact and the server sends no more than what
// was not recorded complete, plus one chunk per connection.
#include <csignal>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "state/download_state.h"
#include "support/wait.h"
#include "support/blob_content.h"
#include "support/fixture.h"
#include "support/nginx.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kSize = 256ll << 20;
constexpr std::int64_t kChunk = 2ll << 20;  // the default chunk size
constexpr int kConnections = 16;

class CrashResume : public ::testing::Test {
protected:
    void SetUp() override {
        if (!nginx_available()) GTEST_SKIP() << "nginx is not installed (apt-get install nginx)";
        m_artifacts = {{"big", abi_key("big"), 77, static_cast<std::uint64_t>(kSize), {}}};
        serve_artifacts(m_dir / "www", m_artifacts);
        write_file(m_dir / "www/marker.txt", "m");
        // 16 connections at 1 MiB/s each (nginx lets the first second's worth
        // through at once, so a 2 MiB chunk takes about a second): the blob
        // takes about 8 s, and kills land at known points of the transfer.
        m_nginx = std::make_unique<NginxServer>(NginxOptions{m_dir / "www", "limit_rate 1m;", ""});
        write_file(manifest(), make_manifest(m_nginx->base_url(), m_dir / "cache", m_artifacts,
                                             {{"concurrency", kConnections}})
                                   .dump(2));
    }

    std::string manifest() const { return m_dir / "manifest.json"; }
    fs::path cached() const { return fs::path(m_dir / "cache") / m_artifacts[0].relative_path(); }
    fs::path sidecar() const { return fs::path(cached().string() + ".dlstate"); }

    // Bytes the sidecar records complete (0 when there is none yet).
    std::int64_t recorded() const {
        auto st = load_download_state(sidecar());
        return st.ok() ? st->completed_bytes() : 0;
    }

    // A request on a fresh connection; returns its connection serial number,
    // which is above that of every connection accepted before it.
    std::int64_t marker() const {
        ProcessResult r = run_process({"curl", "-s", "-o", "/dev/null", m_nginx->base_url() + "/marker.txt"});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        std::int64_t serial = -1;
        EXPECT_TRUE(eventually(
            [&] {
                for (const auto &e : m_nginx->access_log())
                    if (e.uri == "/marker.txt") serial = std::max(serial, e.connection);
                return serial >= 0;
            },
            std::chrono::seconds(10)));
        m_nginx->clear_access_log();
        return serial;
    }

    // Body bytes sent for the blob on connections after `serial`, once at
    // least `requests` such requests are logged.
    std::int64_t bytes_sent_after(std::int64_t serial, std::size_t requests) const {
        std::int64_t bytes = 0;
        eventually(
            [&] {
                bytes = 0;
                std::size_t n = 0;
                for (const auto &e : m_nginx->access_log())
                    if (e.connection > serial && e.uri == "/" + m_artifacts[0].relative_path()) {
                        bytes += e.body_bytes_sent;
                        ++n;
                    }
                return n >= requests;
            },
            std::chrono::seconds(10));
        return bytes;
    }

    // Runs the host to completion and checks the resume bound.
    void finish_and_check(std::int64_t recorded_before) {
        const std::int64_t serial = marker();
        const auto missing_chunks = static_cast<std::size_t>((kSize - recorded_before) / kChunk);
        HostRun run = run_host_fetch(manifest());
        ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
        EXPECT_EQ(sha256_file_hex(cached().string()), m_artifacts[0].sha256) << "byte-exact after resuming";
        const std::int64_t sent = bytes_sent_after(serial, missing_chunks);
        EXPECT_GE(sent, kSize - recorded_before);
        EXPECT_LE(sent, kSize - recorded_before + kConnections * kChunk)
            << "the resumed run fetches only what was not recorded, plus at most one chunk per connection";
        EXPECT_FALSE(fs::exists(sidecar()));
        EXPECT_FALSE(fs::exists(cached().string() + ".part"));
    }

    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
    std::unique_ptr<NginxServer> m_nginx;
};

TEST_F(CrashResume, SigkillAtSeveralPoints_NoRecordedChunkIsEverLost_ResumeFetchesOnlyTheRest) {
    std::int64_t before = 0;
    for (double point : {0.2, 0.45, 0.7}) {
        SCOPED_TRACE(point);
        BackgroundProcess host({host_binary(), "fetch", manifest(), "-q"}, ProcessOptions{}, m_dir / "out.txt",
                               m_dir / "err.txt");
        ASSERT_TRUE(eventually([&] { return recorded() >= static_cast<std::int64_t>(point * kSize); },
                               std::chrono::seconds(120)))
            << read_file(m_dir / "err.txt");
        host.signal(SIGKILL);
        host.wait();
        const std::int64_t now = recorded();
        EXPECT_GE(now, before) << "a kill never loses chunks an earlier run recorded";
        EXPECT_GE(now, static_cast<std::int64_t>(point * kSize));
        EXPECT_FALSE(fs::exists(cached())) << "nothing is published before it is complete";
        EXPECT_TRUE(fs::exists(cached().string() + ".part"));
        before = now;
    }
    finish_and_check(before);
}

TEST_F(CrashResume, Sigint_CancelsPromptlyRecordsWhatLanded_ResumeFetchesOnlyTheRest) {
    BackgroundProcess host({host_binary(), "fetch", manifest(), "-q"}, ProcessOptions{}, m_dir / "out.txt",
                           m_dir / "err.txt");
    ASSERT_TRUE(eventually([&] { return recorded() >= kSize / 3; }, std::chrono::seconds(120)))
        << read_file(m_dir / "err.txt");
    const std::int64_t seen = recorded();
    const auto sent_at = Clock::now();
    host.signal(SIGINT);
    EXPECT_EQ(host.wait(), 130) << read_file(m_dir / "err.txt");
    EXPECT_LT(Clock::now() - sent_at, std::chrono::seconds(5));
    const std::int64_t after = recorded();
    EXPECT_GE(after, seen) << "the cancel saves the record, with everything that landed since the last save";
    EXPECT_FALSE(fs::exists(cached()));
    finish_and_check(after);
}

}  // namespace
}  // namespace blobfetch::test
