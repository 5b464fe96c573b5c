// The host's command line on bad input: exit code 2, a message naming the
// file, the place (JSON pointer or line:column) and the field, nothing written.
#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/blob_content.h"
#include "support/fault_server.h"
#include "support/fixture.h"
#include "support/process.h"

namespace blobfetch::test {
namespace {

namespace fs = std::filesystem;

struct BadInput {
    const char *fixture;                  // manifests/invalid/<fixture>
    std::vector<const char *> mentions;   // substrings the message must contain
};

class HostBadInput : public ::testing::TestWithParam<BadInput> {};

TEST_P(HostBadInput, ExitsWithBadInputAndNamesTheProblem_NothingWritten) {
    const BadInput &c = GetParam();
    TempDir dir;
    const std::string manifest = source_dir() + "/manifests/invalid/" + c.fixture;
    const std::string cache = dir / "cache";
    auto r = run_process({host_binary(), "fetch", manifest, "--cache", cache});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find(c.fixture), std::string::npos) << "names the file: " << r.err;
    for (const char *m : c.mentions) EXPECT_NE(r.err.find(m), std::string::npos) << m << " in: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(cache)) << "bad input must not touch the cache";

    auto j = run_process({host_binary(), "fetch", manifest, "--cache", cache, "--json"});
    EXPECT_EQ(j.exit_code, 2);
    auto doc = nlohmann::json::parse(j.out, nullptr, false);
    ASSERT_FALSE(doc.is_discarded()) << j.out;
    EXPECT_EQ(doc["status"], "error");
    EXPECT_EQ(doc["exit_code"], 2);
    EXPECT_NE(doc["message"].get<std::string>().find(c.fixture), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, HostBadInput,
    ::testing::Values(BadInput{"syntax-error.json", {":5:52:", "invalid JSON"}},
                      BadInput{"missing-cache-dir.json", {"/cache_dir", "missing required field"}},
                      BadInput{"mistyped-size.json", {"/artifacts/0/size", "\"ten\""}},
                      BadInput{"unknown-template-variable.json", {"/sources/0/url", "{abi}", "{triplet}"}},
                      BadInput{"bad-sha256.json", {"/artifacts/0/sha256", "64 hexadecimal"}},
                      BadInput{"path-escapes.json", {"/artifacts/0", "'..'", "zlib"}},
                      BadInput{"artifact-path-escapes.json", {"/artifacts/0", "'..'"}},
                      BadInput{"absolute-path.json", {"/artifacts/0", "absolute"}},
                      BadInput{"reserved-name.json",
                               {"/artifacts/1", "zlib/abc123" "0000000000000000000000000000000000000000000000000000000000.part", "'.part'"}},
                      BadInput{"unknown-field.json", {"/artifacts/0/sizee", "unknown field"}},
                      BadInput{"bad-option.json", {"/options/concurrency", "1 to 256"}}),
    [](const ::testing::TestParamInfo<BadInput> &info) {
        std::string name = info.param.fixture;
        name = name.substr(0, name.find('.'));
        for (char &ch : name)
            if (ch == '-') ch = '_';
        return name;
    });

TEST(HostCli, MissingManifestFileIsBadInputNamingIt) {
    auto r = run_process({host_binary(), "fetch", "/nonexistent/manifest.json"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("/nonexistent/manifest.json"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("no such file"), std::string::npos) << r.err;
}

TEST(HostCli, UnsetEnvironmentVariableIsBadInputNamingIt) {
    auto r = run_process({host_binary(), "fetch", source_dir() + "/manifests/demo.json"},
                         ProcessOptions{{{"BLOBFETCH_DEMO_URL", std::nullopt}}, "", ""});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("BLOBFETCH_DEMO_URL"), std::string::npos) << r.err;
}

// A valid manifest with no artifacts, for tests about the plugin itself.
std::string write_empty_manifest(const TempDir &dir) {
    write_file(dir / "m.json", make_manifest("http://127.0.0.1:1", dir / "cache", {}).dump());
    return dir / "m.json";
}

TEST(HostCli, UnloadablePluginExitsThreeNamingThePath) {
    TempDir dir;
    write_empty_manifest(dir);
    auto r = run_process({host_binary(), "fetch", dir / "m.json", "--plugin", "/nonexistent/plugin.so"});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("/nonexistent/plugin.so"), std::string::npos) << r.err;
    // A library that is not a blobfetch plugin.
    auto r2 = run_process({host_binary(), "fetch", dir / "m.json", "--plugin", "libz.so.1"});
    EXPECT_EQ(r2.exit_code, 3);
    EXPECT_NE(r2.err.find("bf_get_provider"), std::string::npos) << r2.err;
}

TEST(HostCli, PluginFromEnvironmentVariableIsUsed) {
    TempDir dir;
    write_empty_manifest(dir);
    auto r = run_process({host_binary(), "fetch", dir / "m.json"},
                         ProcessOptions{{{"BLOBFETCH_PLUGIN", "/nonexistent/from-env.so"}}, "", ""});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("/nonexistent/from-env.so"), std::string::npos) << r.err;
}

// An HTTP server on 127.0.0.1 that answers every request with the same raw
// bytes and closes the connection: headers no well-behaved server sends.
class RawResponder {
public:
    explicit RawResponder(std::string response) : m_response(std::move(response)) {
        m_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || ::listen(m_fd, 16) != 0 ||
            ::getsockname(m_fd, reinterpret_cast<sockaddr *>(&a), &len) != 0)
            throw std::runtime_error("RawResponder: cannot listen on 127.0.0.1");
        m_port = ntohs(a.sin_port);
        m_thread = std::thread([this] { serve(); });
    }
    ~RawResponder() {
        m_stop = true;
        m_thread.join();
        ::close(m_fd);
    }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
    void serve() {
        while (!m_stop) {
            pollfd p{m_fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int c = ::accept4(m_fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            std::string request;
            char buf[4096];
            while (request.find("\r\n\r\n") == std::string::npos) {
                pollfd q{c, POLLIN, 0};
                if (::poll(&q, 1, 2000) <= 0) break;
                const ssize_t n = ::recv(c, buf, sizeof buf, 0);
                if (n <= 0) break;
                request.append(buf, static_cast<std::size_t>(n));
            }
            (void)::send(c, m_response.data(), m_response.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }
    std::string m_response;
    int m_fd = -1;
    int m_port = 0;
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

// `fetch --json` prints its document whatever bytes it quotes: a cache path
// that is not UTF-8 (after a successful fetch) and a server's header that is
// not UTF-8 in a blob's message appear with such bytes as U+FFFD, with the
// exit code of the fetch. (Both once ended in "internal error", exit 1 and no
// document.)
TEST(HostCli, FetchJson_CachePathAndServerHeaderThatAreNotUtf8_StillPrintTheDocument) {
    const std::string replaced = "\xef\xbf\xbd";  // U+FFFD
    TempDir dir;
    FaultServer server;
    std::vector<TestArtifact> artifacts{{"one", abi_key("one"), 61, 5000, {}}};
    artifacts[0].sha256 = sha256_hex(blob_content(61, 5000));
    server.add_blob("/" + artifacts[0].relative_path(), 61, 5000);
    write_file(dir / "m.json", make_manifest(server.base_url(), dir / "unused", artifacts).dump());
    const std::string cache = dir / "cache\xff";
    HostRun ok = run_host_fetch(dir / "m.json", {"--cache", cache});
    EXPECT_EQ(ok.process.exit_code, 0) << ok.process.err;
    EXPECT_FALSE(ok.json.is_null()) << "stdout: " << ok.process.out << "\nstderr: " << ok.process.err;
    EXPECT_EQ(ok.json["status"], "ok");
    EXPECT_EQ(ok.json["cache_dir"], dir / ("cache" + replaced));
    EXPECT_EQ(sha256_file_hex(cache + "/" + artifacts[0].relative_path()), artifacts[0].sha256);

    // A 206 whose Content-Range is not UTF-8: quoted in the blob's message.
    RawResponder raw("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \xff\xfe\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n");
    std::vector<TestArtifact> big{{"big", abi_key("big"), 62, 200000, {}}};
    big[0].sha256 = sha256_hex(blob_content(62, 200000));
    write_file(dir / "raw.json",
               make_manifest(raw.base_url(), dir / "raw-cache", big, {{"retries", 0}, {"chunk_size", 65536}}).dump());
    HostRun failed = run_host_fetch(dir / "raw.json");
    EXPECT_EQ(failed.process.exit_code, 1) << failed.process.err;
    ASSERT_FALSE(failed.json.is_null()) << "stdout: " << failed.process.out << "\nstderr: " << failed.process.err;
    EXPECT_EQ(failed.json["exit_code"], 1);
    const std::string message = failed.json["blobs"][0]["message"];
    EXPECT_NE(message.find("'bytes " + replaced + replaced), std::string::npos) << message;
}

TEST(HostCli, HelpListsTheExitCodes_UsageErrorsAreBadInput) {
    auto r = run_process({host_binary(), "fetch", "--help"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_NE(r.out.find("Exit codes"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("130"), std::string::npos);
    EXPECT_EQ(run_process({host_binary()}).exit_code, 2);
    EXPECT_EQ(run_process({host_binary(), "fetch"}).exit_code, 2);
    EXPECT_EQ(run_process({host_binary(), "fetch", "m.json", "--bogus"}).exit_code, 2);
}

}  // namespace
}  // namespace blobfetch::test
