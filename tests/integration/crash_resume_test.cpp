// Crash and resume with real processes: the host fetching a 256 MiB blob from
// nginx is killed (SIGKILL) at several points, or interrupted (SIGINT); the
// next run completes it byte-exact and the server sends no more than what
// was not recorded complete, plus one chunk per connection.
#include <csignal>
#include <cstdio>
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

    // Bytes the sidecar records: complete chunks and the received prefixes
    // of chunks in flight (0 when there is none yet).
    std::int64_t recorded() const {
        auto st = load_download_state(sidecar());
        return st.ok() ? st->recorded_bytes() : 0;
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

// What a crash costs with chunks much larger than what lands between two
// records: the record keeps the received prefix of every chunk in flight
// (format v2), so a kill just after a record and an interrupt lose only what
// was received and not yet written, never the chunks in flight. (With only
// complete chunks recorded, a third of the way there was no record at all,
// and each of the 4 connections lost half a 16 MiB chunk on average.)
class CrashResumeLargeChunks : public ::testing::Test {
protected:
    static constexpr std::int64_t kBlob = 64ll << 20;
    static constexpr std::int64_t kBigChunk = 16ll << 20;
    static constexpr int kConns = 4;

    void SetUp() override {
        if (!nginx_available()) GTEST_SKIP() << "nginx is not installed (apt-get install nginx)";
        m_artifacts = {{"large", abi_key("large"), 78, static_cast<std::uint64_t>(kBlob), {}}};
        serve_artifacts(m_dir / "www", m_artifacts);
        // 4 connections at 2 MiB/s: about 8 s for the blob.
        m_nginx = std::make_unique<NginxServer>(NginxOptions{m_dir / "www", "limit_rate 2m;", ""});
        write_file(m_dir / "manifest.json",
                   make_manifest(m_nginx->base_url(), m_dir / "cache", m_artifacts,
                                 {{"concurrency", kConns}, {"chunk_size", kBigChunk}})
                       .dump(2));
    }

    fs::path cached() const { return fs::path(m_dir / "cache") / m_artifacts[0].relative_path(); }
    std::int64_t recorded(std::size_t *partials = nullptr) const {
        auto st = load_download_state(fs::path(cached().string() + ".dlstate"));
        if (partials) *partials = st.ok() ? st->partial.size() : 0;
        return st.ok() ? st->recorded_bytes() : 0;
    }

    // Stops a fetch with `sig` right after its record first claims a third
    // of the blob, resumes it, and returns the bytes sent in total beyond
    // the blob's size (from nginx's access log, once every request is in it).
    std::int64_t waste_after(int sig) {
        BackgroundProcess host({host_binary(), "fetch", m_dir / "manifest.json", "-q"}, ProcessOptions{},
                               m_dir / "out.txt", m_dir / "err.txt");
        std::size_t partials = 0;
        EXPECT_TRUE(eventually([&] { return recorded(&partials) >= kBlob / 3; }, std::chrono::seconds(120)))
            << read_file(m_dir / "err.txt");
        host.signal(sig);
        host.wait();
        RecordProperty(sig == SIGKILL ? "partials_recorded_at_kill" : "partials_recorded_at_interrupt",
                       static_cast<int>(partials));
        EXPECT_FALSE(fs::exists(cached()));
        HostRun run = run_host_fetch(m_dir / "manifest.json");
        EXPECT_EQ(run.process.exit_code, 0) << run.process.err;
        EXPECT_EQ(sha256_file_hex(cached().string()), m_artifacts[0].sha256) << "byte-exact after resuming";
        std::int64_t sent = 0;
        // (A killed connection's line appears once nginx notices it.)
        eventually(
            [&] {
                sent = 0;
                for (const auto &e : m_nginx->access_log())
                    if (e.uri == "/" + m_artifacts[0].relative_path()) sent += e.body_bytes_sent;
                return sent >= kBlob;
            },
            std::chrono::seconds(10));
        return sent - kBlob;
    }

    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
    std::unique_ptr<NginxServer> m_nginx;
};

TEST_F(CrashResumeLargeChunks, SigkillJustAfterARecord_LosesAtMostAnEighthOfAChunkPerConnection_NotTheChunksInFlight) {
    const std::int64_t waste = waste_after(SIGKILL);
    RecordProperty("bytes_wasted", static_cast<int>(waste));
    std::printf("figure: SIGKILL with %d connections of 16 MiB chunks: %lld bytes sent beyond the blob\n", kConns,
                static_cast<long long>(waste));
    EXPECT_GE(waste, 0);
    // What landed while the record was being synced and saved, plus the
    // write buffers (at most 10 x 256 KiB here): far below the 4 x 8 MiB an
    // average kill lost when only complete chunks were recorded.
    EXPECT_LE(waste, kConns * (2ll << 20)) << "the chunks in flight resume from their recorded prefix";
}

TEST_F(CrashResumeLargeChunks, SigintMidChunk_TheResumeFetchesOnlyWhatHadNotLanded) {
    const std::int64_t waste = waste_after(SIGINT);
    RecordProperty("bytes_wasted", static_cast<int>(waste));
    std::printf("figure: SIGINT with %d connections of 16 MiB chunks: %lld bytes sent beyond the blob\n", kConns,
                static_cast<long long>(waste));
    EXPECT_GE(waste, 0);
    EXPECT_LE(waste, kConns * (1ll << 20)) << "the close records every byte that landed";
}

}  // namespace
}  // namespace blobfetch::test
