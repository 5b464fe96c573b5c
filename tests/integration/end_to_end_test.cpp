// End to end: the real host binary loads the real plugin, which fetches from a
// real nginx on 127.0.0.1. Every byte is checked; the access log is the
// witness of what was (not) requested.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/blob_content.h"
#include "support/fixture.h"
#include "support/nginx.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

class EndToEnd : public ::testing::Test {
protected:
    void SetUp() override {
        if (!nginx_available()) GTEST_SKIP() << "nginx is not installed (apt-get install nginx)";
        m_artifacts = {
            {"empty", abi_key("empty"), 1, 0, {}},
            {"one-byte", abi_key("one"), 2, 1, {}},
            {"small", abi_key("small"), 3, 65537, {}},
            {"medium", abi_key("medium"), 4, 3 * 1024 * 1024 + 123, {}},
        };
        serve_artifacts(m_dir / "www", m_artifacts);
        m_nginx = std::make_unique<NginxServer>(NginxOptions{m_dir / "www", "", ""});
        write_manifest(m_artifacts);
    }

    void write_manifest(const std::vector<TestArtifact> &artifacts) {
        write_file(manifest(), make_manifest(m_nginx->base_url(), cache(), artifacts).dump(2));
    }

    std::string manifest() const { return m_dir / "manifest.json"; }
    std::string cache() const { return m_dir / "cache"; }
    std::string cached(const TestArtifact &a) const { return cache() + "/" + a.relative_path(); }

    std::size_t gets_for(const std::vector<AccessLogEntry> &log, const TestArtifact &a) const {
        std::size_t n = 0;
        for (const auto &e : log)
            if (e.method == "GET" && e.uri == "/" + a.relative_path()) ++n;
        return n;
    }
    std::int64_t body_bytes_for(const std::vector<AccessLogEntry> &log, const TestArtifact &a) const {
        std::int64_t n = 0;
        for (const auto &e : log)
            if (e.method == "GET" && e.uri == "/" + a.relative_path()) n += e.body_bytes_sent;
        return n;
    }

    // No temporary or partial files may be left next to published blobs.
    std::vector<std::string> stray_files() const {
        std::vector<std::string> out;
        if (!fs::exists(cache())) return out;
        for (const auto &e : fs::recursive_directory_iterator(cache())) {
            if (!e.is_regular_file()) continue;
            std::string name = e.path().filename().string();
            if (name == ".download.lock") continue;  // a directory's lock file stays, unlocked
            if (name.size() < 4 || name.substr(name.size() - 4) != ".zip") out.push_back(e.path().string());
        }
        return out;
    }

    TempDir m_dir;
    std::vector<TestArtifact> m_artifacts;
    std::unique_ptr<NginxServer> m_nginx;
};

TEST_F(EndToEnd, FetchesEveryBlobByteExact_ThenSkipsThemWithoutRequests) {
    HostRun first = run_host_fetch(manifest());
    ASSERT_EQ(first.process.exit_code, 0) << first.process.err << first.process.out;
    ASSERT_TRUE(first.json.is_object()) << first.process.out;
    EXPECT_EQ(first.json["status"], "ok");
    for (const auto &a : m_artifacts) {
        ASSERT_TRUE(fs::exists(cached(a))) << a.name;
        EXPECT_EQ(fs::file_size(cached(a)), a.size) << a.name;
        EXPECT_EQ(read_file(cached(a)), blob_content(a.seed, a.size)) << a.name;
    }
    EXPECT_TRUE(stray_files().empty());
    // The 3 MiB blob takes two 2 MiB chunks; the others one request each.
    auto log = m_nginx->access_log(m_artifacts.size() + 1);
    for (const auto &a : m_artifacts) {
        EXPECT_EQ(gets_for(log, a), a.size > (2u << 20) ? 2u : 1u) << a.name;
        EXPECT_EQ(body_bytes_for(log, a), static_cast<std::int64_t>(a.size)) << a.name << ": every byte sent once";
    }

    m_nginx->clear_access_log();
    HostRun second = run_host_fetch(manifest());
    ASSERT_EQ(second.process.exit_code, 0) << second.process.err;
    ASSERT_TRUE(second.json.is_object()) << second.process.out;
    for (const auto &b : second.json["blobs"]) {
        EXPECT_EQ(b["status"], "skipped") << b.dump();
        EXPECT_EQ(b["bytes_downloaded"], 0) << b.dump();
    }
    EXPECT_EQ(second.json["totals"]["bytes_downloaded"], 0);
    EXPECT_TRUE(m_nginx->access_log().empty()) << "the second run must not send any request";
}

TEST_F(EndToEnd, CorruptedCachedFileOfTheRightSizeIsDownloadedAgain) {
    ASSERT_EQ(run_host_fetch(manifest()).process.exit_code, 0);
    const TestArtifact &medium = m_artifacts[3];
    {
        std::fstream f(cached(medium), std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(1000);
        f.write("CORRUPT", 7);
    }
    ASSERT_EQ(fs::file_size(cached(medium)), medium.size);
    m_nginx->clear_access_log();

    HostRun run = run_host_fetch(manifest());
    ASSERT_EQ(run.process.exit_code, 0) << run.process.err;
    EXPECT_EQ(sha256_file_hex(cached(medium)), medium.sha256);
    auto log = m_nginx->access_log(2);
    EXPECT_EQ(body_bytes_for(log, medium), static_cast<std::int64_t>(medium.size));
    for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(gets_for(log, m_artifacts[i]), 0u) << m_artifacts[i].name;
}

TEST_F(EndToEnd, WrongBytesFromTheServerFailVerificationAndPublishNothing) {
    // The server holds different content of the same size under the name.
    TestArtifact &small = m_artifacts[2];
    const std::string expected = small.sha256;
    std::string actual = write_blob(m_nginx->root() + "/" + small.relative_path(), 999, small.size);
    ASSERT_NE(actual, expected);

    HostRun run = run_host_fetch(manifest());
    EXPECT_EQ(run.process.exit_code, 1) << run.process.err;
    ASSERT_TRUE(run.json.is_object()) << run.process.out;
    const nlohmann::json *failed = nullptr;
    for (const auto &b : run.json["blobs"])
        if (b["name"] == "small") failed = &b;
    ASSERT_NE(failed, nullptr);
    EXPECT_EQ(failed->at("status"), "failed");
    const std::string message = failed->at("message");
    EXPECT_NE(message.find(small.relative_path()), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_NE(message.find(actual), std::string::npos) << message;
    EXPECT_NE(run.process.err.find(actual), std::string::npos) << "the error is shown to the user too";
    EXPECT_FALSE(fs::exists(cached(small))) << "a blob that failed verification must not be published";
    EXPECT_TRUE(stray_files().empty());
    // The other blobs are unaffected.
    EXPECT_EQ(sha256_file_hex(cached(m_artifacts[3])), m_artifacts[3].sha256);
}

TEST_F(EndToEnd, WrongBytesDoNotReplaceAnOlderCachedFile) {
    // A stale file of the wrong size sits at the destination; the server sends
    // bad bytes. The stale file may stay, but the bad bytes never land.
    TestArtifact &small = m_artifacts[2];
    write_file(cached(small), "stale");
    write_blob(m_nginx->root() + "/" + small.relative_path(), 999, small.size);
    HostRun run = run_host_fetch(manifest());
    EXPECT_EQ(run.process.exit_code, 1);
    EXPECT_EQ(read_file(cached(small)), "stale");
    EXPECT_TRUE(stray_files().empty());
}

TEST_F(EndToEnd, MissingBlobOnTheServerIsAClearCacheMiss) {
    fs::remove(m_nginx->root() + "/" + m_artifacts[1].relative_path());
    HostRun run = run_host_fetch(manifest());
    EXPECT_EQ(run.process.exit_code, 1);
    ASSERT_TRUE(run.json.is_object()) << run.process.out;
    for (const auto &b : run.json["blobs"]) {
        if (b["name"] != "one-byte") {
            EXPECT_EQ(b["status_code"], 0) << b.dump();
            continue;
        }
        const std::string message = b["message"];
        EXPECT_NE(message.find("404"), std::string::npos) << message;
        EXPECT_NE(message.find(m_artifacts[1].relative_path()), std::string::npos) << message;
    }
    // The progress line never counts a failed blob as one that is in.
    const std::string all = std::to_string(m_artifacts.size());
    EXPECT_NE(run.process.err.find(std::to_string(m_artifacts.size() - 1) + "/" + all + " blobs, 1 failed"),
              std::string::npos)
        << run.process.err;
    EXPECT_EQ(run.process.err.find(all + "/" + all + " blobs"), std::string::npos) << run.process.err;
}

}  // namespace
}  // namespace blobfetch::test
